"""One validation of run settings: ``centerlens train``, ``centerlens queue``, a YAML config and
``POST /api/runs`` refuse the same settings with the same one-line message, and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from store import Run, open_sessions
from tests.backend.api_support import WRITE_HEADERS, make_app
from trainer.cli import queue_main, train_main

# (flags, YAML text, JSON body, the message all of them must give)
CASES = [
    (["--lr", "nan"], "lr: .nan\n", '{"lr": NaN}', "lr must be a finite number (got nan)"),
    (["--epochs", "0"], "epochs: 0\n", '{"epochs": 0}', "epochs must be between 1 and 10000 (got 0)"),
    (None, "epochs: ten\n", '{"epochs": "ten"}', "epochs must be an integer (got 'ten')"),
    (["--workers", "48"], "workers: 48\n", '{"workers": 48}', "workers must be between 0 and 32 (got 48)"),
    (["--method", "ps_kd", "--alpha", "2"], "method: ps_kd\nalpha: 2\n", '{"method": "ps_kd", "alpha": 2}',
     "alpha must be between 0 and 1 (got 2"),
    (["--method", "bake", "--group-size", "0"], "method: bake\ngroup_size: 0\n",
     '{"method": "bake", "group_size": 0}', "group_size must be between 2 and 1024 (got 0)"),
    (["--batch-size", "0"], "batch_size: 0\n", '{"batch_size": 0}',
     "batch_size must be between 2 and 65536 (got 0)"),
    (["--lr-milestones"], "lr_milestones: []\n", '{"lr_milestones": []}',
     "lr_milestones must list 1 to 10 numbers (got [])"),
    (["--device", "meta"], "device: meta\n", '{"device": "meta"}',
     "device must be one of: auto, cpu, cuda, cuda:N (got 'meta')"),
]


@pytest.fixture
def server_db(tmp_path: Path) -> str:
    db = str(tmp_path / "server.db")
    open_sessions(db)
    return db


def error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def refused(main, argv: list[str], capsys, message: str) -> None:
    """``main(argv)`` exits 2 with one line starting with ``message`` (a flag's 2 reads back as 2.0)."""
    assert main(argv) == 2
    prog = "centerlens train" if main is train_main else "centerlens queue"
    assert error_line(capsys).startswith(f"{prog}: error: {message}")


@pytest.mark.parametrize(("flags", "yaml_text", "body", "message"), CASES)
def test_every_way_in_refuses_with_the_same_line(flags, yaml_text, body, message, tmp_path, server_db,
                                                  capsys) -> None:
    db = tmp_path / "cli.db"
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    if flags is not None and flags != ["--lr-milestones"]:  # argparse itself refuses an empty list
        for main in (train_main, queue_main):
            refused(main, [*flags, "--db", str(db)], capsys, message)
    for main in (train_main, queue_main):
        refused(main, ["--config", str(config), "--db", str(db)], capsys, message)
    assert not db.exists()
    with TestClient(make_app(server_db), headers=WRITE_HEADERS) as client:
        answer = client.post("/api/runs", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert json.loads(answer.text)["detail"].startswith(message)
    with open_sessions(server_db)() as session:
        assert session.query(Run).count() == 0
