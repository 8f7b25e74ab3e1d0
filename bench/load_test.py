"""Load test: concurrent HTTP clients read a live `centerlens serve` while a real `centerlens train` writes.

    python bench/load_test.py                 # SQLite, 50 clients for 60 s, ~2-3 minutes in all
    python bench/load_test.py --db-url postgresql+psycopg2://USER:PASSWORD@127.0.0.1:5432/postgres

Starts ``centerlens train`` (digits, many epochs) on a fresh database, then ``centerlens serve``
(API, dashboard and projector, as a user runs it) on 127.0.0.1 only, waits for the run's first
PCA frame, and lets ``--clients`` clients read for ``--seconds``: each cycles through the run
list, the run's metric series and class tables, all its frames, and one frame it saw listed.
Every 5xx, unexpected 4xx, connection error, timeout or answer mentioning "database is locked"
is an error, and so is a traceback or "database is locked" in the server's or trainer's output.
Prints requests served, errors, p50/p95/p99 per endpoint and what was written meanwhile; exit 1
on any error. ``--db-url`` uses a fresh PostgreSQL database on that server, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, inspect, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kill_test import Centerlens, scratch_database  # noqa: E402
from store import Epoch, Projection, create_db_engine  # noqa: E402

HOST = "127.0.0.1"  # loopback only: the load never leaves the machine
ENDPOINTS = ("runs", "epochs", "classes", "frames", "frame")
LOG_ERRORS = ("Traceback", "database is locked")
EPOCH_COUNT = select(func.count()).select_from(Epoch).where(Epoch.run_id == 1)
FRAME_COUNT = select(func.count()).select_from(Projection).where(Projection.run_id == 1)


@dataclass
class LoadStats:
    """Latencies per endpoint, errors by kind and a few examples."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def error(self, kind: str, example: str) -> None:
        """Count one error (and keep its first few descriptions)."""
        self.errors[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(example[:300])


def path_of(endpoint: str, listed_epochs: list[int], rng: random.Random) -> str:
    """The URL path of ``endpoint`` for run 1 (``frame``: an epoch the client saw listed)."""
    return {
        "runs": "/api/runs",
        "epochs": "/api/runs/1/epochs",
        "classes": "/api/runs/1/classes",
        "frames": "/api/runs/1/frames?projection=pca",
        "frame": f"/api/runs/1/frames/{rng.choice(listed_epochs)}?projection=pca",
    }[endpoint]


class Reader:
    """One client on its own keep-alive connection: the endpoints in its own order, again and again."""

    def __init__(self, base: str, stats: LoadStats, rng: random.Random) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.client = httpx.AsyncClient(base_url=base, timeout=60, limits=limits)
        self.stats, self.rng = stats, rng
        self.listed_epochs = [1]
        self.last_answer = time.perf_counter()

    async def run(self, until: float) -> None:
        """Read until the monotonic clock passes ``until``."""
        order = self.rng.sample(ENDPOINTS, len(ENDPOINTS))
        async with self.client:
            while time.monotonic() < until:
                for endpoint in order:
                    await self.get(endpoint)

    async def get(self, endpoint: str) -> None:
        """GET the endpoint, record its latency; errors are counted with how long the connection idled."""
        path = path_of(endpoint, self.listed_epochs, self.rng)
        started = time.perf_counter()
        idle = started - self.last_answer
        try:
            response = await self.client.get(path)
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as error:
            kind = type(error).__name__
            self.stats.error(kind, f"{path}: {kind}: {error} (after {idle:.1f} s idle on its connection)")
            return
        finally:
            self.last_answer = time.perf_counter()
        self.stats.latencies[endpoint].append((self.last_answer - started) * 1000)
        answer = f"{path}: {response.status_code} {response.text}"
        if "database is locked" in response.text[:10_000]:
            self.stats.error("database is locked", answer)
        elif response.status_code != 200:
            self.stats.error(f"HTTP {response.status_code}", answer)
        elif endpoint == "frames" and body["epochs"]:
            self.listed_epochs = body["epochs"]


async def load(base: str, clients: int, seconds: float, seed: int) -> LoadStats:
    """``clients`` concurrent readers, each on its own connection, for ``seconds``."""
    stats, until = LoadStats(), time.monotonic() + seconds
    readers = [Reader(base, stats, random.Random(seed + i)) for i in range(clients)]
    await asyncio.gather(*(reader.run(until) for reader in readers))
    return stats


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def written(url: str) -> tuple[int, int]:
    """Epochs and frames of run 1 in the database (0, 0 before the schema exists)."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("projections"):
                return 0, 0
            return connection.scalar(EPOCH_COUNT), connection.scalar(FRAME_COUNT)
    finally:
        engine.dispose()


def wait_for(what: str, ready, processes: list[Centerlens], timeout: float = 300) -> None:  # noqa: ANN001
    """Poll ``ready()`` until true; fail if a process exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not ready():
        exited = [process for process in processes if process.process.poll() is not None]
        if exited or time.monotonic() > deadline:
            output = exited[0].finish() if exited else ""
            raise RuntimeError(f"gave up waiting for {what}: {output[-1000:]}")
        time.sleep(0.5)


def has_frame(base: str) -> bool:
    """True once the server lists a PCA frame of run 1."""
    try:
        response = httpx.get(f"{base}/api/runs/1/frames?projection=pca", timeout=10)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and bool(response.json()["epochs"])


def percentile_table(stats: LoadStats) -> list[str]:
    """One line per endpoint: requests, p50, p95, p99 (ms)."""
    rows = {endpoint: stats.latencies[endpoint] for endpoint in ENDPOINTS}
    rows["all"] = [latency for latencies in rows.values() for latency in latencies]
    lines = [f"  {'endpoint':10} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for endpoint, values in rows.items():
        cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [0.0] * 99
        lines.append(f"  {endpoint:10} {len(values):8d} {cuts[49]:8.0f} {cuts[94]:8.0f} {cuts[98]:8.0f}")
    return lines


def log_errors(name: str, output: str) -> list[str]:
    """Lines of a process's output that show a failure."""
    return [f"{name}: {line}" for line in output.splitlines() if any(mark in line for mark in LOG_ERRORS)]


def stop(processes: dict[str, Centerlens]) -> list[str]:
    """Stop the trainer (Ctrl-C: it cancels its run) and the server (SIGTERM); failures in their output."""
    problems = []
    for name, process in processes.items():
        if process.process.poll() is None:
            process.process.send_signal(signal.SIGINT if name == "trainer" else signal.SIGTERM)
        problems += log_errors(name, process.finish(timeout=120))
    return problems


def measure(url: str, port: int, folder: Path, args: argparse.Namespace) -> tuple[LoadStats, list[str], str]:
    """Start trainer and server, run the load; the stats, failures seen in outputs, what was written."""
    trainer = Centerlens("train", "--dataset", "digits", "--epochs", "1000", "--batch-size", "64",
                         "--checkpoint-dir", str(folder / "checkpoints"), "--db", url)
    processes, base = {"trainer": trainer}, f"http://{HOST}:{port}"
    try:
        wait_for("the first epoch", lambda: written(url)[0] >= 1, [trainer])
        processes["server"] = Centerlens("serve", "--db", url, "--host", HOST, "--port", str(port))
        wait_for("the first PCA frame", lambda: has_frame(base), list(processes.values()))
        before = written(url)
        stats = asyncio.run(load(base, args.clients, args.seconds, args.seed))
        after = written(url)
        exited = [name for name, process in processes.items() if process.process.poll() is not None]
    finally:
        problems = stop(processes)
    problems += [f"{name} exited during the load" for name in exited]
    epochs, frames = after[0] - before[0], after[1] - before[1]
    meanwhile = f"the trainer wrote {epochs} epochs, the projector {frames} frames"
    return stats, problems, meanwhile


def main(argv: list[str] | None = None) -> int:
    """Train, serve, load, stop, print the figures; exit 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db-url", help="PostgreSQL server URL (a fresh database is created there)")
    args = parser.parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="centerlens-load-") as folder:
        with scratch_database(args.db_url, Path(folder)) as url:
            stats, logged, meanwhile = measure(url, port, Path(folder), args)
    requests = sum(len(values) for values in stats.latencies.values()) + sum(stats.errors.values())
    errors = sum(stats.errors.values()) + len(logged)
    database = "PostgreSQL" if args.db_url else "SQLite"
    print(f"{database}: {args.clients} clients for {args.seconds:.0f} s on {HOST}:{port}; {meanwhile}")
    print(f"requests served: {requests} ({requests / args.seconds:.0f}/s), errors: {errors}")
    print(*percentile_table(stats), sep="\n")
    for kind, count in stats.errors.items():
        print(f"  error {kind}: {count}")
    for example in stats.examples + logged[:5]:
        print(f"  e.g. {example}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
