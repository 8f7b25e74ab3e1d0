"""Same-class partners, drawn for the methods whose batches pair samples of one class (CS-KD, BAKE).

Vectorised over the training set: samples are ranked inside their class once, and a partner is
the class member ``offset`` ranks further on (cyclically), so drawing partners is a handful of
numpy operations per epoch, whatever the number of classes.
"""

from __future__ import annotations

import numpy as np
import torch


def _uniform(size: int, generator: torch.Generator) -> np.ndarray:
    return torch.rand(size, generator=generator, dtype=torch.float64).numpy()


def distinct_draws(pool: np.ndarray, count: int, generator: torch.Generator) -> np.ndarray:
    """(len(pool), count) draws from 0 .. pool[i] - 1 per row, distinct where pool[i] >= count.

    Distinct rows follow Floyd's algorithm (a uniformly random subset); a row whose pool is
    smaller than ``count`` is drawn with replacement, and an empty pool gives zeros.
    """
    picks = np.zeros((len(pool), count), dtype=np.int64)
    distinct = pool >= count
    for column in range(count):
        top = pool - count + column  # Floyd: draw from 0 .. top; on a repeat, take top itself
        span = np.where(distinct, top + 1, pool)
        draw = (_uniform(len(pool), generator) * span).astype(np.int64)
        repeat = distinct & (picks[:, :column] == draw[:, None]).any(axis=1)
        picks[:, column] = np.where(repeat, top, draw)
    return picks


def same_class_partners(
    labels: np.ndarray, count: int, generator: torch.Generator, include_self: bool = False
) -> np.ndarray:
    """(n, count) training indices: for each sample, ``count`` uniformly drawn samples of its class.

    Without ``include_self`` they are distinct other samples of the class (with replacement where
    the class has too few; the sample itself where it is alone in its class); with it, each is drawn
    from the whole class, the sample itself included (so with probability 1 / class size).
    """
    by_class = np.argsort(labels, kind="stable")
    sorted_labels = labels[by_class]
    class_start = np.searchsorted(sorted_labels, sorted_labels, side="left")
    class_size = np.bincount(labels)[sorted_labels]
    rank = np.arange(len(labels)) - class_start
    first = 0 if include_self else 1  # the smallest rank offset a partner may have
    offsets = distinct_draws(class_size - first, count, generator)
    partner_rank = (rank[:, None] + first + offsets) % class_size[:, None]
    partners = np.empty((len(labels), count), dtype=by_class.dtype)
    partners[by_class] = by_class[class_start[:, None] + partner_rank]
    return partners
