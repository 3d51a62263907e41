"""Shared fixtures: the real sample dumps, a Prefect test harness, a fresh warehouse."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "dumps"
SAMPLE_CAPTURE = date(2025, 3, 14)

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
E2E = ROOT / "tests" / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``e2e`` every test that needs Prefect (its fixtures reach ``prefect_harness``)
    or lives in ``tests/e2e/``, so ``pytest -m "not e2e"`` is the quick loop."""
    for item in items:
        needs_prefect = "prefect_harness" in getattr(item, "fixturenames", ())
        if needs_prefect or item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def no_prefect_events_thread(request: pytest.FixtureRequest) -> None:
    """Before each Hypothesis test, stop Prefect's event workers if earlier tests ran flows
    in this process: their websocket pings the server with the global ``random`` from a
    thread of their own, and Hypothesis, which watches that state while it generates data,
    then warns that a strategy used ``random`` (ours use none).  A later flow starts a new
    worker."""
    hypothesis_test = getattr(request.function, "is_hypothesis_test", False)
    if hypothesis_test and "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=10)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect backend for the whole session (it takes ~10 s to start)."""
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    @flow
    def warm_up() -> None:
        """Configure Prefect's logging now, outside any test's captured stdout."""

    with prefect_test_harness(server_startup_timeout=180):
        warm_up()
        yield


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


@pytest.fixture
def sample_landing(landing: Path) -> Path:
    for dump in SAMPLES.iterdir():
        shutil.copy(dump, landing / dump.name)
    return landing


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """The sample dumps ingested once by the real flow; tests only read it."""
    from paperlake.flows.ingest import ingest

    root = tmp_path_factory.mktemp("samples") / "warehouse"
    ingest(paths=[str(SAMPLES)], warehouse=str(root), captured_on=SAMPLE_CAPTURE)
    return root


def query(root: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(root / "paperlake.duckdb"), read_only=True) as con:
        return con.execute(sql, params).fetchall()
