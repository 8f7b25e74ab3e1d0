"""Metrics travel by name end to end: a real digits run's stored metrics, recomputed here in numpy.

A short run is trained in-process and recorded into a fresh database; the final model is then evaluated on
the whole test split again (evaluation is deterministic) and every metric of the last ``epochs``
row, every per-class row and the embedding snapshot are recomputed from those features, logits and
labels with the numpy code below, written from the definitions (``trainer/metrics.py``'s docstring,
docs/architecture.md) and not with the trainer's functions. A metric stored under another metric's
name, or a new metric column nobody checks here, fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from sqlalchemy import Float, select

from store import ClassEpoch, EmbeddingSnapshot, Epoch, ProbeSample, Run, open_sessions
from tests.conftest import drop_database, new_database
from trainer.config import build_config
from trainer.loop import Setup, evaluate, prepare, train
from trainer.recorder import Recorder

EPOCHS = 2
LEARNING_RATE = 0.1
ECE_BINS = 15

# float columns of ``epochs`` that are not functions of the final model on the test split; each is
# checked in test_training_columns_hold_the_epoch_and_the_schedule instead
NOT_TEST_SPLIT_METRICS = frozenset({
    "learning_rate",  # the SGD schedule: checked against it
    "epoch_seconds",  # wall time and throughput: positive, and images/s x seconds = training images
    "images_per_second",
    "record_seconds",
    "train_loss",  # means over the epoch's augmented batches while the weights change
    "train_ce",
    "train_distill",
    "train_accuracy",
})

# metrics compared with a relative tolerance this tight (float32 features, float64 arithmetic);
# NLL is computed by the trainer in float32, hence its own tolerance
RELATIVE = 1e-7
RELATIVE_FLOAT32 = 1e-5


@dataclass
class RecordedRun:
    """A recorded run and the final model's outputs on the whole test split (numpy)."""

    sessions: object
    run_id: int
    setup: Setup
    features: np.ndarray
    logits: np.ndarray
    labels: np.ndarray


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedRun]:
    url = new_database(tmp_path_factory.mktemp("end_to_end"))
    config = build_config({
        "dataset": "digits", "method": "ce", "epochs": EPOCHS, "seed": 3, "batch_size": 64,
        "lr": LEARNING_RATE, "lr_milestones": [0.5], "threads": 1, "checkpoint_every": 0, "db": url,
    })
    sessions = open_sessions(url)
    setup = prepare(config)
    run_id = train(setup, Recorder(sessions), log=lambda _: None)
    features, logits, labels = evaluate(setup)
    yield RecordedRun(sessions, run_id, setup, features.cpu().numpy(), logits.cpu().numpy(),
                      labels.cpu().numpy())
    drop_database(url)


def class_geometry(features: np.ndarray, labels: np.ndarray, classes: int) -> dict[str, np.ndarray]:
    """Class means, per-class variances, centered-mean norms and center distances (float64)."""
    h = features.astype(np.float64)
    means = np.stack([h[labels == k].mean(axis=0) for k in range(classes)])
    variances = np.array([np.sum((h[labels == k] - means[k]) ** 2, axis=1).mean() for k in range(classes)])
    centered = means - h.mean(axis=0)
    distances = np.sqrt(np.sum((means[:, None, :] - means[None, :, :]) ** 2, axis=2))
    return {"means": means, "variances": variances, "centered": centered,
            "norms": np.linalg.norm(centered, axis=1), "distances": distances}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE (Guo et al. 2017): sum over equal-width bins (lo, hi] of |B|/N |accuracy(B) - confidence(B)|."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        members = (confidences > low) & (confidences <= high)
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidences[members].mean())
    return total


def independent_metrics(features: np.ndarray, logits: np.ndarray, labels: np.ndarray,
                        classes: int) -> dict[str, float]:
    """Every test-split metric of an epoch row, keyed by its column name."""
    h = features.astype(np.float64)
    geometry = class_geometry(h, labels, classes)
    means, centered, norms = geometry["means"], geometry["centered"], geometry["norms"]
    within = h - means[labels]
    sw = within.T @ within / len(h)
    sb = centered.T @ centered / classes
    pairs = ~np.eye(classes, dtype=bool)  # ordered pairs k != l
    pair_variance = (geometry["variances"][:, None] + geometry["variances"][None, :]) / 2
    unit = centered / norms[:, None]
    cosines = (unit @ unit.T)[pairs]
    probabilities = softmax(logits)
    predicted = probabilities.argmax(axis=1)
    correct = predicted == labels
    top5 = np.argsort(-logits.astype(np.float64), axis=1)[:, :5]
    nearest_mean = np.argmin(np.sum((h[:, None, :] - means[None, :, :]) ** 2, axis=2), axis=1)
    return {
        "within_class_variance": np.trace(sw),
        "between_class_variance": np.trace(sb),
        "variance_ratio": np.trace(sw) / np.trace(sb),
        "nc1": np.trace(sw @ np.linalg.pinv(sb, hermitian=True)) / classes,
        "cdnv": np.mean(pair_variance[pairs] / geometry["distances"][pairs] ** 2),
        "nc2_equinorm": norms.std(ddof=1) / norms.mean(),
        "nc2_equiangular": cosines.std(ddof=1),
        "nc2_max_angle": np.mean(np.abs(cosines + 1 / (classes - 1))),
        "nc4_agreement": np.mean(nearest_mean == predicted),
        "test_top1": correct.mean(),
        "test_top5": np.mean((top5 == labels[:, None]).any(axis=1)),
        "test_nll": -np.mean(np.log(probabilities[np.arange(len(labels)), labels])),
        "test_ece": calibration_error(probabilities.max(axis=1), correct),
    }


