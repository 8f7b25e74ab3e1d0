"""``centerlens demo``: queue the digits demo suite, train it in a background worker, serve the dashboard.

The suite is ``configs/demo.yaml`` (cross-entropy and CSD on digits). Training happens in a
``centerlens worker`` subprocess, so this process never loads torch, and the dashboard shows each
epoch as it lands. Starting the demo again continues where it stopped: finished runs are kept and
interrupted ones resume from their checkpoints.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from centerlens.argparsing import OneLineParser, fail, port_number
from store import Run, RunStatus, open_sessions
from store.queue import QueueError, queue_runs, suite_key
from store.runconfig import ConfigError
from store.suite import load_suite

DEFAULT_DB = Path("demo") / "centerlens-demo.db"
DEMO_SUITE = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
UNFINISHED = (RunStatus.cancelled.value, RunStatus.failed.value)


def demo_parser() -> OneLineParser:
    """Flags of ``centerlens demo``."""
    parser = OneLineParser(
        prog="centerlens demo",
        description="Train the digits demo runs (cross-entropy and CSD) in the background and serve "
        "the dashboard, which updates live as epochs land.",
    )
    parser.add_argument("--db", default=str(DEFAULT_DB), help="database path")
    parser.add_argument("--suite", default=str(DEMO_SUITE), help="experiment file to train")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=port_number, default=8000, help="port to bind, 1 to 65535")
    parser.add_argument(
        "--no-train", dest="train", action="store_false", help="only serve what the database already holds"
    )
    return parser


def queue_demo(db: str, suite_file: str) -> str:
    """Queue the suite once; on a later start, queue its interrupted runs again (they resume)."""
    name, configs = load_suite(suite_file)
    with open_sessions(db).begin() as session:
        try:
            queue_runs(session, configs, suite=name)
            return f"queued the {name!r} suite ({len(configs)} runs)"
        except QueueError:
            session.execute(
                update(Run)
                .where(Run.suite == suite_key(name, configs), Run.status.in_(UNFINISHED))
                .values(status=RunStatus.queued.value, cancel_requested=False, finished_at=None)
            )
            return f"continuing the {name!r} suite"


def start_worker(db: str) -> subprocess.Popen:
    """A ``centerlens worker`` that trains what is queued and exits; its log lies beside the database."""
    log = (Path(db).parent / "worker.log").open("ab")
    command = [sys.executable, "-m", "centerlens.cli", "worker", "--db", db, "--exit-when-empty"]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def stop_worker(worker: subprocess.Popen | None) -> None:
    """Interrupt the worker: the run in training is marked cancelled and keeps its epochs."""
    if worker is None or worker.poll() is not None:
        return
    worker.send_signal(signal.SIGINT)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


def main(argv: list[str]) -> int:
    """Entry point of ``centerlens demo``."""
    from backend.cli import serve
    from backend.settings import Settings

    args = demo_parser().parse_args(argv)
    db = str(Path(args.db).expanduser().resolve())
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    open_sessions(db)  # creates the schema: the dashboard of a new demo opens on an empty database
    worker = None
    if args.train:
        try:
            message = queue_demo(db, args.suite)
        except ConfigError as error:
            return fail("centerlens demo", str(error))
        worker = start_worker(db)
        print(
            f"centerlens demo: {message}; training in the background (log: {Path(db).parent}/worker.log)",
            flush=True,
        )
    try:
        return serve(Settings(database_url=db, host=args.host, port=args.port), banner="centerlens demo")
    finally:
        stop_worker(worker)
