"""Penultimate features of any model without changing it: a forward hook on its classifier head.

    with penultimate(model, "fc") as captured:
        logits = model(images)
        features = captured.features      # the input the "fc" module received, N x D
"""

from __future__ import annotations

from torch import Tensor, nn


class Penultimate:
    """Holds the input of one named module from the latest forward pass (``features``), flattened to
    N x D; detached, on the module's device. Use as a context manager, or call :meth:`remove`."""

    def __init__(self, model: nn.Module, layer: str) -> None:
        modules = dict(model.named_modules())
        if layer not in modules or not layer:
            heads = [name for name, module in modules.items() if isinstance(module, nn.Linear)]
            raise ValueError(f"model has no module {layer!r}; its linear layers are {heads or 'none'}")
        self.layer = layer
        self.features: Tensor | None = None
        self._handle = modules[layer].register_forward_pre_hook(self._capture)

    def _capture(self, _module: nn.Module, inputs: tuple) -> None:
        self.features = inputs[0].detach().flatten(1)

    def remove(self) -> None:
        """Take the hook off the model."""
        self._handle.remove()

    def __enter__(self) -> Penultimate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def penultimate(model: nn.Module, layer: str) -> Penultimate:
    """Capture the input of ``model``'s module named ``layer`` (its classifier head, e.g. ``"fc"``)
    on every forward pass; ValueError naming the linear layers when there is no such module."""
    return Penultimate(model, layer)
