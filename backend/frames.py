"""Frames as the API sends them: stored 2-D layouts joined with the probe's predictions at that epoch.

Arrays go from the stored blobs to base64 without being decoded, except where a comparison
aligns one run's points to another's (a cheap similarity transform of stored 2-D points).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from backend.arrays import typed_array, typed_blob_or_none
from backend.projections import RUN_FRAME, get_projection
from backend.queries import raw
from backend.schemas import Frame, Frames, TypedArray
from store import EmbeddingSnapshot, Epoch, Projection, Run
from store.codec import decode_array
from store.models import FINISHED


@dataclass(frozen=True)
class StoredFrame:
    """One stored projection row with its epoch's predictions, arrays still as codec blobs."""

    epoch: int
    status: str
    error: str | None
    points: bytes | None
    centers: bytes | None
    predictions: bytes | None
    confidences: bytes | None
    trustworthiness: float | None
    procrustes_residual: float | None
    input_hash: str | None

    def to_frame(self) -> Frame:
        """The wire form, arrays straight from their stored bytes."""
        return self._frame(typed_blob_or_none(self.points), typed_blob_or_none(self.centers))

    def with_arrays(self, points: np.ndarray, centers: np.ndarray) -> Frame:
        """The wire form with other (e.g. aligned) points and centers."""
        return self._frame(typed_array(points.astype(np.float32)), typed_array(centers.astype(np.float32)))

    def _frame(self, points: TypedArray | None, centers: TypedArray | None) -> Frame:
        return Frame(
            epoch=self.epoch, status=self.status, error=self.error, points=points, centers=centers,
            predictions=typed_blob_or_none(self.predictions),
            confidences=typed_blob_or_none(self.confidences),
            trustworthiness=self.trustworthiness, procrustes_residual=self.procrustes_residual,
        )


def stored_frames(
    session: Session, run_id: int, projection: str, epoch: int | None = None
) -> list[StoredFrame]:
    """The run's frames of ``projection`` in epoch order (only ``epoch``'s when given)."""
    snapshot = and_(
        EmbeddingSnapshot.run_id == Projection.run_id, EmbeddingSnapshot.epoch == Projection.epoch
    )
    query = (
        select(
            Projection.epoch, Projection.status, Projection.error, raw(Projection.points),
            raw(Projection.centers), raw(EmbeddingSnapshot.probe_predictions),
            raw(EmbeddingSnapshot.probe_confidences), Projection.trustworthiness,
            Projection.procrustes_residual, Projection.input_hash,
        )
        .outerjoin(EmbeddingSnapshot, snapshot)
        .where(Projection.run_id == run_id, Projection.projection == projection)
        .where(Projection.frame == RUN_FRAME)
        .order_by(Projection.epoch)
    )
    if epoch is not None:
        query = query.where(Projection.epoch == epoch)
    return [StoredFrame(*row) for row in session.execute(query)]


def recorded_epochs(session: Session, run_id: int) -> list[int]:
    """Epochs the trainer has recorded for the run, in order."""
    return list(session.scalars(select(Epoch.epoch).where(Epoch.run_id == run_id).order_by(Epoch.epoch)))


def is_final(session: Session, run: Run, projection: str, frame: StoredFrame) -> bool:
    """Whether a stored frame can no longer change: its run has finished and the input hash the
    projector plans for it (``Projection.input_hashes``) is the one it was computed from."""
    if run.status not in FINISHED or frame.input_hash is None:
        return False
    planned = get_projection(projection).input_hashes(run.id, recorded_epochs(session, run.id), finished=True)
    return planned.get(frame.epoch) == frame.input_hash


def frames_response(run_id: int, projection: str, stored: Sequence[StoredFrame], epochs: Sequence[int],
                    frames: list[Frame] | None = None) -> Frames:
    """Assemble a frames response; ``pending`` is every recorded epoch without a frame yet."""
    projected = {frame.epoch for frame in stored}
    return Frames(
        run_id=run_id, projection=projection, epochs=[frame.epoch for frame in stored],
        frames=frames if frames is not None else [frame.to_frame() for frame in stored],
        pending=[epoch for epoch in epochs if epoch not in projected],
    )


def run_frames(session: Session, run_id: int, projection: str) -> Frames:
    """Every frame of one run for one projection."""
    stored = stored_frames(session, run_id, projection)
    return frames_response(run_id, projection, stored, recorded_epochs(session, run_id))


def layouts(stored: Sequence[StoredFrame]) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Decoded (points, centers) of each frame; None where the projection failed."""
    return [
        (decode_array(frame.points), decode_array(frame.centers))
        if frame.points is not None and frame.centers is not None else None
        for frame in stored
    ]
