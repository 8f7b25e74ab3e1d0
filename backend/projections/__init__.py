"""2-D projections of stored probe features, one module each, found by name in one registry.

Add one: a module in this package with a :class:`Projection` subclass (``name``, ``label``,
``description``, ``layout``; ``fit_epochs``/``fit`` if the run shares a fit, ``input_hashes`` if
its frames depend on other epochs than the default chain), decorated with
``@register_projection`` and imported below. The projector, the API, the CLI and the dashboard
all list what is registered. The first registered, ``pca``, is the default.
"""

from backend.projections import pca, umap  # noqa: F401 (imported so that they register, pca first)
from backend.projections.alignment import Similarity, align_to_reference, fit_similarity
from backend.projections.base import (
    ALGORITHM_VERSION,
    DEFAULT_SETTINGS,
    RUN_FRAME,
    Frame,
    Projection,
    ProjectionSettings,
    checked_features,
    frame_trustworthiness,
)
from backend.projections.errors import ProjectionError
from backend.projections.registry import PROJECTIONS, UnknownProjection, get_projection, register_projection

DEFAULT_PROJECTION = pca.PcaProjection.name

__all__ = [
    "ALGORITHM_VERSION", "DEFAULT_PROJECTION", "DEFAULT_SETTINGS", "PROJECTIONS", "RUN_FRAME", "Frame",
    "Projection", "ProjectionError", "ProjectionSettings", "Similarity", "UnknownProjection",
    "align_to_reference", "checked_features", "fit_similarity", "frame_trustworthiness", "get_projection",
    "register_projection",
]
