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
"""Dumps per archive/transform/publish step at most (``--batch-size``)..."""
BATCH_BYTES = 16 * 1024 * 1024
"""...and input bytes per step: what bounds a run's memory.  A chunk's transform peaks at
~12x its input (44 MB of synthetic dumps: +529 MB; 8.7 MB: +153 MB), so a 16 MiB chunk
costs ~200 MB while in flight, whatever the dumps' sizes."""
CHUNKS_IN_FLIGHT = 2
"""Chunks transformed at once on the task runner (one per core) while the flow's thread
archives the next chunk and writes the finished one: memory stays bounded by
``CHUNKS_IN_FLIGHT * BATCH_BYTES`` of input, not by the run's length."""


def warehouse_root(flag: str | os.PathLike[str] | None = None) -> Path:
    """``--warehouse`` if given, else ``$PAPERLAKE_WAREHOUSE``, else ``./warehouse``."""
    chosen = flag or os.environ.get("PAPERLAKE_WAREHOUSE") or DEFAULT_WAREHOUSE
    return Path(chosen).expanduser().resolve()


DEFAULT_RETENTION_DAYS = 30
"""Lake snapshots younger than this stay readable (`sql --as-of`); older ones expire."""
MAX_RETENTION_DAYS = 36_500
"""``--retention-days`` at most (100 years): more is out of range of DuckDB's intervals,
which failed the maintenance after the commit."""
