"""Time of an epoch's training part vs its recording part (evaluation, metrics, probe, DB write).

Two settings, measured in one run on the same machine:
1. digits (the default): real epochs through the trainer; record_seconds vs epoch_seconds.
2. CIFAR-100 / ResNet-18 shape: per-image training and evaluation rates measured on a synthetic
   subset and scaled to the real split sizes (50,000 train, 10,000 test), plus the fixed per-epoch
   costs measured at full size: metrics on 10,000 x 512 features and writing a 5,000-point probe.

Usage: python bench/recording_overhead.py [--epochs 5] [--subset 512]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import config_dataset, synthetic_cifar_bundle  # noqa: E402
from store import Epoch, catalog, open_sessions  # noqa: E402
from trainer.config import TrainConfig  # noqa: E402
from trainer.loop import evaluate, prepare, train, train_epoch  # noqa: E402
from trainer.metrics import Evaluation, epoch_metrics  # noqa: E402
from trainer.recorder import EpochRecord, Recorder, config_columns  # noqa: E402


def open_store(folder: str):
    return open_sessions(Path(folder) / "bench.db")


def digits(epochs: int, folder: str) -> None:
    sessions = open_store(folder)
    config = TrainConfig(epochs=epochs, batch_size=64, db="unused")
    setup = prepare(config)
    run_id = train(setup, Recorder(sessions), log=lambda _: None)
    with sessions() as session:
        rows = session.query(Epoch).filter(Epoch.run_id == run_id).all()
    train_s = statistics.mean(r.epoch_seconds for r in rows[1:])
    record_s = statistics.mean(r.record_seconds for r in rows[1:])
    started = time.perf_counter()
    for _ in range(5):
        evaluate(setup)
    eval_s = (time.perf_counter() - started) / 5
    print(
        f"digits / small_cnn ({len(setup.bundle.train_labels)} train, {len(setup.bundle.test_labels)} test, "
        f"probe {len(setup.probe_indices)}), mean of epochs 2..{epochs}:"
    )
    print(f"  training part      {train_s * 1000:8.1f} ms")
    print(
        f"  recording part     {record_s * 1000:8.1f} ms  (test-set evaluation {eval_s * 1000:.1f} ms, "
        f"metrics + probe + write {(record_s - eval_s) * 1000:.1f} ms)"
    )
    print(
        f"  recording / epoch  {record_s / (train_s + record_s):8.1%}   "
        f"(beyond the evaluation any trainer runs: {(record_s - eval_s) / (train_s + record_s):.1%})"
    )


def cifar_shaped(subset: int, folder: str) -> None:
    bundle = synthetic_cifar_bundle(100, train_size=subset, test_size=subset)
    config = TrainConfig(
        dataset=config_dataset(bundle), model="preact_resnet18", epochs=1, batch_size=128, probe_per_class=1,
        db="unused",
    )
    setup = prepare(config, bundle)
    optimizer = torch.optim.SGD(setup.model.parameters(), lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    stats = train_epoch(setup, optimizer, generator, 0)
    train_per_image = stats["epoch_seconds"] / subset
    started = time.perf_counter()
    evaluate(setup)
    eval_per_image = (time.perf_counter() - started) / subset

    features = torch.randn(10_000, 512) + torch.randn(100, 512).repeat(100, 1) * 3
    labels = torch.arange(10_000) % 100
    logits = torch.randn(10_000, 100)
    started = time.perf_counter()
    evaluation = Evaluation(features, logits, labels, 100)
    scalars = epoch_metrics(evaluation)
    geometry = evaluation.geometry
    metrics_s = time.perf_counter() - started

    recorder = Recorder(open_store(folder))
    columns = config_columns(config.to_dict() | {"model": "preact_resnet18"})
    recorder.start_run(columns | {"num_classes": 100}, [])
    scalars |= dict.fromkeys(catalog.METRICS.names() - scalars.keys(), 0.0)
    per_class = {
        key: np.zeros(100)
        for key in ("variance", "center_norm", "nearest_class", "nearest_distance", "accuracy")
    }
    record = EpochRecord(
        1,
        scalars,
        {"ce": 0.0},
        per_class,
        features[:5000].numpy(),
        np.zeros(5000),
        np.zeros(5000),
        geometry["class_means"].numpy(),
        geometry["center_distances"].numpy(),
        None,
    )
    started = time.perf_counter()
    recorder.write_epoch(record)
    write_s = time.perf_counter() - started

    train_s, eval_s = train_per_image * 50_000, eval_per_image * 10_000
    extra = metrics_s + write_s
    print(
        f"CIFAR-100 / preact_resnet18 on {setup.device} (rates from a {subset}-image synthetic subset, "
        "scaled to 50,000 train / 10,000 test):"
    )
    print(f"  training part      {train_s:8.1f} s   ({1 / train_per_image:.0f} img/s)")
    print(f"  test evaluation    {eval_s:8.1f} s   ({1 / eval_per_image:.0f} img/s)")
    print(f"  metrics            {metrics_s * 1000:8.1f} ms  (10,000 x 512 features, 100 classes)")
    print(f"  probe + DB write   {write_s * 1000:8.1f} ms  (5,000 x 512 float16 probe, one transaction)")
    print(
        f"  recording / epoch  {(eval_s + extra) / (train_s + eval_s + extra):8.2%}   "
        f"(beyond the evaluation any trainer runs: {extra / (train_s + eval_s + extra):.2%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=5, help="digits epochs")
    parser.add_argument("--subset", type=int, default=512, help="synthetic CIFAR images used to time rates")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"cuda: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"
    )
    with tempfile.TemporaryDirectory() as folder:
        digits(args.epochs, folder)
        cifar_shaped(args.subset, folder)


if __name__ == "__main__":
    main()
