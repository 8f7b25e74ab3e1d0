"""Record any PyTorch training loop into a centerlens database, as the built-in trainer records its runs.

    with Recorder(db="runs.db", name="my-run", class_names=names) as rec:
        for epoch in range(1, epochs + 1):
            ...  # the user's own training
            rec.log_epoch(epoch, features=feats, labels=labels, logits=logits, train_loss=loss)

Every epoch goes through the trainer's own code: the metrics of ``trainer.metrics`` on an
``Evaluation`` of the given tensors (computed where they live), ``trainer.recorder.epoch_record`` and
the store writer's one-transaction ``write_epoch``. See docs/recording.md.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from sqlalchemy import select

from centerlens.inputs import (
    as_tensor,
    check_epoch,
    check_extra,
    check_images,
    check_scalar,
    check_shapes,
    check_values,
    display_image,
)
from store import ProbeSample, Run, RunStatus
from store.engine import first_line, open_sessions
from store.models import STALE_AFTER_SECONDS
from store.queue import OWN_LOOP, RECORDED_BY, claim_run, new_claim, worker_name
from trainer.datasets import png_bytes
from trainer.metrics import Evaluation
from trainer.probe import MAX_PROBE_POINTS, stratified_sample
from trainer.recorder import Heartbeat, epoch_record
from trainer.recorder import Recorder as RunWriter
from trainer.stopping import ClaimLost

RESERVED = (RECORDED_BY, "recorded_labels")  # config keys the recorder adds


class Recorder:
    """A run of a user's own training loop: a context manager whose :meth:`log_epoch` records an epoch.

    ``class_names`` gives C; ``probe_size`` points (default: all N up to 5,000) are sampled, stratified
    and seeded with ``seed``, from the N samples of the first :meth:`log_epoch`, and every later epoch
    must log the same samples in the same order. ``probe_images`` (N x C x H x W or N x H x W, uint8 or
    float, in the samples' order) gives the dashboard's thumbnails. ``resume=RUN_ID`` continues a run
    this class recorded. Leaving the ``with`` block marks the run completed, an exception failed (with
    the error), Ctrl-C cancelled.
    """

    def __init__(
        self,
        db: str,
        name: str,
        class_names: Sequence[str],
        config: Mapping[str, Any] | None = None,
        probe_images: Any = None,
        probe_size: int | None = None,
        seed: int = 0,
        resume: int | None = None,
        epochs: int | None = None,
        method: str = "own",
        dataset: str = "own",
        model: str = "own",
    ) -> None:
        self.class_names = [str(name) for name in class_names]
        if len(self.class_names) < 2:
            raise ValueError(f"class_names must name at least 2 classes, got {len(self.class_names)}")
        if probe_size is not None and (isinstance(probe_size, bool) or not isinstance(probe_size, int)
                                       or probe_size < 1):
            raise ValueError(f"probe_size must be a whole number of at least 1, not {probe_size!r}")
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"epochs must be a whole number of at least 1, not {epochs!r}")
        self.config = _user_config(config)
        self.db, self.name, self.seed, self.resume = db, str(name), int(seed), resume
        self.epochs, self.probe_size = epochs, probe_size
        self.identity = {"method": method, "dataset": dataset, "model": model}
        self.probe_images = check_images(probe_images)
        self.writer: RunWriter | None = None
        self.heartbeat: Heartbeat | None = None
        self.last_epoch = 0
        self.feature_dim: int | None = None
        self.probe: np.ndarray | None = None
        self.labels_digest: dict[str, Any] | None = None
        self.cancel_requested = False
        self._clock = time.perf_counter()

    @property
    def run_id(self) -> int | None:
        """The run's id in the database (once the ``with`` block is entered)."""
        return None if self.writer is None else self.writer.run_id

    def __enter__(self) -> Recorder:
        sessions = open_sessions(self.db)
        if self.resume is None:
            self.writer = RunWriter(sessions)
            self.writer.start_run(self._run_columns(), [])
        else:
            self.writer = self._resumed(sessions, int(self.resume))
        self.heartbeat = Heartbeat(self.writer).__enter__()
        self._clock = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        if self.heartbeat is not None:
            self.heartbeat.__exit__()
        if self.writer is None or (kind is not None and issubclass(kind, ClaimLost)):
            return  # a run another process took over is that process's to finish
        if kind is None and self.cancel_requested:
            self.writer.finish(RunStatus.cancelled, f"cancelled on request after epoch {self.last_epoch}")
        elif kind is None:
            self.writer.finish(RunStatus.completed)
        elif issubclass(kind, KeyboardInterrupt):
            self.writer.finish(RunStatus.cancelled, "interrupted")
        else:
            self.writer.finish(RunStatus.failed, f"{kind.__name__}: {first_line(error)}")

    def log_epoch(
        self,
        epoch: int,
        features: Any,
        labels: Any,
        logits: Any = None,
        train_loss: Any = None,
        train_top1: Any = None,
        lr: Any = None,
        extra: Mapping[str, Any] | None = None,
        images_per_second: Any = None,
    ) -> bool:
        """Record epoch ``epoch`` (counted from 1) from the N samples' features (N x D), labels (N) and,
        optionally, logits (N x C), with the loop's own scalars; one transaction.

        Bad input is a ValueError naming the problem, and nothing is written. Returns True once the run
        was asked to stop (dashboard or ``centerlens queue --cancel``); leaving the ``with`` block then
        marks it cancelled.
        """
        if self.writer is None:
            raise RuntimeError("log_epoch needs the recorder entered: use `with Recorder(...) as rec:`")
        seconds = time.perf_counter() - self._clock
        started = time.perf_counter()
        epoch = check_epoch(epoch, self.last_epoch)
        features = as_tensor(features, "features")
        labels = as_tensor(labels, "labels", features.device)
        logits = None if logits is None else as_tensor(logits, "logits", features.device)
        check_shapes(features, labels, logits, len(self.class_names))
        scalars = {
            "train_loss": check_scalar(train_loss, "train_loss"),
            "train_accuracy": check_scalar(train_top1, "train_top1"),
            "learning_rate": check_scalar(lr, "lr"),
            "images_per_second": check_scalar(images_per_second, "images_per_second"),
            "epoch_seconds": seconds,
        }
        extra = check_extra(extra)
        host_labels = check_values(features, labels, logits, self.class_names)
        first = self.probe is None
        run_columns, probe_rows = self._fix_probe(features, host_labels) if first else self._same_samples(
            features, host_labels
        )
        evaluation = Evaluation(features.float(), None if logits is None else logits.float(),
                                labels.long(), len(self.class_names))
        probe = torch.as_tensor(self.probe, device=features.device)
        record = epoch_record(evaluation, probe, epoch, scalars, {}, extra=extra)
        record.scalars["record_seconds"] = time.perf_counter() - started
        if self.epochs is None:
            run_columns["epochs_planned"] = epoch
        cancel = self.writer.write_epoch(record, run_columns, probe_rows)
        self.cancel_requested = self.cancel_requested or cancel
        if first:
            self.feature_dim = features.shape[1]
        self.last_epoch = epoch
        self._clock = time.perf_counter()
        return self.cancel_requested

    def _fix_probe(self, features: torch.Tensor, labels: np.ndarray) -> tuple[dict, list]:
        """The first epoch's probe: a seeded stratified sample of its samples, and the run columns it sets."""
        samples = len(labels)
        size = self.probe_size if self.probe_size is not None else min(samples, MAX_PROBE_POINTS)
        if size > samples:
            raise ValueError(f"probe_size {size} is larger than the {samples} samples logged")
        if self.probe_images is not None and len(self.probe_images) != samples:
            raise ValueError(
                f"probe_images hold {len(self.probe_images)} images but the epoch logs {samples} samples"
            )
        probe = stratified_sample(labels, len(self.class_names), size, self.seed)
        digest = _labels_digest(labels)
        rows = [(int(i), int(labels[i]), self._thumbnail(int(i))) for i in probe]
        columns = {
            "feature_dim": features.shape[1],
            "probe_size": size,
            "device": str(features.device),
            "config": {**self.config, RECORDED_BY: OWN_LOOP, "recorded_labels": digest},
        }
        self.probe, self.labels_digest = probe, digest
        return columns, rows

    def _same_samples(self, features: torch.Tensor, labels: np.ndarray) -> tuple[dict, None]:
        """Later epochs: the first epoch's dimension, and its samples in its order (by label sequence)."""
        if features.shape[1] != self.feature_dim:
            raise ValueError(
                f"features have {features.shape[1]} dimensions but this run's first epoch had "
                f"{self.feature_dim}"
            )
        if _labels_digest(labels) != self.labels_digest:
            raise ValueError(
                f"labels differ from the first epoch's ({self.labels_digest['samples']} samples): every "
                "epoch must log the same samples in the same order"
            )
        return {"device": str(features.device)}, None

    def _thumbnail(self, index: int) -> bytes:
        """The PNG thumbnail of sample ``index`` (empty without probe_images)."""
        if self.probe_images is None:
            return b""
        return png_bytes(Image.fromarray(display_image(self.probe_images[index])))

    def _run_columns(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.identity,
            "config": {**self.config, RECORDED_BY: OWN_LOOP},
            "seed": self.seed,
            "epochs_planned": self.epochs or 0,
            "num_classes": len(self.class_names),
            "class_names": self.class_names,
            "probe_seed": self.seed,
            "worker": worker_name(),
        }

    def _resumed(self, sessions, run_id: int) -> RunWriter:
        """Take run ``run_id`` back (refused while another process records it) with its probe and labels."""
        with sessions() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise ValueError(f"no run with id {run_id} to resume")
            if (run.config or {}).get(RECORDED_BY) != OWN_LOOP:
                raise ValueError(f"run {run_id} was trained by centerlens' trainer: resume it with "
                                 f"`centerlens train --resume {run_id}`")
            if run.class_names != self.class_names:
                raise ValueError(f"class_names differ from run {run_id}'s {run.class_names}")
            probe = select(ProbeSample.dataset_index).where(ProbeSample.run_id == run_id)
            positions = session.scalars(probe.order_by(ProbeSample.position)).all()
            config, feature_dim = dict(run.config), run.feature_dim
        claim = new_claim()
        claim_run(sessions, run_id, worker_name(), STALE_AFTER_SECONDS, claim, own_loop=True)
        writer = RunWriter(sessions, claim)
        writer.run_id = run_id
        self.last_epoch = writer.last_epoch()
        self.config = {key: value for key, value in config.items() if key not in RESERVED}
        if config.get("recorded_labels") is not None:
            self.probe = np.asarray(positions, dtype=np.int64)
            self.labels_digest, self.feature_dim = config["recorded_labels"], feature_dim
        return writer


def _labels_digest(labels: np.ndarray) -> dict[str, Any]:
    """The label sequence's length and SHA-256: later epochs (and a resumed run) must match it."""
    return {"samples": len(labels), "sha256": hashlib.sha256(labels.astype("<i8").tobytes()).hexdigest()}


def _user_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's config as stored (JSON), without the keys the recorder reserves."""
    config = dict(config or {})
    taken = [key for key in RESERVED if key in config]
    if taken:
        raise ValueError(f"config key {taken[0]!r} is reserved by centerlens")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"config must be JSON (numbers, strings, lists, dicts): {error}") from error
    return config
