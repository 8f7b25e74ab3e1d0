"""``umap``: each epoch's UMAP warm-started from the previous layout, then Procrustes-aligned to it.

The kNN graph is exact (``nearest_neighbours``) and handed to umap-learn as ``precomputed_knn``;
the first frame is a cold start (spectral initialisation), later ones start from the previous
layout with fewer optimisation epochs and a lower learning rate. Class centers are placed among
their nearest probe points. umap-learn is imported on first use; its first fit also compiles
numba code (see :meth:`UmapProjection.warm_up`).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from backend.projections.base import Projection
from backend.projections.errors import ProjectionError
from backend.projections.neighbours import nearest_neighbours, place_centers
from backend.projections.registry import register_projection

logger = logging.getLogger("centerlens.projections")


@register_projection
class UmapProjection(Projection):
    """A non-linear layout per epoch, chained from epoch to epoch."""

    name = "umap"
    label = "UMAP"
    description = (
        "Non-linear layout per epoch, aligned to the previous one: shows clusters, distorts distances"
    )
    aligned = True

    def layout(
        self, features: np.ndarray, centers: np.ndarray, previous: np.ndarray | None, fitted: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """UMAP of this epoch's features, started from ``previous`` when there is one."""
        from umap import UMAP

        settings, count = self.settings, len(features)
        if count <= settings.n_neighbors:
            raise ProjectionError(
                f"UMAP needs more probe points than n_neighbors={settings.n_neighbors}; this run has {count}"
            )
        model = UMAP(
            n_neighbors=settings.n_neighbors, min_dist=settings.min_dist, random_state=settings.seed,
            n_jobs=1,
            init="spectral" if previous is None else np.asarray(previous, dtype=np.float32),
            n_epochs=settings.cold_epochs if previous is None else settings.warm_epochs,
            learning_rate=1.0 if previous is None else settings.warm_learning_rate,
            precomputed_knn=nearest_neighbours(features, settings.n_neighbors),
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*knn_search_index.*")  # transform() is not used
            warnings.filterwarnings("ignore", message="Graph is not fully connected")  # separate classes
            points = model.fit_transform(features).astype(np.float32)
        return points, place_centers(features, points, centers, settings.center_neighbors)

    def warm_up(self) -> None:
        """Import umap-learn and compile its numba code (cold and warm fits): tens of seconds, once."""
        logger.info("compiling UMAP (numba, once per process)...")
        super().warm_up()
