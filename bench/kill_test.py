"""Kill test: SIGKILL `centerlens train` at random moments of a digits run, resume it, check nothing is lost.

    python bench/kill_test.py                        # SQLite, 20 kills: 8-16 minutes on 2 shared cores
    python bench/kill_test.py --db-url postgresql+psycopg2://USER:PASSWORD@127.0.0.1:5432/postgres

Each kill aims at one phase of the trainer: start-up, training, late in the epoch (evaluation),
checkpointing (the moment ``run-1.pt.tmp`` appears) or recording (the moment ``run-1.pt`` is
replaced, before the epoch's transaction commits); apart from start-up kills, a process first
finishes 0 or 1 epochs, so most kills land after the first epoch. After each kill the bench notes
where it landed and checks the database holds whole epochs 1..k; then it resumes with
``centerlens train --resume 1``. At the end the run must be completed with exactly epochs 1..N,
each with its snapshot and per-class rows, the SQLite file must pass ``PRAGMA integrity_check``,
and (``--compare``) every epoch's figures must equal those of an uninterrupted run.
With ``--db-url`` the run goes into a fresh PostgreSQL database on that server, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store import ClassEpoch, EmbeddingSnapshot, Epoch, Run, create_db_engine  # noqa: E402

PHASES = {"start-up": 0.15, "training": 0.35, "evaluation": 0.15, "checkpointing": 0.15, "recording": 0.2}
EPOCHS_OF_RUN = select(Epoch.epoch).where(Epoch.run_id == 1).order_by(Epoch.epoch)
CLASS_ROWS_OF_RUN = (
    select(ClassEpoch.epoch, func.count()).where(ClassEpoch.run_id == 1).group_by(ClassEpoch.epoch)
)
SNAPSHOTS_OF_RUN = select(EmbeddingSnapshot.epoch).where(EmbeddingSnapshot.run_id == 1)
COMPARED = ("train_loss", "train_accuracy", "test_top1", "test_nll", "within_class_variance", "nc1")


@contextmanager
def scratch_database(server_url: str | None, folder: Path) -> Iterator[str]:
    """A new empty database: a SQLite file in ``folder``, or a fresh database on a PostgreSQL server."""
    if not server_url:
        yield str(folder / "centerlens.db")
        return
    name = f"centerlens_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Centerlens:
    """A ``centerlens`` subprocess whose output lines a reader thread timestamps as they arrive."""

    def __init__(self, *args: str) -> None:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "centerlens.cli", *args], cwd=ROOT, env=environment,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.arrived = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.arrived:
                self.lines.append((time.monotonic(), line.rstrip()))
                self.arrived.notify_all()
        with self.arrived:
            self.arrived.notify_all()

    def line_times(self, prefix: str) -> list[float]:
        """Arrival times of the lines that start with ``prefix``."""
        with self.arrived:
            return [moment for moment, line in self.lines if line.startswith(prefix)]

    def wait_for_line(self, prefix: str, count: int, timeout: float) -> float | None:
        """The arrival time of the ``count``-th line starting with ``prefix`` (None if it never came)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                times = [moment for moment, line in self.lines if line.startswith(prefix)]
                if len(times) >= count:
                    return times[count - 1]
                if not self.reader.is_alive() or time.monotonic() > deadline:
                    return None
                self.arrived.wait(0.1)

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the process exits meanwhile."""
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll ``condition`` every millisecond while the process lives; True once it holds."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.001)
        return False

    def kill(self) -> bool:
        """SIGKILL the process; False when it had already exited."""
        if self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return True

    def finish(self, timeout: float = 900) -> str:
        """Wait for the process to exit by itself; returns its output."""
        self.process.wait(timeout=timeout)
        self.reader.join()
        return "\n".join(line for _, line in self.lines)


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(inode, mtime) of a file, None when it is absent."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns


class Timings:
    """Running estimates of the trainer's start-up and epoch durations."""

    def __init__(self) -> None:
        self.startups, self.epochs = [4.0], [2.0]

    def learn(self, trainer: Centerlens) -> None:
        """Add what the last process showed: time to its run line and between its epoch lines."""
        run_lines = trainer.line_times("run ")
        if run_lines:
            self.startups.append(run_lines[0] - trainer.started)
            marks = run_lines[:1] + trainer.line_times("epoch ")
            self.epochs += [later - earlier for earlier, later in zip(marks, marks[1:])]

    @property
    def startup(self) -> float:
        return statistics.median(self.startups)

    @property
    def epoch(self) -> float:
        return statistics.median(self.epochs)


