"""``--dask`` / ``--workers`` / ``PAPERLAKE_DASK`` are checked before anything runs (no Prefect,
no Dask: the runner itself is tested end to end in ``tests/e2e/test_dask.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperlake.cli import EXIT_USAGE, main
from paperlake.flows.runners import DASK_ENV, LOCAL, dask_setting
from tests.conftest import SAMPLES


@pytest.fixture(autouse=True)
def no_dask_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DASK_ENV, raising=False)


@pytest.mark.parametrize(
    ("dask", "workers", "expected"),
    [
        (None, None, None),
        (LOCAL, None, LOCAL),
        (LOCAL, 2, LOCAL),
        ("tcp://10.0.0.5:8786", None, "tcp://10.0.0.5:8786"),
        ("tls://scheduler.example:8786", None, "tls://scheduler.example:8786"),
    ],
)
def test_accepted(dask: str | None, workers: int | None, expected: str | None) -> None:
    assert dask_setting(dask, workers) == expected


@pytest.mark.parametrize(
    ("dask", "workers", "message"),
    [
        ("samples/dumps", None, "expected nothing, 'local' or a scheduler address"),
        ("10.0.0.5:8786", None, "expected nothing, 'local' or a scheduler address"),
        (None, 2, "--workers sizes a local Dask cluster: add --dask"),
        ("tcp://10.0.0.5:8786", 2, "not the one at tcp://10.0.0.5:8786"),
        (LOCAL, 0, "--workers: expected at least 1, got 0"),
    ],
)
def test_refused(dask: str | None, workers: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dask_setting(dask, workers)


def test_the_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DASK_ENV, "tcp://127.0.0.1:8786")
    assert dask_setting(None, None) == "tcp://127.0.0.1:8786"
    assert dask_setting(LOCAL, 2) == LOCAL  # the option wins


def test_a_bad_option_exits_2_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--warehouse", str(tmp_path / "wh"), "ingest", str(SAMPLES), "--dask", "nope"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "got 'nope'" in err
    assert "temporary server" not in err  # refused before Prefect starts
    assert not (tmp_path / "wh").exists()
