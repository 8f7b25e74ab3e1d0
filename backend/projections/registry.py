"""The projections by name: ``@register_projection`` adds a class, ``get_projection(name)`` builds one."""

from __future__ import annotations

from backend.projections.base import DEFAULT_SETTINGS, Projection, ProjectionSettings

# every registered projection, in registration order (the dashboard lists them in this order)
PROJECTIONS: dict[str, type[Projection]] = {}


class UnknownProjection(ValueError):
    """A projection name nobody registered; the message names the registered ones."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown projection {name!r} (choose from {', '.join(PROJECTIONS)})")


def register_projection(cls: type[Projection]) -> type[Projection]:
    """Register a Projection subclass under its ``name`` (usable as a class decorator)."""
    for attribute in ("name", "label", "description"):
        if not isinstance(getattr(cls, attribute, None), str) or not getattr(cls, attribute):
            raise TypeError(f"{cls.__name__} needs a non-empty string {attribute!r}")
    if cls.name in PROJECTIONS and PROJECTIONS[cls.name] is not cls:
        raise ValueError(f"a projection named {cls.name!r} is already registered")
    PROJECTIONS[cls.name] = cls
    return cls


def get_projection(name: str, settings: ProjectionSettings = DEFAULT_SETTINGS) -> Projection:
    """The registered projection ``name`` with ``settings``, or UnknownProjection."""
    if name not in PROJECTIONS:
        raise UnknownProjection(name)
    return PROJECTIONS[name](settings)
