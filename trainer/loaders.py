"""Batch loaders yielding ``(images, labels, indices)`` on the training device.

``ResidentLoader`` keeps a uint8 split in device memory and augments whole batches there
(random crop with zero padding, horizontal flip: the same distribution as torchvision's
``RandomCrop(padding=p)`` + ``RandomHorizontalFlip``). ``TorchvisionLoader`` wraps a
``DataLoader`` for datasets that do not fit (ImageFolder) or when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from trainer.datasets import ResidentData

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def random_crop_flip(
    images: torch.Tensor, padding: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Per-sample random crop (zero padding) and horizontal flip of a (B, C, H, W) batch."""
    batch, channels, height, width = images.shape
    device = images.device
    if padding:
        padded = F.pad(images, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (batch,), generator=generator, device=device)
        dx = torch.randint(0, 2 * padding + 1, (batch,), generator=generator, device=device)
        rows = (dy[:, None] + torch.arange(height, device=device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(width, device=device))[:, None, None, :]
        sample = torch.arange(batch, device=device)[:, None, None, None]
        channel = torch.arange(channels, device=device)[None, :, None, None]
        images = padded[sample, channel, rows, cols]
    if flip:
        flips = torch.rand(batch, generator=generator, device=device) < 0.5
        images = torch.where(flips[:, None, None, None], images.flip(3), images)
    return images


def to_device_layout(images: torch.Tensor) -> torch.Tensor:
    """channels_last on CUDA (faster convolutions with bf16), unchanged elsewhere."""
    if images.device.type == "cuda":
        return images.contiguous(memory_format=torch.channels_last)
    return images


class ResidentLoader:
    """A whole split held on the device; batches are gathered, augmented and normalised there."""

    def __init__(self, data: ResidentData, device: torch.device, augment: bool, seed: int) -> None:
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(data.std, device=device).view(1, -1, 1, 1) * 255
        self.data, self.device, self.augment = data, device, augment
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def batches(self, index_batches: Iterable[np.ndarray]) -> Iterator[Batch]:
        for index_batch in index_batches:
            indices = torch.as_tensor(index_batch, device=self.device)
            images = self.images[indices]
            if self.augment:
                images = random_crop_flip(images, self.data.crop_padding, self.data.flip, self.generator)
            yield to_device_layout((images.float() - self.mean) / self.std), self.labels[indices], indices


class _Indexed(Dataset):
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        image, label = self.dataset[index]
        return image, label, index


class TorchvisionLoader:
    """A DataLoader over a torchvision dataset, driven by the method's batches."""

    def __init__(self, dataset: Dataset, device: torch.device, workers: int) -> None:
        self.dataset, self.device, self.workers = _Indexed(dataset), device, workers

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(self, index_batches: Iterable[np.ndarray]) -> Iterator[Batch]:
        loader = DataLoader(
            self.dataset,
            batch_sampler=[batch.tolist() for batch in index_batches],
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        for images, labels, indices in loader:
            yield (
                to_device_layout(images.to(self.device, non_blocking=True)),
                labels.to(self.device, non_blocking=True),
                indices.to(self.device, non_blocking=True),
            )


def sequential_batches(num_samples: int, batch_size: int) -> Iterator[np.ndarray]:
    """Indices in order, for evaluation."""
    for start in range(0, num_samples, batch_size):
        yield np.arange(start, min(start + batch_size, num_samples))
