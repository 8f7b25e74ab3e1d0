"""The catalog: one torch-free declaration of every method, model, dataset, run setting and metric.

``register_method``/``register_model``/``register_dataset``/``register_metric`` add plug-ins (a test
can register a toy one); ``version()`` changes whenever a registry does, so derived things (the run
config model) are rebuilt. Projections are registered by the backend (``backend.projections``).
"""

from __future__ import annotations

from collections.abc import Callable

from store.catalog import methods, metrics, models, settings
from store.catalog.base import DatasetSpec, MethodSpec, MetricSpec, ModelSpec, Param, Registry

METHODS = Registry("method")
MODELS = Registry("model")
DATASETS = Registry("dataset")
METRICS = Registry("metric")
_metric_listeners: list[Callable[[MetricSpec], None]] = []


def register_method(spec: MethodSpec) -> MethodSpec:
    """Declare a training method and its settings."""
    return METHODS.add(spec)


def register_model(spec: ModelSpec) -> ModelSpec:
    """Declare a model architecture."""
    return MODELS.add(spec)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Declare a dataset."""
    return DATASETS.add(spec)


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Declare an epoch metric (the store maps it to its ``epochs`` column at once)."""
    METRICS.add(spec)
    for listener in _metric_listeners:
        listener(spec)
    return spec


def on_metric(listener: Callable[[MetricSpec], None]) -> None:
    """Call ``listener`` for every metric declared, now and later."""
    _metric_listeners.append(listener)
    for spec in METRICS:
        listener(spec)


def version() -> int:
    """Changes whenever any registry changes."""
    return METHODS.version + MODELS.version + DATASETS.version + METRICS.version


def choices(name: str) -> tuple[str, ...]:
    """The allowed names of a registry-backed setting (``model`` adds ``auto``; a model family shows
    its form, ``timm/<name>``)."""
    registry = {"dataset": DATASETS, "model": MODELS, "method": METHODS}[name]
    return (("auto",) if name == "model" else ()) + registry.names()


def fixed_choices(name: str) -> tuple[str, ...]:
    """The allowed names that are names themselves, not a family's form (an enum's values)."""
    families = {spec.name for spec in MODELS if spec.pattern} if name == "model" else set()
    return tuple(value for value in choices(name) if value not in families)


def name_patterns(name: str) -> tuple[str, ...]:
    """The patterns of a registry-backed setting's families (models: ``timm/...``)."""
    return tuple(spec.pattern for spec in MODELS if spec.pattern) if name == "model" else ()


def model_spec(value: str) -> ModelSpec | None:
    """The model declaration that ``value`` names (a family's, for ``timm/resnet10t``), or None."""
    return next((spec for spec in MODELS if spec.accepts(value)), None)


def accepts(name: str, value: object) -> bool:
    """Whether ``value`` is allowed for the registry-backed setting ``name``."""
    if name == "model" and isinstance(value, str):
        return value == "auto" or model_spec(value) is not None
    return value in choices(name)


def run_params() -> list[Param]:
    """Every run setting: the general ones, then each method's own (a shared one once)."""
    params = {param.name: param for param in settings.GENERAL}
    for method in METHODS:
        for param in method.params:
            if param.name in params and params[param.name] != param:
                raise ValueError(f"setting {param.name!r} is declared differently by two methods")
            params[param.name] = param
    return list(params.values())


def methods_using(name: str) -> list[str]:
    """The methods that have setting ``name`` (empty for a general setting)."""
    return [method.name for method in METHODS if any(param.name == name for param in method.params)]


for _spec in methods.BUILT_IN:
    register_method(_spec)
for _spec in models.MODELS:
    register_model(_spec)
for _spec in models.DATASETS:
    register_dataset(_spec)
for _spec in metrics.BUILT_IN:
    register_metric(_spec)

__all__ = [
    "DATASETS", "METHODS", "METRICS", "MODELS", "DatasetSpec", "MethodSpec", "MetricSpec", "ModelSpec",
    "Param", "accepts", "choices", "fixed_choices", "methods_using", "model_spec", "name_patterns",
    "on_metric", "register_dataset", "register_method", "register_metric", "register_model", "run_params",
    "version",
]
