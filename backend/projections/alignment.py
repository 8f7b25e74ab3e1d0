"""Similarity (Procrustes) alignment of 2-D layouts: frame to previous frame, run to reference run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from backend.projections.errors import ProjectionError


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
