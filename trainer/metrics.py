"""Per-epoch metrics on penultimate features and logits, computed in torch on the model's device.

With class means mu_k, global mean mu_G, N samples and C classes:
Sw = 1/N sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T, Sb = 1/C sum_k (mu_k - mu_G)(mu_k - mu_G)^T;
NC1 = tr(Sw Sb^+)/C (Papyan, Han & Donoho 2020); CDNV = mean over pairs of
(var_k + var_l) / (2 ||mu_k - mu_l||^2) (Galanti et al. 2022); NC2 equinorm / equiangularity;
NC4 = share of samples whose nearest class mean agrees with the prediction.

Logits are optional (a user's own loop may log features only): without them accuracy, NLL, ECE and
NC4 are not computed, and predictions come from the nearest class mean (:func:`nearest_mean_predictions`).

Epoch metrics travel by name: each function registered with :func:`computes` returns a dict of
named scalars (names declared in ``store.catalog.metrics``), and :func:`epoch_metrics` gathers them
and copies them to the host in one transfer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F

ECE_BINS = 15


def class_means(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """C x D mean feature of each class (zero for a class with no samples)."""
    sums = torch.zeros(num_classes, features.shape[1], dtype=features.dtype, device=features.device)
    sums.index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=num_classes).clamp_min(1).to(features.dtype)
    return sums / counts[:, None]


def _nc1(centered_within: torch.Tensor, centered_means: torch.Tensor) -> torch.Tensor:
    """tr(Sw Sb^+)/C without forming a D x D matrix.

    With the SVD M = U S V^T of the C x D centered means, Sb = V S^2 V^T / C, so
    tr(Sw Sb^+)/C = sum_j (v_j^T Sw v_j) / s_j^2 = sum_j ||H v_j||^2 / (N s_j^2) over the
    non-negligible s_j (the same cut-off as a Hermitian pseudo-inverse).
    """
    n = centered_within.shape[0]
    _, singular, vh = torch.linalg.svd(centered_means, full_matrices=False)
    keep = (
        singular.pow(2) > singular.max().pow(2) * max(centered_means.shape) * torch.finfo(singular.dtype).eps
    )
    projected = (centered_within @ vh[keep].T).pow(2).sum(0) / n
    return (projected / singular[keep].pow(2)).sum()


def feature_metrics(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> dict[str, torch.Tensor]:
    """Variance, collapse and center-geometry statistics of one set of features (float64 inside)."""
    h = features.double()
    n, c = h.shape[0], num_classes
    means = class_means(h, labels, c)
    counts = torch.bincount(labels, minlength=c).double()
    global_mean = h.mean(0)
    centered_within = h - means[labels]
    per_class_variance = torch.zeros(c, dtype=h.dtype, device=h.device)
    per_class_variance.index_add_(0, labels, centered_within.pow(2).sum(1))
    per_class_variance = per_class_variance / counts.clamp_min(1)
    centered_means = means - global_mean
    trace_sw = centered_within.pow(2).sum() / n
    trace_sb = centered_means.pow(2).sum() / c
    nc1 = _nc1(centered_within, centered_means)

    distances = torch.cdist(means, means)
    off_diagonal = ~torch.eye(c, dtype=torch.bool, device=h.device)
    pair_variance = (per_class_variance[:, None] + per_class_variance[None, :]) / 2
    cdnv = (pair_variance[off_diagonal] / distances[off_diagonal].pow(2).clamp_min(1e-12)).mean()
    masked = distances.masked_fill(~off_diagonal, float("inf"))
    nearest_distance, nearest_class = masked.min(1)

    norms = centered_means.norm(dim=1)
    unit = centered_means / norms.clamp_min(1e-12)[:, None]
    cosines = (unit @ unit.T)[off_diagonal]
    return {
        "class_means": means,
        "per_class_variance": per_class_variance,
        "within_class_variance": trace_sw,
        "between_class_variance": trace_sb,
        "variance_ratio": trace_sw / trace_sb.clamp_min(1e-12),
        "nc1": nc1,
        "cdnv": cdnv,
        "nc2_equinorm": norms.std() / norms.mean().clamp_min(1e-12),
        "nc2_equiangular": cosines.std(),
        "nc2_max_angle": (cosines + 1 / (c - 1)).abs().mean(),
        "center_norms": norms,
        "center_distances": distances,
        "nearest_class": nearest_class,
        "nearest_distance": nearest_distance,
    }


def expected_calibration_error(
    confidences: torch.Tensor, correct: torch.Tensor, bins: int = ECE_BINS
) -> torch.Tensor:
    """ECE with equal-width confidence bins: sum_b |B_b|/N |acc(B_b) - conf(B_b)|."""
    bin_index = (confidences * bins).long().clamp(0, bins - 1)
    confidence_sums = torch.bincount(bin_index, weights=confidences.double(), minlength=bins)
    correct_sums = torch.bincount(bin_index, weights=correct.double(), minlength=bins)
    return (confidence_sums - correct_sums).abs().sum() / confidences.numel()


def prediction_metrics(
    logits: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> dict[str, torch.Tensor]:
    """Top-1, top-5, NLL, ECE, per-class accuracy, predictions and confidences."""
    logits = logits.float()
    probabilities = logits.softmax(1)
    confidences, predictions = probabilities.max(1)
    correct = predictions == labels
    k = min(5, num_classes)
    top5 = (logits.topk(k, dim=1).indices == labels[:, None]).any(1)
    per_class_correct = torch.bincount(labels, weights=correct.double(), minlength=num_classes)
    per_class_count = torch.bincount(labels, minlength=num_classes).clamp_min(1)
    return {
        "top1": correct.double().mean(),
        "top5": top5.double().mean(),
        "nll": F.cross_entropy(logits, labels),
        "ece": expected_calibration_error(confidences, correct),
        "per_class_accuracy": per_class_correct / per_class_count,
        "predictions": predictions,
        "confidences": confidences,
    }


def nearest_mean_agreement(
    features: torch.Tensor, means: torch.Tensor, predictions: torch.Tensor
) -> torch.Tensor:
    """NC4: share of samples whose nearest class mean is the predicted class."""
    nearest = torch.cdist(features.double(), means.double()).argmin(1)
    return (nearest == predictions).double().mean()


def nearest_mean_predictions(
    features: torch.Tensor, means: torch.Tensor, within_class_variance: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class and confidence of each sample without logits: the nearest class mean, and its
    posterior under one isotropic Gaussian per class whose variance per dimension is tr(Sw)/D."""
    squared = torch.cdist(features.double(), means.double()).pow(2)
    variance = (within_class_variance / features.shape[1]).clamp_min(1e-12)
    confidences, predictions = (-squared / (2 * variance)).softmax(1).max(1)
    return predictions, confidences


