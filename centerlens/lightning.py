"""Record a PyTorch Lightning run with centerlens: a callback that records every validation epoch.

    trainer = L.Trainer(callbacks=[CenterlensCallback(db="runs.db", layer="fc")])

At the end of every validation epoch of ``Trainer.fit`` the callback logs, through
:class:`centerlens.Recorder`, the whole validation set: features are the input of the module named
``layer`` (``centerlens.features.penultimate``), logits its output, labels come from each batch. The
training epoch's loss (the mean of ``training_step``'s loss) and accuracy (of the same head's logits on
the training batches), the learning rate and Lightning's logged metrics (``trainer.callback_metrics``,
as extra curves) come with it. The run is created at the first recorded epoch and ends as a ``with
Recorder`` block does: completed when ``fit`` returns, failed with the error on an exception, cancelled
on Ctrl-C or when the dashboard cancels it (the callback then stops the trainer). Needs the
``centerlens[lightning]`` extra.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from centerlens.features import Penultimate, penultimate
from centerlens.inputs import MAX_EXTRA_NAME
from centerlens.recorder import Recorder

try:
    import lightning.pytorch as pl
    from lightning.pytorch.trainer.states import TrainerFn
except ImportError as error:  # pragma: no cover - the message is what a user without the extra sees
    raise ImportError(
        "centerlens.lightning needs PyTorch Lightning: pip install 'centerlens[lightning]'"
    ) from error

THUMBNAIL_PIXELS = 48  # the longer side of a kept validation image (the dashboard's thumbnail size)
LABEL_KEYS = ("label", "labels", "target", "targets", "y")
IMAGE_KEYS = ("image", "images", "input", "inputs", "x")


def _from_batch(batch: Any, position: int, keys: Sequence[str], what: str) -> Any:
    """Item ``position`` of a tuple/list batch, or the first of ``keys`` in a dict batch."""
    if isinstance(batch, (tuple, list)) and len(batch) > position:
        return batch[position]
    if isinstance(batch, Mapping):
        for key in keys:
            if key in batch:
                return batch[key]
    raise ValueError(f"cannot find the {what} in a batch of type {type(batch).__name__}: pass "
                     f"CenterlensCallback({what}=lambda batch: ...)")


def default_labels(batch: Any) -> torch.Tensor:
    """A batch's labels: ``batch[1]`` of ``(images, labels)``, or ``batch["label"]`` (or labels,
    target, targets, y) of a dict."""
    return _from_batch(batch, 1, LABEL_KEYS, "labels")


def default_images(batch: Any) -> torch.Tensor:
    """A batch's images: ``batch[0]``, or ``batch["image"]`` (or images, input, inputs, x)."""
    return _from_batch(batch, 0, IMAGE_KEYS, "images")


