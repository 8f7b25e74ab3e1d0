"""Opening a database: another program's is left alone unless adopted; a garbage file, a missing one
(where it must exist) and a read-only one are refused in one line, and nothing is written to them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import open_sessions
from store.engine import ForeignDatabase, UnusableDatabase
from store.queue import queue_runs
from store.runconfig import TrainConfig
from tests.conftest import centerlens
from tests.mounts import remount_read_only, tmpfs

COMMANDS = (
    ("runs",),
    ("queue", "--cancel", "1"),
    ("worker", "--exit-when-empty"),
    ("train", "--resume", "1"),
    ("train", "--epochs", "1"),
)


def other_programs_database(path: Path, alembic_revision: str | None = None) -> bytes:
    """A SQLite file of another program (optionally managed by its own Alembic); returns its bytes."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.executemany("INSERT INTO customers (name) VALUES (?)", [("ada",), ("grace",)])
    if alembic_revision:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES (?)", (alembic_revision,))
    connection.commit()
    connection.close()
    return path.read_bytes()


def tables(path: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        connection.close()


def refused_in_one_line(path: Path, message: str, commands=COMMANDS) -> None:
    for command in commands:
        result = centerlens(*command, "--db", str(path), check=False, timeout=180)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, (command, result.stderr)


def no_sidecar_files(path: Path) -> bool:
    return not any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm", "-journal"))


def test_another_programs_database_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "other_app.db"
    before = other_programs_database(path)
    with pytest.raises(ForeignDatabase, match="belongs to another program"):
        open_sessions(path)
    serve = ("serve", "--port", "8799", "--no-projector")
    refused_in_one_line(path, "belongs to another program (its tables: customers)", (*COMMANDS, serve))
    assert path.read_bytes() == before and no_sidecar_files(path)


def test_adopting_another_programs_database_keeps_its_tables_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "other_app.db"
    other_programs_database(path)
    centerlens("worker", "--db", str(path), "--exit-when-empty", "--adopt-database")
    assert {"customers", "runs", "epochs", "alembic_version"} <= tables(path)
    with open_sessions(path).begin() as session:  # a centerlens database from now on
        queue_runs(session, [TrainConfig()])
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT name FROM customers ORDER BY id").fetchall() == [("ada",), ("grace",)]
    connection.close()


def test_a_database_of_another_alembic_program_is_never_adopted(tmp_path: Path) -> None:
    path = tmp_path / "other_app.db"
    before = other_programs_database(path, alembic_revision="f00dcafe")
    with pytest.raises(ForeignDatabase, match="schema revision 'f00dcafe'"):
        open_sessions(path, adopt=True)
    assert path.read_bytes() == before


def test_a_garbage_file_is_refused_in_one_line_and_left_byte_identical(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    before = notes.read_bytes()
    refused_in_one_line(notes, f"{notes} is not a SQLite database")
    assert notes.read_bytes() == before and no_sidecar_files(notes)


def test_commands_that_need_an_existing_database_create_none(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    refused_in_one_line(missing, f"database {missing} does not exist", COMMANDS[:2] + COMMANDS[3:4])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UnusableDatabase, match="does not exist"):
        open_sessions(missing, create=False)


def test_a_database_on_a_read_only_filesystem_is_refused_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mount", "3m") as folder:
        db = folder / "centerlens.db"
        sessions = open_sessions(db)
        with sessions.begin() as session:
            queue_runs(session, [TrainConfig()])
        sessions.kw["bind"].dispose()
        before = {path.name: path.read_bytes() for path in folder.iterdir()}
        remount_read_only(folder)
        refused_in_one_line(db, f"database {db} is read-only")
        refused_in_one_line(folder / "new.db", f"cannot create database {folder / 'new.db'}", COMMANDS[-1:])
        assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
