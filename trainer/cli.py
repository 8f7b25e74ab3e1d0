"""``centerlens train`` and ``centerlens runs``: the trainer's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from centerlens.argparsing import OneLineParser, fail
from store.engine import check_sqlite_target, is_url
from trainer.config import ConfigError, add_config_arguments, config_from_args


def check_database_target(db: str) -> None:
    """Refuse a SQLite path that cannot be used (folder, garbage, read-only), before anything is trained."""
    check_sqlite_target(db)


def open_store(db: str, create: bool = True, adopt: bool = False):
    """Sessions for ``db``, with the schema upgraded to the newest migration (UnusableDatabase if not)."""
    from store import open_sessions

    return open_sessions(db, create=create, adopt=adopt)


def stopped(prog: str, error: Exception) -> int:
    """Print why training stopped early (a takeover, a full disk) in one line; exit status 1."""
    print(f"{prog}: {error}", file=sys.stderr)
    return 1


def add_adopt_flag(parser: argparse.ArgumentParser) -> None:
    """``--adopt-database``: the one way to put centerlens's tables into another program's database."""
    parser.add_argument(
        "--adopt-database",
        action="store_true",
        help="add centerlens's tables to a database that already holds another program's tables",
    )


def train_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="centerlens train",
        description="Train a classifier and record every epoch's feature space, metrics and probe "
        "embeddings into the database. Every flag is also a key of the YAML --config file.",
        formatter_class=argparse.HelpFormatter,
    )
    parser.add_argument("--config", help="YAML file of settings (keys as the flags below; flags win)")
    parser.add_argument(
        "--resume", type=int, metavar="RUN_ID", help="continue run RUN_ID of --db from its last checkpoint"
    )
    add_config_arguments(parser)
    add_adopt_flag(parser)
    return parser


def resume_main(run_id: int, db: str, checkpoint_dir: str = "") -> int:
    """``centerlens train --resume RUN_ID``: continue a stopped run from its newest checkpoint.

    The checkpoint is looked for where ``checkpoint_dir`` (``--checkpoint-dir``) says, else as a
    worker looks: never where the run's stored config says.
    """
    from store import Run
    from store.models import STALE_AFTER_SECONDS
    from store.queue import QueueError, claim_run, new_claim, worker_name
    from trainer.checkpoint import check_checkpoint_dir
    from trainer.stopping import TrainingStopped
    from trainer.worker import train_claimed

    claim = new_claim()
    try:
        check_sqlite_target(db, create=False)
        check_checkpoint_dir(db, checkpoint_dir)
        sessions = open_store(db, create=False)
        claim_run(sessions, run_id, worker_name(), STALE_AFTER_SECONDS, claim)
    except (ConfigError, QueueError) as error:
        return fail("centerlens train", str(error))
    try:
        train_claimed(sessions, run_id, db, print, checkpoint_dir, claim)
    except TrainingStopped as error:
        return stopped("centerlens train", error)
    with sessions() as session:
        status = session.get(Run, run_id).status
    print(f"run {run_id} {status} in {db}")
    return 0 if status == "completed" else 1


def absolute_db(db: str) -> str:
    """A file path made absolute (checkpoints and resumes then find it from any folder); URLs as given."""
    return db if is_url(db) else str(Path(db).expanduser().resolve())


def train_main(argv: list[str]) -> int:
    """Entry point of ``centerlens train``."""
    from trainer.checkpoint import check_checkpoint_dir
    from trainer.loop import prepare, train
    from trainer.recorder import Recorder
    from trainer.stopping import TrainingStopped

    args = train_parser().parse_args(argv)
    if args.resume is not None:
        return resume_main(args.resume, absolute_db(args.db or "centerlens.db"), args.checkpoint_dir or "")
    try:
        config = config_from_args(args)
        config.db = absolute_db(config.db)
        check_database_target(config.db)
        check_checkpoint_dir(config.db, config.checkpoint_dir)
        setup = prepare(config)
        sessions = open_store(config.db, adopt=args.adopt_database)
    except ConfigError as error:
        return fail("centerlens train", str(error))
    try:
        run_id = train(setup, Recorder(sessions))
    except TrainingStopped as error:
        return stopped("centerlens train", error)
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
    try:
        sessions = open_store(args.db, create=False)
    except ConfigError as error:
        return fail("centerlens runs", str(error))
    print(runs_table(sessions))
    return 0


def queue_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="centerlens queue",
        description="Queue runs for workers: studies from experiment files (configs/*.yaml: runs x "
        "grid x seeds, each run tagged with its study and group), or one run from the same flags as "
        "`centerlens train`; or cancel a run.",
        epilog="examples: centerlens queue configs/demo.yaml --dry-run | centerlens queue configs/demo.yaml "
        "| centerlens queue --method csd --epochs 30 | centerlens queue --cancel 7",
        formatter_class=argparse.HelpFormatter,
    )
    parser.add_argument("suites", nargs="*", help="experiment files to queue (each a suite of runs)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="queue a suite even if it was queued before, or if it expands to more than 500 runs",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the runs the experiment files expand to (name, group, seed, grid values); write nothing",
    )
    parser.add_argument("--cancel", type=int, metavar="RUN_ID", help="cancel a queued or running run")
    parser.add_argument("--config", help="YAML file of one run's settings (keys as the flags below)")
    add_config_arguments(parser)
    add_adopt_flag(parser)
    return parser


def queue_main(argv: list[str]) -> int:
    """Entry point of ``centerlens queue``."""
    from store.queue import QueueError, queue_runs, request_cancel
    from store.suite import expand_suite, expansion_table

    args = queue_parser().parse_args(argv)
    db = args.db or "centerlens.db"
    try:
        if args.dry_run:
            if not args.suites:
                return fail("centerlens queue", "--dry-run needs experiment files to expand")
            for suite in [expand_suite(path) for path in args.suites]:
                print(expansion_table(suite))
            return 0
        check_database_target(db)
        if args.cancel is not None:
            with open_store(db, create=False).begin() as session:
                status = request_cancel(session, args.cancel)
            print(
                f"run {args.cancel}: {'cancelled' if status == 'cancelled' else 'will stop after its epoch'}"
            )
            return 0
        suites = [(suite.name, suite.configs) for suite in map(expand_suite, args.suites)]
        suites = suites or [(None, [config_from_args(args)])]
        sessions = open_store(db, adopt=args.adopt_database)
        for name, configs in suites:
            with sessions.begin() as session:
                runs = queue_runs(session, configs, suite=name, force=args.force)
                ids = ", ".join(str(run.id) for run in runs)
            print(f"queued {len(runs)} run(s){f' of suite {name!r}' if name else ''}: {ids}")
    except (ConfigError, QueueError) as error:
        return fail("centerlens queue", str(error))
    return 0


def _seconds_between(low: float, high: float, low_included: bool):
    """An argparse type: a finite number of seconds in [low, high] (or (low, high])."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (value >= low if low_included else value > low) or not value <= high:
            bound = f"at least {low:g}" if low_included else f"more than {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bound} and at most {high:.0f} seconds (got {text!r})")
        return value

    return parse


