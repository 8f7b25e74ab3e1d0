"""``centerlens.lightning.CenterlensCallback``: a real PyTorch Lightning fit records every validation
epoch, and its run ends as a ``with Recorder`` block does (completed, failed, cancelled).

The example (examples/lightning_digits.py) runs as a user runs it, and its run is read over the API.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from store import EmbeddingSnapshot, Epoch, ProbeSample, Run, open_sessions
from tests.backend.api_support import make_app
from tests.conftest import ROOT, centerlens, require_or_skip


@pytest.fixture(autouse=True)
def _lightning_installed() -> None:
    require_or_skip(importlib.util.find_spec("lightning") is not None,
                    "PyTorch Lightning is not installed (pip install 'centerlens[lightning]')")


@pytest.fixture
def lit():
    """The Lightning helpers (a module, so this file imports without lightning)."""
    import tests.lightning_support as support

    return support


def stored(db: str, table, **where):
    with open_sessions(db)() as session:
        query = select(table).filter_by(**where)
        return session.scalars(query.order_by(*table.__table__.primary_key.columns)).all()


def test_every_validation_epoch_records_the_heads_input_logits_and_labels(db_url: str, lit) -> None:
    callback = lit.CenterlensCallback(db=db_url, layer="fc", name="mlp", probe_size=30, seed=1)
    model = lit.Net()
    trainer = lit.fit(callback, model)
    run = stored(db_url, Run)[0]
    assert (run.name, run.status, run.error, run.model) == ("mlp", "completed", None, "Net")
    assert (run.num_classes, run.feature_dim, run.probe_size, run.epochs_planned) == (lit.C, lit.D, 30, 2)
    assert run.class_names == ["0", "1", "2"] and run.config["fail_at"] is None
    epochs = stored(db_url, Epoch, run_id=run.id)
    assert [epoch.epoch for epoch in epochs] == [1, 2]  # not the sanity check's two batches
    _, val = lit.loaders()
    images, labels = (torch.cat(parts) for parts in zip(*val))
    model.eval()
    with torch.no_grad():
        features, logits = model.body(images), model(images)
    last = epochs[-1]
    assert last.test_top1 == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert last.extra["val_loss"] == pytest.approx(trainer.callback_metrics["val_loss"].item())
    assert last.learning_rate == 0.5 and 0 < last.train_loss and 0 <= last.train_accuracy <= 1
    probe = stored(db_url, ProbeSample, run_id=run.id)
    positions = [sample.dataset_index for sample in probe]
    assert [sample.label for sample in probe] == labels[positions].tolist()
    snapshot = stored(db_url, EmbeddingSnapshot, run_id=run.id, epoch=2)[0]
    np.testing.assert_allclose(snapshot.probe_features, features[positions].numpy(), rtol=1e-2, atol=1e-2)
    trainer.validate(model, lit.loaders()[1], verbose=False)  # validate() outside fit records nothing
    assert len(stored(db_url, Epoch, run_id=run.id)) == 2


def test_an_exception_marks_the_run_failed_with_the_epochs_before_it(db_url: str, lit) -> None:
    with pytest.raises(RuntimeError, match="the loss exploded"):
        lit.fit(lit.CenterlensCallback(db=db_url, layer="fc"), lit.Net(fail_at=1), epochs=3)
    run = stored(db_url, Run)[0]
    assert (run.status, run.error) == ("failed", "RuntimeError: the loss exploded")
    assert [epoch.epoch for epoch in stored(db_url, Epoch, run_id=run.id)] == [1]


def test_a_cancel_request_stops_the_fit_and_marks_the_run_cancelled(db_url: str, lit) -> None:
    callback = lit.CenterlensCallback(db=db_url, layer="fc")
    trainer = lit.fit(callback, lit.Net(), epochs=5, callbacks=(lit.CancelAfterFirstEpoch(db_url, callback),))
    run = stored(db_url, Run)[0]
    assert trainer.current_epoch == 2 and run.status == "cancelled"
    assert [epoch.epoch for epoch in stored(db_url, Epoch, run_id=run.id)] == [1, 2]


def test_a_layer_the_model_lacks_is_refused_before_a_run_is_created(db_url: str, lit) -> None:
    expected = r"model has no module 'head'; its linear layers are \['body.1', 'fc'\]"
    with pytest.raises(ValueError, match=expected):
        lit.fit(lit.CenterlensCallback(db=db_url, layer="head"), lit.Net())
    assert stored(db_url, Run) == []


@pytest.mark.slow
def test_the_lightning_example_shows_up_over_the_api(db_url: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "examples" / "lightning_digits.py"), "--db", db_url,
                    "--epochs", "2"], check=True, capture_output=True, text=True, cwd=ROOT, timeout=600)
    centerlens("project", "--db", db_url, "--projection", "pca")
    with TestClient(make_app(db_url)) as client:
        (run,) = client.get("/api/runs").json()
        assert (run["name"], run["status"], run["model"]) == ("lightning-digits", "completed", "DigitsNet")
        epochs = client.get(f"/api/runs/{run['id']}/epochs").json()
        assert epochs["epoch"] == [1, 2]
        assert all(value is not None for value in epochs["train_loss"] + epochs["test_top1"] + epochs["nc1"])
        assert set(epochs["extra"][1]) == {"train_loss", "val_loss", "val_accuracy"}
        frames = client.get(f"/api/runs/{run['id']}/frames?projection=pca").json()
        assert (frames["epochs"], frames["pending"]) == ([1, 2], [])
        assert all(len(frame["points"]["shape"]) == 2 and frame["points"]["shape"][0] == 300
                   for frame in frames["frames"])
        assert client.get(f"/api/runs/{run['id']}/probe").json()["size"] == 300
        thumbnail = client.get(f"/api/runs/{run['id']}/probe/0.png")
        assert thumbnail.status_code == 200
        image = Image.open(io.BytesIO(thumbnail.content))
        assert image.size == (48, 48) and len(np.unique(np.asarray(image))) > 2  # a digit, not a blank square
