"""What ``centerlens.Recorder`` accepts from a user's loop: tensors or arrays, checked before anything is
written, each problem a ValueError that names it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

MAX_EXTRA_NAME = 80


def as_tensor(value: Any, name: str, device: torch.device | None = None) -> torch.Tensor:
    """A torch tensor of ``value`` (a tensor on any device, or a numpy array), detached; moved to
    ``device`` when one is given (labels and logits follow the features)."""
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(value))
    elif isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        raise ValueError(f"{name} must be a torch tensor or a numpy array, not {type(value).__name__}")
    return tensor if device is None else tensor.to(device)


def check_epoch(epoch: Any, last: int) -> int:
    """An epoch number after the newest recorded one (epochs count from 1)."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
        raise ValueError(f"epoch must be a whole number, not {epoch!r}")
    if epoch < 1:
        raise ValueError(f"epoch must be 1 or more (epoch k is the model after k epochs), not {epoch}")
    if epoch <= last:
        word = "repeats" if epoch == last else "comes before"
        raise ValueError(f"epoch {epoch} {word} the last recorded epoch {last}: epochs must increase")
    return int(epoch)


def check_shapes(
    features: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor | None, num_classes: int
) -> None:
    """N x D features, N labels and N x C logits."""
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"features must be N x D with N >= 1, got shape {tuple(features.shape)}")
    if not (features.is_floating_point()):
        raise ValueError(f"features must be floating point, got {features.dtype}")
    samples = features.shape[0]
    if labels.ndim != 1:
        raise ValueError(f"labels must be a vector of N class indices, got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got {labels.dtype}")
    if labels.shape[0] != samples:
        raise ValueError(f"labels hold {labels.shape[0]} samples but features hold {samples}: N must match")
    if logits is None:
        return
    if logits.ndim != 2 or logits.shape[0] != samples:
        shape = tuple(logits.shape)
        raise ValueError(f"logits must be N x C with N = {samples} (the features'), got shape {shape}")
    if logits.shape[1] != num_classes:
        raise ValueError(f"logits have {logits.shape[1]} columns but the run has {num_classes} classes")


def check_values(
    features: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor | None, class_names: list[str]
) -> np.ndarray:
    """Finite features and logits, labels in 0..C-1 and every class present; returns the labels on the
    host (with the finiteness flags, one transfer)."""
    flags = [torch.isfinite(features).all()]
    if logits is not None:
        flags.append(torch.isfinite(logits).all())
    finite = torch.stack(flags).cpu().tolist()
    host = labels.cpu().numpy().astype(np.int64)
    if not finite[0]:
        raise ValueError("features hold NaN or inf values")
    if logits is not None and not finite[1]:
        raise ValueError("logits hold NaN or inf values")
    num_classes = len(class_names)
    outside = host[(host < 0) | (host >= num_classes)]
    if outside.size:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1} (class_names has {num_classes} classes); "
            f"found {outside[0]}"
        )
    missing = np.flatnonzero(np.bincount(host, minlength=num_classes) == 0)
    if missing.size:
        absent = missing[0]
        raise ValueError(f"class {class_names[absent]!r} ({absent}) has no sample: every class needs one")
    return host


def check_scalar(value: Any, name: str) -> float | None:
    """A finite number (a Python number, numpy scalar or one-element tensor), or None."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be one number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, not {float(value)}")
    return float(value)


def check_extra(extra: Mapping[str, Any] | None) -> dict[str, float] | None:
    """The user's own scalars by name: short non-empty names, finite numbers."""
    if extra is None:
        return None
    if not isinstance(extra, Mapping):
        raise ValueError(f"extra must be a dict of name -> number, not {type(extra).__name__}")
    checked = {}
    for name, value in extra.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_EXTRA_NAME:
            raise ValueError(f"extra metric names must be 1 to {MAX_EXTRA_NAME} characters, not {name!r}")
        checked[name] = check_scalar(value, f"extra metric {name!r}")
    return checked or None


def check_images(images: Any) -> np.ndarray | None:
    """Probe images as N x C x H x W (C = 1 or 3) or N x H x W, uint8 or float, on the host."""
    if images is None:
        return None
    array = as_tensor(images, "probe_images").cpu().numpy()
    if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[1] not in (1, 3)):
        raise ValueError(
            f"probe_images must be N x C x H x W with C = 1 or 3, or N x H x W; got shape {array.shape}"
        )
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"probe_images must be uint8 or float, got {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ValueError("probe_images hold NaN or inf values")
    return array


def display_image(image: np.ndarray) -> np.ndarray:
    """One image as H x W or H x W x 3 uint8: floats in [0, 1] scaled by 255, other floats stretched
    from their own minimum to maximum."""
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:
        image = (image - low) / max(high - low, 1e-12)
    return np.ascontiguousarray(np.round(image * 255).astype(np.uint8))
