"""Projection math: 2-D layouts of a run's epochs in one coordinate frame (no DB, no HTTP).

``pca``: one basis per run, fitted on all its recorded epochs, applied to each. ``umap``: each
epoch warm-started from the previous layout on an exact kNN graph, then similarity-Procrustes
aligned to it. Every frame carries its trustworthiness and its Procrustes residual against the
previous frame (see docs/projections.md). scipy, scikit-learn and umap-learn are imported on
first use; umap-learn's first fit also compiles numba code (see :func:`warm_up`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

METHODS = ("pca", "umap")
ALGORITHM_VERSION = 1
KNN_BLOCK_ROWS = 1024


class ProjectionError(ValueError):
    """A frame that cannot be computed from its inputs; ``str(error)`` is a one-line reason."""


@dataclass(frozen=True)
class ProjectionSettings:
    """Parameters of both methods; part of every stored frame's input hash."""

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


@dataclass(frozen=True)
class Similarity:
    """``x -> scale * (x - source_mean) @ rotation + target_mean``; rotation may include a reflection."""

    rotation: np.ndarray
    scale: float
    source_mean: np.ndarray
    target_mean: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map 2-D points (e.g. a frame's points or centers) through the transform."""
        moved = self.scale * (np.asarray(points, dtype=np.float64) - self.source_mean) @ self.rotation
        return (moved + self.target_mean).astype(np.float32)


@dataclass(frozen=True)
class PcaBasis:
    """The two leading principal axes of a run's features (rows of ``components``) and their mean."""

    mean: np.ndarray
    components: np.ndarray

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Project D-dimensional rows onto the basis (N x 2 float32)."""
        return ((np.asarray(features, dtype=np.float32) - self.mean) @ self.components.T).astype(np.float32)


def fit_similarity(source: np.ndarray, target: np.ndarray) -> tuple[Similarity, float]:
    """The similarity taking ``source`` closest to ``target`` (least squares) and the residual.

    The residual is the squared error left after alignment divided by ``target``'s centred
    sum of squares: 0 for shapes equal up to a similarity, at most 1, symmetric in its two
    arguments (it equals ``scipy.spatial.procrustes``'s disparity).
    """
    from scipy.linalg import orthogonal_procrustes

    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape:
        raise ProjectionError(f"cannot align layouts of shapes {source.shape} and {target.shape}")
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    source_norm, target_norm = np.sum(source_centred**2), np.sum(target_centred**2)
    if source_norm == 0 or target_norm == 0:
        raise ProjectionError("cannot align a layout whose points all coincide")
    rotation, singular_sum = orthogonal_procrustes(source_centred, target_centred)
    residual = max(0.0, 1.0 - singular_sum**2 / (source_norm * target_norm))
    return Similarity(rotation, float(singular_sum / source_norm), source_mean, target_mean), float(residual)


def align_to_reference(
    reference_frames: Mapping[int, np.ndarray], frames: Mapping[int, np.ndarray]
) -> Similarity:
    """One similarity that maps a run's frames onto a reference run's, fitted on their shared epochs.

    Both mappings go from epoch to N x 2 points of the same probe (row i is the same sample in
    both runs). The points of all shared epochs are stacked, so one transform serves the whole
    run: its frames keep their own epoch-to-epoch motion and gain the reference's orientation
    and scale. Apply the result to every frame's points and centers.
    """
    shared = sorted(set(reference_frames) & set(frames))
    if not shared:
        raise ProjectionError("the runs have no projected epoch in common")
    source = np.concatenate([np.asarray(frames[epoch]) for epoch in shared])
    target = np.concatenate([np.asarray(reference_frames[epoch]) for epoch in shared])
    if source.shape != target.shape:
        raise ProjectionError("the runs' frames have different numbers of probe points")
    return fit_similarity(source, target)[0]


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


def pca_frame(
    basis: PcaBasis, features: np.ndarray, centers: np.ndarray, previous: np.ndarray | None,
    settings: ProjectionSettings = DEFAULT_SETTINGS,
) -> Frame:
    """One epoch's PCA frame: points and centers through the run's basis."""
    features, centers = checked_features(features, centers)
    if features.shape[1] != len(basis.mean):
        raise ProjectionError(f"features have {features.shape[1]} dimensions, the basis {len(basis.mean)}")
    points = basis.transform(features)
    residual = None if previous is None else fit_similarity(points, previous)[1]
    trust = frame_trustworthiness(features, points, settings)
    return Frame(points, basis.transform(centers), trust, residual)


def nearest_neighbours(
    points: np.ndarray, count: int, queries: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``count`` nearest ``points`` of each query (Euclidean): indices and distances, nearest first.

    Without ``queries`` each point queries its own set and comes first itself, at distance 0, as
    umap-learn's ``precomputed_knn`` expects. One matrix product per block of queries, so
    5,000 x 512 takes a fraction of a second on 2 cores.
    """
    offset = points.mean(axis=0)
    points = points - offset
    queries = points if queries is None else queries - offset
    point_norms = np.einsum("ij,ij->i", points, points)
    indices = np.empty((len(queries), count), np.int32)
    distances = np.empty((len(queries), count), np.float32)
    for start in range(0, len(queries), KNN_BLOCK_ROWS):
        rows = slice(start, start + KNN_BLOCK_ROWS)
        block = queries[rows]
        squared = np.einsum("ij,ij->i", block, block)[:, None] + point_norms[None, :] - 2 * block @ points.T
        if queries is points:
            squared[np.arange(len(block)), np.arange(start, start + len(block))] = -1.0
        nearest = np.argpartition(squared, count - 1, axis=1)[:, :count]
        nearest_squared = np.take_along_axis(squared, nearest, axis=1)
        order = np.argsort(nearest_squared, axis=1, kind="stable")
        indices[rows] = np.take_along_axis(nearest, order, axis=1)
        distances[rows] = np.sqrt(np.maximum(np.take_along_axis(nearest_squared, order, axis=1), 0))
    return indices, distances


def place_centers(
    features: np.ndarray, points: np.ndarray, centers: np.ndarray, neighbours: int
) -> np.ndarray:
    """Put each class center at the inverse-distance-weighted mean of its nearest probe points' layout.

    This is the initial placement umap-learn's ``transform`` uses; it needs no labels and follows
    the stored center itself (an EMA center can sit apart from its class's probe points).
    """
    if not len(centers):
        return np.zeros((0, 2), np.float32)
    indices, distances = nearest_neighbours(features, min(neighbours, len(features)), centers)
    weights = 1.0 / (distances + 1e-6 * (distances.max() + 1e-12))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ck,ckd->cd", weights, points[indices]).astype(np.float32)


def umap_frame(
    features: np.ndarray, centers: np.ndarray, previous: np.ndarray | None,
    settings: ProjectionSettings = DEFAULT_SETTINGS,
) -> Frame:
    """One epoch's UMAP frame, warm-started from and Procrustes-aligned to ``previous`` (if any)."""
    from umap import UMAP

    features, centers = checked_features(features, centers)
    count = len(features)
    if count <= settings.n_neighbors:
        raise ProjectionError(
            f"UMAP needs more probe points than n_neighbors={settings.n_neighbors}; this run has {count}"
        )
    if previous is not None and np.shape(previous) != (count, 2):
        raise ProjectionError(f"previous layout has shape {np.shape(previous)}, expected ({count}, 2)")
    model = UMAP(
        n_neighbors=settings.n_neighbors, min_dist=settings.min_dist, random_state=settings.seed, n_jobs=1,
        init="spectral" if previous is None else np.asarray(previous, dtype=np.float32),
        n_epochs=settings.cold_epochs if previous is None else settings.warm_epochs,
        learning_rate=1.0 if previous is None else settings.warm_learning_rate,
        precomputed_knn=nearest_neighbours(features, settings.n_neighbors),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")  # transform() is not used
        warnings.filterwarnings("ignore", message="Graph is not fully connected")  # separate classes
        points = model.fit_transform(features).astype(np.float32)
    residual = None
    if previous is not None:
        similarity, residual = fit_similarity(points, previous)
        points = similarity.apply(points)
    centers_2d = place_centers(features, points, centers, settings.center_neighbors)
    return Frame(points, centers_2d, frame_trustworthiness(features, points, settings), residual)


def _run_frames(
    compute: Callable[..., Frame], features_by_epoch: Sequence[np.ndarray],
    centers_by_epoch: Sequence[np.ndarray],
) -> list[Frame]:
    """Frames of consecutive epochs, each computed with the one before as ``previous``."""
    if not features_by_epoch or len(features_by_epoch) != len(centers_by_epoch):
        raise ProjectionError(f"need one or more epochs with centers, got {len(features_by_epoch)} epochs "
                              f"of features and {len(centers_by_epoch)} of centers")
    frames: list[Frame] = []
    for features, centers in zip(features_by_epoch, centers_by_epoch):
        frames.append(compute(features, centers, frames[-1].points if frames else None))
    return frames


def pca(
    features_by_epoch: Sequence[np.ndarray], centers_by_epoch: Sequence[np.ndarray],
    settings: ProjectionSettings = DEFAULT_SETTINGS,
) -> list[Frame]:
    """PCA frames of a whole run: one basis fitted on all epochs, applied to each in order."""
    basis = fit_pca(features_by_epoch)
    return _run_frames(partial(pca_frame, basis, settings=settings), features_by_epoch, centers_by_epoch)


def umap(
    features_by_epoch: Sequence[np.ndarray], centers_by_epoch: Sequence[np.ndarray],
    settings: ProjectionSettings = DEFAULT_SETTINGS,
) -> list[Frame]:
    """UMAP frames of a whole run, each warm-started from and aligned to the one before."""
    return _run_frames(partial(umap_frame, settings=settings), features_by_epoch, centers_by_epoch)


def warm_up(methods: Sequence[str] = METHODS, settings: ProjectionSettings = DEFAULT_SETTINGS) -> None:
    """Pay the one-off costs (imports; for UMAP numba's compilation, cold and warm) on a tiny dataset."""
    features = np.random.default_rng(0).normal(size=(4 * settings.n_neighbors, 8)).astype(np.float32)
    centers = features[:2]
    pca([features, features + 0.01], [centers, centers], settings)
    if "umap" in methods:
        umap([features, features + 0.01], [centers, centers], settings)
