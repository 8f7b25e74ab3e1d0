"""Shared fixtures: fresh databases (SQLite, or PostgreSQL via CENTERLENS_TEST_DB_URL), real digits runs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("CENTERLENS_TEST_DB_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def centerlens(*args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run the real ``centerlens`` command line in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "centerlens.cli", *args],
        capture_output=True,
        text=True,
        cwd=kwargs.pop("cwd", ROOT),
        timeout=timeout,
        **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"centerlens {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def _new_postgres_database() -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"centerlens_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def new_database(tmp_path: Path) -> str:
    """A URL of an empty database: PostgreSQL when CENTERLENS_TEST_DB_URL is set, else a SQLite file."""
    if PG_URL:
        return _new_postgres_database()
    return str(tmp_path / "centerlens.db")


def drop_database(url: str) -> None:
    """Drop a PostgreSQL test database (even with connections left open); SQLite files go with tmp_path."""
    if not PG_URL:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """An empty database for one test."""
    url = new_database(tmp_path)
    yield url
    drop_database(url)


@dataclass
class TrainedDatabase:
    """A database holding real short digits runs on the same probe."""

    url: str
    run_ids: list[int]
    epochs: int


DIGITS_RUNS = (("ce", "0"), ("ce", "1"))
DIGITS_EPOCHS = 3


@pytest.fixture(scope="session")
def trained_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedDatabase]:
    """Two 3-epoch digits runs (recorded through the CLI), shared by the tests that only read."""
    url = new_database(tmp_path_factory.mktemp("trained"))
    for method, seed in DIGITS_RUNS:
        centerlens(
            "train",
            "--dataset",
            "digits",
            "--method",
            method,
            "--epochs",
            str(DIGITS_EPOCHS),
            "--seed",
            seed,
            "--batch-size",
            "64",
            "--db",
            url,
        )
    yield TrainedDatabase(url, list(range(1, len(DIGITS_RUNS) + 1)), DIGITS_EPOCHS)
    drop_database(url)


def require_or_skip(available: bool, reason: str) -> None:
    """Skip when a system dependency is missing, except under CI where it must be there."""
    if not available:
        if IN_CI:
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(reason)
