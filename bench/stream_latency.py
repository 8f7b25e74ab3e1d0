"""Event-stream cost: latency of ``GET /api/runs/1`` with 0 and with N open ``/api/events`` streams.

    python bench/stream_latency.py [--streams 60] [--requests 200]    # ~30 s

Builds a small synthetic database (bench/api_latency.py's builder), starts ``centerlens serve
--no-projector`` on 127.0.0.1 in a subprocess, and times sequential GETs of one run on a
keep-alive connection, first with no stream open, then with ``--streams`` subscribers (spread
over client addresses 127.0.0.2.. so the per-client cap of 8 does not refuse them; each thread
reads its stream to the end). Then it opens 10 more streams than the server allows and counts
the 503s. Prints medians and p95s in milliseconds, and the server's CPU share while idle. (Run
from an older checkout, the same script measures a server without the shared poller and caps.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_latency import build_database, wait_until_up  # noqa: E402

PER_CLIENT = 8  # CENTERLENS_MAX_EVENT_STREAMS_PER_CLIENT's default
PER_SERVER = 64  # CENTERLENS_MAX_EVENT_STREAMS' default


def timed_gets(base: str, path: str, count: int) -> list[float]:
    """Latencies (ms) of ``count`` sequential GETs on one connection."""
    latencies = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(count):
            start = time.perf_counter()
            client.get(path).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


class Streams:
    """``count`` subscribers to /api/events, each a thread on its own connection, until the server stops."""

    def __init__(self, base: str, count: int, first_address: int = 2) -> None:
        self.statuses: list[int] = []
        self.opened = threading.Semaphore(0)
        addresses = [f"127.0.0.{first_address + n // PER_CLIENT}" for n in range(count)]
        self.threads = [threading.Thread(target=self.listen, args=(base, address), daemon=True)
                        for address in addresses]
        for thread in self.threads:
            thread.start()
        for _ in addresses:
            self.opened.acquire(timeout=60)

    def listen(self, base: str, address: str) -> None:
        """Hold one stream open, reading whatever comes, until the server goes away."""
        transport = httpx.HTTPTransport(local_address=address)
        try:
            timeout = httpx.Timeout(60, read=None)
            with httpx.Client(base_url=base, timeout=timeout, transport=transport) as client:
                with client.stream("GET", "/api/events") as response:
                    self.statuses.append(response.status_code)
                    self.opened.release()
                    for _ in response.iter_raw():
                        pass
        except httpx.HTTPError:
            if len(self.statuses) < len(self.threads):
                self.statuses.append(0)
                self.opened.release()


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core that process ``pid`` used over the next ``seconds`` (Linux /proc)."""
    def cpu_seconds() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    start = cpu_seconds()
    time.sleep(seconds)
    return (cpu_seconds() - start) / seconds


def describe(latencies: list[float]) -> str:
    """Median and p95 in milliseconds."""
    p95 = statistics.quantiles(latencies, n=20)[-1]
    return f"median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    """Build, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=60)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="centerlens-streams-"))
    db = folder / "bench.db"
    build_database(db, epochs=5, points=500)
    server = subprocess.Popen([sys.executable, "-m", "centerlens.cli", "serve", "--db", str(db), "--port",
                               str(args.port), "--no-projector"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # uvicorn reports the streams it cancels on exit
    base = f"http://127.0.0.1:{args.port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            wait_until_up(client)
        timed_gets(base, "/api/runs/1", 20)  # warm up
        print(f"GET /api/runs/1, {args.requests} sequential requests; server CPU over 5 idle seconds:")
        idle = cpu_share(server.pid, 5)
        latencies = timed_gets(base, "/api/runs/1", args.requests)
        print(f"  0 open streams:  {describe(latencies)}; CPU {idle:.1%}")
        streams = Streams(base, args.streams)
        busy = cpu_share(server.pid, 5)
        latencies = timed_gets(base, "/api/runs/1", args.requests)
        opened = streams.statuses.count(200)
        print(f"  {opened} open streams: {describe(latencies)}; CPU {busy:.1%}")
        extra = Streams(base, PER_SERVER + 10 - opened, first_address=3 + args.streams // PER_CLIENT)
        print(f"  {len(extra.statuses)} more streams asked for: {extra.statuses.count(200)} opened, "
              f"{extra.statuses.count(503)} refused with 503")
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
