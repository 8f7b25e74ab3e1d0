"""An argument parser whose errors are one line: ``centerlens CMD: error: ... (see --help)``."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse with defaults shown in --help and single-line usage errors (exit code 2)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def fail(prog: str, message: str) -> int:
    """Print a one-line error for ``prog`` and return the bad-input exit code."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def port_number(text: str) -> int:
    """A TCP port to bind, 1 to 65535 (an argparse type: anything else is a one-line usage error)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535 (got {port})")
    return port
