"""The catalog's building blocks: a declared setting (``Param``) and one declaration per plug-in kind.

Everything a user can choose is declared once here, torch-free: the run config (``store.runconfig``),
the command-line flags, the YAML keys, the queue API's schema (``/api/run-settings``) and the dashboard's
New run form are all derived from these declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[Any], "str | None"]  # a config -> a one-line problem, or None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Param:
    """One run setting: its type, default, bounds and help.

    ``kind`` is ``int``, ``float``, ``bool``, ``str`` or ``floats`` (a list of numbers); ``choices``
    names a registry (``dataset``, ``model``, ``method`` ...) or lists the allowed strings; ``path``
    marks a filesystem path (the queue API refuses those outside the server's allowed folders);
    ``local`` marks a setting of the machine that trains, never of a queued run (the database).
    """

    name: str
    kind: str
    default: Any
    help: str
    label: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: str | tuple[str, ...] | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    pattern: str | None = None
    path: bool = False
    local: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag (underscores become dashes)."""
        return "--" + self.name.replace("_", "-")

    def bounds_text(self) -> str:
        """The bounds in words ("at least 1", "between 0 and 1", "positive"; "" when unbounded)."""
        if self.ge is not None and self.le is not None:
            return f"between {_number(self.ge)} and {_number(self.le)}"
        words = []
        if self.ge is not None:
            words.append(f"at least {_number(self.ge)}")
        elif self.gt is not None:
            words.append("positive" if self.gt == 0 else f"above {_number(self.gt)}")
        if self.le is not None:
            words.append(f"at most {_number(self.le)}")
        elif self.lt is not None:
            words.append(f"below {_number(self.lt)}")
        return " and ".join(words)


@dataclass(frozen=True)
class MethodSpec:
    """A training method: name, label, description with citation, its own settings and cross-checks."""

    name: str
    label: str
    description: str
    params: tuple[Param, ...] = ()
    checks: tuple[Check, ...] = ()
    needs_linear_head: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """A model architecture the trainer can build, or (with ``pattern``) a family of them.

    A family accepts every name that matches ``pattern`` in full (``timm/resnet10t``); its ``name``
    shows the form (``timm/<name>``). Whether such a name exists is for the trainer to check.
    """

    name: str
    label: str
    description: str
    pattern: str | None = None

    def accepts(self, value: str) -> bool:
        """Whether ``value`` names this model, or a member of this family."""
        if self.pattern is None:
            return value == self.name
        return re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its default model, whether it reads files from the data folder, and method defaults.

    ``method_defaults`` maps a method to settings whose default differs on this dataset (as the
    method's authors set them there); the run config fills them in wherever a run leaves them out.
    """

    name: str
    label: str
    description: str
    default_model: str
    uses_data_dir: bool = True
    method_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def defaults_for(self, method: str) -> dict[str, Any]:
        """The settings of ``method`` whose default on this dataset is its own."""
        return dict(self.method_defaults.get(method, {}))


@dataclass(frozen=True)
class MetricSpec:
    """One per-epoch scalar stored in the ``epochs`` table and plotted by the dashboard.

    ``group`` orders the dashboard's curve picker (accuracy, variance, collapse, calibration, loss,
    speed); ``chart`` names the default chart it is drawn on (metrics sharing a name share a chart;
    "" for none); ``required`` metrics are recorded for every epoch of every method (others may be
    null, e.g. a loss part a method lacks).
    """

    name: str
    label: str
    unit: str
    explanation: str
    group: str
    chart: str = ""
    required: bool = True
    percent: bool = False


@dataclass
class Registry:
    """Declarations of one kind by name, in registration order; ``version`` counts changes."""

    kind: str
    items: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    def add(self, spec: Any) -> Any:
        """Register ``spec`` (a repeated name is a programming error)."""
        if spec.name in self.items:
            raise ValueError(f"{self.kind} {spec.name!r} is declared twice")
        self.items[spec.name] = spec
        self.version += 1
        return spec

    def remove(self, name: str) -> None:
        """Forget a declaration (tests that register a toy plug-in clean up with this)."""
        del self.items[name]
        self.version += 1

    def names(self) -> tuple[str, ...]:
        """Registered names, in order."""
        return tuple(self.items)

    def __getitem__(self, name: str) -> Any:
        return self.items[name]

    def __contains__(self, name: object) -> bool:
        return name in self.items

    def __iter__(self):
        return iter(self.items.values())
