"""Batch knowledge ensembling, BAKE (Ge et al., "Self-distillation with Batch Knowledge Ensembling
Improves ImageNet Classification", arXiv:2104.13298, 2021).

Batches are made of groups of ``group_size`` = M + 1 same-class images. With f the L2-normalised
features of the batch, A = rowsoftmax(f f^T) with the diagonal masked out, and omega = --omega
(0.5; 0.9 on imagefolder):

    target = (1 - omega) (I - omega A)^-1 p^T        (detached; each row sums to one),
    L = CE(z, y) + lambda T^2 KL(target || p^T),      T = 4, lambda = 1,

the closed form of propagating every sample's prediction along the affinities until it
settles. Solved with ``linalg.solve_ex`` (I - omega A is strictly diagonally dominant, so it is
never singular, and solve_ex does not synchronise with the host to check).

Samplers (--bake-sampler), both filling a batch of ``batch_size`` images with whole groups:

- ``anchors`` (default), as the authors' ``IdentityBatchSampler``: each epoch every training
  sample is an anchor exactly once (a shuffled order, ``batch_size / (M + 1)`` anchors per batch),
  each followed by M distinct other samples of its class (drawn with replacement where the class
  has fewer than M others). An epoch therefore has (M + 1) x n images, and every image of the
  batch, partners included, is trained on. The authors use M = 3 on CIFAR-100 and CUB-200 and
  M = 1 on TinyImageNet, Stanford Dogs, MIT67 and ImageNet (our defaults: docs/methods.md).
- ``groups``, an earlier reading of ours: each class is shuffled and cut into groups (the last
  one topped up from the same class), the groups are shuffled and packed, so each sample is seen
  once per epoch, as with ``ce``: an epoch of about n images, M + 1 times shorter.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import TrainConfig
from trainer.methods.base import StepOutput
from trainer.methods.losses import DistillationMethod, tempered_softmax
from trainer.methods.partners import same_class_partners


def same_class_groups(labels: np.ndarray, group_size: int, generator: torch.Generator) -> np.ndarray:
    """(G, group_size) training indices: each class shuffled and cut into groups, groups shuffled."""
    groups = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[torch.randperm(len(members), generator=generator).numpy()]
        padded = np.resize(members, -(-len(members) // group_size) * group_size)
        groups.append(padded.reshape(-1, group_size))
    stacked = np.concatenate(groups)
    return stacked[torch.randperm(len(stacked), generator=generator).numpy()]


def anchor_groups(labels: np.ndarray, group_size: int, generator: torch.Generator) -> np.ndarray:
    """(n, group_size) training indices: every sample, in shuffled order, then its M same-class partners."""
    partners = same_class_partners(labels, group_size - 1, generator)
    anchors = torch.randperm(len(labels), generator=generator).numpy()
    return np.concatenate([anchors[:, None], partners[anchors]], axis=1)


class BatchKnowledgeEnsembling(DistillationMethod):
    """Distil each sample toward the affinity-weighted ensemble of its batch's predictions."""

    name = "bake"

    def __init__(self, config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> None:
        super().__init__(config, num_classes, feature_dim, num_train)
        self.omega = config.omega
        self.group_size = config.group_size
        self.sampler = config.bake_sampler

    def batches(
        self, labels: np.ndarray, batch_size: int, generator: torch.Generator
    ) -> Iterator[np.ndarray]:
        """``batch_size / group_size`` same-class groups per batch (anchors with partners, or cuts)."""
        draw = anchor_groups if self.sampler == "anchors" else same_class_groups
        groups = draw(labels, self.group_size, generator)
        per_batch = batch_size // self.group_size
        for start in range(0, len(groups), per_batch):
            yield groups[start : start + per_batch].reshape(-1)

    @torch.no_grad()
    def ensemble_targets(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """(1 - omega) (I - omega A)^-1 p^T for the batch."""
        unit = F.normalize(features.float(), dim=1)
        eye = torch.eye(len(unit), device=unit.device)
        affinity = (unit @ unit.T).masked_fill(eye.bool(), float("-inf")).softmax(dim=1)
        predictions = tempered_softmax(logits, self.temperature)
        propagated, _ = torch.linalg.solve_ex(eye - self.omega * affinity, predictions)
        return (1 - self.omega) * propagated

    def step(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> StepOutput:
        features, logits = model(images)
        return self.distillation_output(logits, labels, self.ensemble_targets(features, logits))
