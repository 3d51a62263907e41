"""What the benchmark runners share: the tree's paths, a ``bench.worker`` command in its own
process, and the figures of a folder of dumps every runner prints first (the raw floor)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def worker(*args: str, tree: Path = ROOT) -> dict[str, Any]:
    """``python -m bench.worker ARGS`` run from ``tree`` (so that tree's ``paperlake`` is
    imported); the figures it printed last, as JSON.  A failure stops the bench."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.worker", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        where = "" if tree == ROOT else f" with {tree}"
        raise SystemExit(f"bench.worker {args[0]}{where} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def raw_floor(folder: Path) -> tuple[float, int]:
    """Seconds to read and sha256 every input byte (best of 3: a floor), and the bytes."""
    runs, total = [], 0
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for path in sorted(folder.glob("*.txt")):
            data = path.read_bytes()
            total += len(data)
            hashlib.sha256(data).hexdigest()
        runs.append(time.perf_counter() - started)
    return min(runs), total


def inputs(scale: str, folder: Path) -> dict[str, Any]:
    """The scale's dumps: how many, their MB and their raw floor (measured first)."""
    floor_s, n_bytes = raw_floor(folder)
    return {
        "scale": scale,
        "files": len(list(folder.glob("*.txt"))),
        "mb": n_bytes / 1e6,
        "floor_s": floor_s,
    }


def load_average() -> float:
    """The 1-minute load average, printed next to every figure (the machine is shared)."""
    return os.getloadavg()[0]
