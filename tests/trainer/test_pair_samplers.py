"""BAKE's and CS-KD's same-class samplers: the authors' rules by default, ours under an option."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sqlalchemy import select

from store import Epoch, Run, create_db_engine, session_factory
from tests.conftest import centerlens
from trainer.config import TrainConfig
from trainer.datasets import load_digits_bundle
from trainer.methods import Method, create_method

CLASS_SIZES = [1, 2, 5, 13]


def uneven_labels() -> np.ndarray:
    """Classes of 1, 2, 5 and 13 samples, shuffled."""
    labels = np.repeat(np.arange(len(CLASS_SIZES)), CLASS_SIZES)
    return labels[np.random.default_rng(0).permutation(len(labels))]


def make_method(name: str, **settings) -> Method:
    return create_method(TrainConfig(method=name, **settings), len(CLASS_SIZES), 4, len(uneven_labels()))


def epoch_batches(method: Method, labels: np.ndarray, batch_size: int, seed: int) -> list[np.ndarray]:
    return list(method.batches(labels, batch_size, torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("group_size", [2, 4])
def test_bake_makes_every_sample_an_anchor_once_with_m_same_class_partners(group_size: int) -> None:
    labels = uneven_labels()
    batch_size = 4 * group_size
    method = make_method("bake", batch_size=batch_size, group_size=group_size)
    for seed in range(5):
        batches = epoch_batches(method, labels, batch_size, seed)
        groups = np.concatenate([batch.reshape(-1, group_size) for batch in batches])
        anchors, partners = groups[:, 0], groups[:, 1:]
        assert all(len(batch) % group_size == 0 and len(batch) <= batch_size for batch in batches)
        assert sorted(anchors) == list(range(len(labels)))
        assert sum(len(batch) for batch in batches) == group_size * len(labels)
        assert (labels[partners] == labels[anchors][:, None]).all()
        others = np.bincount(labels)[labels[anchors]] - 1
        assert (partners[others > 0] != anchors[others > 0, None]).all()
        assert (partners[others == 0] == anchors[others == 0, None]).all()
        distinct = others >= group_size - 1
        assert all(len(set(row)) == group_size - 1 for row in partners[distinct])


def test_bake_partners_are_drawn_uniformly_from_the_class() -> None:
    labels = uneven_labels()
    method = make_method("bake", batch_size=8, group_size=4)
    anchor = int(np.flatnonzero(labels == 2)[0])  # four other samples, three drawn each epoch
    counts = np.zeros(len(labels))
    for seed in range(2000):
        groups = np.concatenate([b.reshape(-1, 4) for b in epoch_batches(method, labels, 8, seed)])
        np.add.at(counts, groups[groups[:, 0] == anchor, 1:].ravel(), 1)
    others = np.flatnonzero((labels == 2) & (np.arange(len(labels)) != anchor))
    assert counts[others] / 2000 == pytest.approx(np.full(4, 3 / 4), abs=0.04)
    assert counts.sum() == counts[others].sum()


def test_bake_groups_sampler_sees_each_sample_about_once() -> None:
    labels = uneven_labels()
    method = make_method("bake", batch_size=8, group_size=4, bake_sampler="groups")
    batches = epoch_batches(method, labels, 8, 3)
    groups = np.concatenate([batch.reshape(-1, 4) for batch in batches])
    assert (labels[groups] == labels[groups[:, :1]]).all()
    assert set(groups.ravel()) == set(range(len(labels)))
    assert len(groups) == sum(-(-size // 4) for size in CLASS_SIZES)  # the last cut of a class topped up


def partner_rows(rule: str, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    method = make_method("cs_kd", partner_rule=rule)
    pairs = [np.split(batch, 2) for batch in epoch_batches(method, labels, 6, seed)]
    return np.concatenate([a for a, _ in pairs]), np.concatenate([p for _, p in pairs])


def test_cs_kd_default_partner_is_drawn_from_the_whole_class_itself_included() -> None:
    labels = uneven_labels()
    small = np.flatnonzero(labels == 2)  # a class of five: itself with probability 1/5
    picked_self = np.zeros(len(labels))
    for seed in range(2000):
        anchors, partners = partner_rows("class", labels, seed)
        assert sorted(anchors) == list(range(len(labels)))
        assert (labels[anchors] == labels[partners]).all()
        picked_self[anchors] += anchors == partners
    assert picked_self[small] / 2000 == pytest.approx(np.full(5, 1 / 5), abs=0.03)
    assert picked_self[labels == 1] / 2000 == pytest.approx(np.full(2, 1 / 2), abs=0.04)


def test_cs_kd_others_rule_never_picks_the_anchor_unless_it_is_alone() -> None:
    labels = uneven_labels()
    for seed in range(200):
        anchors, partners = partner_rows("others", labels, seed)
        alone = np.bincount(labels)[labels[anchors]] == 1
        assert (labels[anchors] == labels[partners]).all()
        assert (anchors[~alone] != partners[~alone]).all() and (anchors[alone] == partners[alone]).all()


def test_train_help_lists_both_options() -> None:
    text = " ".join(centerlens("train", "--help").stdout.split())
    assert "--bake-sampler BAKE_SAMPLER BAKE's batches: anchors" in text
    assert "one of anchors, groups; for bake (default: anchors)" in text
    assert "--partner-rule PARTNER_RULE CS-KD:" in text
    assert "one of class, others; for cs_kd (default: class)" in text


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--bake-sampler", "pairs", "unknown bake sampler 'pairs' (choose from anchors, groups)"),
        ("--partner-rule", "self", "unknown partner rule 'self' (choose from class, others)"),
    ],
)
def test_a_bad_sampler_option_is_one_line_and_exit_2(tmp_path, flag: str, value: str, message: str) -> None:
    db = tmp_path / "runs.db"
    result = centerlens("train", "--method", "bake", flag, value, "--db", str(db), check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"centerlens train: error: {message}"]
    assert not db.exists()


def test_imagefolder_takes_the_authors_bake_defaults_unless_given(tmp_path) -> None:
    db = tmp_path / "queue.db"
    for extra in ([], ["--omega", "0.3", "--group-size", "4"]):
        centerlens("queue", "--method", "bake", "--dataset", "imagefolder", "--db", str(db), *extra)
    centerlens("queue", "--method", "bake", "--dataset", "digits", "--db", str(db))
    engine = create_db_engine(f"sqlite:///{db}")
    with session_factory(engine)() as session:
        configs = [run.config for run in session.scalars(select(Run).order_by(Run.id))]
    engine.dispose()
    assert [(c["dataset"], c["group_size"], c["omega"]) for c in configs] == [
        ("imagefolder", 2, 0.9), ("imagefolder", 4, 0.3), ("digits", 4, 0.5)]


@pytest.mark.parametrize("sampler", ["anchors", "groups"])
def test_a_bake_epoch_trains_on_m_plus_one_images_per_sample(tmp_path, sampler: str) -> None:
    db = tmp_path / "bake.db"
    centerlens("train", "--method", "bake", "--bake-sampler", sampler, "--group-size", "2", "--epochs", "1",
               "--batch-size", "64", "--threads", "1", "--checkpoint-every", "0", "--probe-per-class", "2",
               "--db", str(db))
    engine = create_db_engine(f"sqlite:///{db}")
    with session_factory(engine)() as session:
        epoch = session.scalars(select(Epoch)).one()
    engine.dispose()
    class_sizes = np.bincount(load_digits_bundle(TrainConfig()).train_labels)
    seen = epoch.images_per_second * epoch.epoch_seconds
    if sampler == "anchors":
        assert seen == pytest.approx(2 * class_sizes.sum(), rel=1e-9)
    else:  # each class cut in pairs, an odd one's last pair topped up
        assert seen == pytest.approx((class_sizes + class_sizes % 2).sum(), rel=1e-9)
