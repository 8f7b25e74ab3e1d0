"""Small real filesystems for tests: a size-limited tmpfs (a full disk) that can be made read-only."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import require_or_skip


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def tmpfs(folder: Path, size: str = "3m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``folder`` (needs root, as in CI) and unmount it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    require_or_skip(_mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)), "cannot mount a tmpfs")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def remount_read_only(folder: Path) -> None:
    """Make a mounted tmpfs read-only (even root cannot write to it then)."""
    assert _mount("-o", "remount,ro", str(folder)), f"cannot remount {folder} read-only"


def fill(folder: Path, leave: int = 0) -> Path:
    """Write a filler file until at most ``leave`` bytes are free on the filesystem of ``folder``."""
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        chunk = b"\0" * 65536
        try:
            while free_bytes(folder) > leave:
                handle.write(chunk[: max(4096, min(len(chunk), free_bytes(folder) - leave))])
                handle.flush()
        except OSError:
            pass
    return filler


def free_bytes(folder: Path) -> int:
    """Bytes still free on the filesystem of ``folder``."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
