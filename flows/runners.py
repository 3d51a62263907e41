"""Where a run's tasks execute: Prefect's default task runner, or a Dask cluster.

    (no option)            Prefect's default: threads in the flow's own process
    --dask                 a Dask ``LocalCluster`` of ``--workers`` processes, 1 thread each
    --dask tcp://host:port the workers of an existing Dask scheduler (other machines)

``PAPERLAKE_DASK`` (``local`` or an address) is the environment equivalent of ``--dask``.
Only the tasks a flow submits (``.submit``/``.map``) go to the runner; the lake's one
commit stays in the flow's own process whatever runs the tasks.  Dask is imported only
by :func:`task_runner` when a run asks for it (its import costs seconds).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner
    from prefect_dask import DaskTaskRunner

T = TypeVar("T")
DASK_ENV = "PAPERLAKE_DASK"
LOCAL = "local"
"""``--dask`` without an address: a ``LocalCluster`` on this machine."""
ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://[^\s/:]+(:\d+)?$")
"""A Dask scheduler address, e.g. ``tcp://10.0.0.5:8786``."""
CONNECT_SECONDS = 10.0
"""How long a scheduler has to answer and show one worker before the run is refused."""


class SchedulerUnavailable(RuntimeError):
    """The ``--dask`` scheduler does not answer, or has no worker: nothing was run."""


def dask_setting(dask: str | None = None, workers: int | None = None) -> str | None:
    """``--dask`` (else ``$PAPERLAKE_DASK``) checked against ``--workers``: ``local``, a
    scheduler address, or None for Prefect's default; ValueError says what is wrong."""
    dask = dask or os.environ.get(DASK_ENV) or None
    if dask is None:
        if workers is not None:
            raise ValueError("--workers sizes a local Dask cluster: add --dask")
        return None
    if dask != LOCAL and not ADDRESS.match(dask):
        raise ValueError(
            f"--dask: expected nothing, {LOCAL!r} or a scheduler address like "
            f"tcp://10.0.0.5:8786, got {dask!r}"
        )
    if dask != LOCAL and workers is not None:
        raise ValueError(f"--workers sizes a local Dask cluster, not the one at {dask}")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers: expected at least 1, got {workers}")
    return dask


def task_runner(dask: str | None = None, workers: int | None = None) -> TaskRunner[Any] | None:
    """The task runner for :func:`dask_setting`'s answer; None: Prefect's default.

    ``workers`` sizes a local cluster (default: one per CPU); a scheduler address is checked
    first (:data:`CONNECT_SECONDS`), so an unreachable one fails before the run starts."""
    dask = dask_setting(dask, workers)
    if dask is None:
        return None
    runner = _quote_safe_runner()
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO: every connection
    if dask != LOCAL:
        check_scheduler(dask)
        return runner(address=dask)
    return runner(
        cluster_kwargs={
            "n_workers": workers or os.cpu_count() or 1,
            "threads_per_worker": 1,
            "processes": True,
            # No dashboard; the scheduler's own HTTP routes (health) on a free loopback port,
            # not on the fixed 8787 that `None` means here.
            "dashboard_address": "127.0.0.1:0",
            "scheduler_kwargs": {"dashboard": False},
        }
    )


class _Sealed:
    """A task argument Dask and Prefect pass through whole, unpickled on the worker as the
    value itself (the worker's task engine then reads it as an unquoted argument)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, tuple[object]]:
        return (_unsealed, (self.value,))


def _unsealed(value: T) -> T:
    return value


def _quote_safe_runner() -> type[DaskTaskRunner]:
    """prefect-dask with ``quote``d arguments that arrive as their values.

    prefect-dask delivers a ``quote(x)`` argument to a worker process as the tuple
    ``(x,)`` (Prefect's annotations are namedtuples; prefect-archive/prefect-dask#43),
    and walks it looking for futures first.  This runner seals each quoted argument
    instead: no walk in the flow's process, one pickle, the value on the worker."""
    from prefect.utilities.annotations import quote
    from prefect_dask import DaskTaskRunner

    class QuoteSafeDaskTaskRunner(DaskTaskRunner):
        def _optimize_futures(self, expr: Any) -> Any:
            optimize = super()._optimize_futures
            if isinstance(expr, dict):  # a task's parameters
                return {
                    name: _Sealed(value.unwrap()) if isinstance(value, quote) else optimize(value)
                    for name, value in expr.items()
                }
            return optimize(expr)

    return QuoteSafeDaskTaskRunner


def check_scheduler(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """Connect to the scheduler at ``address`` and wait for one worker, within ``seconds``."""
    from distributed import Client

    try:
        with Client(address, timeout=seconds, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=seconds)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnavailable(
            f"the Dask scheduler at {address} does not answer or has no worker "
            f"(waited {seconds:g} s: {exc}); start `dask scheduler` and `dask worker {address}`"
            ", or run without --dask"
        ) from None


@contextmanager
def one_api(runner: TaskRunner | None) -> Iterator[None]:
    """Give a Dask run's workers the flow's Prefect API.

    Without ``PREFECT_API_URL`` the flow starts a temporary server, which its workers do not
    know of: each would start one of its own (15-20 s each, here).  So a Dask run starts
    the temporary server itself and names it in the settings the workers receive."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if runner is None or get_current_settings().api.url:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance the flow's own client would start
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield
