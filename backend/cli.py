"""``centerlens serve``: the API and dashboard under uvicorn, with the projector in a background thread."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

import uvicorn
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from backend.app import DatabaseUnavailable, create_app, open_database
from backend.settings import Settings
from centerlens.argparsing import OneLineParser, fail, port_number
from store import database_url, session_factory

EXIT_BAD_INPUT = 2
# open event streams never finish by themselves: give them this long to go, then cancel them
SHUTDOWN_GRACE_SECONDS = 2
# longer than clients keep idle connections (httpx: 5 s), so a client never reuses one being closed
KEEP_ALIVE_SECONDS = 30


def serve_parser() -> OneLineParser:
    """Flags of ``centerlens serve`` (each defaults to its ``CENTERLENS_*`` environment setting)."""
    parser = OneLineParser(
        prog="centerlens serve",
        formatter_class=argparse.HelpFormatter,
        description="Serve the HTTP API and the dashboard on a recorded database, and project new "
        "epochs to 2-D frames in the background. It never trains: its only writes queue or cancel runs "
        "for workers (with a token when it listens beyond loopback).",
    )
    parser.add_argument(
        "--db",
        dest="database_url",
        help="database file path or SQLAlchemy URL (default: CENTERLENS_DATABASE_URL or centerlens.db)",
    )
    parser.add_argument("--host", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, help="port to bind, 1 to 65535 (default: 8000)")
    parser.add_argument(
        "--no-projector",
        dest="projector",
        action="store_false",
        default=None,
        help="compute no frames here (when a `centerlens project` runs elsewhere)",
    )
    return parser


def start_projector(engine: Engine, stop: threading.Event) -> threading.Thread:
    """Run the projector worker in a daemon thread until ``stop`` is set."""
    from backend.projector import ProjectorWorker

    worker = ProjectorWorker(session_factory(engine))  # every registered projection

    def work() -> None:
        worker.warm_up()
        worker.run_forever(stop)

    thread = threading.Thread(target=work, name="projector", daemon=True)
    thread.start()
    return thread


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(settings: Settings, banner: str = "centerlens serve") -> int:
    """Open the database (exit 2 with one line if it is unusable), then serve until interrupted."""
    try:
        engine = open_database(settings.database_url, upgrade=True)
    except DatabaseUnavailable as error:
        print(f"{banner}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    app = create_app(settings, engine)
    stop = threading.Event()
    projector = start_projector(engine, stop) if settings.projector else None
    shown = make_url(database_url(settings.database_url)).render_as_string(hide_password=True)
    print(
        f"{banner}: dashboard at http://{settings.host}:{settings.port}/ (database {shown}; "
        f"projector {'on' if projector else 'off'})",
        flush=True,
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: make both a clean exit
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        stop.set()
        if projector is not None:
            projector.join(timeout=10)
    return 0


def serve_main(argv: list[str]) -> int:
    """Entry point of ``centerlens serve``."""
    args = serve_parser().parse_args(argv)
    overrides = {key: value for key, value in vars(args).items() if value is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:  # a bad CENTERLENS_* variable (the flags are checked above)
        problem = error.errors()[0]
        name = "CENTERLENS_" + "_".join(str(part) for part in problem["loc"]).upper()
        return fail("centerlens serve", f"{name}: {problem['msg']}")
    return serve(settings)