def kill_in_phase(trainer: Centerlens, phase: str, warm_epochs: int, checkpoint: Path, timings: Timings,
                  rng: random.Random) -> bool:
    """Wait for ``phase`` (after ``warm_epochs`` epoch lines, except start-up), then SIGKILL."""
    if phase == "start-up":
        trainer.pause(rng.uniform(0.2, timings.startup))
        return trainer.kill()
    patience = 10 * (timings.startup + (warm_epochs + 1) * timings.epoch)
    marker = trainer.wait_for_line("run ", 1, patience)
    if marker is not None and warm_epochs:
        marker = trainer.wait_for_line("epoch ", warm_epochs, patience)
    if marker is None:
        return trainer.kill()
    if phase == "training":
        trainer.pause(rng.uniform(0.05, 0.8) * timings.epoch)
    elif phase == "evaluation":
        trainer.pause(rng.uniform(0.85, 1.0) * timings.epoch)
    else:
        temporary = checkpoint.with_name(checkpoint.name + ".tmp")
        temporary_before, checkpoint_before = file_stamp(temporary), file_stamp(checkpoint)

        def reached() -> bool:
            if phase == "checkpointing" and file_stamp(temporary) not in (None, temporary_before):
                return True
            # recording: the checkpoint is in place, the epoch's transaction comes next
            # (also where a checkpoint written faster than the polling lands)
            return file_stamp(checkpoint) != checkpoint_before

        trainer.wait_until(reached, patience)
    return trainer.kill()


def _run_rows(url: str) -> tuple[int | None, list[int], dict[int, int], set[int], str]:
    """Run 1's class count (None without a run), epochs, per-class row counts, snapshot epochs, integrity."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            has_runs = inspect(connection).has_table("runs")
            classes = connection.scalar(select(Run.num_classes).where(Run.id == 1)) if has_runs else None
            if classes is None:
                return None, [], {}, set(), "ok"
            epochs = list(connection.scalars(EPOCHS_OF_RUN))
            per_class = dict(connection.execute(CLASS_ROWS_OF_RUN).all())
            snapshots = set(connection.scalars(SNAPSHOTS_OF_RUN))
            sqlite = engine.dialect.name == "sqlite"
            integrity = connection.execute(text("PRAGMA integrity_check")).scalar() if sqlite else "ok"
    finally:
        engine.dispose()
    return classes, epochs, per_class, snapshots, integrity


def recorded_epochs(url: str) -> tuple[bool, list[int], list[str]]:
    """Whether run 1 exists, its epoch numbers in order, and problems: epochs not whole, gaps, repeats."""
    classes, epochs, per_class, snapshots, integrity = _run_rows(url)
    problems = [] if integrity == "ok" else [f"integrity check: {integrity}"]
    if epochs != list(range(1, len(epochs) + 1)):
        problems.append(f"epochs are not 1..{len(epochs)} once each: {epochs}")
    problems += [f"epoch {k} has {per_class.get(k, 0)} per-class rows"
                 for k in epochs if per_class.get(k) != classes]
    problems += [f"epoch {k} has no snapshot" for k in epochs if k not in snapshots]
    problems += [f"rows of unrecorded epoch {k}" for k in set(per_class) | snapshots if k not in epochs]
    return classes is not None, epochs, problems


def landing(trainer: Centerlens, url: str, checkpoint: Path, temporary_before: tuple | None) -> str:
    """Where a kill landed, as far as the process's output, the files and the database tell."""
    import torch

    exists, epochs, _ = recorded_epochs(url)
    temporary = file_stamp(checkpoint.with_name(checkpoint.name + ".tmp"))
    if not exists or not trainer.line_times("run "):
        return "start-up"
    if temporary not in (None, temporary_before):
        return "checkpointing (.tmp left)"
    if checkpoint.exists() and torch.load(checkpoint, weights_only=False)["epochs_done"] > len(epochs):
        return "recording (checkpoint ahead of database)"
    return "training or evaluation"


def final_figures(url: str) -> dict[int, tuple[float, ...]]:
    """The compared figures of every epoch of run 1."""
    engine = create_db_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Epoch.epoch, *(getattr(Epoch, name) for name in COMPARED)).where(Epoch.run_id == 1)
        ).all()
    engine.dispose()
    return {row[0]: tuple(row[1:]) for row in rows}


def compare_with_uninterrupted(url: str, train_args: list[str], folder: Path) -> tuple[str, bool]:
    """Train the same run without kills into a SQLite file; how far the killed run's figures differ,
    and whether they are identical."""
    clean = str(folder / "uninterrupted.db")
    args = [arg if arg != url else clean for arg in train_args]
    args[args.index("--checkpoint-dir") + 1] = str(folder / "uninterrupted-checkpoints")
    Centerlens(*args).finish()
    killed, uninterrupted = final_figures(url), final_figures(clean)
    if killed.keys() != uninterrupted.keys():
        return f"different epochs: {sorted(killed)} vs {sorted(uninterrupted)}", False
    differences = [abs(a - b) for k in killed for a, b in zip(killed[k], uninterrupted[k]) if a is not None]
    differing = sum(any(a != b for a, b in zip(killed[k], uninterrupted[k])) for k in killed)
    message = (f"{len(killed) - differing} of {len(killed)} epochs identical to an uninterrupted run "
               f"(largest difference {max(differences, default=0.0):.2e} over {', '.join(COMPARED)})")
    return message, differing == 0


