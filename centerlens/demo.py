"""``centerlens demo``: train the digits demo runs in the background and serve the dashboard meanwhile.

Training happens in ``centerlens train`` subprocesses (one run after another, logs next to the
database), so this process never loads torch; the dashboard shows each epoch as it lands.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from store import Run, RunStatus, create_db_engine, session_factory, upgrade_database

DEFAULT_DB = Path("demo") / "centerlens-demo.db"
# the paper's method next to its baseline; label smoothing stands in where csd is not built yet
PREFERRED_METHODS = (("ce", "csd"), ("ce", "ls"), ("ce",))
REGISTRY_PROBE = "from trainer.methods import METHODS; print(' '.join(METHODS))"


def demo_parser() -> argparse.ArgumentParser:
    """Flags of ``centerlens demo``."""
    parser = argparse.ArgumentParser(
        prog="centerlens demo",
        description="Train the digits demo runs (cross-entropy and CSD) in the background and serve "
        "the dashboard, which updates live as epochs land.",
    )
    parser.add_argument("--db", default=str(DEFAULT_DB), help=f"database path (default: {DEFAULT_DB})")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs per demo run (default: 15)")
    parser.add_argument("--no-train", dest="train", action="store_false",
                        help="only serve what the database already holds")
    return parser


def demo_methods() -> tuple[str, ...]:
    """The demo's methods, among those the trainer registers (asked in a subprocess: no torch here)."""
    probe = subprocess.run([sys.executable, "-c", REGISTRY_PROBE], capture_output=True, text=True)
    registered = set(probe.stdout.split())
    return next((methods for methods in PREFERRED_METHODS if registered.issuperset(methods)), ("ce",))


def completed_methods(db: str) -> set[str]:
    """Methods that already have a completed seed-0 digits run in the database (not trained again)."""
    engine = create_db_engine(db)
    try:
        upgrade_database(engine)
        with session_factory(engine)() as session:
            query = select(Run.method).where(
                Run.dataset == "digits", Run.seed == 0, Run.status == RunStatus.completed.value
            )
            return set(session.scalars(query))
    finally:
        engine.dispose()


class DemoTrainer(threading.Thread):
    """Runs ``centerlens train`` once per method, one after another; ``stop()`` ends the current one."""

    def __init__(self, db: str, methods: tuple[str, ...], epochs: int) -> None:
        super().__init__(name="demo-trainer", daemon=True)
        self.db, self.methods, self.epochs = db, methods, epochs
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        """Train each method; its output goes to ``train-METHOD.log`` beside the database."""
        for method in self.methods:
            if self.stopping.is_set():
                return
            command = [
                sys.executable, "-m", "centerlens.cli", "train", "--dataset", "digits", "--method", method,
                "--epochs", str(self.epochs), "--batch-size", "64", "--seed", "0", "--db", self.db,
            ]
            log = Path(self.db).parent / f"train-{method}.log"
            with log.open("wb") as output:
                self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
                self.process.wait()

    def stop(self) -> None:
        """Stop training: no further runs; the current trainer is interrupted (SIGINT: it marks the run
        cancelled and keeps its finished epochs)."""
        self.stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def main(argv: list[str]) -> int:
    """Entry point of ``centerlens demo``."""
    from backend.cli import serve
    from backend.settings import Settings

    args = demo_parser().parse_args(argv)
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    done = completed_methods(args.db)
    methods = tuple(method for method in demo_methods() if method not in done) if args.train else ()
    trainer = DemoTrainer(args.db, methods, args.epochs)
    if methods:
        print(f"centerlens demo: training {', '.join(methods)} on digits ({args.epochs} epochs each) "
              f"in the background; logs in {Path(args.db).parent}/", flush=True)
        trainer.start()
    try:
        return serve(Settings(database_url=args.db, host=args.host, port=args.port), banner="centerlens demo")
    finally:
        trainer.stop()
