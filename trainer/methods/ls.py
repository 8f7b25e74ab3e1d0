"""Label smoothing (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016).

t = (1 - eps) onehot(y) + eps / C,   L = -sum_k t_k log p_k,   eps = --smoothing (default 0.1).

Recorded as ``ce`` = (1 - eps) CE(y) and ``distill`` = eps mean_k(-log p_k): smoothing is
distillation from a uniform teacher (Yuan et al., CVPR 2020). Equals PyTorch's
``cross_entropy(..., label_smoothing=eps)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import TrainConfig
from trainer.methods.base import Method, StepOutput
from trainer.methods.losses import soft_target_output


class LabelSmoothing(Method):
    """Cross-entropy against labels smoothed toward the uniform distribution."""

    name = "ls"

    def __init__(self, config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> None:
        super().__init__(config, num_classes, feature_dim, num_train)
        self.smoothing = config.smoothing

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """(1 - eps) onehot(y) + eps / C."""
        onehot = F.one_hot(labels, self.num_classes).float()
        return onehot * (1 - self.smoothing) + self.smoothing / self.num_classes

    def step(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> StepOutput:
        _, logits = model(images)
        return soft_target_output(logits, labels, self.targets(labels), 1 - self.smoothing)
