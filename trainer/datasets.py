"""Dataset registry: digits (bundled, the default), cifar10, cifar100 and imagefolder.

Each builder returns a :class:`DatasetBundle`. Small image datasets also expose their whole
train split as uint8 tensors (``resident``) so the loader can keep them in memory (or on the
GPU) and augment batch-wise; every dataset also has a torchvision ``Dataset`` path.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from store import catalog
from trainer.config import ConfigError, TrainConfig

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
THUMBNAIL_PIXELS = 48


@dataclass
class ResidentData:
    """A split held as one uint8 tensor (N, C, H, W) plus labels, with its normalisation."""

    images: torch.Tensor
    labels: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int
    flip: bool


@dataclass
class DatasetBundle:
    """What the trainer needs from a dataset."""

    name: str
    train: Dataset
    test: Dataset
    train_labels: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    default_model: str
    image_shape: tuple[int, int, int]
    thumbnail: Callable[[int], bytes]
    train_resident: ResidentData | None = None
    test_resident: ResidentData | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def png_bytes(image: Image.Image) -> bytes:
    """Encode a PIL image as PNG, scaled so its longer side is THUMBNAIL_PIXELS."""
    image = image.convert("RGB") if image.mode not in {"L", "RGB"} else image
    scale = THUMBNAIL_PIXELS / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = Image.NEAREST if scale >= 2 else Image.BILINEAR
    buffer = io.BytesIO()
    image.resize(size, resample).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class ArrayImages(Dataset):
    """uint8 images (N, H, W, C) with labels, through a torchvision transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(
            self.images[index].squeeze(-1) if self.images.shape[-1] == 1 else self.images[index]
        )
        return self.transform(image), int(self.labels[index])


def resident_data(
    images: np.ndarray, labels: np.ndarray, mean, std, padding: int, flip: bool
) -> ResidentData:
    tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return ResidentData(tensor, torch.from_numpy(labels.astype(np.int64)), mean, std, padding, flip)


def load_digits_bundle(config: TrainConfig) -> DatasetBundle:
    """scikit-learn's bundled 8x8 digits with a fixed stratified 70/30 split (no download)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torchvision import transforms

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=0.3, stratify=labels, random_state=0
    )
    mean, std = (0.3,), (0.37,)
    to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    train_tf = transforms.Compose([transforms.RandomCrop(8, padding=1), to_tensor])
    test_images = images[test_idx]
    return DatasetBundle(
        name="digits",
        train=ArrayImages(images[train_idx], labels[train_idx], train_tf),
        test=ArrayImages(test_images, labels[test_idx], to_tensor),
        train_labels=labels[train_idx],
        test_labels=labels[test_idx],
        class_names=[str(k) for k in range(10)],
        default_model=catalog.DATASETS["digits"].default_model,
        image_shape=(1, 8, 8),
        thumbnail=lambda i: png_bytes(Image.fromarray(255 - test_images[i, ..., 0])),
        train_resident=resident_data(images[train_idx], labels[train_idx], mean, std, 1, False),
        test_resident=resident_data(test_images, labels[test_idx], mean, std, 0, False),
    )


def _cifar(config: TrainConfig, num_classes: int) -> DatasetBundle:
    from torchvision import datasets, transforms

    cls = datasets.CIFAR10 if num_classes == 10 else datasets.CIFAR100
    normalize = transforms.Normalize(CIFAR_MEAN, CIFAR_STD)
    train_tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]
    )
    test_tf = transforms.Compose([transforms.ToTensor(), normalize])
    try:
        train = cls(config.data_dir, train=True, transform=train_tf, download=config.download)
        test = cls(config.data_dir, train=False, transform=test_tf, download=config.download)
    except RuntimeError as error:
        hint = "" if config.download else " (pass --download to fetch it)"
        raise ConfigError(f"{cls.__name__} not found in {config.data_dir}: {error}{hint}") from error
    train_labels, test_labels = np.asarray(train.targets), np.asarray(test.targets)
    return DatasetBundle(
        name=config.dataset,
        train=train,
        test=test,
        train_labels=train_labels,
        test_labels=test_labels,
        class_names=list(train.classes),
        default_model=catalog.DATASETS[config.dataset].default_model,
        image_shape=(3, 32, 32),
        thumbnail=lambda i: png_bytes(Image.fromarray(test.data[i])),
        train_resident=resident_data(train.data, train_labels, CIFAR_MEAN, CIFAR_STD, 4, True),
        test_resident=resident_data(test.data, test_labels, CIFAR_MEAN, CIFAR_STD, 0, False),
    )


def load_imagefolder_bundle(config: TrainConfig) -> DatasetBundle:
    """``DATA_DIR/train/<class>/*`` and ``DATA_DIR/test/<class>/*`` at 224 px (CUB, Dogs, MIT67...)."""
    from torchvision import datasets, transforms

    root = Path(config.data_dir)
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise ConfigError(f"imagefolder needs {root / split}/ with one folder per class")
    normalize = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train_tf = transforms.Compose(
        [
            transforms.RandomResizedCrop(224),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]
    )
    test_tf = transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), normalize]
    )
    try:
        train = datasets.ImageFolder(str(root / "train"), transform=train_tf)
        test = datasets.ImageFolder(str(root / "test"), transform=test_tf)
    except (FileNotFoundError, RuntimeError) as error:
        raise ConfigError(f"imagefolder in {root}: {error}".splitlines()[0]) from error
    if train.classes != test.classes:
        raise ConfigError(f"imagefolder {root}: train/ and test/ hold different class folders")

    def thumbnail(index: int) -> bytes:
        with Image.open(test.samples[index][0]) as image:
            return png_bytes(image.convert("RGB"))

    return DatasetBundle(
        name="imagefolder",
        train=train,
        test=test,
        train_labels=np.asarray(train.targets),
        test_labels=np.asarray(test.targets),
        class_names=list(train.classes),
        default_model=catalog.DATASETS["imagefolder"].default_model,
        image_shape=(3, 224, 224),
        thumbnail=thumbnail,
    )


DATASETS: dict[str, Callable[[TrainConfig], DatasetBundle]] = {
    "digits": load_digits_bundle,
    "cifar10": lambda config: _cifar(config, 10),
    "cifar100": lambda config: _cifar(config, 100),
    "imagefolder": load_imagefolder_bundle,
}


def load_dataset(config: TrainConfig) -> DatasetBundle:
    """Build the configured dataset, or raise ConfigError naming what is wrong."""
    if config.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {config.dataset!r} (choose from {', '.join(DATASETS)})")
    return DATASETS[config.dataset](config)
