"""``paperlake``: ingest dumps, serve the daily schedule, query the warehouse."""

# Longer than the ~250-line norm on purpose: it is the whole command line in one place (one
# ``argparse`` parser, the exit codes, one short handler per command); the work each command
# does lives in the stage modules and the flows.

# Start-up time is part of the interface: the read-only commands (sql, report, search,
# quarantine, --help) must answer in well under a second, so nothing heavy is imported at
# module level here. Prefect is imported only by the commands that run a flow; duckdb and
# the warehouse code only by the commands that need them (tests/test_startup.py checks).
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from paperlake import process
from paperlake.config import (
    BATCH_SIZE,
    DASHBOARD_NAME,
    DEFAULT_CRON,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_TIMEZONE,
    MAX_RETENTION_DAYS,
    warehouse_root,
)
from paperlake.output import FETCH_ROWS, OUTPUTS

if TYPE_CHECKING:
    import duckdb

    from paperlake.prefect_server import TemporaryServer

# Exit codes (README "Exit codes"): one meaning each, for scripts and schedulers.
EXIT_OK = 0
EXIT_FAILED = 1
"""A query DuckDB rejected (syntax, missing column, file access refused...)."""
EXIT_USAGE = 2
"""Bad arguments, or a statement ``sql`` refuses (not a single read)."""
EXIT_QUARANTINED = 3
"""``ingest --strict``: something was quarantined (the good input still loaded)."""
EXIT_CATALOG = 4
"""The lake catalog is missing or damaged: restore it, or ``paperlake rebuild``."""
EXIT_API_UNAVAILABLE = 69
"""EX_UNAVAILABLE: the configured Prefect server does not answer its health check, or the
``--dask`` scheduler does not answer or has no worker."""
EXIT_BUSY = 75
"""EX_TEMPFAIL: another run holds the warehouse; try again later."""
EXIT_TIMEOUT = 124
"""The query ran past ``--timeout`` (as GNU ``timeout`` reports it)."""
EXIT_PIPE_CLOSED = 141
"""stdout was closed early (``| head``): 128 + SIGPIPE, as a shell reports it."""
SQL_TIMEOUT_SECONDS = 300.0
INTERRUPT_GRACE_SECONDS = 5.0
"""How long a query may run on after ``--timeout`` interrupted it (see :func:`time_limit`)."""
API_TIMEOUT_SECONDS = 15.0
"""How long a configured Prefect API may take to answer its health check, and each request."""
SERVER_HINT = (
    "start one with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT: unwinds the run (lock released, nothing published) and lets
    Prefect stop its temporary server at exit, which SIGTERM's default action would skip."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    process.stop_received(signum)  # kept: DuckDB may turn the exception into its own
    raise Interrupted(signum)


def _prefect_api(*, scheduling: bool = False) -> int:
    """Check the configured Prefect API within a bounded time; 0 if a flow can run (also
    when none is configured: :func:`_run_flow` starts a temporary server, which cannot
    schedule), else the exit code (after saying why)."""
    # A temporary server's first boot on a fresh machine migrates a SQLite database and can
    # exceed Prefect's 20 s default. Set before Prefect reads its settings.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here
    os.environ.setdefault("PREFECT_API_REQUEST_TIMEOUT", str(API_TIMEOUT_SECONDS))
    import urllib.error
    import urllib.request

    from prefect.settings import get_current_settings

    url = (get_current_settings().api.url or "").rstrip("/")  # env, profile or test harness
    if not url and scheduling:
        print(
            f"paperlake serve needs a Prefect server to schedule runs: {SERVER_HINT}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not url:
        return EXIT_OK
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=API_TIMEOUT_SECONDS) as answer:
            if answer.status == 200:
                return EXIT_OK
            problem = f"HTTP {answer.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        problem = str(getattr(exc, "reason", exc))
    print(
        f"paperlake: the Prefect API at PREFECT_API_URL={url} does not answer ({problem}; "
        f"waited at most {API_TIMEOUT_SECONDS:.0f} s): start the server"
        + ("" if scheduling else ", or unset PREFECT_API_URL to run with a temporary one"),
        file=sys.stderr,
    )
    return EXIT_API_UNAVAILABLE


def _temporary_server() -> TemporaryServer | None:
    """Prefect's temporary server, booting from now on, when no API is configured."""
    from prefect.settings import get_current_settings

    from paperlake.prefect_server import TemporaryServer

    settings = get_current_settings()
    if settings.api.url:
        return None
    print(
        "paperlake: PREFECT_API_URL is not set: Starting temporary server for this run (it "
        f"boots while the run imports its code: 5-15 s); to avoid it, {SERVER_HINT}",
        file=sys.stderr,
    )
    return TemporaryServer(settings)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def _count(text: str) -> int:
    """A count of at least 1 (rows, papers, snapshots, dumps, workers): 0 or less made a
    traceback ("LIMIT/OFFSET cannot be negative"), or every row (``history --limit 0``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _duration(text: str) -> float:
    """Seconds or days: a finite number, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number, 0 or more, got {text}")
    return value


def _at_most(most: float, said: str) -> Callable[[str], float]:
    """A :func:`_duration` of at most ``most``, refused beyond as "expected ``said``"."""

    def bounded(text: str) -> float:
        value = _duration(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"expected {said}, got {text}")
        return value

    return bounded


_timeout = _at_most(threading.TIMEOUT_MAX, f"{threading.TIMEOUT_MAX:g} s or less")
"""At most ``threading.TIMEOUT_MAX``: the timer of a longer one failed in its thread (a
traceback) and the query ran with no limit."""
_retention = _at_most(MAX_RETENTION_DAYS, f"{MAX_RETENTION_DAYS:,} days or fewer")


def _run_flow(
    name: str,
    dask: tuple[str | None, int | None] | None = None,
    existing: bool = False,
    **parameters: object,
) -> int:
    """Run a flow of ``flows.ingest`` and print its summary; exit codes say what happened.

    ``dask``: the command's ``(--dask, --workers)``, for the commands that offer them;
    ``existing``: the flow works on a warehouse that must exist (:func:`_no_warehouse`).
    SIGTERM and SIGINT end the run: the lock is released, nothing is published (a run
    commits only at its end), and the temporary server is stopped."""
    from paperlake.flows.runners import dask_setting

    try:
        if dask:
            dask_setting(*dask)
    except ValueError as wrong:  # before anything starts
        print(f"paperlake: {wrong}", file=sys.stderr)
        return EXIT_USAGE
    holder = None if parameters.get("wait_seconds") else _holder(parameters.get("warehouse"))
    if holder:
        print(f"paperlake: {holder}", file=sys.stderr)
        return EXIT_BUSY
    unavailable = _prefect_api()
    if unavailable:
        return unavailable
    warehouse = cast(str | None, parameters.get("warehouse"))
    if (existing and _no_warehouse(warehouse)) or _catalog_lost(warehouse):
        return EXIT_CATALOG
    commits = process.commits()

    def stopped() -> str:
        """Whether the run had published when the signal stopped it."""
        if process.commits() == commits:
            return "run stopped, nothing published"
        snapshot = process.last_commit()
        named = "" if snapshot is None else f" as snapshot {snapshot}"
        return (
            f"run stopped, the run was published{named} before it stopped (the next command "
            "finishes its views)"
        )

    return _stoppable(lambda: _run(name, dask, _temporary_server(), parameters), stopped)


def _stoppable(body: Callable[[], int], stopped: Callable[[], str], *more: int) -> int:
    """``body()``, ended by SIGTERM, SIGINT (and ``more`` signals) with exit 128 + the
    signal and a line naming it and saying ``stopped()``.  DuckDB turns the exception the
    handler raises while a query runs into its own error: the signal received
    (:mod:`paperlake.process`) tells that error apart from any other."""
    stops = (*STOP_SIGNALS, *more)
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in stops}
    try:
        return body()
    except Interrupted as stop:
        signum = stop.signum
    except Exception:
        received = process.stop_signal()
        if received is None:
            raise
        signum = received
    finally:
        for handler_signum, handler in previous.items():
            signal.signal(handler_signum, handler)
    print(f"paperlake: {signal.Signals(signum).name}: {stopped()}", file=sys.stderr)
    return 128 + signum


