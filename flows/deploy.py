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
SETTLE_SECONDS = 60
"""A scheduled run leaves a landing file modified in the last minute for the next run: a
download that paused loaded as its first half (a truncated abstract, kept for good, and
the whole file later as a second dump of the same page)."""


@flow(
    name="paperlake-daily-ingest",
    retries=DAILY_RETRIES,
    retry_delay_seconds=DAILY_RETRY_DELAY_SECONDS,
    log_prints=True,
)
def daily(
    paths: list[str], warehouse: str | None = None, taxonomy: str | None = None
) -> RunSummary:
    """The scheduled ingest of the landing folder: :func:`ingest` with flow retries."""
    return ingest.fn(
        paths=paths, warehouse=warehouse, taxonomy=taxonomy, settle_seconds=SETTLE_SECONDS
    )


def daily_deployment(
    landing: str,
    warehouse: str | None = None,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    taxonomy: str | None = None,
) -> RunnerDeployment:
    """The ``paperlake-daily`` deployment: ingest whatever is new in ``landing`` on ``cron``
    (in ``timezone``), one run at a time: a run due while one is still going is cancelled."""
    deployment = daily.to_deployment(
        name="paperlake-daily",
        schedules=[Cron(cron, timezone=timezone)],
        parameters={
            "paths": [str(Path(landing).resolve())],
            "warehouse": str(warehouse_root(warehouse)),
        }
        | ({} if taxonomy is None else {"taxonomy": str(Path(taxonomy).resolve())}),
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
