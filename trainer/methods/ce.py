"""Cross-entropy: the baseline every other method is measured against.

L = -log p_y(x),  p = softmax(z).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.methods.base import Method, StepOutput


class CrossEntropy(Method):
    """Plain cross-entropy on hard labels."""

    name = "ce"

    def step(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> StepOutput:
        _, logits = model(images)
        loss = F.cross_entropy(logits.float(), labels)
        return StepOutput(loss, {"ce": loss.detach()}, logits, labels)
