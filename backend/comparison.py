"""Side-by-side comparison of 2-4 runs on the same probe: frames aligned to the first run.

Each other run gets one similarity transform (``backend.projections.align_to_reference``, fitted
on the stored 2-D points of the epochs both runs have projected) applied to all its frames, so
its own epoch-to-epoch motion is kept and only its orientation, scale and position change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from backend import queries
from backend.frames import StoredFrame, frames_response, layouts, recorded_epochs, stored_frames
from backend.projections import ProjectionError, align_to_reference
from backend.schemas import Comparison, Frames
from store import Run


class IncomparableRuns(ValueError):
    """Runs that cannot share a picture (different dataset or probe); the message says why."""


def check_comparable(session: Session, runs: Sequence[Run]) -> None:
    """Raise IncomparableRuns unless every run has the first one's dataset and probe samples."""
    reference = runs[0]
    reference_probe = queries.probe_arrays(session, reference.id)[1]
    for run in runs[1:]:
        if run.dataset != reference.dataset:
            raise IncomparableRuns(
                f"run {run.id} is on {run.dataset!r} and run {reference.id} on {reference.dataset!r}"
            )
        if not np.array_equal(queries.probe_arrays(session, run.id)[1], reference_probe):
            raise IncomparableRuns(f"runs {reference.id} and {run.id} have different probe samples")


def _points_by_epoch(stored: Sequence[StoredFrame]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {frame.epoch: layout for frame, layout in zip(stored, layouts(stored)) if layout is not None}


def _aligned(run_id: int, projection: str, stored: Sequence[StoredFrame], epochs: Sequence[int],
             reference: dict[int, tuple[np.ndarray, np.ndarray]]) -> Frames:
    """A run's frames mapped onto the reference's; unaligned while they share no projected epoch."""
    own = _points_by_epoch(stored)
    try:
        similarity = align_to_reference(
            {epoch: points for epoch, (points, _) in reference.items()},
            {epoch: points for epoch, (points, _) in own.items()},
        )
    except ProjectionError:
        return frames_response(run_id, projection, stored, epochs)
    frames = []
    for frame in stored:
        layout = own.get(frame.epoch)
        if layout is None:
            frames.append(frame.to_frame())
        else:
            frames.append(frame.with_arrays(similarity.apply(layout[0]), similarity.apply(layout[1])))
    return frames_response(run_id, projection, stored, epochs, frames)


def comparison(session: Session, runs: Sequence[Run], projection: str) -> Comparison:
    """The comparison response: summaries, aligned frames and metric series of ``runs``."""
    check_comparable(session, runs)
    reference_stored = stored_frames(session, runs[0].id, projection)
    reference = _points_by_epoch(reference_stored)
    frames = {str(runs[0].id): frames_response(
        runs[0].id, projection, reference_stored, recorded_epochs(session, runs[0].id)
    )}
    for run in runs[1:]:
        stored = stored_frames(session, run.id, projection)
        epochs = recorded_epochs(session, run.id)
        frames[str(run.id)] = _aligned(run.id, projection, stored, epochs, reference)
    return Comparison(
        reference=runs[0].id,
        runs=queries.run_summaries(session, runs),
        frames=frames,
        epochs={str(run.id): queries.epoch_series(session, run.id) for run in runs},
    )
