"""A run's configuration: one dataclass whose fields are the CLI flags, the YAML keys and the API's.

It lives in the store because three programs share it: the trainer reads it, and the queue
(command line or API) writes it into queued runs. It imports neither torch nor FastAPI.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHOICES = {
    "dataset": ("digits", "cifar10", "cifar100", "imagefolder"),
    "model": ("auto", "small_cnn", "preact_resnet18", "resnet18"),
    "method": ("ce", "ls", "cs_kd", "ps_kd", "bake", "csd"),
    "loader": ("auto", "resident", "torchvision"),
    "center_rule": ("ema", "learned"),
}


DEFAULT_MODELS = {
    "digits": "small_cnn",
    "cifar10": "preact_resnet18",
    "cifar100": "preact_resnet18",
    "imagefolder": "resnet18",
}


class ConfigError(ValueError):
    """A bad setting, reported to the user as one line before anything is written."""


def _opt(default: Any, help: str, **extra: Any) -> Any:  # noqa: A002
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    """Everything one run needs; stored, fully resolved, with the run."""

    dataset: str = _opt("digits", "dataset: digits, cifar10, cifar100, imagefolder")
    model: str = _opt(
        "auto", "model (auto picks the dataset's default): small_cnn, preact_resnet18, resnet18"
    )
    method: str = _opt("ce", "training method: ce, ls, cs_kd, ps_kd, bake, csd")
    epochs: int = _opt(10, "number of training epochs")
    seed: int = _opt(0, "random seed for weights, batches and augmentation")
    name: str = _opt("", "run name (default: METHOD-DATASET-sSEED)")
    db: str = _opt("centerlens.db", "database file path or SQLAlchemy URL")
    data_dir: str = _opt("data", "folder holding the dataset files (cifar, imagefolder)")
    download: bool = _opt(False, "download CIFAR files into --data-dir if missing")
    batch_size: int = _opt(128, "training batch size")
    lr: float = _opt(0.1, "initial learning rate (SGD)")
    momentum: float = _opt(0.9, "SGD momentum")
    weight_decay: float = _opt(5e-4, "SGD weight decay")
    lr_milestones: list[float] = _opt(
        None, "learning-rate x0.1 steps, as fractions of the epochs (default 0.5 0.75)", nargs="+"
    )
    probe_per_class: int = _opt(0, "probe samples per class (0: as many as fit in 5,000 points)")
    probe_seed: int = _opt(0, "seed of the probe selection (same seed + dataset = same probe)")
    device: str = _opt("auto", "device: auto, cpu, cuda, cuda:N")
    loader: str = _opt(
        "auto", "data loader: auto (tensor-resident where the data fits), resident, torchvision"
    )
    workers: int = _opt(2, "data-loading worker processes (torchvision loader)")
    threads: int = _opt(
        0, "CPU threads for torch (0: torch's default; 1 is often fastest on small shared CPUs)"
    )
    compile: bool = _opt(False, "compile the model with torch.compile (CUDA; slower first epoch)")
    checkpoint_every: int = _opt(1, "save a resumable checkpoint every N epochs (0: never)")
    checkpoint_dir: str = _opt(
        "", "checkpoint folder (default: DB_FILE.checkpoints/, or ./checkpoints for URLs)"
    )
    temperature: float = _opt(4.0, "distillation temperature T (cs_kd, bake, csd)")
    distill_weight: float = _opt(1.0, "distillation weight lambda (cs_kd, bake, csd)")
    smoothing: float = _opt(0.1, "label-smoothing epsilon (ls)")
    alpha: float = _opt(0.8, "PS-KD's final target weight alpha (ps_kd)")
    omega: float = _opt(0.5, "BAKE's propagation weight omega (bake)")
    group_size: int = _opt(4, "same-class images per group in a BAKE batch (bake)")
    beta: float = _opt(0.5, "CSD: weight of the class-center prediction in the fused target")
    center_momentum: float = _opt(0.9, "CSD: momentum m of the EMA class centers")
    center_rule: str = _opt("ema", "CSD: how centers are learned: ema or learned")

    def __post_init__(self) -> None:
        if self.lr_milestones is None:
            self.lr_milestones = [0.5, 0.75]
        if not self.name:
            self.name = f"{self.method}-{self.dataset}-s{self.seed}"
        if self.model == "auto":  # resolved here so queued runs show their model too
            self.model = DEFAULT_MODELS.get(self.dataset, "auto")

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain JSON-able values."""
        return dataclasses.asdict(self)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config whose keys are the config field names (dashes allowed)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError as error:
        raise ConfigError(f"config file not found: {path}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}".splitlines()[0]) from error
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def build_config(values: dict[str, Any]) -> TrainConfig:
    """Make a config from a mapping, rejecting unknown keys with the key's name."""
    known = {item.name for item in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}")
    try:
        config = TrainConfig(**values)
    except TypeError as error:
        raise ConfigError(str(error)) from error
    check_choices(config)
    return config


def check_choices(config: TrainConfig) -> None:
    """Reject a name no registry knows (dataset, model, method, loader, center rule)."""
    for key, allowed in CHOICES.items():
        value = getattr(config, key)
        if value not in allowed:
            raise ConfigError(f"unknown {key.replace('_', ' ')} {value!r} (choose from {', '.join(allowed)})")
