"""``--model timm/<name>``: real timm classifiers trained end to end, and every bad timm name refused
in one line (by ``centerlens train`` before anything is written, by the worker for a queued run)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import select
from torch import nn

from store import EmbeddingSnapshot, Epoch, Run
from tests.conftest import ROOT, centerlens, require_or_skip
from tests.trainer.test_train_cli import opened
from trainer.cli import train_main
from trainer.config import ConfigError
from trainer.models import create_model

SMALL = "timm/test_resnet"  # timm's own tiny test ResNet: 0.4 M parameters, 96-d features, fine at 8x8
SMALL_FEATURES = 96
DIGITS = (1, 8, 8)


@pytest.fixture(autouse=True)
def _timm_installed() -> None:
    require_or_skip(importlib.util.find_spec("timm") is not None,
                    "timm is not installed (pip install 'centerlens[timm]')")


def train(db: str, *flags: str, check: bool = True, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return centerlens("train", "--dataset", "digits", "--epochs", "2", "--batch-size", "64", "--threads", "1",
                      "--probe-per-class", "5", "--checkpoint-every", "0", "--db", db, *flags, check=check,
                      cwd=cwd)


@pytest.mark.parametrize("name", ["timm/test_resnet", "timm/test_efficientnet", "timm/test_vit"])
def test_a_timm_model_meets_the_model_interface(name: str) -> None:
    shape = (3, 32, 32) if "vit" in name else DIGITS  # a ViT's patches need a larger image than 8 px
    model = create_model(name, 10, shape, "csd")
    images = torch.randn(4, *shape)
    features, logits = model(images)
    assert isinstance(model.classifier, nn.Linear)
    assert features.shape == (4, model.feature_dim) and logits.shape == (4, 10)
    torch.testing.assert_close(logits, model.classifier(features))
    (logits.logsumexp(1).sum() + features.square().mean()).backward()
    assert all(param.grad is not None for param in model.parameters() if param.requires_grad)


def test_a_conv_head_serves_a_method_that_needs_no_linear_head() -> None:
    model = create_model("timm/dla46_c", 10, (3, 32, 32), "ce")
    features, logits = model(torch.randn(2, 3, 32, 32))
    assert isinstance(model.classifier, nn.Conv2d)
    assert features.shape == (2, model.feature_dim) and logits.shape == (2, 10)
    with pytest.raises(ConfigError, match="has a Conv2d head, not the linear layer that csd needs"):
        create_model("timm/dla46_c", 10, (3, 32, 32), "csd")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ce", "csd"])
def test_train_records_every_epoch_of_a_timm_model(db_url: str, method: str) -> None:
    output = train(db_url, "--model", SMALL, "--method", method).stdout
    assert f"{method} on digits with {SMALL}, 2 epochs" in output
    with opened(db_url) as session:
        run = session.scalars(select(Run)).one()
        assert (run.status, run.error, run.model) == ("completed", None, SMALL)
        assert run.feature_dim == SMALL_FEATURES
        epochs = session.scalars(select(Epoch).order_by(Epoch.epoch)).all()
        assert [epoch.epoch for epoch in epochs] == [1, 2]
        for epoch in epochs:
            recorded = [epoch.train_loss, epoch.test_top1, epoch.within_class_variance, epoch.nc1]
            assert np.isfinite(recorded).all()
        if method == "csd":
            assert all(epoch.loss_parts and "distill" in epoch.loss_parts for epoch in epochs)
        snapshot = session.scalars(select(EmbeddingSnapshot).where(EmbeddingSnapshot.epoch == 2)).one()
        assert snapshot.probe_features.shape == (50, SMALL_FEATURES)
        assert np.isfinite(snapshot.probe_features).all()


BAD_MODELS = [
    ("timm/resnet10", "ce", "unknown timm model 'resnet10' (did you mean resnet10t"),
    ("timm/dla46_c", "csd", "timm model 'dla46_c' has a Conv2d head, not the linear layer that csd needs"),
    ("timm/dla46_c", "ce", "timm model 'dla46_c' cannot take 1x8x8 images"),
    ("timm/no such model", "ce", "unknown model 'timm/no such model' (choose from auto, small_cnn,"),
    ("timm/" + "x" * 36, "ce", "unknown model 'timm/xxxxx"),
]


def test_an_unknown_timm_name_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "untouched.db"
    result = train(str(db), "--model", "timm/nope", check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("centerlens train: error: unknown timm model 'nope' "
                             "(timm.list_models() lists them)\n")
    assert not db.exists()


@pytest.mark.parametrize(("model", "method", "message"), BAD_MODELS)
def test_every_bad_timm_model_is_refused_before_a_write(tmp_path: Path, capsys, model: str, method: str,
                                                        message: str) -> None:
    db = tmp_path / "untouched.db"
    assert train_main(["--dataset", "digits", "--model", model, "--method", method, "--db", str(db)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"centerlens train: error: {message}")
    assert not db.exists()


def test_without_timm_the_error_says_what_to_install(tmp_path: Path) -> None:
    db = tmp_path / "untouched.db"
    hide_timm = ("import sys; sys.modules['timm'] = None; from centerlens.cli import main; "
                 f"sys.exit(main(['train', '--model', '{SMALL}', '--epochs', '1', '--db', '{db}']))")
    result = subprocess.run([sys.executable, "-c", hide_timm], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == ("centerlens train: error: timm models need the timm package: "
                                     "pip install 'centerlens[timm]'")
    assert not db.exists()


@pytest.mark.slow
def test_a_queued_run_with_a_bad_timm_name_fails_on_the_worker(db_url: str) -> None:
    queued = centerlens("queue", "--model", "timm/nope", "--epochs", "1", "--db", db_url).stdout
    assert queued.startswith("queued 1 run(s)")
    worker = centerlens("worker", "--db", db_url, "--exit-when-empty").stdout
    assert "run 1 failed: unknown timm model 'nope'" in worker
    with opened(db_url) as session:
        run = session.scalars(select(Run)).one()
        assert (run.status, run.model) == ("failed", "timm/nope")
        assert run.error == "unknown timm model 'nope' (timm.list_models() lists them)"
        assert session.scalars(select(Epoch)).all() == []
