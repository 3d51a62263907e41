"""The scheduled daily ingest: its flow, its deployment, and ``paperlake serve``."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect import serve as prefect_serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from paperlake.config import DEFAULT_CRON, DEFAULT_TIMEZONE, warehouse_root
from paperlake.flows.ingest import ingest
from paperlake.flows.report import RunSummary

DAILY_RETRIES = 2
DAILY_RETRY_DELAY_SECONDS = 300
"""A scheduled run that fails (the warehouse busy, a transient I/O error) is retried twice,
five minutes apart; a run is idempotent, so a retry only loads what is still new."""


@flow(
    name="paperlake-daily-ingest",
    retries=DAILY_RETRIES,
    retry_delay_seconds=DAILY_RETRY_DELAY_SECONDS,
    log_prints=True,
)
def daily(paths: list[str], warehouse: str | None = None) -> RunSummary:
    """The scheduled ingest of the landing folder: :func:`ingest` with flow retries."""
    return ingest.fn(paths=paths, warehouse=warehouse)


def daily_deployment(
    landing: str,
    warehouse: str | None = None,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
) -> RunnerDeployment:
    """The ``paperlake-daily`` deployment: ingest whatever is new in ``landing`` on ``cron``
    (in ``timezone``), one run at a time: a run due while one is still going is cancelled."""
    deployment = daily.to_deployment(
        name="paperlake-daily",
        schedules=[Cron(cron, timezone=timezone)],
        parameters={
            "paths": [str(Path(landing).resolve())],
            "warehouse": str(warehouse_root(warehouse)),
        },
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        description="Ingest new trending-paper dumps from the landing folder.",
    )
    assert isinstance(deployment, RunnerDeployment)  # called outside an event loop: not async
    return deployment


def serve(deployment: RunnerDeployment) -> None:
    """Register the daily deployment (:func:`daily_deployment`) with the Prefect server and
    run it on schedule."""
    prefect_serve(deployment)
