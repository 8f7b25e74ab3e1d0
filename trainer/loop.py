"""The training loop: prepare everything (validating as it goes), then train and record each epoch."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from store import RunStatus
from store.engine import is_disk_full
from store.queue import worker_name
from trainer.checkpoint import (
    TrainingState,
    checkpoint_path,
    load_checkpoint,
    remove_checkpoints,
    save_checkpoint,
)
from trainer.config import ConfigError, TrainConfig
from trainer.datasets import DatasetBundle, load_dataset
from trainer.loaders import ResidentLoader, TorchvisionLoader, sequential_batches
from trainer.methods import Method, StepOutput, create_method
from trainer.metrics import Evaluation
from trainer.models import create_model
from trainer.probe import default_per_class, select_probe
from trainer.recorder import EpochRecord, Heartbeat, Recorder, config_columns, epoch_record
from trainer.stopping import ClaimLost, DiskFull, disk_full_message, fail_run

EVAL_BATCH = 512


@dataclass
class Setup:
    """A validated run, ready to train: nothing has been written yet."""

    config: TrainConfig
    device: torch.device
    bundle: DatasetBundle
    model: nn.Module
    method: Method
    probe_indices: np.ndarray
    train_loader: ResidentLoader | TorchvisionLoader
    test_loader: ResidentLoader | TorchvisionLoader


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an unavailable device is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"unknown device {name!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return device


def _loaders(config: TrainConfig, bundle: DatasetBundle, device: torch.device):
    resident = config.loader == "resident" or (config.loader == "auto" and bundle.train_resident is not None)
    if resident and bundle.train_resident is None:
        raise ConfigError(f"dataset {bundle.name!r} has no resident loader; use --loader torchvision")
    if resident:
        return (
            ResidentLoader(bundle.train_resident, device, augment=True, seed=config.seed),
            ResidentLoader(bundle.test_resident, device, augment=False, seed=config.seed),
        )
    return TorchvisionLoader(bundle.train, device, config.workers), TorchvisionLoader(bundle.test, device, 0)


def prepare(config: TrainConfig, bundle: DatasetBundle | None = None) -> Setup:
    """Build dataset, model, method, probe and loaders (writes nothing); the config is validated already,
    so what is checked here depends on this machine: the device, the data files, the probe's size.

    ``bundle`` replaces the configured dataset (benchmarks pass synthetic data this way).
    """
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    bundle = bundle or load_dataset(config)
    if config.model == "auto":
        config.model = bundle.default_model
    model = create_model(config.model, bundle.num_classes, bundle.image_shape, config.method)
    method = create_method(config, bundle.num_classes, model.feature_dim, len(bundle.train_labels))
    per_class = config.probe_per_class or default_per_class(bundle.test_labels, bundle.num_classes)
    config.probe_per_class = per_class
    probe = select_probe(bundle.test_labels, bundle.num_classes, per_class, config.probe_seed)
    train_loader, test_loader = _loaders(config, bundle, device)
    model.to(device)
    method.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    if config.compile:
        model = torch.compile(model)
    return Setup(config, device, bundle, model, method, probe, train_loader, test_loader)


def _autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def train_step(
    setup: Setup,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: torch.Tensor,
) -> StepOutput:
    """One optimisation step of the method (bf16 autocast on CUDA)."""
    with _autocast(setup.device):
        out = setup.method.step(setup.model, images, labels, indices)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    optimizer.step()
    return out


def train_epoch(
    setup: Setup, optimizer: torch.optim.Optimizer, generator: torch.Generator, epoch: int
) -> dict:
    """One pass over the training set; returns mean loss, its parts, accuracy, seconds and images/s."""
    setup.model.train()
    setup.method.start_epoch(epoch)
    device = setup.device
    totals: dict[str, torch.Tensor] = {}
    correct = torch.zeros((), device=device)
    seen = 0
    batches = list(setup.method.batches(setup.bundle.train_labels, setup.config.batch_size, generator))
    started = time.perf_counter()
    bar = tqdm(
        setup.train_loader.batches(batches),
        total=len(batches),
        desc=f"epoch {epoch + 1}",
        leave=False,
        disable=None,
        unit="batch",
    )
    for step, (images, labels, indices) in enumerate(bar):
        out = train_step(setup, optimizer, images, labels, indices)
        weight = out.labels.shape[0]
        for name, value in {"loss": out.loss.detach(), **out.parts}.items():
            totals[name] = totals.get(name, torch.zeros((), device=device)) + value.float() * weight
        correct += (out.logits.argmax(1) == out.labels).sum()
        seen += weight
        if step % 20 == 0 and not bar.disable:
            rate = seen / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(
                loss=f"{totals['loss'].item() / seen:.3f}",
                acc=f"{correct.item() / seen:.3f}",
                img_s=f"{rate:.0f}",
            )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    names = list(totals)
    means = dict(zip(names, (torch.stack([totals[name] for name in names]) / seen).tolist()))
    loss = means.pop("loss")
    return {
        "train_loss": loss,
        "train_ce": means.get("ce"),
        "train_distill": means.get("distill"),
        "loss_parts": means,
        "train_accuracy": correct.item() / seen,
        "epoch_seconds": seconds,
        "images_per_second": seen / seconds,
    }


@torch.no_grad()
def evaluate(setup: Setup) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features (float32), logits and labels of the whole test split, left on the device."""
    setup.model.eval()
    features, logits, labels = [], [], []
    batches = sequential_batches(len(setup.test_loader), EVAL_BATCH)
    for images, batch_labels, _ in setup.test_loader.batches(batches):
        with _autocast(setup.device):
            batch_features, batch_logits = setup.model(images)
        features.append(batch_features.float())
        logits.append(batch_logits.float())
        labels.append(batch_labels)
    return torch.cat(features), torch.cat(logits), torch.cat(labels)


