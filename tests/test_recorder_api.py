"""``from centerlens import Recorder``: a user's own loop records runs as the trainer does.

Each test records small synthetic epochs (N samples of C classes, D-dimensional features) into a fresh
database and reads back what a user sees: rows, the epochs API, the run's status.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from centerlens import Recorder
from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Run, open_sessions
from tests.backend.api_support import make_app

N, D, C = 120, 8, 4
NAMES = ["ant", "bee", "cat", "dog"]


def epoch_data(epoch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Features that separate the classes more each epoch, their labels (0..C-1 in turn) and logits."""
    generator = torch.Generator().manual_seed(seed * 100 + epoch)
    labels = torch.arange(N) % C
    centers = torch.eye(C, D) * 3 * epoch
    features = centers[labels] + torch.randn(N, D, generator=generator)
    logits = features[:, :C] + 0.1 * torch.randn(N, C, generator=generator)
    return {"features": features, "labels": labels, "logits": logits}


def recorder(db: str, **options) -> Recorder:
    return Recorder(db=db, name=options.pop("name", "own"), class_names=NAMES, probe_size=40, **options)


def epochs_of(table, run_id: int):
    return select(table.epoch).where(table.run_id == run_id)


def recorded_epochs(db: str, run_id: int) -> dict[str, list[int]]:
    """The epochs each table holds for the run."""
    sessions = open_sessions(db)
    with sessions() as session:
        return {
            table.__tablename__: sorted(set(session.scalars(epochs_of(table, run_id))))
            for table in (Epoch, ClassEpoch, EmbeddingSnapshot)
        }


def run_row(db: str, run_id: int) -> Run:
    with open_sessions(db)() as session:
        return session.get(Run, run_id)


def test_a_run_records_every_metric_and_completes(db_url: str) -> None:
    images = np.random.default_rng(0).integers(0, 256, (N, 3, 12, 10), dtype=np.uint8)
    with recorder(db_url, config={"lr": 0.1}, probe_images=images, epochs=3) as rec:
        for epoch in (1, 2, 3):
            rec.log_epoch(epoch, **epoch_data(epoch), train_loss=1 / epoch, train_top1=0.5, lr=0.1,
                          extra={"my_metric": 0.3 * epoch})
    run = run_row(db_url, rec.run_id)
    assert (run.status, run.error, run.num_classes, run.feature_dim) == ("completed", None, C, D)
    assert run.probe_size == 40
    assert run.config["lr"] == 0.1 and run.class_names == NAMES
    with TestClient(make_app(db_url)) as client:
        epochs = client.get(f"/api/runs/{rec.run_id}/epochs").json()
        assert epochs["epoch"] == [1, 2, 3]
        assert epochs["extra"] == [{"my_metric": pytest.approx(0.3 * k)} for k in (1, 2, 3)]
        assert epochs["train_loss"] == pytest.approx([1, 1 / 2, 1 / 3])
        for name in ("test_top1", "test_nll", "test_ece", "nc1", "cdnv", "nc2_equinorm", "nc4_agreement"):
            assert all(value is not None for value in epochs[name]), name
        assert epochs["variance_ratio"][2] < epochs["variance_ratio"][0], "classes separate as epochs pass"
        csv = client.get(f"/api/runs/{rec.run_id}/export.csv").text.splitlines()
        assert csv[0].split(",")[-1] == "extra_my_metric" and csv[1].split(",")[-1] == "0.3"
        png = client.get(f"/api/runs/{rec.run_id}/probe/5.png")
        assert client.get(f"/api/runs/{rec.run_id}/probe").json()["size"] == 40
    thumbnail = np.asarray(Image.open(io.BytesIO(png.content)))
    with open_sessions(db_url)() as session:
        index = session.get(ProbeSample, (rec.run_id, 5)).dataset_index
    assert thumbnail.shape == (48, 40, 3), "12 x 10 scaled to 48 px on its longer side"
    assert (thumbnail[::4, ::4] == images[index].transpose(1, 2, 0)).all(), "sample 5's own image"


