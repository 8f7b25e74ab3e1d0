"""A study's table from its database: each group's mean ± std over seeds, as markdown.

One row per group (a study's runs with the same config up to the seed), in queue order: final-epoch
test top-1, tr(Sw)/tr(Sb) and NC1, mean epoch seconds and its ratio to the ``ce`` group's. The std is
numpy's sample std (ddof = 1); only completed runs count (n says how many).

``--per-seed`` prints instead each method's epoch-seconds ratio to the ``ce`` run of the same seed
(median and range over seeds), for runs trained one after the other in rounds (ce, cs_kd, csd,
then the next seed), so a change of load on a shared machine hits every method of a round alike.

    python bench/study_table.py --db /tmp/ablation.db [--study csd-ablation] [--per-seed]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store import Epoch, Run, create_db_engine, session_factory  # noqa: E402

FINAL = ("test_top1", "variance_ratio", "nc1")
SHOWN = {"center_rule": "rule", "beta": "β", "temperature": "T", "center_momentum": "m"}


def group_rows(db: str, study: str | None) -> dict[str, list[dict]]:
    """Each group's completed runs: their grid settings, final metrics and mean epoch seconds."""
    engine = create_db_engine(db)
    groups: dict[str, list[dict]] = {}
    with session_factory(engine)() as session:
        runs = session.scalars(select(Run).where(Run.status == "completed").order_by(Run.id)).all()
        for run in runs:
            if study and not (run.suite or "").startswith(study):
                continue
            epochs = session.scalars(select(Epoch).where(Epoch.run_id == run.id).order_by(Epoch.epoch)).all()
            row = {name: getattr(epochs[-1], name) for name in FINAL}
            row["epoch_seconds"] = float(np.mean([epoch.epoch_seconds for epoch in epochs]))
            row["config"] = run.config
            groups.setdefault(run.run_group or run.name, []).append(row)
    engine.dispose()
    return groups


def label(config: dict) -> str:
    if config["method"] != "csd":
        return config["method"]
    parts = [f"{SHOWN[key]} {config[key]:g}" if key != "center_rule" else config[key] for key in SHOWN
             if key != "center_momentum" or config["center_rule"] == "ema"]
    return "csd " + ", ".join(parts)


def markdown(groups: dict[str, list[dict]]) -> str:
    ce_seconds = next(np.mean([r["epoch_seconds"] for r in rows]) for rows in groups.values()
                      if rows[0]["config"]["method"] == "ce")
    lines = ["| group | n | test top-1 | tr(Sw)/tr(Sb) | NC1 | epoch s | / ce |", "|" + " --- |" * 7]
    for rows in groups.values():
        cells = []
        for name in (*FINAL, "epoch_seconds"):
            values = np.array([row[name] for row in rows])
            cells.append(f"{values.mean():.4f} ± {values.std(ddof=1):.4f}")
        ratio = np.mean([row["epoch_seconds"] for row in rows]) / ce_seconds
        cells.append(f"{ratio:.2f}")
        lines.append(f"| {label(rows[0]['config'])} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_seed_ratios(groups: dict[str, list[dict]]) -> str:
    """Each method's mean epoch seconds over ce's of the same seed: median (min-max) over seeds."""
    seconds: dict[str, dict[int, float]] = {}
    for rows in groups.values():
        for row in rows:
            seconds.setdefault(label(row["config"]), {})[row["config"]["seed"]] = row["epoch_seconds"]
    lines = ["| method | seeds | epoch s / ce's (median, min-max) |", "| --- | --- | --- |"]
    for name, by_seed in seconds.items():
        ratios = [value / seconds["ce"][seed] for seed, value in by_seed.items() if seed in seconds["ce"]]
        spread = f"{np.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        lines.append(f"| {name} | {len(ratios)} | {spread} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database file path or SQLAlchemy URL")
    parser.add_argument("--study", help="only runs of this study (suite name)")
    parser.add_argument("--per-seed", action="store_true", help="epoch-seconds ratios to ce, seed by seed")
    args = parser.parse_args()
    groups = group_rows(args.db, args.study)
    print(per_seed_ratios(groups) if args.per_seed else markdown(groups))


if __name__ == "__main__":
    main()
