"""Center self-distillation, CSD (Zhong et al., "Class-Center-Based Self-Knowledge Distillation: A
Simple Method to Reduce Intra-Class Variance", Applied Sciences 14(16):7022, 2024).

Class centers c_k live in the penultimate feature space. Each step, with W, b the model's
current ``classifier`` (no gradient), T = --temperature (4), beta = --beta (0.5), lambda =
--distill-weight (1):

    q_k = softmax((W c_k + b) / T)                       class prediction, one C x D product
    t_i = beta q_{y_i} + (1 - beta) p^T(x_i)             fused per-sample target, detached
    L   = CE(z_i, y_i) + lambda T^2 KL(t_i || p^T(x_i))

Center rules (--center-rule):
- ``ema`` (default): c_k <- m c_k + (1 - m) mean_{i: y_i = k} f_i over the batch, m =
  --center-momentum (0.9), no gradient; classes absent from the batch keep their centers.
- ``learned``: the centers are parameters, and the loss gains
  ``center`` = 1/2 mean_i ||c_{y_i} - sg(f_i)||^2 (Wen et al.'s center loss with the features
  stopped, so it moves only the centers); the run's SGD (learning-rate schedule, momentum,
  weight decay) steps them toward their class's features.

Under both rules a class's center starts at the mean of the first batch that holds the class
(tracked by an ``initialized`` flag per class), and centers are updated with the current batch
before its targets are computed. The update is a handful of fused tensor operations
(``index_add_``, ``lerp_``): no loop over classes, no extra forward pass, no host sync.
The paper's full text was not available: this is our reading of its abstract (docs/methods.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import TrainConfig
from trainer.methods.base import StepOutput
from trainer.methods.losses import DistillationMethod, tempered_softmax


class CenterSelfDistillation(DistillationMethod):
    """Distil each sample toward its class center's prediction fused with its own."""

    name = "csd"

    def __init__(self, config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> None:
        super().__init__(config, num_classes, feature_dim, num_train)
        self.beta = config.beta
        self.learned = config.center_rule == "learned"
        # ema: a center moves (1 - m) of the way to its batch mean; learned: only SGD moves it.
        self.update_rate = 0.0 if self.learned else 1 - config.center_momentum
        centers = torch.zeros(num_classes, feature_dim)
        if self.learned:
            self.centers = nn.Parameter(centers)
        else:
            self.register_buffer("centers", centers)
        self.register_buffer("initialized", torch.zeros(num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update_centers(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Move each class present in the batch toward its batch mean (a new class jumps to it)."""
        features = features.detach().float()
        with_counts = torch.cat([features, features.new_ones(len(labels), 1)], dim=1)
        sums = with_counts.new_zeros(self.num_classes, with_counts.shape[1])
        sums.index_add_(0, labels, with_counts)
        counts = sums[:, -1:]
        means = sums[:, :-1] / counts.clamp_min(1)
        present = counts > 0
        rate = torch.where(self.initialized[:, None], self.update_rate, 1.0)
        self.centers.lerp_(means, torch.where(present, rate, 0.0))
        self.initialized |= present.squeeze(1)

    @torch.no_grad()
    def class_predictions(self, classifier: nn.Linear) -> torch.Tensor:
        """q_k = softmax((W c_k + b) / T) for every class (C x C)."""
        return tempered_softmax(F.linear(self.centers, classifier.weight, classifier.bias), self.temperature)

    @torch.no_grad()
    def fused_targets(
        self, logits: torch.Tensor, labels: torch.Tensor, classifier: nn.Linear
    ) -> torch.Tensor:
        """t_i = beta q_{y_i} + (1 - beta) p^T(x_i)."""
        class_part = self.class_predictions(classifier).index_select(0, labels)
        return torch.lerp(tempered_softmax(logits, self.temperature), class_part, self.beta)

    def center_loss(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """1/2 mean_i ||c_{y_i} - sg(f_i)||^2: pulls the ``learned`` centers toward their features."""
        gathered = self.centers.index_select(0, labels)
        return 0.5 * (gathered - features.detach().float()).pow(2).sum(1).mean()

    def step(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> StepOutput:
        features, logits = model(images)
        self.update_centers(features, labels)
        targets = self.fused_targets(logits, labels, model.classifier)
        extra = {"center": self.center_loss(features, labels)} if self.learned else {}
        return self.distillation_output(logits, labels, targets, **extra)

    def recorded_centers(self) -> torch.Tensor:
        """The class centers (C x D), recorded with every epoch."""
        return self.centers.detach()
