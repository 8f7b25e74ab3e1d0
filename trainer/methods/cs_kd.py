"""Class-wise self-knowledge distillation, CS-KD (Yun et al., "Regularizing Class-wise Predictions
via Self-knowledge Distillation", CVPR 2020).

Each batch holds B anchors x_i followed by B partners x'_i drawn from the anchor's class:

    L = CE(z(x_i), y_i) + lambda T^2 KL(p^T(x'_i) || p^T(x_i)),   p^T(x'_i) without gradient,

T = --temperature (4), lambda = --distill-weight (1; the paper uses 3 on fine-grained data).

As in the authors' code, ``batch_size`` counts anchors (every training sample is an anchor once
per epoch, so a step forwards 2B images and no divisibility is needed) and the partners go
through a second, gradient-free forward pass (which also updates BatchNorm's running stats).
One choice of ours: a partner is never the anchor itself unless its class has one sample
(the authors draw from the whole class, which with hundreds of samples per class rarely differs).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from trainer.methods.base import StepOutput, shuffled_batches
from trainer.methods.losses import DistillationMethod, tempered_softmax


def same_class_partners(labels: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """For each sample, a uniformly drawn other sample of its class (itself in a one-sample class)."""
    by_class = np.argsort(labels, kind="stable")
    sorted_labels = labels[by_class]
    class_start = np.searchsorted(sorted_labels, sorted_labels, side="left")
    class_size = np.bincount(labels)[sorted_labels]
    rank = np.arange(len(labels)) - class_start
    skip = torch.rand(len(labels), generator=generator, dtype=torch.float64).numpy() * (class_size - 1)
    partner_rank = (rank + 1 + skip.astype(np.int64)) % class_size
    partners = np.empty_like(by_class)
    partners[by_class] = by_class[class_start + partner_rank]
    return partners


class ClassWiseSelfKD(DistillationMethod):
    """Distil each anchor's tempered prediction toward a same-class partner's."""

    name = "cs_kd"

    def batches(
        self, labels: np.ndarray, batch_size: int, generator: torch.Generator
    ) -> Iterator[np.ndarray]:
        """``batch_size`` shuffled anchors, then one same-class partner per anchor, in the same order."""
        partners = same_class_partners(labels, generator)
        for anchors in shuffled_batches(len(labels), batch_size, generator):
            yield np.concatenate([anchors, partners[anchors]])

    def step(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> StepOutput:
        anchors = images.shape[0] // 2
        _, logits = model(images[:anchors])
        with torch.no_grad():
            _, partner_logits = model(images[anchors:])
        targets = tempered_softmax(partner_logits, self.temperature)
        return self.distillation_output(logits, labels[:anchors], targets)
