"""Seconds per frame of the projector's PCA and aligned UMAP, beside umap-learn's AlignedUMAP and
independent UMAP per epoch, on synthetic 512-D probe features of a run whose classes tighten.

    .venv/bin/python bench/projection_speed.py             # 1,000 / 2,000 / 5,000 points, 3 epochs
    .venv/bin/python bench/projection_speed.py --quick     # 1,000 points, 3 epochs (about a minute)
    .venv/bin/python bench/projection_speed.py --sizes 2000 --epochs 6

Every method runs single-threaded with a fixed seed, BLAS included (as the projector worker
does), after a warm-up that pays numba's compilation of every path measured. "first s" is the
first frame (UMAP: cold start); "s/frame" the mean of the later frames (ours: warm-started;
AlignedUMAP fits all frames at once, so its total divided by the frame count). "as stored" rows
time all the worker does per frame, trustworthiness and center placement included; the
umap-learn rows are the bare fit. Trustworthiness is the projector's (k = 10 on a fixed
1,000-point subsample); "residual" is the mean Procrustes residual between consecutive frames
(0: the frames differ only by rotation, scale and translation).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

from backend.projections import DEFAULT_SETTINGS, Frame, fit_similarity, frame_trustworthiness, get_projection
from backend.projections.pca import fit_pca

CLASSES = 10


@dataclass
class Result:
    """One method at one size."""

    method: str
    points: int
    first_seconds: float
    frame_seconds: float
    trustworthiness: float
    residual: float


def run_features(points: int, dims: int, epochs: int, seed: int = 0) -> list[np.ndarray]:
    """Features of ``epochs`` epochs: fixed per-sample offsets around drifting class means, shrinking."""
    rng = np.random.default_rng(seed)
    labels = np.arange(points) % CLASSES
    means, drift = rng.normal(size=(CLASSES, dims)), rng.normal(size=(CLASSES, dims))
    offsets = rng.normal(size=(points, dims))
    return [
        (means[labels] + 0.2 * epoch * drift[labels] + offsets * (1.6 - 0.2 * epoch)
         + 0.1 * rng.normal(size=(points, dims))).astype(np.float32)
        for epoch in range(epochs)
    ]


def centers_of(features: list[np.ndarray]) -> list[np.ndarray]:
    """Class means of each epoch's features."""
    labels = np.arange(len(features[0])) % CLASSES
    return [np.stack([epoch[labels == k].mean(axis=0) for k in range(CLASSES)]) for epoch in features]


def summarise(
    method: str, features: list[np.ndarray], layouts: list[np.ndarray], seconds: list[float]
) -> Result:
    """Timing, mean trustworthiness and mean consecutive residual of one method's frames."""
    trust = np.mean([frame_trustworthiness(*pair, DEFAULT_SETTINGS) for pair in zip(features, layouts)])
    residual = np.mean([fit_similarity(b, a)[1] for a, b in zip(layouts, layouts[1:])])
    later = seconds[1:] if len(seconds) > 1 else seconds
    return Result(method, len(features[0]), seconds[0], float(np.mean(later)), float(trust), float(residual))


def timed_frames(compute: Callable[[int], np.ndarray], epochs: int) -> tuple[list[np.ndarray], list[float]]:
    """Run ``compute(epoch)`` for every epoch; layouts and seconds of each."""
    layouts, seconds = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        layouts.append(compute(epoch))
        seconds.append(time.perf_counter() - start)
    return layouts, seconds


def chained_frames(
    compute: Callable[..., Frame], features: list[np.ndarray], centers: list[np.ndarray]
) -> tuple[list[np.ndarray], list[float]]:
    """Frames in epoch order, each computed from the one before as the worker does; layouts, seconds."""
    layouts, seconds = [], []
    for epoch_features, epoch_centers in zip(features, centers):
        start = time.perf_counter()
        frame = compute(epoch_features, epoch_centers, layouts[-1] if layouts else None)
        seconds.append(time.perf_counter() - start)
        layouts.append(frame.points)
    return layouts, seconds


