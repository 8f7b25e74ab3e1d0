"""Model registry: every model maps images to ``(features, logits)`` and exposes ``classifier``.

Builders are keyed by the catalog's model names; a family (``timm/<name>``) gets the member's name.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from store import catalog
from trainer.config import ConfigError
from trainer.models.cnn import SmallCNN
from trainer.models.resnet import PreActResNet18, TorchvisionResNet18
from trainer.models.timm_models import timm_model

Shape = tuple[int, int, int]

MODELS: dict[str, Callable[[str, int, Shape, str], nn.Module]] = {
    "small_cnn": lambda name, classes, shape, linear_for: SmallCNN(classes, in_channels=shape[0]),
    "preact_resnet18": lambda name, classes, shape, linear_for: PreActResNet18(classes, in_channels=shape[0]),
    "resnet18": lambda name, classes, shape, linear_for: TorchvisionResNet18(classes),
    "timm/<name>": lambda name, classes, shape, linear_for: timm_model(
        name.removeprefix("timm/"), classes, shape, linear_for),
}


def create_model(name: str, num_classes: int, image_shape: Shape, method: str = "") -> nn.Module:
    """Build the model ``name`` for ``num_classes`` classes and (C, H, W) inputs.

    ``method`` is the training method: a model whose head cannot serve it (csd needs a linear head)
    is a ConfigError, like a name no builder knows.
    """
    spec = catalog.model_spec(name)
    if spec is None or spec.name not in MODELS:
        raise ConfigError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    needs_linear = method in catalog.METHODS and catalog.METHODS[method].needs_linear_head
    return MODELS[spec.name](name, num_classes, image_shape, method if needs_linear else "")
