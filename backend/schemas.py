"""Response schemas of the HTTP API (docs/api.md), kept apart from the ORM models in ``store``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from store import catalog

WireDtype = Literal["f4", "f8", "i1", "i2", "i4", "u1", "u2"]


class TypedArray(BaseModel):
    """A numeric array as base64 little-endian bytes, which Plotly.js reads directly."""

    dtype: WireDtype
    bdata: str = Field(description="base64 of the little-endian C-order bytes")
    shape: list[int] | None = Field(
        default=None, exclude_if=lambda shape: shape is None, description="omitted for 1-D arrays"
    )


class ErrorMessage(BaseModel):
    """An error answer: what was wrong with the request."""

    detail: str


class Health(BaseModel):
    """Liveness, the server's version, the database kind and whether writes (the run queue) need a token."""

    status: Literal["ok"] = "ok"
    version: str
    database: str
    writes: Literal["open", "token", "disabled"] = Field(
        description="open: anyone who reaches the server may queue and cancel runs (loopback, no token); "
        "token: writes need Authorization: Bearer <CENTERLENS_TOKEN>; disabled: no token is configured "
        "on a server that listens beyond loopback"
    )


class FinalMetrics(BaseModel):
    """Headline metrics of a run's last recorded epoch."""

    test_top1: float | None
    variance_ratio: float | None
    nc1: float | None
    within_class_variance: float | None
    test_ece: float | None


class RunSummary(BaseModel):
    """One row of the runs table: state, progress and final metrics."""

    id: int
    name: str
    method: str
    dataset: str
    model: str
    status: str
    epochs_done: int
    epochs_planned: int
    progress: float
    eta_seconds: float | None
    heartbeat_at: datetime | None
    stale: bool = Field(
        description="running, but its trainer has not refreshed the heartbeat for STALE_AFTER_SECONDS "
        "(120 s): a worker may take it over"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    final: FinalMetrics | None
    best_top1: float | None
    probe_size: int | None
    seed: int


class RunDetail(RunSummary):
    """A run summary plus its resolved config and class names."""

    config: dict[str, Any]
    class_names: list[str] | None
    num_classes: int | None
    feature_dim: int | None
    device: str | None
    error: str | None


Series = list[float | None]


def _epoch_series_model() -> type[BaseModel]:
    """Per-epoch metrics of a run, one list per metric declared in the catalog (columnar; null where
    absent), plus each epoch's loss parts and a user's own logged scalars by name."""
    fields: dict[str, Any] = {
        spec.name: (Series, Field(description=f"{spec.label} ({spec.unit}): {spec.explanation}"))
        for spec in catalog.METRICS
    }
    parts = Field(description="every part of the loss by name")
    fields["loss_parts"] = (list[dict[str, float] | None], parts)
    extra = Field(description="the scalars a user's own loop logged, by name (Recorder.log_epoch(extra=...))")
    fields["extra"] = (list[dict[str, float] | None], extra)
    return create_model("EpochSeries", __doc__=_epoch_series_model.__doc__, epoch=(list[int], ...), **fields)


EpochSeries = _epoch_series_model()


class ClassSeries(BaseModel):
    """Per-class statistics of every epoch: one row per epoch, one column per class."""

    epoch: list[int]
    class_names: list[str]
    within_class_variance: list[Series]
    nearest_class: list[list[int]]
    nearest_distance: list[Series]
    test_accuracy: list[Series]
    center_norm: list[Series]


class Centers(BaseModel):
    """Class centers of one epoch and their pairwise distances."""

    epoch: int
    center_distances: TypedArray
    class_centers: TypedArray
    method_centers: TypedArray | None


class Probe(BaseModel):
    """The run's probe set: labels, dataset indices and where its thumbnails are."""

    size: int
    labels: TypedArray
    dataset_index: TypedArray
    thumbnail_url: str | None = Field(
        description="URL template; replace the literal {position} (null: the run was recorded without images)"
    )


class Frame(BaseModel):
    """The 2-D layout of one epoch, with the probe's predictions at that epoch."""

    epoch: int
    status: str
    error: str | None
    points: TypedArray | None
    centers: TypedArray | None
    predictions: TypedArray | None
    confidences: TypedArray | None
    trustworthiness: float | None
    procrustes_residual: float | None


class Frames(BaseModel):
    """Every stored frame of a run for one projection, and the epochs still pending."""

    run_id: int
    projection: str
    epochs: list[int]
    frames: list[Frame]
    pending: list[int]


class ProjectionInfo(BaseModel):
    """A registered projection: the name the frames routes take, and how the dashboard shows it."""

    name: str = Field(description="the value of ?projection= on the frames, compare and export routes")
    label: str
    description: str
    linear: bool = Field(description="one linear map for the whole run: draw both axes on one scale")


class Comparison(BaseModel):
    """2-4 runs on the same probe: frames aligned to the first run, and their metric series."""

    reference: int
    runs: list[RunSummary]
    frames: dict[str, Frames]
    epochs: dict[str, EpochSeries]


class RequestProblem(BaseModel):
    """A rejected write or a malformed request: one line saying what was wrong (the input is never echoed
    beyond a short excerpt)."""

    detail: str


class Cancellation(BaseModel):
    """What a cancel did: a queued run is cancelled at once, a running run stops after its epoch."""

    run_id: int
    status: str = Field(description="cancelled (it was queued) or running (it stops after its current epoch)")
    message: str


class SuiteInfo(BaseModel):
    """An experiment file in the server's configs/ folder, which the dashboard can queue by name."""

    name: str = Field(description="the file name without .yaml: POST /api/suites/{name} queues it")
    suite: str = Field(description="the suite name inside the file")
    description: str = Field(description="the file's leading comment")
    runs: int
    methods: list[str]
    datasets: list[str]
    epochs: list[int]
    queued: bool = Field(description="these exact runs were queued before (queueing again needs force)")
    error: str | None = Field(description="why the file is not a valid suite, or null")


class QueuedSuite(BaseModel):
    """The runs a suite queued."""

    suite: str
    runs: list[RunSummary]
