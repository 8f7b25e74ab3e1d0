"""``pca``: one linear basis per run, fitted on its recorded epochs together, applied to every epoch.

Because the axes are the same in every frame, any motion in the animation is motion of the
features. While a run trains, the basis is fitted on the first 2^k recorded epochs (the largest
power of two so far), and on all epochs once it has ended; each change of the fit set changes
every frame's input hash, so the projector rewrites the run's frames with the new basis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from backend.projections.base import Projection
from backend.projections.errors import ProjectionError
from backend.projections.registry import register_projection


@dataclass(frozen=True)
class PcaBasis:
    """The two leading principal axes of a run's features (rows of ``components``) and their mean."""

    mean: np.ndarray
    components: np.ndarray

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Project D-dimensional rows onto the basis (N x 2 float32)."""
        return ((np.asarray(features, dtype=np.float32) - self.mean) @ self.components.T).astype(np.float32)


def fit_pca(features_by_epoch: Iterable[np.ndarray]) -> PcaBasis:
    """Fit one 2-D PCA on all the epochs' features together (streamed: one epoch in memory at a time).

    Epochs whose features are not all finite are left out of the fit (their own frames fail).
    Sign convention: each axis is flipped so that its largest-magnitude coefficient is positive,
    so the same features always give the same picture.
    """
    from scipy.linalg import eigh

    count, mean, scatter = 0, None, None
    for features in features_by_epoch:
        features = np.asarray(features, dtype=np.float32)
        if not np.isfinite(features).all():
            continue
        epoch_mean = features.mean(axis=0, dtype=np.float64)
        centred = features - epoch_mean.astype(np.float32)
        epoch_scatter = (centred.T @ centred).astype(np.float64)
        if mean is None:
            count, mean, scatter = len(features), epoch_mean, epoch_scatter
            continue
        total = count + len(features)
        delta = epoch_mean - mean
        scatter = scatter + epoch_scatter + np.outer(delta, delta) * count * len(features) / total
        mean = mean + delta * len(features) / total
        count = total
    if mean is None:
        raise ProjectionError("PCA needs at least one epoch with finite probe features")
    if len(mean) < 2:
        raise ProjectionError(f"PCA to 2-D needs at least 2 feature dimensions, got {len(mean)}")
    _, vectors = eigh(scatter, subset_by_index=[len(mean) - 2, len(mean) - 1])
    components = vectors[:, ::-1].T.copy()
    largest = np.abs(components).argmax(axis=1)
    components *= np.sign(components[np.arange(2), largest])[:, None]
    return PcaBasis(mean.astype(np.float32), components.astype(np.float32))


@register_projection
class PcaProjection(Projection):
    """Points and centers through the run's PCA basis."""

    name = "pca"
    label = "PCA"
    description = "One linear projection for the whole run: distances are comparable across epochs"
    linear = True

    def fit_epochs(self, epochs: Sequence[int], finished: bool) -> list[int]:
        """All epochs once the run has ended, else the first 2^k recorded."""
        epochs = list(epochs)
        if finished or not epochs:
            return epochs
        return epochs[: 1 << (len(epochs).bit_length() - 1)]

    def fit(self, features_by_epoch: Iterable[np.ndarray]) -> PcaBasis:
        """The run's basis (see :func:`fit_pca`)."""
        return fit_pca(features_by_epoch)

    def layout(
        self, features: np.ndarray, centers: np.ndarray, previous: np.ndarray | None, fitted: PcaBasis | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points and centers through ``fitted`` (without one, the PCA of this epoch alone)."""
        basis = fitted if fitted is not None else fit_pca([features])
        if features.shape[1] != len(basis.mean):
            dims = features.shape[1]
            raise ProjectionError(f"features have {dims} dimensions, the basis {len(basis.mean)}")
        return basis.transform(features), basis.transform(centers)

    def input_hashes(self, run_id: int, epochs: Sequence[int], finished: bool) -> dict[int, str]:
        """A PCA frame is determined by its own epoch and the epochs of the fit."""
        fit = ",".join(map(str, self.fit_epochs(epochs, finished)))
        fitted = f"{self._hash_header(run_id)}|fit:{fit}"
        return {epoch: hashlib.sha256(f"{fitted}|epoch:{epoch}".encode()).hexdigest() for epoch in epochs}
