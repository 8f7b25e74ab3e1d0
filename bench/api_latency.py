"""API latency benchmark: typed-array frames vs list-of-floats JSON, one large frame, 50 clients under writes.

    python bench/api_latency.py            # ~2 minutes on a shared 2-core machine

Builds a synthetic database through the store models (a finished run of 50 epochs x 5,000 probe
points with PCA frames, a 10,000-point run), serves it with a real uvicorn on 127.0.0.1 in a
subprocess (the app of ``centerlens serve`` plus one extra route that sends the same frames as
lists of floats), and prints p50/p95 latency and payload bytes. Then 50 concurrent clients (5 of
them subscribed to /api/events) read while a writer process records a new epoch every 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from backend.app import create_app
from backend.arrays import decode_typed
from backend.deps import RunDep, SessionDep
from backend.frames import run_frames
from backend.settings import Settings
from store import (
    ClassEpoch,
    EmbeddingSnapshot,
    Epoch,
    ProbeSample,
    Projection,
    Run,
    create_db_engine,
    session_factory,
    upgrade_database,
)

CLASSES, FEATURES = 10, 64
METRICS = ("train_loss", "train_accuracy", "test_top1", "test_top5", "test_nll", "test_ece",
           "within_class_variance", "between_class_variance", "variance_ratio", "nc1", "cdnv", "nc2_equinorm",
           "nc2_equiangular", "nc2_max_angle", "nc4_agreement", "learning_rate", "epoch_seconds",
           "images_per_second")


def add_run(sessions, name: str, points: int, status: str) -> int:
    """A run and its probe (labels in class order, 70-byte thumbnails)."""
    with sessions.begin() as session:
        run = Run(name=name, method="ce", dataset="synthetic", model="none", config={}, seed=0, status=status,
                  num_classes=CLASSES, class_names=[str(k) for k in range(CLASSES)], feature_dim=FEATURES,
                  probe_size=points, epochs_planned=50)
        session.add(run)
        session.flush()
        session.add_all(ProbeSample(run_id=run.id, position=i, dataset_index=i, label=i * CLASSES // points,
                                    thumbnail=b"\x89PNG" + bytes(66)) for i in range(points))
        return run.id


def add_epoch(sessions, run_id: int, epoch: int, points: int, rng: np.random.Generator) -> None:
    """One epoch as the trainer and the projector write it: metrics, per-class rows, snapshot, PCA frame."""
    labels = np.arange(points) * CLASSES // points
    layout = np.stack([np.cos(labels), np.sin(labels)], axis=1) * 5 + rng.normal(size=(points, 2)) * 3 / epoch
    with sessions.begin() as session:
        session.add(Epoch(run_id=run_id, epoch=epoch, **{name: float(rng.random()) for name in METRICS}))
        session.add_all(ClassEpoch(run_id=run_id, epoch=epoch, class_index=k, within_class_variance=1.0,
                                   center_norm=1.0, nearest_class=(k + 1) % CLASSES, nearest_distance=1.0,
                                   test_accuracy=0.9) for k in range(CLASSES))
        session.add(EmbeddingSnapshot(
            run_id=run_id, epoch=epoch, probe_features=rng.normal(size=(points, FEATURES)).astype(np.float16),
            probe_predictions=labels.astype(np.int16),
            probe_confidences=rng.random(points).astype(np.float32),
            class_centers=rng.normal(size=(CLASSES, FEATURES)).astype(np.float32),
            center_distances=rng.random((CLASSES, CLASSES)).astype(np.float32), method_centers=None))
        session.add(Projection(run_id=run_id, epoch=epoch, projection="pca", points=layout.astype(np.float32),
                               centers=rng.normal(size=(CLASSES, 2)).astype(np.float32), trustworthiness=0.9))


def build_database(path: Path, epochs: int, points: int) -> tuple[int, int]:
    """The finished run (epochs x points) and a 3-epoch run of 2 x points; returns their ids."""
    engine = create_db_engine(path)
    upgrade_database(engine)
    sessions = session_factory(engine)
    rng = np.random.default_rng(0)
    run_id = add_run(sessions, "long", points, "completed")
    for epoch in range(1, epochs + 1):
        add_epoch(sessions, run_id, epoch, points, rng)
    big_id = add_run(sessions, "big", 2 * points, "completed")
    for epoch in range(1, 4):
        add_epoch(sessions, big_id, epoch, 2 * points, rng)
    engine.dispose()
    return run_id, big_id


ARRAYS = {"points", "centers", "predictions", "confidences"}


def frames_as_floats(run: RunDep, session: SessionDep) -> dict:
    """The frames response with every array as nested lists of numbers (what typed arrays replace)."""
    frames = run_frames(session, run.id, "pca")
    body = frames.model_dump(exclude={"frames"})
    body["frames"] = []
    for frame in frames.frames:
        lists = {name: decode_typed(getattr(frame, name)).tolist() for name in ARRAYS}
        body["frames"].append({**frame.model_dump(exclude=ARRAYS), **lists})
    return body


def serve(db: str, port: int) -> None:
    """The server process: ``centerlens serve``'s app plus a list-of-floats twin of the frames route."""
    app = create_app(Settings(database_url=db))
    app.get("/bench/frames-as-floats/{run_id}")(frames_as_floats)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def timed_gets(client: httpx.Client, path: str, count: int, encoding: str) -> tuple[list[float], int]:
    """Latencies (ms) of ``count`` sequential GETs, and the body size on the wire."""
    latencies, size = [], 0
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(path, headers={"Accept-Encoding": encoding})
        size = len(response.read()) if encoding == "identity" else response.num_bytes_downloaded
        latencies.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return latencies, size