def worker_parser() -> OneLineParser:
    from store.models import STALE_AFTER_SECONDS
    from trainer.worker import MIN_STALE_AFTER_SECONDS

    year = 365 * 24 * 3600.0
    parser = OneLineParser(
        prog="centerlens worker",
        description="Claim queued runs one at a time (oldest first) and train them; several workers "
        "on one database never train the same run.",
    )
    parser.add_argument("--db", default="centerlens.db", help="database file path or SQLAlchemy URL")
    parser.add_argument("--exit-when-empty", action="store_true", help="stop when no run is queued")
    parser.add_argument(
        "--poll",
        type=_seconds_between(0, 3600, low_included=False),
        default=2.0,
        help="seconds between looks at an empty queue",
    )
    parser.add_argument(
        "--seed-suite", metavar="FILE", help="queue this suite if the database has no runs yet"
    )
    parser.add_argument(
        "--stale-after",
        type=_seconds_between(MIN_STALE_AFTER_SECONDS, year, low_included=True),
        default=STALE_AFTER_SECONDS,
        help="take over a running run whose trainer has not refreshed its heartbeat for this many "
        f"seconds (at least {MIN_STALE_AFTER_SECONDS:g}: three heartbeats)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default="",
        help="folder of the runs' checkpoints, shared by the workers that take over each other's runs "
        "(default: $CENTERLENS_CHECKPOINT_DIR, else DB_FILE.checkpoints/); a queued run's own "
        "checkpoint_dir is ignored",
    )
    add_adopt_flag(parser)
    return parser


def worker_main(argv: list[str]) -> int:
    """Entry point of ``centerlens worker``."""
    import threading

    from trainer.checkpoint import check_checkpoint_dir
    from trainer.stopping import TrainingStopped
    from trainer.worker import run_worker, seed_suite_if_empty

    args = worker_parser().parse_args(argv)
    db = absolute_db(args.db)
    try:
        check_database_target(db)
        check_checkpoint_dir(db, args.checkpoint_dir)
        sessions = open_store(db, adopt=args.adopt_database)
        if args.seed_suite:
            seed_suite_if_empty(sessions, args.seed_suite, print)
    except ConfigError as error:
        return fail("centerlens worker", str(error))
    try:
        trained = run_worker(
            sessions,
            db,
            threading.Event(),
            args.exit_when_empty,
            args.poll,
            args.stale_after,
            checkpoint_dir=args.checkpoint_dir,
        )
    except TrainingStopped as error:
        return stopped("centerlens worker", error)
    except KeyboardInterrupt:
        print("centerlens worker: interrupted", file=sys.stderr)
        return 130
    print(f"worker trained {trained} run(s)")
    return 0