def small_images(images: torch.Tensor) -> torch.Tensor:
    """Images as uint8 at most THUMBNAIL_PIXELS on a side, on the host (all a thumbnail needs): floats in
    [0, 1] scaled by 255, other floats stretched from each image's minimum to its maximum."""
    images = images.detach()
    if images.dtype != torch.uint8:
        images = images.float()
        low = images.flatten(1).amin(1).view(-1, *[1] * (images.ndim - 1))
        high = images.flatten(1).amax(1).view_as(low)
        outside = (low < 0) | (high > 1)
        images = torch.where(outside, (images - low) / (high - low).clamp_min(1e-12), images)
        images = (images * 255).round().to(torch.uint8)
    longer = max(images.shape[-2:])
    if longer > THUMBNAIL_PIXELS:
        size = [max(1, side * THUMBNAIL_PIXELS // longer) for side in images.shape[-2:]]
        flat = images.reshape(-1, 1, *images.shape[-2:]).float()
        images = F.interpolate(flat, size=size, mode="area").round().to(torch.uint8).reshape(
            *images.shape[:-2], *size)
    return images.cpu()


class EpochSums:
    """Running sums of one training epoch, kept on the device (no host sync per step)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, total: torch.Tensor, count: int) -> None:
        self.sums[name] = total + self.sums.get(name, 0)
        self.counts[name] = self.counts.get(name, 0) + count

    def mean(self, name: str) -> float | None:
        return self.sums[name].item() / self.counts[name] if self.counts.get(name) else None


def _json_hparams(module: pl.LightningModule) -> dict[str, Any]:
    """The module's hyperparameters that JSON can hold (the run's config)."""
    kept = {}
    for key, value in dict(module.hparams).items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        kept[str(key)] = value
    return kept


class CenterlensCallback(pl.Callback):
    """Record the validation set's feature space, metrics and probe at the end of every validation epoch.

    ``layer`` names the classifier head (``dict(model.named_modules())`` key, e.g. ``"fc"`` or
    ``"model.head"``). ``class_names`` defaults to ``"0"``..``"C-1"`` with C the head's output width.
    ``labels`` and ``images`` take a batch to its labels and images (defaults: ``batch[1]`` and
    ``batch[0]``, or the usual dict keys); ``thumbnails=False`` keeps no images. ``extra`` names the
    logged metrics to record (default: every finite scalar in ``trainer.callback_metrics``).
    ``config`` defaults to the module's JSON-able ``hparams``. The other arguments go to
    :class:`centerlens.Recorder` (``name``, ``probe_size``, ``seed``, ``resume``...).
    """

    def __init__(
        self,
        db: str,
        layer: str = "fc",
        name: str | None = None,
        class_names: Sequence[str] | None = None,
        config: Mapping[str, Any] | None = None,
        labels: Callable[[Any], torch.Tensor] = default_labels,
        images: Callable[[Any], torch.Tensor] = default_images,
        thumbnails: bool = True,
        extra: Sequence[str] | None = None,
        **recorder_options: Any,
    ) -> None:
        super().__init__()
        self.db, self.layer, self.name = db, layer, name
        self.class_names = None if class_names is None else list(class_names)
        self.config, self.labels, self.images = config, labels, images
        self.thumbnails, self.extra, self.recorder_options = thumbnails, extra, recorder_options
        self.recorder: Recorder | None = None
        self.run_id: int | None = None  # the recorded run's id, from its first epoch on
        self.head: Penultimate | None = None
        self._handle: torch.utils.hooks.RemovableHandle | None = None
        self._logits: torch.Tensor | None = None
        self._batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._kept_images: list[torch.Tensor] | None = None
        self._train = EpochSums()

    # -- hooks on the model: the head's input (features) and output (logits) of every forward pass --

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.head = penultimate(pl_module, self.layer)
        module = dict(pl_module.named_modules())[self.layer]
        self._handle = module.register_forward_hook(self._capture_logits)

    def _capture_logits(self, _module: nn.Module, _inputs: tuple, output: Any) -> None:
        self._logits = output.detach() if isinstance(output, torch.Tensor) else None

    def _remove_hooks(self) -> None:
        if self.head is not None:
            self.head.remove()
        if self._handle is not None:
            self._handle.remove()
        self.head = self._handle = None

    # -- training: the epoch's mean loss and accuracy --

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._train = EpochSums()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        labels = self.labels(batch)
        samples = len(labels)
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            self._train.add("loss", loss.detach().float() * samples, samples)
        logits = self._logits
        if logits is not None and logits.ndim == 2 and labels.ndim == 1 and len(logits) == samples:
            self._train.add("top1", (logits.argmax(1) == labels.to(logits.device)).sum(), samples)

    # -- validation: every batch's features, logits and labels, recorded when the epoch's metrics are in --

    def _recording(self, trainer: pl.Trainer) -> bool:
        return trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._batches = []
        first = self.recorder is None and self.thumbnails and self._recording(trainer)
        self._kept_images = [] if first else None

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                                batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if not self._recording(trainer) or self.head is None:
            return
        if self.head.features is None or self._logits is None:
            raise ValueError(f"module {self.layer!r} did not run in validation_step: name the classifier "
                             "head that the validation forward pass goes through")
        self._batches.append((self.head.features, self._logits, self.labels(batch).detach()))
        if self._kept_images is not None:
            self._kept_images.append(small_images(self.images(batch)))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._recording(trainer) or not self._batches:
            return
        features, logits, labels = (torch.cat(parts) for parts in zip(*self._batches))
        self._batches = []
        if trainer.world_size > 1:  # every rank's share of the validation set, recorded by rank 0
            features, logits, labels = (pl_module.all_gather(part).flatten(0, 1)
                                        for part in (features, logits, labels))
        if not trainer.is_global_zero:
            return
        if self.recorder is None:
            self.recorder = self._start(trainer, pl_module, logits.shape[1])
        stop = self.recorder.log_epoch(
            max(trainer.current_epoch + 1, self.recorder.last_epoch + 1),
            features=features, labels=labels, logits=logits, train_loss=self._train.mean("loss"),
            train_top1=self._train.mean("top1"), lr=self._learning_rate(trainer), extra=self._logged(trainer),
        )
        if stop:
            trainer.should_stop = True

    def _start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, num_classes: int) -> Recorder:
        """The run, created at the first recorded epoch (when the classes and probe images are known)."""
        images = torch.cat(self._kept_images) if self._kept_images else None
        self._kept_images = None
        options = dict(self.recorder_options)
        if trainer.max_epochs and trainer.max_epochs > 0:
            options.setdefault("epochs", trainer.max_epochs)
        options.setdefault("model", type(pl_module).__name__[:40])
        recorder = Recorder(
            db=self.db,
            name=self.name or f"lightning-{type(pl_module).__name__}",
            class_names=self.class_names or [str(k) for k in range(num_classes)],
            config=_json_hparams(pl_module) if self.config is None else self.config,
            probe_images=images,
            **options,
        )
        recorder.__enter__()
        self.run_id = recorder.run_id
        return recorder

    @staticmethod
    def _learning_rate(trainer: pl.Trainer) -> float | None:
        optimizers = trainer.optimizers
        return float(optimizers[0].param_groups[0]["lr"]) if optimizers else None

    def _logged(self, trainer: pl.Trainer) -> dict[str, float] | None:
        """Lightning's logged scalars (the ``extra`` names, or all): this epoch's validation metrics,
        the training ones as last logged; names too long for a curve and non-finite values left out."""
        logged = {}
        for key, value in trainer.callback_metrics.items():
            if self.extra is not None and key not in self.extra:
                continue
            scalar = isinstance(value, torch.Tensor) and value.numel() == 1
            if not scalar or not 0 < len(key) <= MAX_EXTRA_NAME:
                continue
            number = float(value.item())
            if math.isfinite(number):
                logged[key] = number
        return logged or None

    # -- the end of fit: the run ends as a ``with Recorder(...)`` block would --

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._remove_hooks()
        if self.recorder is not None:
            self.recorder.__exit__(None, None, None)
            self.recorder = None

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._remove_hooks()
        if self.recorder is not None:
            self.recorder.__exit__(type(exception), exception, exception.__traceback__)
            self.recorder = None