def build_record(setup: Setup, epoch: int, train_stats: dict, learning_rate: float) -> EpochRecord:
    """Evaluate the test split and turn everything the epoch produced into one record."""
    features, logits, labels = evaluate(setup)
    evaluation = Evaluation(features, logits, labels, setup.bundle.num_classes)
    probe = torch.as_tensor(setup.probe_indices, device=setup.device)
    stats = dict(train_stats)
    loss_parts = stats.pop("loss_parts")
    scalars = {**stats, "learning_rate": learning_rate}
    return epoch_record(evaluation, probe, epoch + 1, scalars, loss_parts, setup.method.recorded_centers())


def run_info(setup: Setup) -> dict:
    """Run columns known once the setup is built."""
    return {
        "device": str(setup.device),
        "num_classes": setup.bundle.num_classes,
        "class_names": setup.bundle.class_names,
        "feature_dim": setup.model.feature_dim,
        "probe_size": len(setup.probe_indices),
        "probe_seed": setup.config.probe_seed,
        "worker": worker_name(),
    }


def probe_rows(setup: Setup) -> list[tuple[int, int, bytes]]:
    """(dataset index, label, PNG thumbnail) of each probe sample, in probe order."""
    labels = setup.bundle.test_labels
    return [(int(i), int(labels[i]), setup.bundle.thumbnail(int(i))) for i in setup.probe_indices]


def epoch_line(record: EpochRecord, epochs: int) -> str:
    """One line of progress per finished epoch."""
    s = record.scalars
    return (
        f"epoch {record.epoch}/{epochs}  loss {s['train_loss']:.4f}  test top1 {s['test_top1']:.4f}  "
        f"tr(Sw)/tr(Sb) {s['variance_ratio']:.4f}  NC1 {s['nc1']:.4f}  {s['images_per_second']:.0f} img/s"
    )


def training_state(setup: Setup) -> TrainingState:
    """Optimizer (model + method parameters), step-decay scheduler and the batch-order generator."""
    config = setup.config
    parameters = list(setup.model.parameters()) + list(setup.method.parameters())
    optimizer = torch.optim.SGD(
        parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    milestones = sorted({max(1, round(f * config.epochs)) for f in config.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    return TrainingState(optimizer, scheduler, torch.Generator().manual_seed(config.seed))


def resume_point(setup: Setup, state: TrainingState, recorder: Recorder, path: Path, log) -> int:
    """Restore the newest usable checkpoint and make the database agree with it; returns epochs done."""
    recorded = recorder.last_epoch()
    restored = load_checkpoint(path, setup, state, recorded)
    epochs_done = 0
    if restored is None:
        if recorded:
            log(f"run {recorder.run_id} has no checkpoint in {path.parent}: training it again from epoch 1")
    else:
        for problem in restored.skipped:
            log(f"{problem}: resuming from the one before it")
        epochs_done = restored.epochs_done
        if recorded < epochs_done:
            recorder.write_epoch(restored.record)  # the trainer died between checkpoint and transaction
        log(f"resuming run {recorder.run_id} after epoch {epochs_done}")
    recorder.truncate_after(epochs_done)
    return epochs_done


def train(
    setup: Setup, recorder: Recorder, log=print, run_id: int | None = None, resume: bool = False
) -> int:
    """Create the run (or take over run ``run_id``), train and record every epoch.

    With ``resume`` the run continues from its newest usable checkpoint. On an exception the run is
    marked failed with the error (a full disk: ``disk full: ...``, raised as DiskFull); on Ctrl-C or a
    cancel request seen after an epoch, cancelled. A trainer whose run another worker took over
    stops with ClaimLost and leaves the run as it is.
    """
    config = setup.config
    try:
        run_id = recorder.start_run(
            {**config_columns(config.to_dict()), **run_info(setup)}, probe_rows(setup), run_id
        )
    except Exception as error:
        if is_disk_full(error):
            raise DiskFull(f"{disk_full_message(error)}; nothing was recorded") from error
        raise
    log(
        f"run {run_id} '{config.name}': {config.method} on {config.dataset} with {config.model}, "
        f"{config.epochs} epochs on {setup.device}"
    )
    state = training_state(setup)
    path = checkpoint_path(config.db, config.checkpoint_dir, run_id)
    try:
        start = resume_point(setup, state, recorder, path, log) if resume else 0
        with Heartbeat(recorder):
            for epoch in range(start, config.epochs):
                learning_rate = state.optimizer.param_groups[0]["lr"]
                stats = train_epoch(setup, state.optimizer, state.generator, epoch)
                started = time.perf_counter()
                record = build_record(setup, epoch, stats, learning_rate)
                record.scalars["record_seconds"] = time.perf_counter() - started
                state.scheduler.step()
                if config.checkpoint_every and (epoch + 1) % config.checkpoint_every == 0:
                    recorder.heartbeat()  # ClaimLost here keeps a taken-over trainer off the checkpoint
                    save_checkpoint(path, setup, state, epoch + 1, record)
                cancel_requested = recorder.write_epoch(record)
                log(epoch_line(record, config.epochs))
                if cancel_requested:
                    recorder.finish(RunStatus.cancelled, f"cancelled on request after epoch {epoch + 1}")
                    log(f"run {run_id} cancelled on request")
                    return run_id
    except KeyboardInterrupt:
        recorder.finish(RunStatus.cancelled, "interrupted")
        raise
    except ClaimLost:
        raise
    except Exception as error:
        fail_run(recorder, error)
    recorder.finish(RunStatus.completed)
    remove_checkpoints(path)
    return run_id
