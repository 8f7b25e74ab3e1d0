"""Plain-text table of runs for ``centerlens runs``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import Epoch, Run

COLUMNS = ("id", "name", "method", "dataset", "model", "status", "epoch", "top1", "best", "Sw/Sb", "NC1")


def _row(run: Run, last: Epoch | None, best: float | None, done: int) -> tuple[str, ...]:
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    return (
        str(run.id),
        run.name,
        run.method,
        run.dataset,
        run.model,
        run.status,
        f"{done}/{run.epochs_planned}",
        number(last and last.test_top1),
        number(best),
        number(last and last.variance_ratio),
        number(last and last.nc1),
    )


def runs_table(sessions: sessionmaker[Session]) -> str:
    """Every run with its progress and final/best metrics, aligned in columns."""
    with sessions() as session:
        runs = session.scalars(select(Run).order_by(Run.id)).all()
        if not runs:
            return "no runs yet: start one with  centerlens train --dataset digits --epochs 5"
        stats = {
            run_id: (best, count, last)
            for run_id, best, count, last in session.execute(
                select(Epoch.run_id, func.max(Epoch.test_top1), func.count(), func.max(Epoch.epoch)).group_by(
                    Epoch.run_id
                )
            )
        }
        rows = []
        for run in runs:
            best, count, last_epoch = stats.get(run.id, (None, 0, None))
            last = None
            if last_epoch is not None:
                last = session.scalars(
                    select(Epoch).where(Epoch.run_id == run.id, Epoch.epoch == last_epoch)
                ).one()
            rows.append(_row(run, last, best, count))
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [COLUMNS, *rows]]
    return "\n".join(lines)
