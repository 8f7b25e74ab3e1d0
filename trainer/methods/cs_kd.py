"""Class-wise self-knowledge distillation, CS-KD (Yun et al., "Regularizing Class-wise Predictions
via Self-knowledge Distillation", CVPR 2020).

Each batch holds B anchors x_i followed by B partners x'_i drawn from the anchor's class:

    L = CE(z(x_i), y_i) + lambda T^2 KL(p^T(x'_i) || p^T(x_i)),   p^T(x'_i) without gradient,

T = --temperature (4), lambda = --distill-weight (1; the paper uses 3 on fine-grained data).

As in the authors' code, ``batch_size`` counts anchors (every training sample is an anchor once
per epoch, so a step forwards 2B images and no divisibility is needed) and the partners go
through a second, gradient-free forward pass (which also updates BatchNorm's running stats).

Partner rule (--partner-rule): ``class`` (default), as the authors' ``PairBatchSampler``: drawn
uniformly from the anchor's whole class, so it is the anchor itself with probability 1 / class
size (its target is then its own prediction from the second pass); ``others``: never the anchor
itself unless its class has one sample. With hundreds of samples per class the two rarely differ.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from trainer.config import TrainConfig
from trainer.methods.base import StepOutput, shuffled_batches
from trainer.methods.losses import DistillationMethod, tempered_softmax
from trainer.methods.partners import same_class_partners


class ClassWiseSelfKD(DistillationMethod):
    """Distil each anchor's tempered prediction toward a same-class partner's."""

    name = "cs_kd"

    def __init__(self, config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> None:
        super().__init__(config, num_classes, feature_dim, num_train)
        self.include_self = config.partner_rule == "class"

    def batches(
        self, labels: np.ndarray, batch_size: int, generator: torch.Generator
    ) -> Iterator[np.ndarray]:
        """``batch_size`` shuffled anchors, then one same-class partner per anchor, in the same order."""
        partners = same_class_partners(labels, 1, generator, include_self=self.include_self)[:, 0]
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
