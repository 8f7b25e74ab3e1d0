"""A Recorder run and a trainer run store equal metric values for the same features; no worker claims,
takes over or resumes a Recorder run; ``penultimate`` captures the head's input."""

from __future__ import annotations

import pytest
import torch
from sqlalchemy import select, update
from torch import nn

from centerlens import Recorder
from centerlens.features import penultimate
from store import ClassEpoch, EmbeddingSnapshot, Epoch, Run, catalog, open_sessions
from store.models import STALE_AFTER_SECONDS
from store.queue import QueueError, claim_next_run, claim_run
from tests.conftest import centerlens
from trainer import loop
from trainer.config import build_config
from trainer.recorder import Recorder as RunWriter

# columns that are not functions of the evaluated test split (the loop's own scalars)
LOOP_SCALARS = {"learning_rate", "epoch_seconds", "images_per_second", "record_seconds", "train_loss",
                "train_ce", "train_distill", "train_accuracy"}


def test_the_same_features_store_the_same_metrics(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluated = []

    def evaluate_and_keep(setup):
        outputs = real_evaluate(setup)
        evaluated.append(outputs)
        return outputs

    real_evaluate = loop.evaluate
    monkeypatch.setattr(loop, "evaluate", evaluate_and_keep)
    config = build_config({"dataset": "digits", "method": "ce", "epochs": 1, "seed": 0, "batch_size": 64,
                           "threads": 1, "checkpoint_every": 0, "db": db_url})
    setup = loop.prepare(config)
    trained = loop.train(setup, RunWriter(open_sessions(db_url)), log=lambda _: None)
    features, logits, labels = evaluated[0]
    with Recorder(db=db_url, name="same features", class_names=setup.bundle.class_names) as rec:
        rec.log_epoch(1, features=features, labels=labels, logits=logits)

    with open_sessions(db_url)() as session:
        rows = {run_id: session.scalars(select(Epoch).where(Epoch.run_id == run_id)).one()
                for run_id in (trained, rec.run_id)}
        classes = {run_id: [(c.within_class_variance, c.center_norm, c.nearest_class, c.nearest_distance,
                             c.test_accuracy)
                            for c in session.scalars(select(ClassEpoch).where(ClassEpoch.run_id == run_id)
                                                     .order_by(ClassEpoch.class_index))]
                   for run_id in rows}
        snapshots = {run_id: session.get(EmbeddingSnapshot, (run_id, 1)) for run_id in rows}
    compared = [name for name in catalog.METRICS.names() if name not in LOOP_SCALARS]
    assert len(compared) == 13
    for name in compared:
        assert getattr(rows[rec.run_id], name) == getattr(rows[trained], name), name
    assert classes[rec.run_id] == classes[trained]
    assert (snapshots[rec.run_id].class_centers == snapshots[trained].class_centers).all()
    assert (snapshots[rec.run_id].center_distances == snapshots[trained].center_distances).all()


def test_no_worker_claims_takes_over_or_resumes_a_recorder_run(db_url: str) -> None:
    with pytest.raises(KeyboardInterrupt), Recorder(db=db_url, name="own", class_names=["a", "b"]) as rec:
        rec.log_epoch(1, features=torch.randn(20, 3), labels=torch.arange(20) % 2)
        raise KeyboardInterrupt
    sessions = open_sessions(db_url)
    with sessions.begin() as session:  # as if its process died mid-run: running, heartbeat long stale
        session.execute(update(Run).values(status="running", heartbeat_at=Run.created_at))
    assert claim_next_run(sessions, "worker:1", stale_after=0) is None
    refusal = f"resume it there with centerlens.Recorder\\(..., resume={rec.run_id}\\)"
    with pytest.raises(QueueError, match=refusal):
        claim_run(sessions, rec.run_id, "worker:1", STALE_AFTER_SECONDS)
    result = centerlens("train", "--resume", str(rec.run_id), "--db", db_url, check=False)
    assert result.returncode == 2 and "recorded by its own training loop" in result.stderr
    with sessions() as session:
        assert session.get(Run, rec.run_id).worker != "worker:1"


def test_penultimate_captures_the_input_of_the_named_head() -> None:
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    images = torch.randn(4, 6)
    with penultimate(model, "2") as head:
        model(images)
    assert torch.equal(head.features, model[1](model[0](images)))
    model(torch.randn(2, 6))
    assert head.features.shape == (4, 5), "the hook is off after the block"
    with pytest.raises(ValueError, match=r"model has no module 'fc'; its linear layers are \['0', '2'\]"):
        penultimate(model, "fc")