def test_the_probe_is_a_seeded_stratified_sample_of_the_first_epoch(db_url: str) -> None:
    uneven = torch.cat([torch.zeros(60), torch.ones(30), torch.full((20,), 2), torch.full((10,), 3)]).long()
    runs = []
    for name in ("first", "same seed"):
        with recorder(db_url, name=name, seed=7) as rec:
            rec.log_epoch(1, features=epoch_data(1)["features"], labels=uneven)
        runs.append(rec.run_id)
    with open_sessions(db_url)() as session:
        probes = [session.execute(select(ProbeSample.dataset_index, ProbeSample.label)
                                  .where(ProbeSample.run_id == run_id).order_by(ProbeSample.position)).all()
                  for run_id in runs]
    assert probes[0] == probes[1]
    labels = [label for _, label in probes[0]]
    assert np.bincount(labels).tolist() == [20, 10, 7, 3]  # 40 of 120 in proportion, largest remainders
    assert all(uneven[index] == label for index, label in probes[0])


def test_logits_are_optional(db_url: str) -> None:
    data = epoch_data(1)
    with recorder(db_url) as rec:
        rec.log_epoch(1, features=data["features"].numpy(), labels=data["labels"].numpy())
    with TestClient(make_app(db_url)) as client:
        epochs = client.get(f"/api/runs/{rec.run_id}/epochs").json()
        classes = client.get(f"/api/runs/{rec.run_id}/classes").json()
        probe = client.get(f"/api/runs/{rec.run_id}/probe").json()
        png = client.get(f"/api/runs/{rec.run_id}/probe/0.png")
    assert probe["thumbnail_url"] is None, "no probe_images: the dashboard shows no image"
    unimaged = f"run {rec.run_id} was recorded without probe images"
    assert (png.status_code, png.json()) == (404, {"detail": unimaged})
    absent = ("test_top1", "test_nll", "test_ece", "nc4_agreement", "train_loss")
    assert [epochs[name] for name in absent] == [[None]] * len(absent)
    assert epochs["nc1"][0] is not None and classes["test_accuracy"] == [[None] * C]
    with open_sessions(db_url)() as session:
        snapshot = session.get(EmbeddingSnapshot, (rec.run_id, 1))
        probe = select(ProbeSample.dataset_index).where(ProbeSample.run_id == rec.run_id)
        positions = session.scalars(probe.order_by(ProbeSample.position)).all()
    features = data["features"].numpy()[positions].astype(np.float64)
    nearest = ((features[:, None, :] - snapshot.class_centers[None]) ** 2).sum(-1).argmin(1)
    assert (snapshot.probe_predictions == nearest).all(), "without logits: the nearest class mean"
    assert ((snapshot.probe_confidences > 1 / C) & (snapshot.probe_confidences <= 1)).all()


def bad_inputs() -> dict[str, tuple[dict, str]]:
    """Each listed bad input for the epoch after epoch 1, and a phrase its error must hold."""
    good = epoch_data(2)
    features, labels, logits = good["features"], good["labels"], good["logits"]
    nan, inf = features.clone(), features.clone()
    nan[3, 2], inf[5, 0] = float("nan"), float("inf")
    return {
        "labels of another N": ({**good, "labels": labels[:-1]}, "labels hold 119 samples but features hold"),
        "logits of another N": ({**good, "logits": logits[:-2]}, "logits must be N x C with N = 120"),
        "label above C-1": ({**good, "labels": torch.where(labels == 3, 4, labels)}, "0..3 .* found 4"),
        "negative label": ({**good, "labels": torch.where(labels == 0, -1, labels)}, "found -1"),
        "NaN features": ({**good, "features": nan}, "features hold NaN or inf"),
        "inf features": ({**good, "features": inf}, "features hold NaN or inf"),
        "repeated epoch": ({**good, "epoch": 1}, "epoch 1 repeats the last recorded epoch 1"),
        "decreasing epoch": ({**good, "epoch": 0}, "epoch must be 1 or more"),
        "another dimension": ({**good, "features": features[:, :5]}, "features have 5 dimensions but this "
                                                                    "run's first epoch had 8"),
        "other samples": ({**good, "labels": labels.flip(0)}, "labels differ from the first epoch's"),
    }


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_is_a_value_error_naming_it_and_writes_nothing(db_url: str, case: str) -> None:
    arguments, phrase = bad_inputs()[case]
    arguments = {"epoch": 2, **arguments}
    with recorder(db_url) as rec:
        rec.log_epoch(1, **epoch_data(1))
        with pytest.raises(ValueError, match=phrase):
            rec.log_epoch(**arguments)
        earlier = {"epochs": [1], "class_epochs": [1], "embedding_snapshots": [1]}
        assert recorded_epochs(db_url, rec.run_id) == earlier
        rec.log_epoch(2, **epoch_data(2))  # the run goes on
    assert recorded_epochs(db_url, rec.run_id)["epochs"] == [1, 2]


