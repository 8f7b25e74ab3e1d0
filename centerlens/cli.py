"""The ``centerlens`` command: a thin dispatcher that imports only the side a subcommand needs.

``train``/``runs`` load the trainer (torch) and never FastAPI; ``serve``/``project``/``report`` load
the backend and never torch; ``demo`` starts both as separate processes.
"""

from __future__ import annotations

import importlib
import sys

from centerlens import __version__

SUBCOMMANDS = {
    "train": ("trainer.cli", "train_main", "train a model and record every epoch's feature space"),
    "runs": ("trainer.cli", "runs_main", "list recorded runs with status and final metrics"),
    "queue": ("trainer.cli", "queue_main", "queue runs or suites for workers, or cancel a run"),
    "worker": ("trainer.cli", "worker_main", "claim queued runs and train them, one after another"),
    "report": ("backend.report_cli", "main", "print a study's table of mean ± std per group"),
    "project": ("backend.projector_cli", "main", "compute 2-D layouts of recorded epochs (PCA, UMAP)"),
    "serve": ("backend.cli", "serve_main", "serve the API and dashboard (and run the projector)"),
    "demo": ("centerlens.demo", "main", "train the digits demo runs and serve the dashboard"),
}

USAGE = "usage: centerlens {" + ",".join(SUBCOMMANDS) + "} [options]   (centerlens COMMAND --help)"


def _help() -> str:
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<9} {text}" for name, (_, _, text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``centerlens COMMAND ...`` to the module that implements COMMAND."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(_help())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"centerlens {__version__}")
        return 0
    if args[0] not in SUBCOMMANDS:
        print(f"centerlens: error: unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    module_name, function_name, _ = SUBCOMMANDS[args[0]]
    function = getattr(importlib.import_module(module_name), function_name)
    return int(function(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
