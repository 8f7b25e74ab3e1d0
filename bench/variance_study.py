"""Final test accuracy, tr(Sw)/tr(Sb) and NC1 of ce, ls, cs_kd and csd on digits, as mean ± std over seeds.

Each run goes through the real trainer (``prepare`` + ``train``) into a throw-away SQLite file,
and its last recorded epoch is read back. The metrics are those of the dashboard, computed on
the penultimate features of the whole test split (540 images).

    python bench/variance_study.py [--epochs 15] [--seeds 0 1 2] [--methods ce ls cs_kd csd] [--threads 1]

On a shared CPU, ``--threads 1`` avoids OpenMP threads waiting on each other (several times faster).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from sqlalchemy import select

from store import Epoch
from trainer.cli import open_store
from trainer.config import TrainConfig
from trainer.loop import prepare, train
from trainer.recorder import Recorder

COLUMNS = {"test_top1": "test top-1", "within_class_variance": "tr(Sw)", "variance_ratio": "tr(Sw)/tr(Sb)",
           "nc1": "NC1"}


def final_epoch(method: str, seed: int, epochs: int, folder: Path) -> Epoch:
    """Train one digits run and return its last recorded epoch."""
    db = str(folder / f"{method}-{seed}.db")
    config = TrainConfig(method=method, seed=seed, epochs=epochs, db=db)
    sessions = open_store(db)
    run_id = train(prepare(config), Recorder(sessions), log=lambda _: None)
    with sessions() as session:
        last = select(Epoch).where(Epoch.run_id == run_id).order_by(Epoch.epoch.desc()).limit(1)
        return session.scalars(last).one()


def mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=["ce", "ls", "cs_kd", "csd"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"digits, small_cnn, {args.epochs} epochs, seeds {args.seeds}, default hyper-parameters, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'method':<8}" + "".join(f"{title:>20}" for title in COLUMNS.values()))
    with tempfile.TemporaryDirectory() as folder:
        for method in args.methods:
            rows = [final_epoch(method, seed, args.epochs, Path(folder)) for seed in args.seeds]
            print(f"{method:<8}" + "".join(f"{mean_std([getattr(r, c) for r in rows]):>20}" for c in COLUMNS))
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