def kill_repeatedly(
    url: str, train_args: list[str], checkpoint: Path, args: argparse.Namespace
) -> tuple[int, Counter, list[str]]:
    """Run the kill cycles; returns (kills survived, where they landed, anomalies)."""
    rng, timings = random.Random(args.seed), Timings()
    survived, landed, anomalies = 0, Counter(), []
    for number in range(1, args.kills + 1):
        exists, epochs, _ = recorded_epochs(url) if number > 1 else (False, [], [])
        trainer = Centerlens(*(["train", "--resume", "1", "--db", url] if exists else train_args))
        phase = rng.choices(list(PHASES), weights=list(PHASES.values()))[0]
        warm_epochs = min(rng.randint(0, 1), max(args.epochs - len(epochs) - 2, 0))
        temporary_before = file_stamp(checkpoint.with_name(checkpoint.name + ".tmp"))
        if not kill_in_phase(trainer, phase, warm_epochs, checkpoint, timings, rng):
            output = trainer.finish()
            if trainer.process.returncode == 0:
                print(f"kill {number}: the run finished before it (every epoch done)")
                break
            anomalies.append(f"kill {number}: trainer exited {trainer.process.returncode}: {output[-500:]}")
            continue
        trainer.reader.join()
        timings.learn(trainer)
        survived += 1
        where = landing(trainer, url, checkpoint, temporary_before)
        landed[where] += 1
        _, epochs, problems = recorded_epochs(url)
        anomalies += [f"after kill {number}: {problem}" for problem in problems]
        print(f"kill {number:2d}: aimed at {phase:13} landed in {where:41} epochs in database: {len(epochs)}")
    return survived, landed, anomalies


def finish_and_check(url: str, train_args: list[str], epochs: int) -> list[str]:
    """Let the run finish (resuming it, or from scratch if no run row survived); the final anomalies."""
    exists, _, _ = recorded_epochs(url)
    last = Centerlens(*(["train", "--resume", "1", "--db", url] if exists else train_args))
    output = last.finish()
    code = last.process.returncode
    anomalies = [f"final run exited {code}: {output[-500:]}"] if code else []
    _, recorded, problems = recorded_epochs(url)
    anomalies += problems
    if recorded != list(range(1, epochs + 1)):
        anomalies.append(f"{len(recorded)} epochs recorded, {epochs} planned")
    engine = create_db_engine(url)
    with engine.connect() as connection:
        status = connection.execute(select(Run.status, Run.error).where(Run.id == 1)).first()
    engine.dispose()
    if status is None or status[0] != "completed":
        anomalies.append(f"run status and error: {status}")
    return [f"final: {anomaly}" for anomaly in anomalies]


def measure(args: argparse.Namespace, folder: Path) -> tuple[int, Counter, list[str], list[str], str]:
    """Kill, resume, finish, compare: (kills survived, landings, anomalies, final anomalies, comparison)."""
    with scratch_database(args.db_url, folder) as url:
        checkpoints = folder / "checkpoints"
        train_args = ["train", "--dataset", "digits", "--epochs", str(args.epochs), "--batch-size", "32",
                      "--probe-per-class", "5", "--checkpoint-dir", str(checkpoints), "--db", url]
        survived, landed, anomalies = kill_repeatedly(url, train_args, checkpoints / "run-1.pt", args)
        final = finish_and_check(url, train_args, args.epochs)
        if not args.compare:
            return survived, landed, anomalies, final, "not compared"
        comparison, identical = compare_with_uninterrupted(url, train_args, folder)
    if not identical:
        anomalies.append(f"records differ from an uninterrupted run: {comparison}")
    return survived, landed, anomalies, final, comparison


def main(argv: list[str] | None = None) -> int:
    """Kill, resume, check, print the figures; exit 1 on any anomaly."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the digits run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill schedule")
    parser.add_argument("--db-url", help="PostgreSQL server URL (a fresh database is created there)")
    parser.add_argument("--compare", action=argparse.BooleanOptionalAction, default=True,
                        help="also train the run uninterrupted and compare every epoch's figures")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="centerlens-kill-") as folder:
        survived, landed, anomalies, final, comparison = measure(args, Path(folder))
    database = "PostgreSQL" if args.db_url else "SQLite (PRAGMA integrity_check after every kill)"
    print(f"\n{database}, digits, {args.epochs} epochs: kills survived {survived} of {args.kills} "
          f"in {time.monotonic() - started:.0f} s")
    print("landed: " + ", ".join(f"{where} {count}" for where, count in landed.most_common()))
    print(f"final database: completed, epochs 1..{args.epochs} once each with snapshots and per-class rows"
          f"{', integrity_check ok' if not args.db_url else ''}: {'NO' if final else 'yes'}")
    print(f"records: {comparison}")
    anomalies += final
    print(f"anomalies: {len(anomalies)}", *anomalies, sep="\n  ")
    return 1 if anomalies else 0


if __name__ == "__main__":
    sys.exit(main())
