"""Hyper-parameter checks shared by the methods: each raises ConfigError with a one-line message."""

from __future__ import annotations

from trainer.config import ConfigError, TrainConfig


def require(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless ``condition`` holds (NaN settings fail every comparison)."""
    if not condition:
        raise ConfigError(message)


def check_distillation(config: TrainConfig) -> None:
    """Temperature T > 0 and distillation weight lambda >= 0."""
    require(config.temperature > 0, f"temperature must be positive (got {config.temperature})")
    require(config.distill_weight >= 0, f"distill-weight must be at least 0 (got {config.distill_weight})")


def check_fraction(name: str, value: float, *, below_one: bool = False) -> None:
    """``value`` in [0, 1], or in [0, 1) when ``below_one``."""
    upper_ok = value < 1 if below_one else value <= 1
    interval = "[0, 1)" if below_one else "[0, 1]"
    require(value >= 0 and upper_ok, f"{name} must lie in {interval} (got {value})")