def float_columns() -> list[str]:
    """Names of the ``epochs`` table's float columns (every metric column is one)."""
    return [column.name for column in Epoch.__table__.columns if isinstance(column.type, Float)]


def epoch_rows(recorded: RecordedRun) -> list[Epoch]:
    with recorded.sessions() as session:
        query = select(Epoch).where(Epoch.run_id == recorded.run_id)
        return session.scalars(query.order_by(Epoch.epoch)).all()


def test_every_epoch_metric_equals_an_independent_computation(recorded: RecordedRun) -> None:
    row = epoch_rows(recorded)[-1]
    expected = independent_metrics(recorded.features, recorded.logits, recorded.labels, 10)
    values = sorted(expected.values())
    assert all(b - a > 1e-6 * abs(b) for a, b in zip(values, values[1:])), (
        f"two metrics coincide on this run, so a swap between them would go unseen: {expected}")
    checked = set(expected) | NOT_TEST_SPLIT_METRICS
    unchecked = [name for name in float_columns() if name not in checked]
    assert not unchecked, f"no independent check for metric {', '.join(unchecked)}"
    assert set(expected) <= set(float_columns()), "a checked metric is no longer an epochs column"
    for name, value in expected.items():
        tolerance = RELATIVE_FLOAT32 if name == "test_nll" else RELATIVE
        assert getattr(row, name) == pytest.approx(value, rel=tolerance, abs=1e-12), name


def test_training_columns_hold_the_epoch_and_the_schedule(recorded: RecordedRun) -> None:
    rows = epoch_rows(recorded)
    assert [row.epoch for row in rows] == list(range(1, EPOCHS + 1))
    # milestone 0.5 of 2 epochs: x0.1 after epoch 1
    schedule = [LEARNING_RATE, LEARNING_RATE * 0.1]
    assert [row.learning_rate for row in rows] == pytest.approx(schedule, rel=1e-12)
    train_images = len(recorded.setup.bundle.train_labels)
    for row in rows:
        assert row.epoch_seconds > 0 and row.record_seconds > 0
        assert row.images_per_second * row.epoch_seconds == pytest.approx(train_images, rel=1e-9)
        assert 0 < row.train_accuracy <= 1 and np.isfinite(row.train_loss) and row.train_loss > 0
        # ce's whole loss is its cross-entropy, its only part
        assert row.train_ce == pytest.approx(row.train_loss, rel=1e-6) and row.train_distill is None
        assert row.loss_parts == {"ce": pytest.approx(row.train_loss, rel=1e-6)}


def test_every_class_row_equals_an_independent_computation(recorded: RecordedRun) -> None:
    labels, classes = recorded.labels, 10
    geometry = class_geometry(recorded.features, labels, classes)
    distances = geometry["distances"] + np.diag(np.full(classes, np.inf))
    correct = softmax(recorded.logits).argmax(axis=1) == labels
    with recorded.sessions() as session:
        query = select(ClassEpoch).where(ClassEpoch.run_id == recorded.run_id, ClassEpoch.epoch == EPOCHS)
        rows = session.scalars(query.order_by(ClassEpoch.class_index)).all()
    assert [row.class_index for row in rows] == list(range(classes))
    nearest = distances.argmin(axis=1)
    assert len(set(nearest.tolist())) > 1, "every class's nearest class is the same: a weak check"
    for k, row in enumerate(rows):
        assert row.within_class_variance == pytest.approx(geometry["variances"][k], rel=RELATIVE), k
        assert row.center_norm == pytest.approx(geometry["norms"][k], rel=RELATIVE), k
        assert row.nearest_class == nearest[k], k
        assert row.nearest_distance == pytest.approx(distances[k, nearest[k]], rel=RELATIVE), k
        assert row.test_accuracy == pytest.approx(correct[labels == k].mean(), rel=RELATIVE), k


def test_snapshot_holds_the_probe_features_and_class_centers(recorded: RecordedRun) -> None:
    with recorded.sessions() as session:
        run = session.get(Run, recorded.run_id)
        probe = session.scalars(select(ProbeSample).where(ProbeSample.run_id == run.id)
                                .order_by(ProbeSample.position)).all()
        snapshot = session.get(EmbeddingSnapshot, (run.id, EPOCHS))
    positions = np.array([sample.dataset_index for sample in probe])
    assert run.probe_size == len(probe) and [sample.position for sample in probe] == list(range(len(probe)))
    assert [sample.label for sample in probe] == recorded.labels[positions].tolist()
    expected_features = recorded.features[positions].astype(np.float16)
    assert snapshot.probe_features.dtype == np.float16
    np.testing.assert_array_equal(snapshot.probe_features, expected_features)
    probabilities = softmax(recorded.logits)[positions]
    np.testing.assert_array_equal(snapshot.probe_predictions, probabilities.argmax(axis=1))
    np.testing.assert_allclose(snapshot.probe_confidences, probabilities.max(axis=1), rtol=1e-6)
    geometry = class_geometry(recorded.features, recorded.labels, 10)
    np.testing.assert_allclose(snapshot.class_centers, geometry["means"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(snapshot.center_distances, geometry["distances"], rtol=1e-6, atol=1e-6)