def _holder(warehouse: object) -> str | None:
    """Who holds the warehouse, if another run does: a run that may not wait for it says so
    at once, before Prefect starts (a temporary server boots for 5-15 s) and without the
    traceback Prefect logs for a flow that fails.  The flow still takes the lock itself."""
    from paperlake.lake import Warehouse, WarehouseBusy

    store = Warehouse(warehouse_root(warehouse if isinstance(warehouse, str) else None))
    if not store.root.is_dir():
        return None
    try:
        with store.lock():
            return None
    except WarehouseBusy as busy:
        return str(busy)


def _catalog_lost(warehouse: str | None) -> bool:
    """Whether the warehouse's catalog is lost (said): before Prefect starts, so the run's
    refusal is its one line, not also the traceback Prefect logs for a flow that fails."""
    from paperlake.lake import Warehouse

    lost = Warehouse(warehouse_root(warehouse)).catalog_lost()
    if lost is not None:
        print(f"paperlake: {lost}", file=sys.stderr)
    return lost is not None


def _local_only(command: str) -> int:
    """Refuse ``command`` on shared storage (exit 2): it works on a local warehouse's own
    files (the catalog file, the raw archive folder), which a shared lake does not have."""
    print(
        f"paperlake: `{command}` works on a local warehouse only, not on shared storage "
        "(--lake/--catalog or PAPERLAKE_LAKE/PAPERLAKE_CATALOG are set): nothing was done",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _run(
    name: str,
    dask: tuple[str | None, int | None] | None,
    server: TemporaryServer | None,
    parameters: dict[str, object],
) -> int:
    """:func:`_run_flow`'s run; the flows are imported while ``server`` boots."""
    from paperlake.flows import ingest as flows
    from paperlake.flows.report import QuarantineError
    from paperlake.flows.runners import SchedulerUnavailable, one_api, task_runner
    from paperlake.prefect_server import ServerFailed

    try:
        runner = task_runner(*dask) if dask else None
    except SchedulerUnavailable as down:
        print(f"paperlake: {down}", file=sys.stderr)
        return EXIT_API_UNAVAILABLE
    run = getattr(flows, name)
    if runner is not None:
        run = run.with_options(task_runner=runner)
    try:
        with server.serving() if server else nullcontext(), one_api(runner):
            summary = run(**parameters)
    except ServerFailed as failed:
        print(f"paperlake: {failed}", file=sys.stderr)
        return EXIT_API_UNAVAILABLE
    except QuarantineError as failed:  # the good input published: its summary, then why
        print("\n".join(failed.lines))
        print(f"paperlake: {failed}", file=sys.stderr)
        return EXIT_QUARANTINED
    print("\n".join(summary.lines()))
    return EXIT_OK


def _missing(paths: Sequence[str], nothing: str) -> bool:
    """Whether an input path does not exist (a typo, not bad input: nothing to quarantine,
    nothing to run), each said, then ``nothing``."""
    missing = [path for path in paths if not os.path.lexists(path)]
    for path in missing:
        print(f"paperlake: no such file or folder: {path}", file=sys.stderr)
    if missing:
        print(f"paperlake: {nothing}", file=sys.stderr)
    return bool(missing)


def _no_warehouse(warehouse: str | None) -> bool:
    """Whether ``warehouse`` is a local one that was never created (said): ``replay`` and
    ``retopic`` would create an empty one and report nothing to do."""
    from paperlake.lake import Warehouse
    from paperlake.lake.lock import LOCK_NAMES

    store = Warehouse(warehouse_root(warehouse))
    held = {p.name for p in store.root.iterdir()} - LOCK_NAMES if store.root.is_dir() else set()
    if store.shared is not None or held:  # anything else: the lake's own errors say what
        return False
    print(
        f"paperlake: no warehouse at {store.root}: run `paperlake ingest PATH` first",
        file=sys.stderr,
    )
    return True


def cmd_ingest(args: argparse.Namespace) -> int:
    if _missing(args.paths, "nothing was ingested"):
        return EXIT_USAGE
    return _run_flow(
        "ingest",
        paths=args.paths,
        warehouse=args.warehouse,
        captured_on=args.captured_on,
        strict=args.strict,
        wait_seconds=args.wait,
        batch_size=args.batch_size,
        retention_days=args.retention_days,
        taxonomy=args.taxonomy,
        rehash=args.rehash,
        dask=(args.dask, args.workers),
    )


def cmd_replay(args: argparse.Namespace) -> int:
    return _run_flow(
        "replay",
        existing=True,
        warehouse=args.warehouse,
        captured_on=args.captured_on,
        wait_seconds=args.wait,
        taxonomy=args.taxonomy,
    )


def cmd_retopic(args: argparse.Namespace) -> int:
    return _run_flow(
        "retopic",
        existing=True,
        warehouse=args.warehouse,
        taxonomy=args.taxonomy,
        wait_seconds=args.wait,
    )


def _timezone(name: str) -> str:
    """An IANA zone name: ``ZoneInfo`` alone also opens ``right/UTC`` or ``posixrules``
    (files of the system's zone database), which Prefect refused with a pydantic dump."""
    try:
        ZoneInfo(name)
        known = name in available_timezones()
    except (ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        raise argparse.ArgumentTypeError(f"unknown timezone {name!r} (e.g. UTC, Europe/Paris)")
    return name


def cmd_serve(args: argparse.Namespace) -> int:
    if _missing([args.landing], "nothing was scheduled"):
        return EXIT_USAGE
    unavailable = _prefect_api(scheduling=True)
    if unavailable:
        return unavailable
    from paperlake.flows.deploy import daily_deployment, serve
    from paperlake.lake import Warehouse

    try:
        deployment = daily_deployment(
            args.landing, args.warehouse, args.cron, args.timezone, args.taxonomy
        )
    except ValueError as wrong:  # the schedule Prefect refused: an invalid cron string
        print(f"paperlake: {wrong}: nothing was scheduled", file=sys.stderr)
        return EXIT_USAGE
    with Warehouse(warehouse_root(args.warehouse)).scheduling():  # busy: exit 75, in main
        serve(deployment)  # until SIGTERM/SIGINT
    return EXIT_OK


def connect(
    warehouse: str | None, writable_file: Path | None = None, as_of: str | None = None
) -> duckdb.DuckDBPyConnection:
    """The current views, opened as :func:`paperlake.views.open_read_only` allows (rebuilt
    first if stale or moved), or with ``as_of`` the same views over an older snapshot
    (through DuckLake time travel).  A missing or damaged catalog raises
    :class:`paperlake.lake.CatalogError`, which :func:`main` maps to its exit code.

    While a run holds the catalog (all its length), the views are answered from as they
    are, without waiting for it, if they are of the snapshot the run found when it opened
    the catalog (:meth:`~paperlake.lake.catalog.Catalog.opened_at`): the last published
    (the run rebuilds them once it commits), so a reader is not blocked by a run, as one
    that opens ``paperlake.duckdb`` directly is not
    (:data:`~paperlake.lake.catalog.READER_WAIT_SECONDS`).  Views of an older snapshot (a
    run stopped after its commit, a rebuild's moved files) wait for the catalog as before."""
    import duckdb

    from paperlake.lake import Warehouse, WarehouseBusy
    from paperlake.lake.catalog import READER_WAIT_SECONDS
    from paperlake.views import (
        UnknownSnapshot,
        as_of_database,
        database_version,
        ensure_database,
        open_read_only,
    )

    store = Warehouse(warehouse_root(warehouse))
    try:
        if as_of is not None:
            return as_of_database(store, as_of, writable_file)
        if store.shared is not None:  # no local files: the views read the shared catalog
            return as_of_database(store, str(store.current_version()), writable_file)
    except UnknownSnapshot as exc:  # a bad argument
        print(f"paperlake: --as-of {as_of}: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    except (duckdb.Error, OSError) as exc:
        at = "" if as_of is None else f" at --as-of {as_of}"
        raise SystemExit(
            f"paperlake: cannot open the views of {store.location}{at}: {exc}"
        ) from None
    built = database_version(store)
    if built is not None and built == store.opened_at():
        try:
            current = store.current_version(READER_WAIT_SECONDS)
        except WarehouseBusy:  # its holder found the views' snapshot: still the published one
            return open_read_only(store.root, writable_file)
    else:  # views stale, or none: the catalog is needed, a run holding it is waited for
        current = store.current_version()
    if built != current:
        try:
            with store.lock(wait_seconds=5), store.session(create=False):
                ensure_database(store)
        except WarehouseBusy:
            pass  # a run is committing; it rebuilds the views itself
        except (OSError, duckdb.IOException, duckdb.FatalException) as exc:  # a full disk
            if built is None:  # none, or built for another location: nothing to answer from
                raise SystemExit(
                    f"paperlake: cannot build the views of {store.location}: {exc}"
                ) from None
            print(
                f"paperlake: the views could not be brought up to date ({exc}): answering "
                f"from those of snapshot {built}, older than the lake's",
                file=sys.stderr,
            )
        except duckdb.Error as exc:
            raise SystemExit(
                f"paperlake: cannot open the views of {store.location}: {exc}"
            ) from None
    return open_read_only(store.root, writable_file)


@contextmanager
def time_limit(
    con: duckdb.DuckDBPyConnection, seconds: float, partial: Path | None = None
) -> Iterator[threading.Event]:
    """Interrupt ``con``'s query after ``seconds`` (0: no limit); the event says it was.

    DuckDB looks for an interrupt between chunks of rows: one call of a list function over
    millions of elements never does (``list_sort(range(20000000))`` ran 18 s past a 1 s
    limit).  A query still running :data:`INTERRUPT_GRACE_SECONDS` after its interrupt
    ends the process, exit :data:`EXIT_TIMEOUT`, with the same message, and ``partial``
    (the temporary file of ``-o``) deleted first: no ``finally`` runs after that exit."""
    fired, stopped = threading.Event(), threading.Event()

    def interrupt() -> None:
        fired.set()
        con.interrupt()
        if not stopped.wait(INTERRUPT_GRACE_SECONDS):
            if partial is not None:
                partial.unlink(missing_ok=True)
            print(_timeout_message(seconds), file=sys.stderr, flush=True)
            os._exit(EXIT_TIMEOUT)  # the query holds the connection: nothing else can end it

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    if seconds > 0:
        timer.start()
    try:
        yield fired
    finally:
        stopped.set()
        timer.cancel()


def _timeout_message(seconds: float) -> str:
    return f"paperlake: query stopped after --timeout {seconds:g} s"


@contextmanager
def capped_address_space() -> Iterator[None]:
    """Run the block with this process's address space capped (twice DuckDB's memory limit
    for user queries, plus 2 GiB for Python and DuckDB's own reservations), then as before:
    a list function's memory is not counted against DuckDB's limit, and one such query
    grew to 24 GB until the kernel killed a process.  Past the cap the query fails with
    DuckDB's out-of-memory error, and nothing else on the machine is starved."""
    import resource

    from paperlake.views import READ_MEMORY_BYTES

    cap = 2 * READ_MEMORY_BYTES + (2 << 30)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def cmd_sql(args: argparse.Namespace) -> int:
    if args.format == "parquet" and args.output is None:
        print("paperlake: --format parquet writes a file: give -o FILE", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "table" and args.output is not None:
        print("paperlake: -o FILE needs --format csv, json or parquet", file=sys.stderr)
        return EXIT_USAGE
    target = None if args.output is None else _output(args.output, args.warehouse)
    if args.output is not None and target is None:
        return EXIT_USAGE
    tmp = None if target is None else target.with_name(f".{target.name}.tmp-{os.getpid()}")

    def run() -> int:
        with capped_address_space():
            return _run_sql(args, target, tmp)  # -o's temporary file goes as it unwinds

    return _stoppable(run, lambda: "query stopped", signal.SIGHUP)


def _output(output: str, warehouse: str | None, own: Path | None = None) -> Path | None:
    """``-o``'s file, links resolved, or None (why said: a bad argument, not a failed
    query): not in a folder that exists, not a regular file (a folder, ``/dev/null``: the
    file is replaced by a rename), or inside the warehouse, which only paperlake writes
    (its catalog was replaceable), except at ``own``."""
    target = Path(output).resolve()
    root = warehouse_root(warehouse).resolve()
    if target.is_relative_to(root) and target != own:
        why = f"inside the warehouse {root}, which only paperlake writes (write elsewhere)"
    elif not target.parent.is_dir():
        why = f"no such folder {target.parent}"
    elif target.exists() and not target.is_file():
        why = "not a regular file (a folder, a device): it would be replaced"
    else:
        return target
    print(f"paperlake: -o {output}: {why}; nothing written", file=sys.stderr)
    return None


def _run_sql(args: argparse.Namespace, target: Path | None, tmp: Path | None) -> int:
    """``sql``'s query on the locked connection, printed or written to ``target``."""
    import duckdb

    from paperlake.views import QueryRefused, read_statement

    con = connect(args.warehouse, tmp if args.format == "parquet" else None, args.as_of)
    try:
        with time_limit(con, args.timeout, tmp) as interrupted:
            try:
                query = read_statement(con, args.query)
                if tmp is None or target is None:
                    _print_relation(con.sql(query), args.format, args.max_rows)
                else:
                    _write_file(con.sql(query), args.format, tmp, target)
            except duckdb.InterruptException:
                if not interrupted.is_set():
                    raise
                print(_timeout_message(args.timeout), file=sys.stderr)
                return EXIT_TIMEOUT
    except QueryRefused as refused:
        print(f"paperlake: {refused}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        raise
    except (duckdb.Error, OSError) as exc:
        if process.stop_signal() is not None:
            raise  # a signal stopped it: cmd_sql says so
        print(f"paperlake: query failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        con.close()
    return EXIT_OK


def _write_file(relation: duckdb.DuckDBPyRelation, fmt: str, tmp: Path, target: Path) -> None:
    """All or nothing: the result goes to ``tmp``, renamed to ``target`` once complete."""
    try:
        if fmt == "parquet":
            relation.write_parquet(str(tmp))
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                _print_relation(relation, fmt, 0, out)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


EXPLAINED = ["explain_key", "explain_value"]
"""The columns of an ``EXPLAIN``'s answer: its plans, drawn with newlines."""


def _print_relation(
    relation: duckdb.DuckDBPyRelation, fmt: str, max_rows: int, out: TextIO | None = None
) -> None:
    """``table``: DuckDB's box with the first ``max_rows`` rows; other formats stream every
    row in batches to ``out`` (stdout by default)."""
    if fmt == "table" and relation.columns == EXPLAINED:
        for _, plan in relation.fetchall():  # drawn as DuckDB draws it, not one escaped line
            print(plan)
    elif fmt == "table":
        relation.show(max_rows=max_rows, max_width=200)
    else:
        batches = iter(lambda: relation.fetchmany(FETCH_ROWS), [])
        OUTPUTS[fmt](relation.columns, batches, out or sys.stdout)


REPORT = {
    "Top topics (distinct papers per topic, all days)": """
        select topic, count(distinct paper_id) as n_papers from paper_topics
        group by topic order by n_papers desc, topic limit 10""",
    "Papers listed in more than one dump": """
        select title, n_dumps, n_listing_days, first_listed_on, last_listed_on
        from repeated_listings
        order by n_listing_days desc, n_dumps desc, last_listed_on desc, title""",
    "Most-linked GitHub repos": """
        select repo, n_papers, n_listings from repos
        order by n_papers desc, n_listings desc, repo limit 10""",
    "Entities introduced by papers": """
        select entity, n_papers, n_introducing from entities
        where n_introducing > 0 order by n_papers desc, entity limit 10""",
    "Dumps": """
        select listed_on, count(*) as n_dumps, sum(n_papers)::bigint as n_listings
        from dumps group by listed_on order by listed_on desc limit 10""",
}


def cmd_search(args: argparse.Namespace) -> int:
    from paperlake.keyphrases import query_terms
    from paperlake.lake.layout import sql_str

    terms = query_terms(args.query)
    if not terms:
        print(f"paperlake: nothing to search for in {args.query!r}", file=sys.stderr)
        return EXIT_USAGE
    con = connect(args.warehouse)
    # The terms go in as a quoted literal: any bound parameter makes duckdb import pandas,
    # a second of start-up.
    literal = "[" + ", ".join(sql_str(term) for term in terms) + "]"
    relation = con.sql(
        "select title, score, first_listed_on, last_listed_on, n_listing_days "
        f"from search_papers({literal}::VARCHAR[], k := {int(args.limit)}) "
        "order by score desc, title"
    )
    _print_relation(relation, args.format, args.limit)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    con = connect(args.warehouse)
    for heading, query in REPORT.items():
        print(f"\n== {heading}")
        con.sql(query).show(max_rows=30, max_width=160)
    return EXIT_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    con = connect(args.warehouse)
    [(count,)] = con.execute("select count(*) from quarantine").fetchall()
    if count == 0:
        print("quarantine is empty")
        return EXIT_OK
    relation = con.sql(
        # the dump's id tells apart the bytes one name held on two days (today.txt)
        "select quarantined_at, scope, reason, source_file, left(dump_id, 12) as dump, line, "
        "detail from quarantine order by quarantined_at desc, source_file, line"
    )
    _print_relation(relation, args.format, args.max_rows)
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from paperlake.lake import Warehouse

    entries = Warehouse(warehouse_root(args.warehouse)).history()
    print(f"{'snapshot':>8}  {'committed (UTC)':<19}  {'run':<40}  rows written")
    for entry in entries[-args.limit :]:
        rows = ", ".join(f"{name} {n}" for name, n in entry.rows.items() if n)
        at = f"{entry.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
        run = entry.run_id or entry.message or ("(maintenance)" if entry.version else "(created)")
        print(f"{entry.version:>8}  {at:<19}  {run:<40}  {rows}")
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from paperlake.lake import Warehouse
    from paperlake.views import ensure_database

    store = Warehouse(warehouse_root(args.warehouse))
    with store.lock(args.wait), store.session(create=False):
        removed = store.recover()
        store.maintain(args.retention_days)
        ensure_database(store)
    print(f"maintained {store.location}: removed {len(removed)} leftover file(s)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from paperlake.lake import Warehouse
    from paperlake.migrate import migrate
    from paperlake.views import ensure_database

    store = Warehouse(warehouse_root(args.warehouse))
    if store.shared is not None:
        return _local_only("migrate")
    with store.lock(args.wait):
        rows = migrate(store)
        with store.session(create=False):
            store.maintain()
            ensure_database(store)
    print(f"migrated {store.root} to DuckLake: " + ", ".join(f"{t} {n}" for t, n in rows.items()))
    print("the old manifests and parts are in pre-ducklake/: delete it once satisfied")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    import tempfile

    from paperlake.discover import printable
    from paperlake.lake import Warehouse
    from paperlake.migrate import never_read, prepare_rebuild

    store = Warehouse(warehouse_root(args.warehouse))
    if store.shared is not None:
        return _local_only("rebuild")
    with tempfile.TemporaryDirectory(prefix="paperlake-rebuild-") as landing:
        with store.lock(args.wait):
            count = prepare_rebuild(store, Path(landing))
        print(f"rebuilding the lake of {store.root} from {count} archived input(s)")
        unread = never_read(store.root / "lake")  # the asides the rebuild moved
        if unread:
            shown = ", ".join(printable(path) for path in unread[:5])
            print(
                f"not rebuilt: {len(unread)} input(s) quarantined as never read, whose bytes "
                f"the archive does not hold ({shown}{', ...' if len(unread) > 5 else ''}): "
                "ingest their folders again to list them"
            )
        return _run_flow(
            "ingest", paths=[landing], warehouse=args.warehouse, taxonomy=args.taxonomy
        )


def cmd_dashboard(args: argparse.Namespace) -> int:
    from paperlake.dashboard import ExternalReference, render_page, write_page

    own = warehouse_root(args.warehouse).resolve() / DASHBOARD_NAME
    target = _output(args.output, args.warehouse, own) if args.output else own
    if target is None:
        return EXIT_USAGE
    with connect(args.warehouse) as con:
        page = render_page(con, datetime.now(UTC))
    try:
        print(write_page(page, target))
    except (ExternalReference, OSError) as failed:
        print(f"paperlake: dashboard not written: {failed}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


STORAGE_FLAGS = (
    ("--lake", "PAPERLAKE_LAKE", "the lake's data and raw archive in s3://bucket/prefix"),
    ("--catalog", "PAPERLAKE_CATALOG", "the lake's catalog in postgres://user@host:port/db"),
)
"""Shared storage flags: each sets its environment variable for the run."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="paperlake", description=__doc__)
    warehouse_help = "warehouse folder (default: $PAPERLAKE_WAREHOUSE, else ./warehouse)"
    root.add_argument("--warehouse", help=warehouse_help)
    # Also accepted after the command (`paperlake ingest x --warehouse y`); SUPPRESS keeps a
    # sub-command's absent flag from overriding one given before the command.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--warehouse", default=argparse.SUPPRESS, help=warehouse_help)
    for flag, variable, example in STORAGE_FLAGS:
        storage_help = f"shared storage: {example} (default: ${variable}; see the README)"
        root.add_argument(flag, help=storage_help)
        shared.add_argument(flag, default=argparse.SUPPRESS, help=storage_help)
    commands = root.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser(
        "ingest", parents=[shared], help="ingest dump files or folders of dumps"
    )
    ingest.add_argument("paths", nargs="+", help="dump files and/or landing folders")
    ingest.add_argument(
        "--captured-on",
        type=_date,
        help="capture date for every input (YYYY-MM-DD); "
        "default: the date in the file name, else its modification time (UTC)",
    )
    ingest.add_argument("--strict", action="store_true", help="fail if anything is quarantined")
    ingest.add_argument(
        "--rehash",
        action="store_true",
        help="read every input again, not only those whose size or modification time changed "
        "(a file rewritten with both kept, as by `cp -p`, reads as unchanged)",
    )
    _add_taxonomy(ingest)
    _add_wait(ingest)
    ingest.add_argument(
        "--batch-size",
        type=_count,
        default=BATCH_SIZE,
        metavar="N",
        help=f"dumps per processing batch; bounds memory (default {BATCH_SIZE})",
    )
    ingest.add_argument(
        "--retention-days",
        type=_retention,
        default=DEFAULT_RETENTION_DAYS,
        metavar="DAYS",
        help=f"expire lake snapshots older than this (default {DEFAULT_RETENTION_DAYS})",
    )
    ingest.add_argument(
        "--dask",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the per-batch work on Dask: alone, a local cluster of --workers processes; "
        "with tcp://host:port, that scheduler's workers (default: $PAPERLAKE_DASK)",
    )
    ingest.add_argument(
        "--workers", type=_count, metavar="N", help="--dask's local cluster size (default: CPUs)"
    )
    ingest.set_defaults(func=cmd_ingest)

    replay = commands.add_parser(
        "replay",
        parents=[shared],
        help="process quarantined files again (after a fix or a corrected re-drop)",
    )
    replay.add_argument("--captured-on", type=_date, help="capture date for every replayed file")
    _add_taxonomy(replay)
    _add_wait(replay)
    replay.set_defaults(func=cmd_replay)

    serve = commands.add_parser(
        "serve", parents=[shared], help="run the daily ingest on a cron schedule"
    )
    serve.add_argument(
        "--landing", default="landing", help="folder to ingest from (default: ./landing)"
    )
    serve.add_argument("--cron", default=DEFAULT_CRON, help=f"default: {DEFAULT_CRON!r}")
    serve.add_argument(
        "--timezone",
        type=_timezone,
        default=DEFAULT_TIMEZONE,
        help=f"the cron's timezone (default {DEFAULT_TIMEZONE})",
    )
    _add_taxonomy(serve)
    serve.set_defaults(func=cmd_serve)

    retopic = commands.add_parser(
        "retopic", parents=[shared], help="tag every paper again after editing the taxonomy"
    )
    _add_taxonomy(retopic)
    _add_wait(retopic)
    retopic.set_defaults(func=cmd_retopic)

    sql = commands.add_parser(
        "sql", parents=[shared], help="run a read-only SQL query on the views"
    )
    sql.add_argument("query", help="one SELECT (or SHOW, DESCRIBE, SUMMARIZE, EXPLAIN of one)")
    sql.add_argument(
        "--format",
        choices=["table", *OUTPUTS, "parquet"],
        default="table",
        help="table (first --max-rows rows), csv, json (an array of objects), parquet (-o)",
    )
    sql.add_argument("-o", "--output", metavar="FILE", help="write the whole result to FILE")
    sql.add_argument(
        "--max-rows", type=_count, default=50, help="rows shown by --format table (default 50)"
    )
    sql.add_argument(
        "--timeout",
        type=_timeout,
        default=SQL_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"stop the query after this long, exit {EXIT_TIMEOUT} "
        f"(default {SQL_TIMEOUT_SECONDS:g}; 0: no limit)",
    )
    sql.add_argument(
        "--as-of", metavar="SNAPSHOT|TIMESTAMP", help="query an older snapshot (`history`)"
    )
    sql.set_defaults(func=cmd_sql)

    search = commands.add_parser(
        "search", parents=[shared], help="BM25 full-text search over titles and abstracts"
    )
    search.add_argument("query", help="words to look for (BM25 over title and abstract)")
    search.add_argument("--limit", type=_count, default=10, help="papers shown (default 10)")
    search.add_argument("--format", choices=["table", *OUTPUTS], default="table", help=FORMAT_HELP)
    search.set_defaults(func=cmd_search)

    report = commands.add_parser("report", parents=[shared], help="print the headline answers")
    report.set_defaults(func=cmd_report)

    quarantine = commands.add_parser(
        "quarantine", parents=[shared], help="list what was rejected and why"
    )
    quarantine.add_argument(
        "--format", choices=["table", *OUTPUTS], default="table", help=FORMAT_HELP
    )
    quarantine.add_argument(
        "--max-rows", type=_count, default=100, help="rows shown by --format table (default 100)"
    )
    quarantine.set_defaults(func=cmd_quarantine)

    history = commands.add_parser(
        "history", parents=[shared], help="list lake snapshots: when, which run, rows written"
    )
    history.add_argument(
        "--limit", type=_count, default=50, help="latest snapshots shown (default 50)"
    )
    history.set_defaults(func=cmd_history)
    for name, func, text in (
        ("maintain", cmd_maintain, "compact the lake, expire old snapshots, delete leftovers"),
        ("migrate", cmd_migrate, "move an old manifest-layout warehouse to DuckLake"),
        ("rebuild", cmd_rebuild, "rebuild a lost or damaged lake from the raw archive"),
    ):
        command = commands.add_parser(name, parents=[shared], help=text)
        _add_wait(command)
        command.set_defaults(func=func)
    _add_taxonomy(commands.choices["rebuild"])
    maintain = commands.choices["maintain"]
    maintain.add_argument(
        "--retention-days",
        type=_retention,
        default=DEFAULT_RETENTION_DAYS,
        metavar="DAYS",
        help=f"expire lake snapshots older than this (default {DEFAULT_RETENTION_DAYS})",
    )

    dashboard = commands.add_parser(
        "dashboard", parents=[shared], help="draw the self-contained dashboard page"
    )
    dashboard.add_argument(
        "-o", "--output", metavar="FILE", help="default: WAREHOUSE/dashboard.html"
    )
    dashboard.set_defaults(func=cmd_dashboard)
    return root


FORMAT_HELP = "table (default), csv or json (every row)"


def _add_taxonomy(command: argparse.ArgumentParser) -> None:
    """``--taxonomy`` for every command that tags papers with topics."""
    command.add_argument(
        "--taxonomy",
        metavar="FILE",
        help="taxonomy YAML tagging papers with topics (default: the bundled one; a run "
        "whose new papers get another taxonomy than the published ones says so)",
    )


def _add_wait(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--wait",
        type=_duration,
        default=0.0,
        metavar="SECONDS",
        help=f"wait this long for another run's lock instead of exiting {EXIT_BUSY}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    process.running(f"paperlake {args.command}")
    if getattr(args, "warehouse", None):
        args.warehouse = str(Path(args.warehouse))
    for flag, variable, _ in STORAGE_FLAGS:  # the flows read the environment, like Prefect's
        value = getattr(args, flag.lstrip("-"), None)
        if value:
            os.environ[variable] = value
    if any(os.environ.get(variable) for _, variable, _ in STORAGE_FLAGS):
        from paperlake.lake import CatalogError, Shared

        try:
            Shared.from_settings(None, None)
        except CatalogError as wrong:  # a bad argument
            print(f"paperlake: {wrong}", file=sys.stderr)
            return EXIT_USAGE
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader is gone: send what is still buffered nowhere instead of failing on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    except RuntimeError as problem:
        code = warehouse_exit_code(problem)
        if code is None:
            raise
        print(f"paperlake: {problem}", file=sys.stderr)
        return code


def warehouse_exit_code(problem: RuntimeError) -> int | None:
    """The exit code of a warehouse that cannot be used now, for every command alike:
    busy or a shared lake's commit lost on every attempt (75), catalog missing or damaged
    (4), a lock that cannot be used (a symlink, a read-only warehouse) or a commit that
    failed (1); None for other errors."""
    from paperlake.lake import (
        CatalogError,
        CommitConflict,
        CommitFailed,
        LockRefused,
        WarehouseBusy,
    )

    codes = {
        WarehouseBusy: EXIT_BUSY,
        CommitConflict: EXIT_BUSY,  # shared storage: other machines' runs won every attempt
        CatalogError: EXIT_CATALOG,
        LockRefused: EXIT_FAILED,
        CommitFailed: EXIT_FAILED,
    }
    return next((code for kind, code in codes.items() if isinstance(problem, kind)), None)


if __name__ == "__main__":
    sys.exit(main())
