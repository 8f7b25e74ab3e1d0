"""Seconds of ``Recorder.log_epoch`` at 10,000 x 512 features, 100 classes, 5,000 probe points (with logits),
on CPU and on CUDA where present; the first epoch also samples the probe and writes its rows.

Usage: python bench/recorder_overhead.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centerlens import Recorder  # noqa: E402


def measure(device: str, epochs: int, folder: str) -> list[float]:
    labels = (torch.arange(10_000) % 100).to(device)
    centers = torch.randn(100, 512, device=device) * 3
    seconds = []
    names = [str(k) for k in range(100)]
    db = str(Path(folder) / f"{device}.db")
    with Recorder(db=db, name=device, class_names=names, probe_size=5_000) as rec:
        for epoch in range(1, epochs + 1):
            features = centers[labels] + torch.randn(10_000, 512, device=device)
            logits = torch.randn(10_000, 100, device=device)
            started = time.perf_counter()
            rec.log_epoch(epoch, features=features, labels=labels, logits=logits, train_loss=1.0)
            seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs to log per device (default 3)")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as folder:
        for device in devices:
            seconds = measure(device, args.epochs, folder)
            later = seconds[1:] or seconds
            print(f"{device}: first log_epoch {seconds[0]:.3f} s (probe sampled and written), "
                  f"later epochs median {statistics.median(later):.3f} s")


if __name__ == "__main__":
    main()
