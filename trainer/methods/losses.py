"""Loss pieces shared by the methods (notation: z logits, p^T = softmax(z / T), targets detached).

Every method reports its loss in named parts that add up to it: ``ce``, the term on the hard
labels, and ``distill``, everything learned from soft targets (its weight included), so the
dashboard can stack them. CSD's ``learned`` center rule adds a third part, ``center``.
``DistillationMethod`` is the base of the methods whose loss is CE + lambda T^2 KL(target || p^T).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainer.config import TrainConfig
from trainer.methods.base import Method, StepOutput


def tempered_softmax(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """p^T = softmax(z / T) in float32, detached: a teacher distribution."""
    return F.softmax(logits.detach().float() / temperature, dim=1)


def distillation_kl(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 KL(t || p^T), summed over classes and averaged over the batch (Hinton et al., 2015).

    The T^2 factor keeps the gradient's scale independent of T.
    """
    log_probs = F.log_softmax(logits.float() / temperature, dim=1)
    return F.kl_div(log_probs, targets, reduction="batchmean") * temperature**2


def summed_output(logits: torch.Tensor, labels: torch.Tensor, **parts: torch.Tensor) -> StepOutput:
    """A step whose loss is the sum of its named parts (recorded detached)."""
    loss = torch.stack(list(parts.values())).sum()
    return StepOutput(loss, {name: value.detach() for name, value in parts.items()}, logits, labels)


def soft_target_output(
    logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, label_weight: float
) -> StepOutput:
    """Soft-target cross-entropy -sum_k t_k log p_k, batch mean.

    For targets t = w onehot(y) + (1 - w) r it splits exactly into ``ce`` = w CE(y) and
    ``distill`` = (1 - w) CE(r, p), the part taught by the soft distribution r.
    """
    log_probs = F.log_softmax(logits.float(), dim=1)
    loss = -(targets * log_probs).sum(1).mean()
    ce = label_weight * F.nll_loss(log_probs, labels)
    return StepOutput(loss, {"ce": ce.detach(), "distill": (loss - ce).detach()}, logits, labels)


class DistillationMethod(Method):
    """CE(z, y) + lambda T^2 KL(target || p^T), with T = --temperature and lambda = --distill-weight."""

    def __init__(self, config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> None:
        super().__init__(config, num_classes, feature_dim, num_train)
        self.temperature = config.temperature
        self.distill_weight = config.distill_weight

    def distillation_output(
        self, logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, **extra: torch.Tensor
    ) -> StepOutput:
        """The step's output with parts ``ce``, ``distill`` (weighted) and any ``extra`` terms."""
        ce = F.cross_entropy(logits.float(), labels)
        distill = self.distill_weight * distillation_kl(logits, targets, self.temperature)
        return summed_output(logits, labels, ce=ce, distill=distill, **extra)
