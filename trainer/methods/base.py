"""The interface every training method implements.

A method owns its loss, any state it keeps between steps (CSD's centers, PS-KD's past
predictions) as buffers or parameters, and the order of its batches (CS-KD's pairs, BAKE's
groups). The loop calls ``start_epoch`` once per epoch, iterates ``batches`` and calls ``step``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from trainer.config import TrainConfig


@dataclass
class StepOutput:
    """One training step's loss, its named parts (detached) and the logits scored for accuracy."""

    loss: torch.Tensor
    parts: dict[str, torch.Tensor]
    logits: torch.Tensor
    labels: torch.Tensor


def shuffled_batches(num_samples: int, batch_size: int, generator: torch.Generator) -> Iterator[np.ndarray]:
    """Plain random batches covering every sample once (the last one may be short)."""
    order = torch.randperm(num_samples, generator=generator).numpy()
    for start in range(0, num_samples, batch_size):
        yield order[start : start + batch_size]


class Method(nn.Module):
    """Base class: cross-entropy-shaped bookkeeping shared by every method."""

    name: ClassVar[str] = ""

    def __init__(self, config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> None:
        super().__init__()
        self.config = config
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.num_train = num_train
        self.epoch = 0
        self.total_epochs = config.epochs

    def batches(
        self, labels: np.ndarray, batch_size: int, generator: torch.Generator
    ) -> Iterator[np.ndarray]:
        """Training-set indices of each batch of one epoch."""
        return shuffled_batches(len(labels), batch_size, generator)

    def start_epoch(self, epoch: int) -> None:
        """Called before each epoch (0-based)."""
        self.epoch = epoch

    def step(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> StepOutput:
        """Forward the batch and return the loss."""
        raise NotImplementedError

    def recorded_centers(self) -> torch.Tensor | None:
        """Class centers the method maintains (C x D), recorded each epoch; None if it has none."""
        return None