def describe(latencies: list[float]) -> str:
    """p50 and p95 in milliseconds."""
    ordered = sorted(latencies)
    return f"p50 {statistics.median(ordered):7.1f} ms  p95 {ordered[int(0.95 * (len(ordered) - 1))]:7.1f} ms"


def writer(db: str, run_id: int, points: int, seconds: float, written) -> None:  # noqa: ANN001
    """A trainer stand-in in its own process: the running run gains an epoch every 0.5 s for ``seconds``."""
    engine = create_db_engine(db)
    sessions, rng = session_factory(engine), np.random.default_rng(1)
    until = time.monotonic() + seconds
    time.sleep(1)  # let the event subscribers connect first
    while time.monotonic() < until:
        add_epoch(sessions, run_id, written.value + 1, points, rng)
        written.value += 1
        time.sleep(0.5)
    engine.dispose()


async def _reader(client: httpx.AsyncClient, paths: list[str], until: float, stats: dict) -> None:
    while time.monotonic() < until:
        for path in paths:
            start = time.perf_counter()
            try:
                response = await client.get(path)
                ok = response.status_code < 400 or (response.status_code == 404 and "/frames" in path)
            except httpx.HTTPError:
                ok = False
            stats["latencies"].append((time.perf_counter() - start) * 1000)
            stats["errors"] += not ok


async def _subscriber(client: httpx.AsyncClient, until: float, stats: dict) -> None:
    try:
        deadline = asyncio.timeout(until - time.monotonic() + 2)
        async with deadline, client.stream("GET", "/api/events") as stream:
            async for line in stream.aiter_lines():
                stats["epoch_events"] += line == "event: epoch"
    except TimeoutError:
        return
    except httpx.HTTPError:
        stats["errors"] += 1