def test_a_probe_larger_than_n_is_refused_before_anything_is_recorded(db_url: str) -> None:
    with pytest.raises(ValueError, match="probe_size 200 is larger than the 120 samples logged"):
        with Recorder(db=db_url, name="big probe", class_names=NAMES, probe_size=200) as rec:
            rec.log_epoch(1, **epoch_data(1))
    nothing = {"epochs": [], "class_epochs": [], "embedding_snapshots": []}
    assert recorded_epochs(db_url, rec.run_id) == nothing
    with open_sessions(db_url)() as session:
        assert session.scalar(select(func.count()).select_from(ProbeSample)) == 0
    run = run_row(db_url, rec.run_id)
    assert run.status == "failed" and "probe_size 200 is larger" in run.error


def test_an_exception_fails_the_run_and_ctrl_c_cancels_it(db_url: str) -> None:
    with pytest.raises(RuntimeError), recorder(db_url, name="breaks") as broken:
        broken.log_epoch(1, **epoch_data(1))
        raise RuntimeError("the loss went to NaN")
    with pytest.raises(KeyboardInterrupt), recorder(db_url, name="interrupted") as interrupted:
        raise KeyboardInterrupt
    failed, cancelled = run_row(db_url, broken.run_id), run_row(db_url, interrupted.run_id)
    assert (failed.status, failed.error) == ("failed", "RuntimeError: the loss went to NaN")
    assert (cancelled.status, cancelled.error) == ("cancelled", "interrupted")
    assert recorded_epochs(db_url, broken.run_id)["epochs"] == [1]


def test_resume_continues_a_run_on_its_probe(db_url: str) -> None:
    with pytest.raises(KeyboardInterrupt), recorder(db_url) as rec:
        rec.log_epoch(1, **epoch_data(1))
        raise KeyboardInterrupt
    with recorder(db_url, resume=rec.run_id) as resumed:
        with pytest.raises(ValueError, match="epoch 1 repeats"):
            resumed.log_epoch(1, **epoch_data(1))
        with pytest.raises(ValueError, match="labels differ from the first epoch's"):
            resumed.log_epoch(2, **{**epoch_data(2), "labels": epoch_data(2)["labels"].roll(1)})
        resumed.log_epoch(2, **epoch_data(2))
    assert resumed.run_id == rec.run_id
    assert run_row(db_url, rec.run_id).status == "completed"
    assert recorded_epochs(db_url, rec.run_id)["epochs"] == [1, 2]
    with pytest.raises(Exception, match=f"run {rec.run_id} is already completed"):
        recorder(db_url, resume=rec.run_id).__enter__()
    with pytest.raises(ValueError, match="no run with id 99"):
        recorder(db_url, resume=99).__enter__()


def test_tensors_on_another_device_and_half_precision_are_accepted(db_url: str) -> None:
    data = epoch_data(1)
    with recorder(db_url) as rec:
        rec.log_epoch(1, features=data["features"].half(), labels=data["labels"].int(),
                      logits=data["logits"].double(), train_loss=torch.tensor(0.5), lr=np.float32(0.1))
    assert recorded_epochs(db_url, rec.run_id)["epochs"] == [1]


def test_bad_arguments_of_the_recorder_itself(db_url: str) -> None:
    with pytest.raises(ValueError, match="probe_images must be N x C x H x W with C = 1 or 3"):
        Recorder(db=db_url, name="x", class_names=NAMES, probe_images=np.zeros((N, 2, 4, 4)))
    with pytest.raises(ValueError, match="config key 'recorded_by' is reserved"):
        Recorder(db=db_url, name="x", class_names=NAMES, config={"recorded_by": "me"})
    with pytest.raises(ValueError, match="config must be JSON"):
        Recorder(db=db_url, name="x", class_names=NAMES, config={"lr": object()})
    with recorder(db_url, probe_images=np.zeros((N - 1, 4, 4))) as rec:
        with pytest.raises(ValueError, match="probe_images hold 119 images but the epoch logs 120 samples"):
            rec.log_epoch(1, **epoch_data(1))
        with pytest.raises(ValueError, match="extra metric 'x' must be finite"):
            rec.log_epoch(1, **epoch_data(1), extra={"x": float("nan")})
