"""A Dask worker preload for the tests: every task a worker runs appends ``pid<TAB>key`` to
the file named by ``PAPERLAKE_TEST_WITNESS``, so a test sees which process ran what.

    dask worker tcp://... --preload tests/e2e/dask_witness.py
    DASK_DISTRIBUTED__WORKER__PRELOAD='["tests/e2e/dask_witness.py"]'   # a LocalCluster's
"""

from __future__ import annotations

import os
from typing import Any

from distributed import Worker, WorkerPlugin

WITNESS = "PAPERLAKE_TEST_WITNESS"


class Witness(WorkerPlugin):
    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if start == "executing":
            with open(os.environ[WITNESS], "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\t{key}\n")


async def dask_setup(worker: Worker) -> None:
    await worker.plugin_add(Witness(), name="paperlake-witness")
