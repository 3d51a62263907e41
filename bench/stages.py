"""The stage table of ``bench.backfill``'s profile and the timers that fill it.

:data:`STAGES` maps each pipeline stage to the functions that do it; :class:`StageTimers`
wraps them (in ``bench.worker profile``) and counts each one's wall and CPU seconds
*exclusive* of the other stages it calls.  When code moves to other modules only
:data:`STAGES` changes.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STAGES: dict[str, list[str]] = {
    "discover": ["paperlake.sources:discover | paperlake.discover:discover"],
    "archive (read, sha256, write raw)": ["paperlake.archive:archive_inputs"],
    "parse": ["paperlake.transform:_parse"],
    "validate (Pandera)": ["paperlake.schemas.validate:validate_rows"],
    "normalize (title keys, ids)": ["paperlake.build:_identify | paperlake.frames:_identify"],
    "links": ["paperlake.normalize:extract_links"],
    "entities": ["paperlake.entities:tag_entities"],
    "topics": ["paperlake.topics:Taxonomy.tag_papers", "paperlake.topics:load_taxonomy"],
    "keyphrases": ["paperlake.keyphrases:paper_keyphrases"],
    "terms = search index (BM25)": ["paperlake.keyphrases:paper_terms"],
    "build glue (frames, joins, dedupe)": [
        "paperlake.build:build_batch | paperlake.transform:transform"
    ],
    "summaries: keyphrase_daily": ["paperlake.summaries:keyphrase_daily"],
    "summaries: topic_daily": ["paperlake.summaries:topic_daily"],
    "summaries: title_words": ["paperlake.summaries:title_words"],
    "summaries: title_pairs": [
        "paperlake.summaries:_store_title_keys",
        "paperlake.summaries:_paired",
    ],
    "open lake (attach, recover, known ids)": [
        "paperlake.lake:Warehouse.connect | paperlake.lake.catalog:Catalog.connect",
        "paperlake.lake:Warehouse.recover | paperlake.lake.maintenance:Maintenance.recover",
        "paperlake.build:Known.from_tables | paperlake.transform:Known.from_tables",
    ],
    "write (append to the transaction)": [
        "paperlake.lake:Transaction.append",
        "paperlake.lake:Transaction.replace",
    ],
    "commit": ["paperlake.lake:Transaction.commit"],
    "maintain (compact, expire)": [
        "paperlake.lake:Warehouse.maintain | paperlake.lake.maintenance:Maintenance.maintain"
    ],
    "views": ["paperlake.views.build:ensure_database"],
    "dashboard": ["paperlake.dashboard.page:write_dashboard"],
}
"""Stage -> the functions (``module:qualname``) that do it.  Only this table knows where the
code lives; the profile of a stage is the time spent in its functions minus the time spent
in other stages' functions they call.  ``a | b``: the first of these that exists (the stage
layout is moving from ``build``/``sources``/``lake.py`` to one module per stage).  Archive and parse
are timed per chunk (21 calls over 10 years, not 3,650 each).  ``links`` stays per paper:
``frames.ENRICHMENTS`` holds ``paper_links`` itself, which a wrapper cannot replace."""

PREFECT_REST = "Prefect + flow glue (total minus stages)"


class StageTimers:
    """Exclusive wall and CPU seconds per stage, from wrappers around :data:`STAGES`."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.cpu: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.calls: dict[str, int] = dict.fromkeys(STAGES, 0)
        self.peak_mb: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        """How far each stage raised the process's peak RSS (the high-water mark)."""
        self._peak = _peak_rss_mb()
        self._local = threading.local()

    def _stack(self) -> list[list[float]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        stack: list[list[float]] = self._local.stack
        return stack

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        stack = self._stack()
        frame = [0.0, 0.0]  # wall and CPU seconds of nested stages
        stack.append(frame)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            stack.pop()
            self.wall[stage] += wall - frame[0]
            self.cpu[stage] += cpu - frame[1]
            self.calls[stage] += 1
            peak = _peak_rss_mb()
            self.peak_mb[stage] += peak - self._peak
            self._peak = peak
            if stack:
                stack[-1][0] += wall
                stack[-1][1] += cpu

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(function, "__wrapped_stage__", None):
            raise SystemExit(f"{function.__qualname__} is listed under two stages")
        timers = self

        if _is_contextmanager(function):

            @functools.wraps(function)
            @contextmanager
            def timed_cm(*args: Any, **kwargs: Any) -> Iterator[Any]:
                with timers.timing(stage), function(*args, **kwargs) as value:
                    yield value

            timed_cm.__wrapped_stage__ = stage  # type: ignore[attr-defined]
            return timed_cm

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with timers.timing(stage):
                return function(*args, **kwargs)

        timed.__wrapped_stage__ = stage  # type: ignore[attr-defined]
        return timed

    def install(self) -> None:
        """Wrap every function of :data:`STAGES` where it is defined and wherever a loaded
        ``paperlake`` module imported it by name."""
        for stage, targets in STAGES.items():
            for target in targets:
                owner, name, raw = _resolve(target)
                if isinstance(raw, classmethod):
                    setattr(owner, name, classmethod(self.wrap(stage, raw.__func__)))
                    continue
                wrapped = self.wrap(stage, raw)
                setattr(owner, name, wrapped)
                if isinstance(owner, type):  # a method: callers look it up on the class
                    continue
                for other in list(sys.modules.values()):
                    if getattr(other, "__name__", "").startswith("paperlake"):
                        for key, value in list(vars(other).items()):
                            if value is raw:
                                setattr(other, key, wrapped)


def _resolve(target: str) -> tuple[Any, str, Any]:
    """(the module or class holding it, its name, the function) for a :data:`STAGES` entry."""
    for alternative in target.split("|"):
        module_name, qualname = alternative.strip().split(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *path, name = qualname.split(".")
            for part in path:
                owner = getattr(owner, part)
            return owner, name, vars(owner)[name]
        except (ImportError, AttributeError, KeyError):
            continue
    raise SystemExit(
        f"bench.stages.STAGES names {target}, which does not exist: "
        "update the table to where the code now lives"
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _is_contextmanager(function: Callable[..., Any]) -> bool:
    """Made by ``@contextmanager`` (which keeps the generator function as ``__wrapped__``)."""
    return inspect.isgeneratorfunction(getattr(function, "__wrapped__", None))
