"""Toy plug-ins registered at run time, exactly as docs/contributing.md shows: a method with its own
setting, an epoch metric and a projection. ``python -m tests.plugins.toy DB`` registers them, trains
one digits epoch with the toy method, projects it and prints, as JSON, what each surface shows.

It runs in its own process: registering a metric maps a new ``epochs`` column, which must not leak
into other tests' databases.
"""

from __future__ import annotations

import json
import sys

import torch
import torch.nn.functional as F

from store import catalog, open_sessions
from store.catalog.base import MethodSpec, MetricSpec, Param

# 1. a method: its declaration (torch-free, what the CLI, the API and the form see) ...
catalog.register_method(MethodSpec(
    "toy", "toy scaled CE", "Cross-entropy times a gain (a plug-in example).",
    params=(Param("toy_gain", "float", 1.0, "toy: gain on the cross-entropy", label="gain g", gt=0, le=10),),
))
# 2. a metric: its declaration ...
catalog.register_metric(MetricSpec(
    "toy_feature_mean", "mean feature", "feature units", "mean of every test feature value", "collapse"
))

from backend.projections import Projection, register_projection  # noqa: E402
from trainer.methods import Method, StepOutput, register  # noqa: E402
from trainer.metrics import Evaluation, computes  # noqa: E402


@register
class ToyMethod(Method):
    """... and its implementation."""

    name = "toy"

    def step(self, model, images, labels, indices) -> StepOutput:  # noqa: ANN001
        _, logits = model(images)
        scaled = self.config.toy_gain * F.cross_entropy(logits.float(), labels)
        return StepOutput(scaled, {"scaled_ce": scaled.detach()}, logits, labels)


@computes
def toy_feature_mean(evaluation: Evaluation) -> dict[str, torch.Tensor]:
    """... and its function."""
    return {"toy_feature_mean": evaluation.features.mean()}


@register_projection
class LastTwoDimensions(Projection):
    """3. a projection: one class."""

    name, label, linear = "last_two", "Last two dimensions", True
    description = "The last two feature dimensions, unprojected"

    def layout(self, features, centers, previous, fitted):  # noqa: ANN001
        return features[:, -2:], centers[:, -2:]


def main(db: str) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from backend.app import create_app
    from backend.projector import ProjectorWorker
    from backend.settings import Settings
    from trainer.cli import train_parser
    from trainer.config import build_config
    from trainer.loop import prepare, train
    from trainer.recorder import Recorder

    sessions = open_sessions(db)
    with sessions.begin() as session:  # what the metric's migration does
        session.execute(text("ALTER TABLE epochs ADD COLUMN toy_feature_mean FLOAT"))
    config = build_config({"method": "toy", "toy_gain": 0.5, "epochs": 1, "threads": 1, "db": db,
                           "probe_per_class": 5, "checkpoint_every": 0})
    run_id = train(prepare(config), Recorder(sessions), log=lambda line: None)
    stored = ProjectorWorker(sessions, projections=["last_two"]).run_once()
    app = create_app(Settings(database_url=db, projector=False))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        answers = {
            "run_settings": client.get("/api/run-settings").json(),
            "catalog": client.get("/api/catalog").json(),
            "epochs": client.get(f"/api/runs/{run_id}/epochs").json(),
            "frames": client.get(f"/api/runs/{run_id}/frames?projection=last_two").json(),
            "projections": client.get("/api/projections").json(),
            "csv": client.get(f"/api/runs/{run_id}/export.csv").text,
        }
    with sessions() as session:
        row = session.execute(text("SELECT toy_feature_mean, train_loss, loss_parts FROM epochs")).one()
    shown = {"help": train_parser().format_help(), "config": config.to_dict(), "stored_frames": stored}
    print(json.dumps({**shown, "row": [row[0], row[1], row[2]], **answers}))


if __name__ == "__main__":
    main(sys.argv[1])
