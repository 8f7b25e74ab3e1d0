"""``centerlens train`` and ``centerlens runs``: the trainer's command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from centerlens.argparsing import OneLineParser, fail
from trainer.config import ConfigError, add_config_arguments, config_from_args


def check_database_target(db: str) -> None:
    """Refuse a SQLite path whose folder is missing or not writable, before anything is trained."""
    if "://" in db:
        return
    path = Path(db).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"database folder {folder} does not exist")
    if path.is_dir():
        raise ConfigError(f"database path {path} is a folder, not a file")
    if (path.exists() and not os.access(path, os.W_OK)) or not os.access(folder, os.W_OK):
        raise ConfigError(f"database {path} is not writable")


def open_store(db: str):
    """Engine and sessions for ``db``, with the schema upgraded to the newest migration."""
    from store import create_db_engine, session_factory, upgrade_database

    engine = create_db_engine(db)
    upgrade_database(engine)
    return session_factory(engine)


def train_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="centerlens train",
        description="Train a classifier and record every epoch's feature space, metrics and probe "
        "embeddings into the database. Every flag is also a key of the YAML --config file.",
    )
    parser.add_argument("--config", help="YAML file of settings (keys as the flags below; flags win)")
    add_config_arguments(parser)
    return parser


def train_main(argv: list[str]) -> int:
    """Entry point of ``centerlens train``."""
    from trainer.loop import prepare, train
    from trainer.recorder import Recorder

    args = train_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        check_database_target(config.db)
        setup = prepare(config)
        sessions = open_store(config.db)
    except ConfigError as error:
        return fail("centerlens train", str(error))
    try:
        run_id = train(setup, Recorder(sessions))
    except KeyboardInterrupt:
        print(
            "centerlens train: interrupted; the run is marked cancelled, finished epochs are kept",
            file=sys.stderr,
        )
        return 130
    print(f"run {run_id} recorded in {config.db} (see: centerlens runs --db {config.db})")
    return 0


def runs_main(argv: list[str]) -> int:
    """Entry point of ``centerlens runs``: a table of runs with status and final metrics."""
    from trainer.runs_table import runs_table

    parser = OneLineParser(
        prog="centerlens runs", description="List recorded runs with status and final metrics."
    )
    parser.add_argument("--db", default="centerlens.db", help="database file path or SQLAlchemy URL")
    args = parser.parse_args(argv)
    if "://" not in args.db and not Path(args.db).exists():
        return fail("centerlens runs", f"database {args.db} does not exist")
    print(runs_table(open_store(args.db)))
    return 0
