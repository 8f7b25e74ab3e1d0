"""Any timm classifier as a centerlens model: ``--model timm/<name>``.

The model is ``timm.create_model(name, num_classes=C, pretrained=False, in_chans=channels)`` (and
``img_size=(H, W)`` where the architecture takes one, as vision transformers do); its features are
``forward_head(forward_features(x), pre_logits=True)`` and its classifier is ``get_classifier()``.
Whether the name exists, whether the model takes the dataset's image size and whether its head is a
linear layer (where the method needs one) are all checked here, before anything is written, as
ConfigErrors: the catalog only knows the name's pattern, since the API server has no timm.
"""

from __future__ import annotations

import difflib

import torch
from torch import nn

from trainer.config import ConfigError

INSTALL_HINT = "timm models need the timm package: pip install 'centerlens[timm]'"


def _timm():
    try:
        import timm
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return timm


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _unknown(timm, name: str) -> ConfigError:
    near = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.75)
    hint = f" (did you mean {', '.join(near)}?)" if near else " (timm.list_models() lists them)"
    return ConfigError(f"unknown timm model {name!r}{hint}")


def _build(timm, name: str, num_classes: int, image_shape: tuple[int, int, int]) -> nn.Module:
    kwargs = {"num_classes": num_classes, "pretrained": False, "in_chans": image_shape[0]}
    try:
        try:
            return timm.create_model(name, img_size=tuple(image_shape[1:]), **kwargs)
        except TypeError:  # the architecture has a fixed input size (most CNNs): no img_size argument
            return timm.create_model(name, **kwargs)
    except Exception as error:  # timm raises whatever its layers raise for sizes they cannot take
        raise ConfigError(f"timm model {name!r} cannot be built: {_first_line(error)}") from None


class TimmClassifier(nn.Module):
    """A timm model returning ``(features, logits)``: pre-logits features and its own classifier."""

    def __init__(self, backbone: nn.Module, feature_dim: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.feature_dim = feature_dim
        # Logits through the classifier when it reads the features as they are (a linear head, which
        # the methods that need one use too); else through timm's own head (a conv head, say).
        self.linear_head = isinstance(backbone.get_classifier(), nn.Linear)

    @property
    def classifier(self) -> nn.Module:
        """The model's classification head (``get_classifier()``), shared with the backbone."""
        return self.backbone.get_classifier()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.backbone.forward_features(images)
        features = self.backbone.forward_head(pooled, pre_logits=True).flatten(1)
        logits = self.classifier(features) if self.linear_head else self.backbone.forward_head(pooled)
        return features, logits


def _feature_dim(model: nn.Module, name: str, image_shape: tuple[int, int, int]) -> int:
    """Run two blank images through the model: its feature width, or why it cannot take the size."""
    model.eval()
    try:
        with torch.no_grad():
            pooled = model.forward_features(torch.zeros(2, *image_shape))
            features = model.forward_head(pooled, pre_logits=True)
    except Exception as error:
        size = "x".join(map(str, image_shape))
        raise ConfigError(f"timm model {name!r} cannot take {size} images: {_first_line(error)}") from None
    finally:
        model.train()
    return int(features.flatten(1).shape[1])


def timm_model(
    name: str, num_classes: int, image_shape: tuple[int, int, int], linear_head_for: str = ""
) -> TimmClassifier:
    """Build timm's ``name`` for ``num_classes`` classes and (C, H, W) inputs, or raise a ConfigError.

    ``linear_head_for`` names the method when it needs a linear classifier head (csd does).
    """
    timm = _timm()
    if not timm.is_model(name):
        raise _unknown(timm, name)
    backbone = _build(timm, name, num_classes, image_shape)
    classifier = backbone.get_classifier()
    if not isinstance(classifier, nn.Module):
        raise ConfigError(f"timm model {name!r} has no single classifier head (it has "
                          f"{len(classifier)}); choose one without a distillation head")
    if linear_head_for and not isinstance(classifier, nn.Linear):
        raise ConfigError(f"timm model {name!r} has a {type(classifier).__name__} head, not the linear "
                          f"layer that {linear_head_for} needs")
    return TimmClassifier(backbone, _feature_dim(backbone, name, image_shape))
