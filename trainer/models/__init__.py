"""Model registry: every model maps images to ``(features, logits)`` and exposes ``classifier``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from trainer.config import ConfigError
from trainer.models.cnn import SmallCNN
from trainer.models.resnet import PreActResNet18, TorchvisionResNet18

MODELS: dict[str, Callable[[int, tuple[int, int, int]], nn.Module]] = {
    "small_cnn": lambda classes, shape: SmallCNN(classes, in_channels=shape[0]),
    "preact_resnet18": lambda classes, shape: PreActResNet18(classes, in_channels=shape[0]),
    "resnet18": lambda classes, shape: TorchvisionResNet18(classes),
}


def create_model(name: str, num_classes: int, image_shape: tuple[int, int, int]) -> nn.Module:
    """Build a registered model for ``num_classes`` classes and (C, H, W) inputs."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    return MODELS[name](num_classes, image_shape)
