"""Method registry: ``create_method(config, ...)`` builds the training objective the config names.

Each method is declared (name, label, settings) in the torch-free catalog (``store.catalog.methods``)
and implemented by one class here, registered with :func:`register` under the declared name.
"""

from __future__ import annotations

from store import catalog
from trainer.config import ConfigError, TrainConfig
from trainer.methods.bake import BatchKnowledgeEnsembling
from trainer.methods.base import Method, StepOutput
from trainer.methods.ce import CrossEntropy
from trainer.methods.cs_kd import ClassWiseSelfKD
from trainer.methods.csd import CenterSelfDistillation
from trainer.methods.ls import LabelSmoothing
from trainer.methods.ps_kd import ProgressiveSelfKD

METHODS: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Register a method's implementation under its catalog name (it must be declared there)."""
    if cls.name not in catalog.METHODS:
        raise ValueError(f"method {cls.name!r} has no declaration in store.catalog")
    METHODS[cls.name] = cls
    return cls


for _cls in (
    CrossEntropy,
    LabelSmoothing,
    ClassWiseSelfKD,
    ProgressiveSelfKD,
    BatchKnowledgeEnsembling,
    CenterSelfDistillation,
):
    register(_cls)


def create_method(config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> Method:
    """Build the configured method, or raise ConfigError naming the one without an implementation."""
    if config.method not in METHODS:
        raise ConfigError(f"method {config.method!r} is declared but has no implementation in this trainer")
    return METHODS[config.method](config, num_classes, feature_dim, num_train)


__all__ = ["METHODS", "Method", "StepOutput", "create_method", "register"]