@dataclass
class Evaluation:
    """One evaluation pass (features, logits, labels of the test split), with the shared statistics;
    ``logits`` may be None (features only)."""

    features: torch.Tensor
    logits: torch.Tensor | None
    labels: torch.Tensor
    num_classes: int

    @cached_property
    def geometry(self) -> dict[str, torch.Tensor]:
        """:func:`feature_metrics` of the features."""
        return feature_metrics(self.features, self.labels, self.num_classes)

    @cached_property
    def predictions(self) -> dict[str, torch.Tensor] | None:
        """:func:`prediction_metrics` of the logits (None without logits)."""
        if self.logits is None:
            return None
        return prediction_metrics(self.logits, self.labels, self.num_classes)

    def predicted(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted class and confidence of every sample: from the logits, else the nearest class mean."""
        if self.predictions is not None:
            return self.predictions["predictions"], self.predictions["confidences"]
        geometry = self.geometry
        return nearest_mean_predictions(
            self.features, geometry["class_means"], geometry["within_class_variance"]
        )


MetricFunction = Callable[[Evaluation], dict[str, torch.Tensor]]
METRIC_FUNCTIONS: list[MetricFunction] = []


def computes(function: MetricFunction) -> MetricFunction:
    """Register a function that computes named epoch metrics from an :class:`Evaluation`."""
    METRIC_FUNCTIONS.append(function)
    return function


@computes
def variance_and_collapse(evaluation: Evaluation) -> dict[str, torch.Tensor]:
    """tr(Sw), tr(Sb), their ratio, NC1, CDNV and NC2."""
    names = ("within_class_variance", "between_class_variance", "variance_ratio", "nc1", "cdnv",
             "nc2_equinorm", "nc2_equiangular", "nc2_max_angle")
    return {name: evaluation.geometry[name] for name in names}


@computes
def accuracy_and_calibration(evaluation: Evaluation) -> dict[str, torch.Tensor]:
    """Top-1, top-5, NLL and ECE on the test split (none without logits)."""
    predictions = evaluation.predictions
    if predictions is None:
        return {}
    return {"test_top1": predictions["top1"], "test_top5": predictions["top5"],
            "test_nll": predictions["nll"], "test_ece": predictions["ece"]}


@computes
def nc4(evaluation: Evaluation) -> dict[str, torch.Tensor]:
    """NC4: agreement of the nearest class mean with the network's prediction (none without logits)."""
    if evaluation.predictions is None:
        return {}
    agreement = nearest_mean_agreement(
        evaluation.features, evaluation.geometry["class_means"], evaluation.predictions["predictions"]
    )
    return {"nc4_agreement": agreement}


def to_host(tensors: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Copy named tensors to the host in one transfer (as float64, which holds class indices exactly)."""
    names = list(tensors)
    flat = torch.cat([tensors[name].detach().double().reshape(-1) for name in names]).cpu().numpy()
    sizes = np.cumsum([tensors[name].numel() for name in names])[:-1]
    return {
        name: part.reshape(tuple(tensors[name].shape))
        for name, part in zip(names, np.split(flat, sizes))
    }


def metric_tensors(evaluation: Evaluation) -> dict[str, torch.Tensor]:
    """Every registered metric by name, still on the evaluation's device."""
    values: dict[str, torch.Tensor] = {}
    for function in METRIC_FUNCTIONS:
        values.update(function(evaluation))
    return values


def epoch_metrics(evaluation: Evaluation) -> dict[str, float]:
    """Every registered metric by name, copied to the host in one transfer."""
    return {name: float(value) for name, value in to_host(metric_tensors(evaluation)).items()}