async def load(base: str, finished: int, running: int, clients: int, seconds: float) -> dict:
    """``clients`` concurrent clients (a tenth of them event subscribers) for ``seconds``."""
    stats = {"latencies": [], "errors": 0, "epoch_events": 0}
    paths = ["/api/runs", f"/api/runs/{finished}/frames/7", f"/api/runs/{finished}/epochs",
             f"/api/runs/{running}/epochs", f"/api/runs/{running}/frames/1", f"/api/runs/{running}/classes",
             "/api/health"]
    until = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        subscribers = max(1, clients // 10)
        tasks = [_subscriber(client, until, stats) for _ in range(subscribers)]
        readers = clients - subscribers
        tasks += [_reader(client, paths[i % 3:] + paths[:i % 3], until, stats) for i in range(readers)]
        await asyncio.gather(*tasks)
    return stats


def measure_encodings(client: httpx.Client, run_id: int, epochs: int, requests: int) -> None:
    """All frames of a run as served (typed arrays) and as lists of floats, identity and gzip."""
    print(f"\nall {epochs} frames of one run ({requests} sequential requests each):")
    path = f"/api/runs/{run_id}/frames?projection=pca"
    typed_latencies, typed_size = timed_gets(client, path, requests, "gzip")
    print(f"  typed arrays (served uncompressed)  {describe(typed_latencies)}  {typed_size / 1e6:6.2f} MB")
    body = client.get(path).content
    start = time.perf_counter()
    compressed = len(gzip.compress(body, compresslevel=6))
    print(f"    (gzip -6 would make it {compressed / 1e6:.2f} MB, {1 - compressed / len(body):.0%} less, "
          f"for {(time.perf_counter() - start) * 1000:.0f} ms of server CPU per answer)")
    for encoding in ("identity", "gzip"):
        latencies, size = timed_gets(client, f"/bench/frames-as-floats/{run_id}", requests, encoding)
        print(f"  list of floats, {encoding:8}            {describe(latencies)}  {size / 1e6:6.2f} MB "
              f"({size / typed_size:.1f}x the typed arrays)")


def measure_load(db: Path, base: str, finished: int, points: int, clients: int, seconds: float) -> None:
    """Concurrent readers and event subscribers while a writer process adds epochs to a running run."""
    engine = create_db_engine(db)
    running = add_run(session_factory(engine), "running", points, "running")
    engine.dispose()
    written = multiprocessing.Value("i", 0)
    process = multiprocessing.Process(target=writer, args=(str(db), running, points, seconds, written))
    process.start()
    stats = asyncio.run(load(base, finished, running, clients, seconds))
    process.join()
    subscribers = max(1, clients // 10)
    print(f"\n{clients} concurrent clients for {seconds:.0f} s while a writer adds epochs ({written.value} "
          f"written): {len(stats['latencies'])} requests, {stats['errors']} errors, "
          f"{describe(stats['latencies'])}; {stats['epoch_events']} of {written.value * subscribers} epoch "
          f"events received by {subscribers} subscribers")


def wait_until_up(client: httpx.Client) -> None:
    """Poll /api/health until the server answers."""
    while True:
        try:
            client.get("/api/health").raise_for_status()
            return
        except httpx.TransportError:
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    """Build, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=10, help="sequential requests per all-frames figure")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--load-seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    db = Path(tempfile.mkdtemp(prefix="centerlens-bench-")) / "bench.db"
    start = time.perf_counter()
    run_id, big_id = build_database(db, args.epochs, args.points)
    print(f"database: {args.epochs} epochs x {args.points} points (+ a {2 * args.points}-point run) "
          f"built in {time.perf_counter() - start:.1f} s, {db.stat().st_size / 1e6:.0f} MB")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(db), "--port", str(args.port)])
    base = f"http://127.0.0.1:{args.port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            wait_until_up(client)
            measure_encodings(client, run_id, args.epochs, args.requests)
            one_frame = f"/api/runs/{big_id}/frames/2?projection=pca"
            latencies, size = timed_gets(client, one_frame, 10 * args.requests, "gzip")
            print(f"\none {2 * args.points}-point frame ({10 * args.requests} requests):  "
                  f"{describe(latencies)}  {size / 1e3:.0f} kB")
        measure_load(db, base, run_id, args.points, args.clients, args.load_seconds)
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
