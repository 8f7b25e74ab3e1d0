"""Resumable checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model, optimizer, scheduler and method state (CSD centers, PS-KD
predictions), every RNG state, the number of finished epochs and that epoch's record. It is
written (temporary file, fsync, rename) *before* the epoch's database transaction, so whatever
moment a trainer dies at, the database and the newest checkpoint differ by at most that one
record, which resuming writes from the checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from store.engine import is_url
from trainer.recorder import EpochRecord


@dataclass
class TrainingState:
    """The mutable state of a run besides the model and method."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator


def checkpoint_path(db: str, checkpoint_dir: str, run_id: int) -> Path:
    """``DIR/run-ID.pt``: DIR is ``checkpoint_dir``, else ``$CENTERLENS_CHECKPOINT_DIR``, else
    ``DB_FILE.checkpoints`` (``./checkpoints`` for a URL). Workers that take over each other's
    runs must share it."""
    checkpoint_dir = checkpoint_dir or os.environ.get("CENTERLENS_CHECKPOINT_DIR", "")
    if checkpoint_dir:
        folder = Path(checkpoint_dir)
    elif is_url(db):
        folder = Path("checkpoints")
    else:
        folder = Path(f"{Path(db).expanduser()}.checkpoints")
    return folder / f"run-{run_id}.pt"


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


def save_checkpoint(path: Path, setup, state: TrainingState, epochs_done: int, record: EpochRecord) -> None:
    """Atomically write the state after ``epochs_done`` epochs (with that epoch's record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "epochs_done": epochs_done,
        "model": _unwrapped(setup.model).state_dict(),
        "method": setup.method.state_dict(),
        "method_epoch": setup.method.epoch,
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "rng": _rng_states(setup, state),
        "record": record,
    }
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: Path, setup, state: TrainingState) -> tuple[int, EpochRecord] | None:
    """Restore a checkpoint into the setup and state; returns (epochs done, its record) or None."""
    if not path.exists():
        return None
    payload = torch.load(path, map_location=setup.device, weights_only=False)
    _unwrapped(setup.model).load_state_dict(payload["model"])
    setup.method.load_state_dict(payload["method"])
    setup.method.epoch = payload["method_epoch"]
    state.optimizer.load_state_dict(payload["optimizer"])
    state.scheduler.load_state_dict(payload["scheduler"])
    rng = payload["rng"]
    torch.set_rng_state(rng["torch"].cpu())
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
    state.generator.set_state(rng["batches"].cpu())
    loader_generator = getattr(setup.train_loader, "generator", None)
    if loader_generator is not None and rng["loader"] is not None:
        loader_generator.set_state(rng["loader"].cpu())
    return payload["epochs_done"], payload["record"]
