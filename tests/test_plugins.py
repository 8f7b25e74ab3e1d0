"""Adding a method, a metric and a projection is one declaration and one implementation each: toy ones
registered at run time (tests/plugins/toy.py, as docs/contributing.md shows) reach ``--help``, the run
settings API, the recorded rows, the epochs API, the CSV export and the frames endpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("toy") / "toy.db"
    result = subprocess.run([sys.executable, "-m", "tests.plugins.toy", str(db)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_a_toy_method_is_a_flag_a_setting_and_a_choice(toy: dict) -> None:
    assert "--toy-gain TOY_GAIN" in toy["help"] and "for toy (default: 1.0)" in " ".join(toy["help"].split())
    assert "toy" in toy["run_settings"]["properties"]["method"]["enum"]
    gain = toy["run_settings"]["properties"]["toy_gain"]
    shown = (gain["x-methods"], gain["x-label"], gain["default"], gain["exclusiveMinimum"], gain["maximum"])
    assert shown == (["toy"], "gain g", 1.0, 0, 10)
    assert toy["config"]["toy_gain"] == 0.5
    description = "Cross-entropy times a gain (a plug-in example)."
    entry = {"name": "toy", "label": "toy scaled CE", "description": description, "settings": ["toy_gain"]}
    assert entry in toy["catalog"]["methods"]


def test_a_toy_metric_is_recorded_served_and_exported(toy: dict) -> None:
    value, train_loss, parts = toy["row"]
    assert isinstance(value, float) and value == toy["epochs"]["toy_feature_mean"][0]
    assert [metric["name"] for metric in toy["catalog"]["metrics"]][-1] == "toy_feature_mean"
    header, first = toy["csv"].splitlines()[:2]
    columns = dict(zip(header.split(","), first.split(",")))
    assert float(columns["toy_feature_mean"]) == pytest.approx(value)
    # the method's only loss part is recorded by name, and the parts add up to the loss
    assert json.loads(parts) == {"scaled_ce": pytest.approx(train_loss)}
    assert float(columns["loss_part_scaled_ce"]) == pytest.approx(train_loss)


def test_a_toy_projection_is_computed_and_served(toy: dict) -> None:
    assert toy["stored_frames"] == 1
    assert "last_two" in [projection["name"] for projection in toy["projections"]]
    frames = toy["frames"]
    assert (frames["projection"], frames["epochs"], frames["pending"]) == ("last_two", [1], [])
    assert frames["frames"][0]["status"] == "ok"
