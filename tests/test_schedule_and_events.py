"""The daily deployment's schedule and the quarantine event, against the Prefect test server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from paperlake.config import DEFAULT_CRON
from paperlake.flows.deploy import daily_deployment
from paperlake.flows.ingest import ingest

pytestmark = pytest.mark.usefixtures("prefect_harness")


def api(method: str, path: str, **kwargs: Any) -> Any:
    from prefect.client.orchestration import get_client

    async def call() -> Any:
        async with get_client() as client:
            response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
            return response.json()

    return asyncio.run(call())


def test_daily_deployment_is_registered_with_its_cron(tmp_path: Path) -> None:
    deployment = daily_deployment(str(tmp_path / "landing"), str(tmp_path / "wh"), "15 5 * * *")
    deployment_id = deployment.apply()
    stored = api("GET", "/deployments/{id}", path_params={"id": deployment_id})
    assert stored["name"] == "paperlake-daily"
    assert [s["schedule"]["cron"] for s in stored["schedules"]] == ["15 5 * * *"]
    assert stored["parameters"] == {
        "paths": [str((tmp_path / "landing").resolve())],
        "warehouse": str((tmp_path / "wh").resolve()),
    }
    assert DEFAULT_CRON == "0 6 * * *"
    edited = daily_deployment(str(tmp_path / "landing"), taxonomy="topics.yaml")
    assert edited.parameters["taxonomy"] == str(Path("topics.yaml").resolve())


def test_quarantine_raises_an_event(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "empty.txt").write_bytes(b"")
    summary = ingest(paths=[str(landing)], warehouse=str(tmp_path / "wh"))
    assert summary.files_quarantined == 1
    payloads: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30  # events are delivered and stored asynchronously
    while time.monotonic() < deadline and not any(
        p.get("run_id") == summary.run_id for p in payloads
    ):
        time.sleep(0.5)
        found = api(
            "POST",
            "/events/filter",
            json={"filter": {"event": {"name": ["paperlake.quarantine"]}}, "limit": 50},
        )
        payloads = [event["payload"] for event in found.get("events", [])]
    [payload] = [p for p in payloads if p.get("run_id") == summary.run_id]
    assert payload["files_quarantined"] == 1
    assert payload["files"] == [str(landing / "empty.txt")]
