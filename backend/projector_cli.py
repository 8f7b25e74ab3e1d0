"""``centerlens project``: compute the missing 2-D frames of a database's runs, once or while watching."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from backend.projections import PROJECTIONS
from backend.projector import FrameReport, ProjectorWorker
from centerlens.argparsing import OneLineParser
from store import open_sessions
from store.engine import is_url

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def build_parser() -> OneLineParser:
    """The command's arguments."""
    parser = OneLineParser(
        prog="centerlens project",
        description=f"Compute 2-D layouts ({', '.join(PROJECTIONS)}) of every recorded epoch that has "
        "none yet, aligned across epochs, and store them in the database. Frames already computed from the "
        "same inputs are never recomputed. The dashboard (centerlens serve) runs the same worker in the "
        "background.",
        epilog="example: centerlens project --db centerlens.db --watch --projection umap",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--db", default="centerlens.db", help="database file path or SQLAlchemy URL")
    parser.add_argument("--watch", action="store_true", help="keep running; project new epochs as they land")
    names = list(PROJECTIONS)
    parser.add_argument("--projection", dest="projections", nargs="+", choices=names, default=names,
                        help="projections to compute")
    parser.add_argument("--method", dest="projections", nargs="+", choices=names, help=argparse.SUPPRESS)
    parser.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="--watch: pause, seconds")
    return parser


def print_frame(report: FrameReport) -> None:
    """One progress line per stored frame."""
    where = f"run {report.run_id} epoch {report.epoch} {report.projection}"
    if report.status == "ok":
        trust = "" if report.trustworthiness is None else f", trustworthiness {report.trustworthiness:.3f}"
        print(f"{where}: ok in {report.seconds:.2f} s{trust}", flush=True)
    else:
        print(f"{where}: failed: {report.error}", flush=True)


def _show_worker_log() -> None:
    """Print the worker's own messages (UMAP compilation, failures) on stderr, not other libraries'."""
    log = logging.getLogger("centerlens")
    if not log.handlers:
        log.addHandler(logging.StreamHandler())
        log.setLevel(logging.INFO)


def _fail(message: str) -> int:
    print(f"centerlens project: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``centerlens project``."""
    args = build_parser().parse_args(argv)
    if args.poll <= 0:
        return _fail("--poll must be a positive number of seconds")
    if not is_url(args.db) and not Path(args.db).expanduser().is_file():
        return _fail(f"database {args.db} does not exist (record a run: centerlens train --db {args.db})")
    _show_worker_log()
    try:
        worker = ProjectorWorker(open_sessions(args.db), projections=args.projections, on_frame=print_frame)
        if args.watch:
            worker.warm_up()  # imports first, so "watching" means ready
            print(f"watching {args.db} for new epochs (Ctrl-C to stop)", flush=True)
            worker.run_forever(threading.Event(), poll_seconds=args.poll)
        else:
            print(f"{worker.run_once()} frames stored in {args.db}")
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return _fail(f"cannot use database {args.db}: {reason}")
    except KeyboardInterrupt:
        print("centerlens project: interrupted; frames already stored are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
