"""The interface every projection implements, and what all of them share (no DB, no HTTP).

A projection turns one epoch's probe features (N x D) and class centers (C x D) into a frame: 2-D
points and centers in the run's coordinate frame, the frame's trustworthiness and its Procrustes
residual against the previous frame. A projection that needs state shared by the whole run
(PCA's basis) names the epochs it is fitted on (``fit_epochs``) and builds it (``fit``); every
frame of the run then goes through that state. ``input_hashes`` names what each stored frame was
computed from, so the projector never recomputes a frame whose inputs are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from backend.projections.alignment import fit_similarity
from backend.projections.errors import ProjectionError

ALGORITHM_VERSION = 1
# the ``frame`` column of a run's own frames (other values would name a comparison's frames)
RUN_FRAME = "run"


@dataclass(frozen=True)
class ProjectionSettings:
    """Parameters of every projection; part of every stored frame's input hash."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 0
    cold_epochs: int = 200
    warm_epochs: int = 50
    warm_learning_rate: float = 0.25
    trust_neighbors: int = 10
    trust_sample: int = 1000
    center_neighbors: int = 10


DEFAULT_SETTINGS = ProjectionSettings()


@dataclass(frozen=True)
class Frame:
    """One epoch's layout: probe points (N x 2) and class centers (C x 2) in the run's frame."""

    points: np.ndarray
    centers: np.ndarray
    trustworthiness: float | None
    procrustes_residual: float | None


def checked_features(features: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (N x D) and centers (C x D) as float32, or a ProjectionError saying what is wrong."""
    features = np.asarray(features, dtype=np.float32)
    centers = np.asarray(centers, dtype=np.float32)
    if features.ndim != 2 or len(features) < 3:
        raise ProjectionError(f"need at least 3 probe points, got features of shape {features.shape}")
    if centers.ndim != 2 or centers.shape[1] != features.shape[1]:
        raise ProjectionError(f"class centers of shape {centers.shape} do not fit features {features.shape}")
    if not (np.isfinite(features).all() and np.isfinite(centers).all()):
        raise ProjectionError("probe features or class centers contain NaN or infinite values")
    return features, centers


def frame_trustworthiness(
    features: np.ndarray, points: np.ndarray, settings: ProjectionSettings
) -> float | None:
    """Trustworthiness of a layout, on a fixed random subsample of ``trust_sample`` points at most.

    Exact trustworthiness ranks all N x N feature-space distances; on a subsample of 1,000 the
    neighbourhoods are those within the subsample, which keeps it well under a second at
    5,000 points. None when there are too few points for even one neighbour.
    """
    from sklearn.manifold import trustworthiness

    rows = np.arange(len(features))
    if len(rows) > settings.trust_sample:
        sample = np.random.default_rng(settings.seed).choice(rows, settings.trust_sample, replace=False)
        rows = np.sort(sample)
    neighbours = min(settings.trust_neighbors, (len(rows) - 1) // 2)
    if neighbours < 1:
        return None
    return float(trustworthiness(features[rows], points[rows], n_neighbors=neighbours))


class Projection(ABC):
    """A way to draw an epoch's probe features in 2-D; subclasses set the class attributes and ``layout``.

    ``linear``: one linear map for the whole run, so distances are comparable across epochs and the
    dashboard keeps both axes on one scale. ``aligned``: each frame is similarity-aligned to the
    previous one (the projection's own axes mean nothing from epoch to epoch).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    linear: ClassVar[bool] = False
    aligned: ClassVar[bool] = False

    def __init__(self, settings: ProjectionSettings = DEFAULT_SETTINGS) -> None:
        self.settings = settings

    def fit_epochs(self, epochs: Sequence[int], finished: bool) -> list[int]:
        """Epochs whose features ``fit`` needs, given the run's recorded epochs (none: no fit)."""
        return []

    def fit(self, features_by_epoch: Iterable[np.ndarray]) -> Any:
        """State every frame of the run shares, from the fit epochs' features (one at a time)."""
        return None

    @abstractmethod
    def layout(
        self, features: np.ndarray, centers: np.ndarray, previous: np.ndarray | None, fitted: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points (N x 2) and centers (C x 2) of one epoch; inputs are checked float32 arrays."""

    def frame(
        self, features: np.ndarray, centers: np.ndarray, previous: np.ndarray | None = None,
        fitted: Any = None,
    ) -> Frame:
        """One epoch's frame: the layout (aligned to ``previous`` if the projection aligns),
        its residual against ``previous`` and its trustworthiness."""
        features, centers = checked_features(features, centers)
        expected = (len(features), 2)
        if previous is not None and np.shape(previous) != expected:
            raise ProjectionError(f"previous layout has shape {np.shape(previous)}, expected {expected}")
        points, centers_2d = self.layout(features, centers, previous, fitted)
        points, centers_2d = np.asarray(points, np.float32), np.asarray(centers_2d, np.float32)
        residual = None
        if previous is not None:
            similarity, residual = fit_similarity(points, previous)
            if self.aligned:
                points, centers_2d = similarity.apply(points), similarity.apply(centers_2d)
        return Frame(points, centers_2d, frame_trustworthiness(features, points, self.settings), residual)

    def run_frames(
        self, features_by_epoch: Sequence[np.ndarray], centers_by_epoch: Sequence[np.ndarray]
    ) -> list[Frame]:
        """Frames of a whole finished run, in epoch order, each after the one before."""
        if not features_by_epoch or len(features_by_epoch) != len(centers_by_epoch):
            raise ProjectionError(f"need one or more epochs with centers, got {len(features_by_epoch)} "
                                  f"epochs of features and {len(centers_by_epoch)} of centers")
        fit_epochs = self.fit_epochs(range(len(features_by_epoch)), finished=True)
        fitted = self.fit(features_by_epoch[epoch] for epoch in fit_epochs) if fit_epochs else None
        frames: list[Frame] = []
        for features, centers in zip(features_by_epoch, centers_by_epoch):
            frames.append(self.frame(features, centers, frames[-1].points if frames else None, fitted))
        return frames

    def input_hashes(self, run_id: int, epochs: Sequence[int], finished: bool) -> dict[int, str]:
        """The input hash of each epoch's frame: by default a chain, each frame's hash covering every
        epoch up to it (a frame may start from the one before)."""
        hashes, chain = {}, hashlib.sha256(self._hash_header(run_id).encode()).hexdigest()
        for epoch in epochs:
            chain = hashes[epoch] = hashlib.sha256(f"{chain}|epoch:{epoch}".encode()).hexdigest()
        return hashes

    def warm_up(self) -> None:
        """Pay the one-off costs (imports, compilation) on a tiny two-epoch run."""
        features = np.random.default_rng(0).normal(size=(4 * self.settings.n_neighbors, 8)).astype(np.float32)
        self.run_frames([features, features + 0.01], [features[:2], features[:2]])

    def _hash_header(self, run_id: int) -> str:
        """What every frame of the run depends on: version, projection, run and settings."""
        # the key stays "method" (its name before the rename), so frames already stored keep their hashes
        header = {"version": ALGORITHM_VERSION, "method": self.name, "run": run_id, **asdict(self.settings)}
        return json.dumps(header, sort_keys=True)
