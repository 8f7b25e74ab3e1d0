"""Resumable checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model, optimizer, scheduler and method state (CSD centers, PS-KD
predictions), every RNG state, the number of finished epochs and that epoch's record. It is
written (temporary file, fsync, rename) *before* the epoch's database transaction, so whatever
moment a trainer dies at, the database and the newest checkpoint differ by at most that one
record, which resuming writes from the checkpoint.

A file is one line ``centerlens-checkpoint 1 sha256=HEX`` and then a ``torch.save`` payload of
tensors and plain containers only, read back with ``weights_only=True``: no pickled object, so a
planted file cannot run code, and the checksum catches a truncated or damaged one. The newest two
are kept (``run-ID.pt`` and ``run-ID.prev.pt``); resuming falls back to the older when the newer
is unusable.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from store.engine import is_url
from trainer.config import ConfigError
from trainer.recorder import EpochRecord

MAGIC = b"centerlens-checkpoint 1 sha256="
DIGEST_LENGTH = 64


class CheckpointError(RuntimeError):
    """A run has checkpoints but none it can be resumed from."""


@dataclass
class TrainingState:
    """The mutable state of a run besides the model and method."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator


@dataclass
class Restored:
    """What resuming found: the epochs done, that epoch's record, and newer checkpoints passed over."""

    epochs_done: int
    record: EpochRecord
    path: Path
    skipped: list[str] = field(default_factory=list)


def checkpoint_folder(db: str, checkpoint_dir: str) -> Path:
    """``checkpoint_dir``, else ``$CENTERLENS_CHECKPOINT_DIR``, else ``DB_FILE.checkpoints``
    (``./checkpoints`` for a URL). Workers that take over each other's runs must share it."""
    checkpoint_dir = checkpoint_dir or os.environ.get("CENTERLENS_CHECKPOINT_DIR", "")
    if checkpoint_dir:
        return Path(checkpoint_dir).expanduser()
    if is_url(db):
        return Path("checkpoints")
    return Path(f"{Path(db).expanduser()}.checkpoints")


def checkpoint_path(db: str, checkpoint_dir: str, run_id: int) -> Path:
    """``FOLDER/run-ID.pt``, FOLDER as :func:`checkpoint_folder` resolves it."""
    return checkpoint_folder(db, checkpoint_dir) / f"run-{run_id}.pt"


def previous_path(path: Path) -> Path:
    """The checkpoint kept from before the newest (``run-ID.prev.pt``)."""
    return path.with_suffix(".prev.pt")


def check_checkpoint_dir(db: str, checkpoint_dir: str) -> Path:
    """The checkpoint folder, refused (ConfigError) when it cannot be created or written; writes nothing."""
    folder = checkpoint_folder(db, checkpoint_dir)
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"checkpoint folder {folder} cannot be created: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ConfigError(
            f"checkpoint folder {folder} is not writable: "
            f"cannot create a file in {existing} ({error.strerror})"
        ) from error
    return folder


def _unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "_orig_mod", model)  # torch.compile wraps the model


def _rng_states(setup, state: TrainingState) -> dict:
    loader_generator = getattr(setup.train_loader, "generator", None)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "batches": state.generator.get_state(),
        "loader": None if loader_generator is None else loader_generator.get_state(),
    }


