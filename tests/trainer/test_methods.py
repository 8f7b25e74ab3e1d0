"""The training methods: stored loss values, gradients, samplers, PS-KD's targets and CSD's centers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sqlalchemy import select
from torch import nn

from store import EmbeddingSnapshot, Epoch, create_db_engine, session_factory
from tests.conftest import centerlens
from tests.trainer.method_reference import (
    CASES,
    EXPECTED_PATH,
    FEATURE_DIM,
    NUM_CLASSES,
    POOL_LABELS,
    TinyModel,
    expected_values,
    grow_classifier,
    pool_images,
    reference_parts,
)
from trainer.config import ConfigError, TrainConfig
from trainer.methods import METHODS, Method, StepOutput, create_method
from trainer.methods.bake import same_class_groups
from trainer.models.cnn import SmallCNN

EXPECTED = json.loads(EXPECTED_PATH.read_text())
VARIANTS = [(name, {}) for name in METHODS] + [("csd", {"center_rule": "learned"})]
VARIANT_IDS = [name + ("-" + "-".join(settings.values()) if settings else "") for name, settings in VARIANTS]


def make_method(name: str, num_classes: int = NUM_CLASSES, feature_dim: int = FEATURE_DIM,
                num_train: int = len(POOL_LABELS), **settings) -> Method:
    return create_method(TrainConfig(method=name, **settings), num_classes, feature_dim, num_train)


def run_case(name: str) -> tuple[StepOutput, Method]:
    """Run a stored case's steps through the real method (float32); returns the last step's output."""
    case = CASES[name]
    method = make_method(case.method, **case.settings)
    model, images, labels = TinyModel(torch.float32), pool_images(torch.float32), torch.tensor(POOL_LABELS)
    for n, (epoch, indices) in enumerate(case.steps):
        if n:
            grow_classifier(model)
        method.start_epoch(epoch)
        index = torch.tensor(indices)
        out = method.step(model, images[index], labels[index], index)
    return out, method


def test_every_registered_method_has_a_stored_case() -> None:
    assert set(METHODS) <= {case.method for case in CASES.values()}
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_loss_equals_stored_value(name: str) -> None:
    out, _ = run_case(name)
    assert set(out.parts) == set(EXPECTED[name]) - {"loss"}
    assert out.loss.item() == pytest.approx(EXPECTED[name]["loss"], abs=1e-5)
    for part, value in out.parts.items():
        assert value.item() == pytest.approx(EXPECTED[name][part], abs=1e-5), part


def test_references_reproduce_stored_values() -> None:
    recomputed = expected_values()
    for name, parts in EXPECTED.items():
        assert recomputed[name] == pytest.approx(parts, abs=1e-9), name


def test_csd_centers_match_reference_and_absent_class_keeps_its_center() -> None:
    _, method = run_case("csd")
    _, memory = reference_parts("csd")
    centers = method.recorded_centers()
    for k, center in memory["centers"].items():
        torch.testing.assert_close(centers[k], center.float(), atol=1e-6, rtol=0)
    assert method.initialized.tolist() == [True, True, True]
    first_batch = TinyModel(torch.float32)(pool_images(torch.float32)[[8, 9]])[0]
    torch.testing.assert_close(centers[2], first_batch.mean(0).detach(), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("name", "settings"), VARIANTS, ids=VARIANT_IDS)
def test_finite_loss_and_every_parameter_gets_a_gradient(name: str, settings: dict) -> None:
    torch.manual_seed(0)
    labels = np.repeat(np.arange(10), 4)
    model = SmallCNN(10)
    method = make_method(name, 10, SmallCNN.feature_dim, len(labels), batch_size=8, **settings)
    images = torch.randn(len(labels), 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    for epoch in range(2):  # the second epoch reaches PS-KD's stored predictions
        method.start_epoch(epoch)
        batch = torch.as_tensor(next(iter(method.batches(labels, 8, generator))))
        out = method.step(model, images[batch], torch.as_tensor(labels)[batch], batch)
    assert torch.isfinite(out.loss)
    assert out.loss.item() == pytest.approx(sum(v.item() for v in out.parts.values()), abs=1e-5)
    assert out.logits.shape == (len(out.labels), 10)
    out.loss.backward()
    parameters = list(model.named_parameters()) + list(method.named_parameters())
    for parameter_name, parameter in parameters:
        assert parameter.grad is not None, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name
    assert [n for n, _ in method.named_parameters()] == (["centers"] if settings else [])


def uneven_labels() -> np.ndarray:
    """Classes of 1, 2, 5 and 13 samples, shuffled."""
    labels = np.repeat(np.arange(4), [1, 2, 5, 13])
    return labels[np.random.default_rng(0).permutation(len(labels))]


def test_cs_kd_pairs_each_anchor_with_another_sample_of_its_class() -> None:
    labels = uneven_labels()
    method = make_method("cs_kd", partner_rule="others")
    anchors_seen = []
    for batch in method.batches(labels, 6, torch.Generator().manual_seed(1)):
        anchors, partners = np.split(batch, 2)
        assert (labels[anchors] == labels[partners]).all()
        lonely = np.bincount(labels)[labels[anchors]] == 1
        assert (anchors[~lonely] != partners[~lonely]).all()
        anchors_seen.extend(anchors)
    assert sorted(anchors_seen) == list(range(len(labels)))


def test_bake_batches_are_same_class_groups_covering_every_sample() -> None:
    labels = uneven_labels()
    method = make_method("bake", batch_size=8, group_size=4, bake_sampler="groups")
    seen = set()
    for batch in method.batches(labels, 8, torch.Generator().manual_seed(2)):
        assert len(batch) <= 8 and len(batch) % 4 == 0
        groups = labels[batch.reshape(-1, 4)]
        assert (groups == groups[:, :1]).all()
        seen.update(batch.tolist())
    assert seen == set(range(len(labels)))
    assert same_class_groups(labels, 4, torch.Generator().manual_seed(2)).shape == (1 + 1 + 2 + 4, 4)


def test_ps_kd_targets_at_epoch_zero_are_the_one_hot_labels() -> None:
    method = make_method("ps_kd", epochs=5)
    method.past_predictions.fill_(0.5)
    method.start_epoch(0)
    labels = torch.tensor([2, 0, 1, 2])
    targets = method.targets(labels, torch.tensor([3, 1, 0, 2]))
    torch.testing.assert_close(targets, torch.eye(NUM_CLASSES)[labels])
    method.start_epoch(4)
    assert method.teacher_weight() == pytest.approx(0.8)


class FeaturesAreInputs(nn.Module):
    """A 'model' whose features are its inputs, so a test can hand CSD chosen features."""

    def __init__(self, feature_dim: int, num_classes: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return features, self.classifier(features)


@pytest.mark.parametrize("rule", ["ema", "learned"])
def test_csd_centers_converge_to_the_class_means(rule: str) -> None:
    torch.manual_seed(0)
    num_classes, dim = 5, 8
    means = torch.randn(num_classes, dim) * 3
    model = FeaturesAreInputs(dim, num_classes)
    method = make_method("csd", num_classes, dim, center_rule=rule)
    optimizer = torch.optim.SGD(method.parameters(), lr=0.5) if rule == "learned" else None
    for _ in range(300):
        labels = torch.randint(0, num_classes - 1, (32,))  # the last class never appears
        out = method.step(model, means[labels] + 0.1 * torch.randn(32, dim), labels, labels)
        if optimizer:
            optimizer.zero_grad()
            out.loss.backward()
            optimizer.step()
    centers = method.recorded_centers()
    torch.testing.assert_close(centers[:-1], means[:-1], atol=0.05, rtol=0)
    assert method.initialized.tolist() == [True] * (num_classes - 1) + [False]
    assert (centers[-1] == 0).all()


def test_csd_beta_zero_has_no_distillation_and_targets_sum_to_one() -> None:
    torch.manual_seed(0)
    model = FeaturesAreInputs(6, 4)
    features, labels = torch.randn(10, 6), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    zero = make_method("csd", 4, 6, beta=0.0).step(model, features, labels, labels)
    assert abs(zero.parts["distill"].item()) < 1e-6
    method = make_method("csd", 4, 6, beta=0.5)
    method.update_centers(features, labels)
    targets = method.fused_targets(model(features)[1], labels, model.classifier)
    torch.testing.assert_close(targets.sum(1), torch.ones(10))
    assert not targets.requires_grad


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("csd", {"center_rule": "median"}, "unknown center rule 'median' (choose from ema, learned)"),
        ("csd", {"beta": 1.5}, "beta must be between 0 and 1 (got 1.5)"),
        ("csd", {"center_momentum": 1.0}, "center_momentum must be at least 0 and below 1 (got 1.0)"),
        ("cs_kd", {"temperature": 0.0}, "temperature must be positive and at most 100 (got 0.0)"),
        ("csd", {"distill_weight": -1.0}, "distill_weight must be between 0 and 100 (got -1.0)"),
        ("bake", {"group_size": 1}, "group_size must be between 2 and 1024 (got 1)"),
        ("bake", {"batch_size": 30, "group_size": 4}, "batch-size (30) must be a multiple of group-size (4)"),
        ("bake", {"omega": 1.0}, "omega must be at least 0 and below 1 (got 1.0)"),
        ("ls", {"smoothing": 1.0}, "smoothing must be at least 0 and below 1 (got 1.0)"),
        ("ps_kd", {"alpha": float("nan")}, "alpha must be a finite number (got nan)"),
    ],
)
def test_bad_hyper_parameters_are_config_errors(name: str, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        make_method(name, **settings)
    assert str(error.value) == message


def test_cli_rejects_a_bad_method_setting_before_writing(tmp_path) -> None:
    db = tmp_path / "runs.db"
    result = centerlens("train", "--method", "csd", "--beta", "1.5", "--db", str(db), check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["centerlens train: error: beta must be between 0 and 1 (got 1.5)"]
    assert not db.exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to detect host synchronisation")
def test_csd_step_does_not_synchronise_with_the_host() -> None:
    device = torch.device("cuda")
    model = SmallCNN(10).to(device)
    method = make_method("csd", 10, SmallCNN.feature_dim, 64).to(device)
    images, labels = torch.randn(64, 1, 8, 8, device=device), torch.arange(64, device=device) % 10
    method.step(model, images, labels, labels)  # warm-up: lazy initialisation may synchronise once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        method.step(model, images, labels, labels).loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(METHODS))
def test_two_epochs_on_digits_record_the_loss_parts(name: str, db_url: str) -> None:
    centerlens("train", "--method", name, "--epochs", "2", "--db", db_url)
    with session_factory(create_db_engine(db_url))() as session:
        epochs = session.scalars(select(Epoch).order_by(Epoch.epoch)).all()
        snapshots = session.scalars(select(EmbeddingSnapshot).order_by(EmbeddingSnapshot.epoch)).all()
    assert [e.epoch for e in epochs] == [1, 2]
    for epoch in epochs:
        assert epoch.train_ce > 0
        if name == "ce":
            assert epoch.train_distill is None
        else:
            assert epoch.train_loss == pytest.approx(epoch.train_ce + epoch.train_distill, rel=1e-4)
    if name not in {"ce", "ps_kd"}:
        assert all(e.train_distill > 0 for e in epochs)
    if name == "ps_kd":  # no previous predictions in the first epoch
        assert abs(epochs[0].train_distill) < 1e-6 < epochs[1].train_distill
    centers = [s.method_centers for s in snapshots]
    if name == "csd":
        assert all(c.shape == (10, SmallCNN.feature_dim) and np.isfinite(c).all() for c in centers)
        assert not np.allclose(centers[0], centers[1])
    else:
        assert centers == [None, None]
