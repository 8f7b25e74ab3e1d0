"""Training throughput per method and loader: images/s, epoch seconds, recording share, device.

On CUDA: the paper's setting, CIFAR-100 with the PreAct ResNet-18, batch 128, bf16 autocast,
channels_last (the real files from --data-dir when present, synthetic CIFAR-shaped data
otherwise), 50,000 training and 10,000 test images. On CPU: a small configuration (the digits
CNN, and ResNet-18 on a small synthetic CIFAR-100 subset) that exercises the same code paths.

    python bench/train_throughput.py [--methods ce csd cs_kd] [--epochs 3] [--compile] [--data-dir data]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import config_dataset, synthetic_cifar_bundle  # noqa: E402
from trainer.config import ConfigError, TrainConfig  # noqa: E402
from trainer.datasets import DatasetBundle, load_dataset  # noqa: E402
from trainer.loop import build_record, prepare, train_epoch, training_state  # noqa: E402


def workloads(cuda: bool, data_dir: str) -> list[tuple[str, DatasetBundle, str]]:
    """(label, dataset, model) pairs to measure on this device."""
    if cuda:
        try:
            bundle = load_dataset(TrainConfig(dataset="cifar100", data_dir=data_dir))
            label = "CIFAR-100"
        except ConfigError:
            bundle, label = synthetic_cifar_bundle(100, 50_000, 10_000), "CIFAR-100-shaped synthetic"
        return [(label, bundle, "preact_resnet18")]
    digits = load_dataset(TrainConfig())
    return [
        ("digits", digits, "small_cnn"),
        (
            "CIFAR-100-shaped synthetic (384 train / 200 test)",
            synthetic_cifar_bundle(100, 384, 200),
            "preact_resnet18",
        ),
    ]


def measure(bundle: DatasetBundle, model: str, method: str, loader: str, epochs: int, compile_model: bool):
    """Mean images/s, training seconds and recording share over ``epochs`` epochs after a warm-up."""
    config = TrainConfig(
        dataset=config_dataset(bundle),
        model=model,
        method=method,
        loader=loader,
        epochs=epochs + 1,
        batch_size=128,
        workers=min(4, os.cpu_count() or 1),
        compile=compile_model,
        probe_per_class=1,
    )
    setup = prepare(config, bundle)
    state = training_state(setup)
    rates, train_seconds, record_seconds = [], [], []
    for epoch in range(epochs + 1):
        stats = train_epoch(setup, state.optimizer, state.generator, epoch)
        started = time.perf_counter()
        build_record(setup, epoch, stats, state.optimizer.param_groups[0]["lr"])
        if epoch:  # the first epoch warms up cudnn.benchmark, compilation and caches
            rates.append(stats["images_per_second"])
            train_seconds.append(stats["epoch_seconds"])
            record_seconds.append(time.perf_counter() - started)
    train_s, record_s = sum(train_seconds) / epochs, sum(record_seconds) / epochs
    return sum(rates) / epochs, train_s, record_s / (train_s + record_s)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--methods", nargs="+", default=["ce", "csd", "cs_kd"])
    parser.add_argument("--loaders", nargs="+", default=["resident", "torchvision"])
    parser.add_argument("--epochs", type=int, default=2, help="measured epochs (after one warm-up epoch)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--data-dir", default="data", help="folder with the real CIFAR-100 files, if any")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {device}; torch {torch.__version__}; bf16 autocast: {cuda}; compile: {args.compile}")
    for label, bundle, model in workloads(cuda, args.data_dir):
        print(f"\n{label}, {model}, batch 128")
        print(f"{'method':<8} {'loader':<12} {'images/s':>10} {'epoch s':>9} {'recording':>10}")
        for method in args.methods:
            for loader in args.loaders:
                rate, seconds, share = measure(bundle, model, method, loader, args.epochs, args.compile)
                print(f"{method:<8} {loader:<12} {rate:>10.0f} {seconds:>9.2f} {share:>10.1%}")


if __name__ == "__main__":
    main()
