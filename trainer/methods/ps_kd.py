"""Progressive self-knowledge distillation, PS-KD (Kim et al., "Self-Knowledge Distillation with
Progressive Refinement of Targets", ICCV 2021).

At epoch t (0-based) of T_total, with p_prev(x) the sample's softmax from the previous epoch:

    a_t = alpha (t + 1) / T_total,   t(x) = (1 - a_t) onehot(y) + a_t p_prev(x),
    L = -sum_k t_k(x) log p_k(x),    alpha = --alpha (0.8).

Epoch 0 has no previous prediction, so its target is the label (the authors fill their store
with one-hot labels, which gives the same target). The predictions live in a registered
``num_train x C`` buffer on the training device, read before each batch overwrites its rows.
Recorded as ``ce`` = (1 - a_t) CE(y) and ``distill`` = a_t CE(p_prev, p).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import TrainConfig
from trainer.methods.base import Method, StepOutput
from trainer.methods.losses import soft_target_output


class ProgressiveSelfKD(Method):
    """Soft targets mixing the label with the sample's own prediction from the last epoch."""

    name = "ps_kd"

    def __init__(self, config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> None:
        super().__init__(config, num_classes, feature_dim, num_train)
        self.alpha = config.alpha
        self.register_buffer("past_predictions", torch.zeros(num_train, num_classes))

    def teacher_weight(self) -> float:
        """a_t = alpha (t + 1) / T_total, and 0 at epoch 0 (no previous predictions yet)."""
        return 0.0 if self.epoch == 0 else self.alpha * (self.epoch + 1) / self.total_epochs

    def targets(self, labels: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """(1 - a_t) onehot(y) + a_t p_prev(x) for the samples at training-set ``indices``."""
        weight = self.teacher_weight()
        onehot = F.one_hot(labels, self.num_classes).float()
        return onehot * (1 - weight) + self.past_predictions.index_select(0, indices) * weight

    def step(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> StepOutput:
        _, logits = model(images)
        out = soft_target_output(logits, labels, self.targets(labels, indices), 1 - self.teacher_weight())
        self.past_predictions.index_copy_(0, indices, F.softmax(logits.detach().float(), dim=1))
        return out
