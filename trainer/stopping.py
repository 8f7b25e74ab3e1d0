"""Why a trainer stops early, in one line: its run was taken over, or the disk is full."""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy.exc import DBAPIError

from store import RunStatus
from store.engine import first_line, is_disk_full


class TrainingStopped(Exception):
    """Training stopped for a reason the command line reports in one line, without a traceback."""


class ClaimLost(TrainingStopped):
    """Another worker took the run over: this trainer stops writing and leaves the run to it."""


class DiskFull(TrainingStopped):
    """A checkpoint or database write found the disk full."""


def disk_full_message(error: BaseException) -> str:
    """``disk full: ...`` naming what could not be written."""
    if isinstance(error, OSError) and error.filename:
        return f"disk full: cannot write {error.filename} ({error.strerror})"
    if isinstance(error, DBAPIError):
        return f"disk full: the database write failed ({first_line(error)})"
    return f"disk full: {error}"


def fail_run(recorder, error: Exception) -> NoReturn:
    """Mark the run failed with ``error`` and raise: a full disk as DiskFull, anything else as is.

    When the disk is full the database may refuse that last write too; the run then stays
    running and a worker takes it over once its heartbeat is stale.
    """
    full = is_disk_full(error)
    message = disk_full_message(error) if full else f"{type(error).__name__}: {error}"
    try:
        recorder.finish(RunStatus.failed, message)
    except ClaimLost:
        raise
    except Exception as finish_error:
        if not (full or is_disk_full(finish_error)):
            raise
        raise DiskFull(
            f"{message}; the run could not be marked failed either: it is left for a worker to take "
            "over (or `centerlens train --resume`) once there is space"
        ) from error
    if full:
        raise DiskFull(f"{message}; run {recorder.run_id} is marked failed: resume it once there is space")
    raise error
