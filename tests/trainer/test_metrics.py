"""Feature and prediction metrics against plain numpy references on constructed clusters."""

import numpy as np
import pytest
import torch

from trainer.metrics import (
    expected_calibration_error,
    feature_metrics,
    nearest_mean_agreement,
    prediction_metrics,
)


def gaussian_clusters(spread: float, classes: int = 4, per_class: int = 200, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 5
    labels = np.repeat(np.arange(classes), per_class)
    features = centers[labels] + rng.normal(size=(len(labels), dim)) * spread
    return features, labels


def numpy_reference(features: np.ndarray, labels: np.ndarray, classes: int) -> dict[str, float]:
    means = np.stack([features[labels == k].mean(0) for k in range(classes)])
    global_mean = features.mean(0)
    within = features - means[labels]
    sw = within.T @ within / len(features)
    centered = means - global_mean
    sb = centered.T @ centered / classes
    variances = np.array([((features[labels == k] - means[k]) ** 2).sum(1).mean() for k in range(classes)])
    pairs = [(k, j) for k in range(classes) for j in range(classes) if k != j]
    cdnv = np.mean(
        [(variances[k] + variances[j]) / (2 * np.sum((means[k] - means[j]) ** 2)) for k, j in pairs]
    )
    norms = np.linalg.norm(centered, axis=1)
    unit = centered / norms[:, None]
    cosines = np.array([unit[k] @ unit[j] for k, j in pairs])
    return {
        "within_class_variance": np.trace(sw),
        "between_class_variance": np.trace(sb),
        "nc1": np.trace(sw @ np.linalg.pinv(sb)) / classes,
        "cdnv": cdnv,
        "nc2_equinorm": norms.std(ddof=1) / norms.mean(),
        "nc2_equiangular": cosines.std(ddof=1),
        "nc2_max_angle": np.abs(cosines + 1 / (classes - 1)).mean(),
    }


def test_feature_metrics_match_numpy_reference() -> None:
    features, labels = gaussian_clusters(spread=1.0)
    got = feature_metrics(torch.tensor(features), torch.tensor(labels), 4)
    for name, expected in numpy_reference(features, labels, 4).items():
        assert got[name].item() == pytest.approx(expected, rel=1e-6), name
    assert got["variance_ratio"].item() == pytest.approx(
        got["within_class_variance"].item() / got["between_class_variance"].item()
    )


def test_collapse_metrics_fall_as_clusters_tighten() -> None:
    results = []
    for spread in (2.0, 1.0, 0.25):
        features, labels = gaussian_clusters(spread)
        results.append(feature_metrics(torch.tensor(features), torch.tensor(labels), 4))
    for name in ("nc1", "cdnv", "variance_ratio", "within_class_variance"):
        values = [r[name].item() for r in results]
        assert values[0] > values[1] > values[2], name


def test_nearest_class_and_distances_on_known_centers() -> None:
    # class means (0,0), (1,0), (3,0), (3,4): nearest of each is 1, 0, 1, 2 at 1, 1, 2, 4
    means = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [3.0, 4.0]])
    offsets = np.array([[0.1, 0.2], [-0.3, 0.05], [0.02, -0.4]])
    features, labels = [], []
    for k, mean in enumerate(means):  # class k: k + 1 pairs of points mirrored about its mean
        pairs = offsets[np.arange(k + 1) % len(offsets)] * (k + 1)
        features += [mean + pairs, mean - pairs]
        labels += [k] * (2 * (k + 1))
    got = feature_metrics(torch.tensor(np.concatenate(features)), torch.tensor(labels), 4)
    np.testing.assert_allclose(got["class_means"].numpy(), means, atol=1e-12)
    assert got["nearest_class"].tolist() == [1, 0, 1, 2]
    np.testing.assert_allclose(got["nearest_distance"].numpy(), [1.0, 1.0, 2.0, 4.0], rtol=1e-12)
    expected = np.linalg.norm(means[:, None] - means[None], axis=2)
    np.testing.assert_allclose(got["center_distances"].numpy(), expected, rtol=1e-12, atol=1e-12)


def test_nearest_class_and_distances_match_numpy_on_uneven_clusters() -> None:
    rng = np.random.default_rng(3)
    classes, dim = 6, 5
    labels = np.repeat(np.arange(classes), rng.integers(5, 40, size=classes))
    features = rng.normal(size=(classes, dim))[labels] * 3 + rng.normal(size=(len(labels), dim))
    got = feature_metrics(torch.tensor(features), torch.tensor(labels), classes)
    means = np.stack([features[labels == k].mean(axis=0) for k in range(classes)])
    distances = np.sqrt(((means[:, None] - means[None]) ** 2).sum(axis=2))
    others = distances + np.diag(np.full(classes, np.inf))
    nearest = others.argmin(axis=1)
    assert len(set(nearest.tolist())) > 2, "a data set where every class has the same neighbour tests little"
    assert got["nearest_class"].tolist() == nearest.tolist()
    np.testing.assert_allclose(got["nearest_distance"].numpy(), others.min(axis=1), rtol=1e-10)
    np.testing.assert_allclose(got["center_distances"].numpy(), distances, rtol=1e-10, atol=1e-10)


def test_nc4_is_one_for_well_separated_clusters() -> None:
    features, labels = gaussian_clusters(spread=0.1)
    means = feature_metrics(torch.tensor(features), torch.tensor(labels), 4)["class_means"]
    assert nearest_mean_agreement(torch.tensor(features), means, torch.tensor(labels)).item() == 1.0
    shuffled = torch.tensor(np.random.default_rng(1).permutation(labels))
    assert nearest_mean_agreement(torch.tensor(features), means, shuffled).item() < 0.5


def test_prediction_metrics() -> None:
    logits = torch.tensor([[4.0, 1.0, 0.0], [0.0, 3.0, 1.0], [2.0, 0.0, 5.0], [1.0, 0.9, 0.0]])
    labels = torch.tensor([0, 1, 0, 1])
    got = prediction_metrics(logits, labels, 3)
    assert got["top1"].item() == pytest.approx(0.5)
    assert got["top5"].item() == pytest.approx(1.0)
    probs = torch.softmax(logits, 1)
    assert got["nll"].item() == pytest.approx(
        -torch.log(probs[torch.arange(4), labels]).mean().item(), rel=1e-6
    )
    np.testing.assert_allclose(got["per_class_accuracy"].numpy(), [0.5, 0.5, 0.0])


def test_ece_against_hand_computation() -> None:
    confidences = torch.tensor([0.95, 0.95, 0.55, 0.55])
    correct = torch.tensor([True, False, True, True])
    # bin [0.9333, 1): conf 0.95, acc 0.5 -> |0.45| * 2/4; bin [0.5333, 0.6): conf 0.55, acc 1 -> 0.45 * 2/4
    assert expected_calibration_error(confidences, correct).item() == pytest.approx(0.45)
