"""Where things live, resolved once: flags beat environment beats defaults."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WAREHOUSE = Path("warehouse")
DEFAULT_CRON = "0 6 * * *"
"""Daily at 06:00 in the deployment's timezone."""
DEFAULT_TIMEZONE = "UTC"
"""The schedule's timezone unless ``paperlake serve --timezone`` says otherwise."""
DASHBOARD_NAME = "dashboard.html"
"""The dashboard page's file name inside the warehouse folder."""
BATCH_SIZE = 500
"""Dumps per archive/transform/publish step: bounds memory on long backfills."""
BATCH_BYTES = 256 * 1024 * 1024
"""...and input bytes per step, so a folder of large dumps is bounded too."""
CHUNKS_IN_FLIGHT = 4
"""Chunks archived and submitted to the task runner ahead of the one being written: keeps
parallel workers busy while memory stays bounded (by chunks, each bounded in bytes)."""


def warehouse_root(flag: str | os.PathLike[str] | None = None) -> Path:
    """``--warehouse`` if given, else ``$PAPERLAKE_WAREHOUSE``, else ``./warehouse``."""
    chosen = flag or os.environ.get("PAPERLAKE_WAREHOUSE") or DEFAULT_WAREHOUSE
    return Path(chosen).expanduser().resolve()


DEFAULT_RETENTION_DAYS = 30
"""Lake snapshots younger than this stay readable (`sql --as-of`); older ones expire."""
