"""Method registry: ``create_method(name, ...)`` builds a training objective by name."""

from __future__ import annotations

from trainer.config import ConfigError, TrainConfig
from trainer.methods.bake import BatchKnowledgeEnsembling
from trainer.methods.base import Method, StepOutput
from trainer.methods.ce import CrossEntropy
from trainer.methods.cs_kd import ClassWiseSelfKD
from trainer.methods.csd import CenterSelfDistillation
from trainer.methods.ls import LabelSmoothing
from trainer.methods.ps_kd import ProgressiveSelfKD

METHODS: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (
        CrossEntropy,
        LabelSmoothing,
        ClassWiseSelfKD,
        ProgressiveSelfKD,
        BatchKnowledgeEnsembling,
        CenterSelfDistillation,
    )
}


def create_method(config: TrainConfig, num_classes: int, feature_dim: int, num_train: int) -> Method:
    """Build the configured method, or raise ConfigError naming the unknown one."""
    if config.method not in METHODS:
        raise ConfigError(f"unknown method {config.method!r} (choose from {', '.join(METHODS)})")
    return METHODS[config.method](config, num_classes, feature_dim, num_train)


__all__ = ["METHODS", "Method", "StepOutput", "create_method"]
