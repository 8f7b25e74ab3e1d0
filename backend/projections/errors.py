"""The one error every projection raises for inputs it cannot draw."""


class ProjectionError(ValueError):
    """A frame that cannot be computed from its inputs; ``str(error)`` is a one-line reason."""