def bench_projector(features: list[np.ndarray]) -> list[Result]:
    """The projector's own methods; PCA frames carry their share of the one fit."""
    centers = centers_of(features)
    start = time.perf_counter()
    basis = fit_pca(features)
    fit_share = (time.perf_counter() - start) / len(features)
    layouts, seconds = timed_frames(lambda e: basis.transform(features[e]), len(features))
    results = [summarise("PCA layout (fit/E + map)", features, layouts, [fit_share + s for s in seconds])]
    layouts, seconds = chained_frames(partial(get_projection("pca").frame, fitted=basis), features, centers)
    results.append(summarise("PCA frame as stored", features, layouts, [fit_share + s for s in seconds]))
    layouts, seconds = chained_frames(get_projection("umap").frame, features, centers)
    results.append(summarise("aligned UMAP as stored", features, layouts, seconds))
    return results


def bench_independent(features: list[np.ndarray]) -> Result:
    """umap-learn with default settings, one fresh fit per epoch (fixed seed)."""
    from umap import UMAP

    layouts, seconds = timed_frames(
        lambda e: UMAP(random_state=0, n_jobs=1).fit_transform(features[e]), len(features)
    )
    aligned = [layouts[0]]
    for layout in layouts[1:]:
        aligned.append(fit_similarity(layout, aligned[-1])[0].apply(layout))
    return summarise("independent UMAP", features, aligned, seconds)


def bench_aligned_umap(features: list[np.ndarray]) -> Result:
    """umap-learn's AlignedUMAP over all epochs at once (identity relations between epochs)."""
    from umap import AlignedUMAP

    identity = {i: i for i in range(len(features[0]))}
    start = time.perf_counter()
    model = AlignedUMAP(random_state=0).fit(features, relations=[identity] * (len(features) - 1))
    per_frame = (time.perf_counter() - start) / len(features)
    return summarise("AlignedUMAP", features, list(model.embeddings_), [per_frame] * len(features))


def print_table(results: list[Result]) -> None:
    """A plain-text table, one row per method and size."""
    print(f"{'points':>6}  {'method':<24} {'first s':>8} {'s/frame':>8} {'trust':>6} {'residual':>8}")
    for r in results:
        print(f"{r.points:>6}  {r.method:<24} {r.first_seconds:>8.3f} {r.frame_seconds:>8.3f} "
              f"{r.trustworthiness:>6.3f} {r.residual:>8.4f}")


def warm_up(skip_aligned_umap: bool) -> None:
    """Compile every code path measured below on a tiny run, so no row pays numba's first call."""
    from umap import UMAP

    tiny = run_features(100, 16, 2)
    for name in ("pca", "umap"):
        get_projection(name).warm_up()
    bench_independent(tiny)
    approximate = UMAP(random_state=0, n_jobs=1, force_approximation_algorithm=True)
    approximate.fit(tiny[0])  # umap-learn's NNDescent path, which it takes from 4,096 points
    if not skip_aligned_umap:
        bench_aligned_umap(tiny)


def main() -> None:
    """Parse options, warm up, measure every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000], help="probe points")
    parser.add_argument("--epochs", type=int, default=3, help="frames per run")
    parser.add_argument("--dims", type=int, default=512, help="feature dimensions")
    parser.add_argument("--quick", action="store_true", help="1,000 points, 3 epochs (a minute or so)")
    parser.add_argument("--skip-aligned-umap", action="store_true", help="leave out AlignedUMAP (slowest)")
    args = parser.parse_args()
    sizes, epochs = ([1000], 3) if args.quick else (args.sizes, args.epochs)
    warnings.filterwarnings("ignore", category=UserWarning)
    start = time.perf_counter()
    warm_up(skip_aligned_umap=args.skip_aligned_umap)
    print(f"warm-up (imports + numba compilation): {time.perf_counter() - start:.1f} s", flush=True)
    threadpool_limits(limits=1, user_api="blas")  # as the projector worker does
    results: list[Result] = []
    for points in sizes:
        features = run_features(points, args.dims, epochs)
        results += bench_projector(features)
        results.append(bench_independent(features))
        if not args.skip_aligned_umap:
            results.append(bench_aligned_umap(features))
        start = time.perf_counter()
        frame_trustworthiness(features[-1], features[-1][:, :2], DEFAULT_SETTINGS)
        print(f"{points} points: trustworthiness alone takes {time.perf_counter() - start:.3f} s a frame "
              "(inside the 'as stored' rows, not in the umap-learn rows)")
        print_table(results[-5 + args.skip_aligned_umap:])
        print(flush=True)
    print(f"{epochs} epochs x {args.dims} dims per run; all sizes:")
    print_table(results)


if __name__ == "__main__":
    main()