def _to_plain(value: Any) -> Any:
    """Arrays as tensors, numpy scalars as numbers, containers as dicts and lists."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: _to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(item) for item in value]
    return value


def _from_plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {key: _from_plain(item) for key, item in value.items()}
    return value


def _record_payload(record: EpochRecord) -> dict:
    return {item.name: _to_plain(getattr(record, item.name)) for item in fields(record)}


def _scheduler_payload(scheduler: torch.optim.lr_scheduler.LRScheduler) -> dict:
    state = scheduler.state_dict()
    return {key: dict(value) if isinstance(value, Counter) else value for key, value in state.items()}


def _payload(setup, state: TrainingState, epochs_done: int, record: EpochRecord) -> dict:
    return {
        "epochs_done": epochs_done,
        "model": _unwrapped(setup.model).state_dict(),
        "method": setup.method.state_dict(),
        "method_epoch": setup.method.epoch,
        "optimizer": state.optimizer.state_dict(),
        "scheduler": _scheduler_payload(state.scheduler),
        "rng": _rng_states(setup, state),
        "record": _record_payload(record),
    }


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def save_checkpoint(path: Path, setup, state: TrainingState, epochs_done: int, record: EpochRecord) -> None:
    """Atomically write the state after ``epochs_done`` epochs (with that epoch's record).

    The newest file so far becomes ``run-ID.prev.pt``. An OSError (a full disk, say) names
    ``path`` and leaves the checkpoints that were there intact.
    """
    buffer = io.BytesIO()
    torch.save(_payload(setup, state, epochs_done, record), buffer)
    data = buffer.getvalue()
    previous = previous_path(path)
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            previous.unlink(missing_ok=True)  # room for the new file; ``path`` stays good meanwhile
        with open(temporary, "wb") as handle:
            handle.write(MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n")
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.replace(path, previous)
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from error


def read_checkpoint(path: Path) -> dict:
    """The verified payload of one checkpoint file; ValueError saying what is wrong with it."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot be read ({error.strerror})") from error
    header_length = len(MAGIC) + DIGEST_LENGTH + 1
    if not content.startswith(MAGIC) or content[header_length - 1 : header_length] != b"\n":
        raise ValueError("is not a centerlens checkpoint (no checksum header)")
    expected, data = content[len(MAGIC) : header_length - 1], content[header_length:]
    if hashlib.sha256(data).hexdigest().encode() != expected:
        raise ValueError(f"is damaged or truncated ({len(content)} bytes, checksum mismatch)")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any refusal of the loader makes the file unusable
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise ValueError(f"cannot be loaded safely ({lines[0]})") from error


def _restore(payload: dict, setup, state: TrainingState) -> EpochRecord:
    _unwrapped(setup.model).load_state_dict(payload["model"])
    setup.method.load_state_dict(payload["method"])
    setup.method.epoch = payload["method_epoch"]
    state.optimizer.load_state_dict(payload["optimizer"])
    scheduler = dict(payload["scheduler"])
    if isinstance(scheduler.get("milestones"), dict):
        scheduler["milestones"] = Counter(scheduler["milestones"])
    state.scheduler.load_state_dict(scheduler)
    rng = payload["rng"]
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    state.generator.set_state(rng["batches"])
    loader_generator = getattr(setup.train_loader, "generator", None)
    if loader_generator is not None and rng["loader"] is not None:
        loader_generator.set_state(rng["loader"])
    return EpochRecord(**_from_plain(payload["record"]))


def load_checkpoint(path: Path, setup, state: TrainingState, epochs_recorded: int) -> Restored | None:
    """Restore the newest usable checkpoint of ``path`` (else the one before it) into setup and state.

    Returns None when the run has no checkpoint. A checkpoint is unusable when it is damaged, not
    ours, or more than one epoch ahead of the ``epochs_recorded`` epochs in the database; when
    every one is, raises CheckpointError naming the files to remove (the run then restarts from
    epoch 1).
    """
    candidates = [candidate for candidate in (path, previous_path(path)) if candidate.exists()]
    if not candidates:
        return None
    skipped: list[str] = []
    for candidate in candidates:
        try:
            payload = read_checkpoint(candidate)
            epochs_done = int(payload["epochs_done"])
            if epochs_done > epochs_recorded + 1:
                raise ValueError(f"is at epoch {epochs_done}, past the {epochs_recorded} recorded")
            record = _restore(payload, setup, state)
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            skipped.append(f"checkpoint {candidate} {error}")
            continue
        return Restored(epochs_done, record, candidate, skipped)
    names = " and ".join(str(candidate) for candidate in candidates)
    raise CheckpointError(
        f"{'; '.join(skipped)}. Remove {names} to train the run again from epoch 1 "
        f"(its {epochs_recorded} recorded epochs will be replaced)"
    )


def remove_checkpoints(path: Path) -> None:
    """Delete a finished run's checkpoints and any temporary file a killed trainer left."""
    for leftover in (path, previous_path(path), *path.parent.glob(f"{path.name}.*.tmp")):
        leftover.unlink(missing_ok=True)
