"""``centerlens report``: a study's table (groups as rows, datasets as columns) as markdown, LaTeX or CSV.

Torch-free: the numbers come from ``backend.studies`` (mean ± sample std over the completed members
of each group, n counted). Markdown and LaTeX put the best (lowest) mean of each column in bold;
CSV is long-form, one line per group and statistic, at full precision.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from collections.abc import Callable

from backend.studies import (
    COLUMN_NAMES,
    COLUMNS,
    Column,
    Group,
    Statistic,
    UnknownStudy,
    best_per_column,
    study_groups,
    study_of,
)
from centerlens.argparsing import OneLineParser, fail
from store import open_sessions
from store.runconfig import ConfigError

PROG = "centerlens report"
FORMATS = ("markdown", "latex", "csv")
NOTE = (
    "mean ± sample std (ddof=1) over the completed runs of each group; n = runs counted / members; "
    "final = last epoch, best = each metric's own best epoch; epoch s = mean over epochs; "
    "lowest mean of each column in bold"
)


def report_parser() -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        description="Print a study's table: one row per group of runs (same config up to the seed), "
        "datasets as columns, mean ± std and n of final and best top-1/top-5 error, NLL, ECE, "
        "tr(Sw)/tr(Sb), NC1 and epoch seconds. Formats: markdown (GitHub tables, best in bold), latex "
        "(a booktabs tabular, best in \\textbf), csv (one line per group and statistic, full precision).",
        epilog="example: centerlens report --db centerlens.db --study csd-ablation --format markdown",
        formatter_class=argparse.HelpFormatter,
    )
    parser.add_argument("--db", default="centerlens.db", help="database file path or SQLAlchemy URL")
    parser.add_argument(
        "--study",
        help="study name (the experiment file's suite), or NAME:HASH for one "
        "queueing of it (default: every run, by group)",
    )
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="output format")
    parser.add_argument(
        "--columns", help=f"comma-separated statistics to show (default all: {','.join(COLUMN_NAMES)})"
    )
    return parser


def _columns(text: str | None) -> list[Column]:
    if not text:
        return list(COLUMNS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in COLUMN_NAMES]
    if unknown or not names:
        raise ConfigError(
            f"unknown column {unknown[0] if unknown else text!r} (choose from {', '.join(COLUMN_NAMES)})"
        )
    return [column for column in COLUMNS if column.name in names]


def _decimals(mean: float, column: Column) -> int:
    """Two decimals for percentages and seconds, else four significant digits of the mean."""
    if column.percent or column.reduce == "mean" or mean == 0:
        return 2
    return max(0, 3 - math.floor(math.log10(abs(mean))))


def cell_text(stat: Statistic, column: Column, pm: str = " ± ") -> str:
    """``2.31 ± 0.12`` (the spread to the mean's decimals); a lone run's value alone; ``-`` without any."""
    if stat.mean is None:
        return "-"
    scale = 100 if column.percent else 1
    decimals = _decimals(stat.mean * scale, column)
    text = f"{stat.mean * scale:.{decimals}f}"
    return text + (f"{pm}{stat.std * scale:.{decimals}f}" if stat.std is not None else "")


def count_text(group: Group) -> str:
    """``3/3``, or ``2/3 (1 failed)``: the members left out and why."""
    left_out: dict[str, int] = {}
    for member in group.members:
        if not member.counted:
            left_out[member.status] = left_out.get(member.status, 0) + 1
    why = ", ".join(f"{count} {status}" for status, count in left_out.items())
    return f"{group.counted}/{len(group.members)}" + (f" ({why})" if why else "")


def table_rows(groups: list[Group]) -> tuple[list[str], list[str], dict[tuple[str, str], Group]]:
    """Row labels (in order met), datasets (columns) and the group at each (label, dataset)."""
    labels = list(dict.fromkeys(group.label for group in groups))
    datasets = list(dict.fromkeys(group.dataset for group in groups))
    return labels, datasets, {(group.label, group.dataset): group for group in groups}


def _grid(
    groups: list[Group], columns: list[Column], cell: Callable[[str, bool], str], pm: str
) -> list[list[str]]:
    """Header then one row per label: per dataset its n and each statistic (``cell`` marks the best)."""
    labels, datasets, at = table_rows(groups)
    best = best_per_column(groups)
    prefix = (lambda dataset: f"{dataset} ") if len(datasets) > 1 else (lambda dataset: "")
    header = ["group"] + [
        f"{prefix(d)}{name}" for d in datasets for name in ["n", *(c.label for c in columns)]
    ]
    rows = [header]
    for label in labels:
        row = [label]
        for dataset in datasets:
            group = at.get((label, dataset))
            if group is None:
                row += [""] * (len(columns) + 1)
                continue
            row.append(count_text(group))
            for column in columns:
                text = cell_text(group.statistics[column.name], column, pm)
                row.append(text if text == "-" else cell(text, best.get((dataset, column.name)) == group.key))
        rows.append(row)
    return rows


def markdown(groups: list[Group], columns: list[Column], title: str) -> str:
    rows = _grid(groups, columns, lambda text, best: f"**{text}**" if best else text, " ± ")
    lines = [f"{title} ({NOTE})", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    for plain, escaped in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
    ):
        text = text.replace(plain, escaped)
    return text


def latex(groups: list[Group], columns: list[Column], title: str) -> str:
    rows = _grid(
        groups, columns, lambda text, best: f"$\\mathbf{{{text}}}$" if best else f"${text}$", " \\pm "
    )
    body = [" & ".join([_latex_escape(row[0]), *row[1:]]) + r" \\" for row in rows[1:]]
    return "\n".join(
        [
            f"% {title}: {NOTE}",
            r"\begin{tabular}{l" + "r" * (len(rows[0]) - 1) + "}",
            r"\toprule",
            " & ".join(_latex_escape(cell) for cell in rows[0]) + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}",
        ]
    )


def csv_text(groups: list[Group], columns: list[Column], study: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "study",
            "group",
            "label",
            "method",
            "dataset",
            "statistic",
            "mean",
            "std",
            "n",
            "members",
            "not_counted",
        ]
    )
    for group in groups:
        left_out = ";".join(f"{member.id}:{member.status}" for member in group.members if not member.counted)
        for column in columns:
            stat = group.statistics[column.name]
            writer.writerow(
                [
                    study,
                    group.key,
                    group.label,
                    group.method,
                    group.dataset,
                    column.name,
                    "" if stat.mean is None else repr(stat.mean),
                    "" if stat.std is None else repr(stat.std),
                    stat.n,
                    len(group.members),
                    left_out,
                ]
            )
    return out.getvalue().rstrip("\n")


def main(argv: list[str]) -> int:
    """Entry point of ``centerlens report``."""
    args = report_parser().parse_args(argv)
    try:
        columns = _columns(args.columns)
        sessions = open_sessions(args.db, create=False)
        with sessions() as session:
            groups = study_groups(session, args.study)
    except (ConfigError, UnknownStudy) as error:
        return fail(PROG, str(error))
    if not groups:
        return fail(PROG, f"database {args.db} has no runs yet")
    title = f"study {study_of(args.study)}" if args.study else "all runs"
    if args.format == "csv":
        print(csv_text(groups, columns, args.study or ""))
    else:
        print((markdown if args.format == "markdown" else latex)(groups, columns, title))
    return 0
