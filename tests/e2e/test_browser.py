"""The test browser itself: closing it leaves no Chromium process and no profile behind.

CI once failed removing the profile ("Directory not empty: 'Default'"): Chromium's helper
processes were still writing it after the browser process had exited."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, Browser
from tests.e2e.processes import alive, alive_in_group, descendants, group_ends

pytestmark = pytest.mark.e2e


def test_closing_waits_for_every_chromium_process_before_removing_the_profile() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    browser = Browser()
    browser.open("data:text/html,<p id=x>ok</p>", "document.getElementById('x') !== null")
    profile = Path(browser.profile.name)
    helpers = descendants(browser.process.pid)
    assert helpers and (profile / "Default").is_dir()
    browser.close()
    assert [pid for pid in helpers if alive(pid)] == [] and not profile.exists()


def test_a_group_ends_only_when_the_process_its_leader_left_behind_ends() -> None:
    leader = subprocess.Popen(["sh", "-c", "sleep 1 & exit 0"], start_new_session=True)
    leader.wait()
    [sleeper] = alive_in_group(leader.pid)  # the leader has exited; its sleep runs on
    assert group_ends(leader.pid, timeout=10)
    assert not alive(sleeper)
    lasting = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert not group_ends(lasting.pid, timeout=0.2)
        assert alive_in_group(lasting.pid) == [lasting.pid]
    finally:
        lasting.kill()
        lasting.wait()
