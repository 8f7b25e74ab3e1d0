"""The probe set: a seeded, stratified sample of the test split that every epoch is recorded on.

The same seed, dataset and size give the same probe in every run, so runs align point by point.
"""

from __future__ import annotations

import numpy as np

from trainer.config import ConfigError

MAX_PROBE_POINTS = 5_000


def default_per_class(test_labels: np.ndarray, num_classes: int) -> int:
    """As many per class as keep the probe within MAX_PROBE_POINTS and the smallest class."""
    smallest = int(np.bincount(test_labels, minlength=num_classes).min())
    return max(1, min(MAX_PROBE_POINTS // num_classes, smallest))


def select_probe(test_labels: np.ndarray, num_classes: int, per_class: int, seed: int) -> np.ndarray:
    """Test-split indices of the probe, ordered by class then by index (stable positions)."""
    counts = np.bincount(test_labels, minlength=num_classes)
    if per_class < 1:
        raise ConfigError("probe-per-class must be at least 1")
    if per_class > counts.min():
        raise ConfigError(
            f"probe of {per_class} per class is larger than the test split allows "
            f"(the smallest class has {int(counts.min())} test samples)"
        )
    return _draw(test_labels, np.full(num_classes, per_class), seed)


def stratified_sample(labels: np.ndarray, num_classes: int, size: int, seed: int) -> np.ndarray:
    """``size`` indices of ``labels``, each class taking its share of them (largest remainders),
    seeded; ordered by class then by index. The probe of a run a user's own loop records."""
    counts = np.bincount(labels, minlength=num_classes)
    quota = counts * size / counts.sum()
    takes = np.floor(quota).astype(np.int64)
    short = size - int(takes.sum())
    takes[np.argsort(-(quota - takes), kind="stable")[:short]] += 1
    return _draw(labels, takes, seed)


def _draw(labels: np.ndarray, takes: np.ndarray, seed: int) -> np.ndarray:
    """``takes[k]`` indices of class k, drawn without replacement class by class from one seeded RNG."""
    rng = np.random.default_rng(seed)
    chosen = [
        np.sort(rng.choice(np.flatnonzero(labels == k), size=int(take), replace=False))
        for k, take in enumerate(takes)
    ]
    return np.concatenate(chosen).astype(np.int64)
