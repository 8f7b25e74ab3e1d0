"""centerlens: record and visualise how a network's feature space organises into classes.

``from centerlens import Recorder`` records a user's own PyTorch training loop (``centerlens.recorder``);
the name is resolved on first use, so importing centerlens (and ``centerlens serve``) never loads torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Recorder", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Recorder":
        from centerlens.recorder import Recorder

        return Recorder
    raise AttributeError(f"module 'centerlens' has no attribute {name!r}")
