"""Synthetic CIFAR-shaped data for benchmarks: learnable (class-dependent colour) uint8 images."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from trainer.datasets import CIFAR_MEAN, CIFAR_STD, ArrayImages, DatasetBundle, png_bytes, resident_data


def config_dataset(bundle) -> str:  # noqa: ANN001
    """The declared dataset a run config of a synthetic bundle names (``prepare`` uses the bundle itself)."""
    return bundle.name if bundle.name in ("digits", "cifar10", "cifar100") else (
        "cifar10" if bundle.num_classes <= 10 else "cifar100")


def synthetic_cifar_bundle(
    num_classes: int = 100, train_size: int = 2_560, test_size: int = 1_000, seed: int = 0
) -> DatasetBundle:
    """A CIFAR-100-shaped bundle (32x32x3 uint8) with a resident and a torchvision path."""
    from PIL import Image
    from torchvision import transforms

    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, size=(num_classes, 1, 1, 3))

    def split(size: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(size) % num_classes
        noise = rng.integers(-60, 60, size=(size, 32, 32, 3))
        return np.clip(palette[labels] + noise, 0, 255).astype(np.uint8), labels.astype(np.int64)

    (train_x, train_y), (test_x, test_y) = split(train_size), split(test_size)
    normalize = transforms.Compose([transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    augment = transforms.Compose(
        [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), normalize]
    )
    train: Dataset = ArrayImages(train_x, train_y, augment)
    return DatasetBundle(
        name="synthetic-cifar",
        train=train,
        test=ArrayImages(test_x, test_y, normalize),
        train_labels=train_y,
        test_labels=test_y,
        class_names=[f"c{k}" for k in range(num_classes)],
        default_model="preact_resnet18",
        image_shape=(3, 32, 32),
        thumbnail=lambda i: png_bytes(Image.fromarray(test_x[i])),
        train_resident=resident_data(train_x, train_y, CIFAR_MEAN, CIFAR_STD, 4, True),
        test_resident=resident_data(test_x, test_y, CIFAR_MEAN, CIFAR_STD, 0, False),
    )
