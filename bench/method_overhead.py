"""Seconds per training epoch of every method relative to ``ce``, measured interleaved in one process.

Two workloads, each on the device ``auto`` picks (CUDA when present):
- ``digits``: the small CNN on the bundled digits, where per-step bookkeeping weighs most;
- ``resnet18``: the CIFAR PreAct ResNet-18 on a CIFAR-shaped subset (``bench/synthetic.py``:
  32 x 32 colour images, 10 classes; timing does not depend on what the pixels show).

Every method trains its own copy of the same initial model, built by ``trainer.loop.prepare``. A
round is one epoch of every method, interleaved step by step (ce's step 1, ls's step 1, ...,
ce's step 2, ...), so a slow moment on a shared machine hits every method alike; the first round
is warm-up and not counted. The ratio to ce is taken within each round and summarised by its
median and range over rounds. Each method's own work (its step and backward with the network
replaced by fixed outputs) is also timed in a tight loop: its excess over ce, as a share of a ce
step, is the bookkeeping overhead, measured with far less noise. On CUDA each step ends with a
synchronisation so it can be timed, which serialises kernel launches and overstates the cost of
many small operations. Goals (issue 3): csd / ce <= 1.03 with ResNet-18, <= 1.05 on digits.

    python bench/method_overhead.py [--rounds 20] [--resnet-rounds 4] [--resnet-images 128] [--threads 1]

On a shared CPU, ``--threads 1`` keeps small operations from stalling on a descheduled OpenMP thread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import config_dataset, synthetic_cifar_bundle  # noqa: E402
from trainer.config import TrainConfig  # noqa: E402
from trainer.datasets import DatasetBundle, load_dataset  # noqa: E402
from trainer.loop import Setup, prepare, train_step, training_state  # noqa: E402
from trainer.methods import METHODS  # noqa: E402


def build_runs(bundle: DatasetBundle, model: str, batch_size: int, device: str) -> dict:
    """One (setup, optimizer, batch generator) per method, all starting from the same weights."""
    runs = {}
    for name in METHODS:
        config = TrainConfig(method=name, dataset=config_dataset(bundle), model=model, batch_size=batch_size,
                             device=device)
        setup = prepare(config, bundle)
        state = training_state(setup)
        runs[name] = (setup, state.optimizer, state.generator)
    return runs


def timed_step(setup: Setup, optimizer: torch.optim.Optimizer, batch: tuple) -> None:
    """One optimisation step of ``trainer.loop``, waited for on CUDA so it can be timed."""
    train_step(setup, optimizer, *batch)
    if setup.device.type == "cuda":
        torch.cuda.synchronize(setup.device)


def interleaved_epoch(runs: dict, epoch: int) -> dict[str, float]:
    """One epoch of every method, advanced one step at a time in turn; seconds spent on each.

    A method's seconds include building its epoch's batches (CS-KD's partners, BAKE's groups)
    and fetching each batch; stepping the methods in turn exposes them to the same load.
    """
    seconds = dict.fromkeys(runs, 0.0)
    iterators = {}
    for name, (setup, _, generator) in runs.items():
        started = time.perf_counter()
        setup.model.train()
        setup.method.start_epoch(epoch)
        batches = list(setup.method.batches(setup.bundle.train_labels, setup.config.batch_size, generator))
        iterators[name] = iter(setup.train_loader.batches(batches))
        seconds[name] += time.perf_counter() - started
    active = list(runs)
    while active:
        for name in list(active):
            setup, optimizer, _ = runs[name]
            started = time.perf_counter()
            batch = next(iterators[name], None)
            if batch is None:
                active.remove(name)
                continue
            timed_step(setup, optimizer, batch)
            seconds[name] += time.perf_counter() - started
    return seconds


def measure(runs: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each method's epoch in each round, after one warm-up round."""
    epochs = [interleaved_epoch(runs, round_index) for round_index in range(rounds + 1)][1:]
    return {name: [epoch[name] for epoch in epochs] for name in runs}


class FixedOutputs(nn.Module):
    """Stands in for the model with fixed features and logits, so that only a method's own work is timed."""

    def __init__(self, model: nn.Module, images: torch.Tensor) -> None:
        super().__init__()
        with torch.no_grad():
            features, logits = model(images)
        self.features, self.logits = features.requires_grad_(), logits.requires_grad_()
        self.classifier = model.classifier

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[: len(images)], self.logits[: len(images)]


def loss_seconds(runs: dict, repeats: int = 200) -> dict[str, float]:
    """Fastest time of each method's step and backward without the network, on one batch of its own.

    Tight loops of tiny operations are far less disturbed by other load than whole epochs, so
    the difference to ce bounds a method's bookkeeping cost more precisely than the epoch ratio.
    """
    cases = {}
    for name, (setup, _, _) in runs.items():
        order = setup.method.batches(setup.bundle.train_labels, setup.config.batch_size, torch.Generator())
        images, labels, indices = next(iter(setup.train_loader.batches([next(iter(order))])))
        cases[name] = (setup, FixedOutputs(setup.model, images), images, labels, indices)
    fastest = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, (setup, stand_in, images, labels, indices) in cases.items():
            started = time.perf_counter()
            setup.method.step(stand_in, images, labels, indices).loss.backward()
            if setup.device.type == "cuda":
                torch.cuda.synchronize(setup.device)
            fastest[name] = min(fastest[name], time.perf_counter() - started)
    return fastest


def report(title: str, runs: dict, rounds: int) -> None:
    """Median seconds per epoch, the per-round ratio to ce (median, range) and the loss-only cost."""
    seconds, loss = measure(runs, rounds), loss_seconds(runs)
    ce_setup = runs["ce"][0]
    ce_steps = -(-len(ce_setup.bundle.train_labels) // ce_setup.config.batch_size)
    ce_step = statistics.median(seconds["ce"]) / ce_steps
    print(f"\n{title}: one ce step {ce_step * 1000:.1f} ms")
    print(f"{'method':<8} {'s/epoch':>9} {'ratio to ce':>12} {'range':>13} {'loss-only us':>13} "
          f"{'extra vs ce step':>17}")
    for name, values in seconds.items():
        ratios = [value / base for value, base in zip(values, seconds["ce"])]
        extra = (loss[name] - loss["ce"]) / ce_step
        print(f"{name:<8} {statistics.median(values):>9.3f} {statistics.median(ratios):>12.3f} "
              f"{min(ratios):>6.3f}-{max(ratios):.3f} {loss[name] * 1e6:>13.0f} {extra:>+16.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="counted rounds on digits")
    parser.add_argument("--resnet-rounds", type=int, default=4, help="counted rounds with ResNet-18")
    parser.add_argument("--resnet-images", type=int, default=128, help="images in the CIFAR-shaped subset")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    digits = load_dataset(TrainConfig(dataset="digits"))
    runs = build_runs(digits, "small_cnn", 128, args.device)
    print(f"device {runs['ce'][0].device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    report(f"small_cnn on digits ({len(digits.train_labels)} images, batch 128, {args.rounds} rounds)",
           runs, args.rounds)
    cifar = synthetic_cifar_bundle(num_classes=10, train_size=args.resnet_images, test_size=10)
    title = f"preact_resnet18 ({args.resnet_images} CIFAR-like images, batch 64, {args.resnet_rounds} rounds)"
    report(title, build_runs(cifar, "preact_resnet18", 64, args.device), args.resnet_rounds)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
