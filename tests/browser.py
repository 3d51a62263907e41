"""Headless Chromium with every network path blocked, driven over the DevTools protocol.

Used by the dashboard's end-to-end test and by ``bench/dashboard.py``.  Chromium gets no
DNS (every host maps to NOTFOUND), a dead proxy and no background networking; on top, every
request the page makes is recorded, so a test can assert there were none.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.e2e.processes import alive_in_group, group_ends

CHROMIUM = Path("/usr/bin/chromium")
OFFLINE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--no-first-run",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class Browser:
    """One Chromium process with one page; ``with Browser() as page: page.open(url)``."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(prefix="paperlake-chromium-")
        self.process = subprocess.Popen(
            [
                str(CHROMIUM),
                *OFFLINE_FLAGS,
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.ws: ClientConnection = connect(self._endpoint(), max_size=None)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _endpoint(self) -> str:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            found = _LISTENING.search(line)
            if found:
                return found.group(1)
        raise RuntimeError(f"chromium exited ({self.process.wait()}) before DevTools listened")

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result; events are kept in ``events``."""
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=self.timeout))
            if reply.get("id") == number:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply["result"])
            self.events.append(reply)

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def resize(self, width: int, height: int = 900) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )

    def open(self, url: str, until: str, timeout: float = 30.0) -> float:
        """Navigate to ``url``; return seconds until the JS expression ``until`` is true."""
        started = time.perf_counter()
        self.call("Page.navigate", session=True, url=url)
        while not self.evaluate(until):
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{url}: {until!r} still false after {timeout} s")
            time.sleep(0.02)
        return time.perf_counter() - started

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the viewport) as a PNG."""
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        shot = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def requests(self) -> list[str]:
        """URLs the page asked for other than local ones (file:, data:, blob:, about:)."""
        return [
            url
            for event in self.events
            if event.get("method") == "Network.requestWillBeSent"
            and not (url := event["params"]["request"]["url"]).startswith(LOCAL_SCHEMES)
        ]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries, as text."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a)) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def close(self) -> None:
        """Stop Chromium and every helper process it started, then remove the profile.

        Chromium's helpers (zygotes, network service) outlive the browser process by a few
        milliseconds and write the profile while they shut down: removing it as soon as the
        browser process exits once failed a CI run ("Directory not empty: 'Default'"). The
        browser runs in its own process group, so the profile goes once no process of the
        group is alive (:func:`~tests.e2e.processes.group_ends`)."""
        self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        group = self.process.pid
        if not group_ends(group, timeout=10):
            with contextlib.suppress(ProcessLookupError):  # the group ended meanwhile
                os.killpg(group, signal.SIGKILL)
            if not group_ends(group, timeout=10):
                raise RuntimeError(f"chromium's processes {alive_in_group(group)} survived SIGKILL")
        self.profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


CHARTS_DRAWN = (
    "document.body.dataset.drawn !== undefined && "
    "document.querySelectorAll('.chart svg.marks, .chart canvas.marks').length "
    ">= Number(document.body.dataset.drawn)"
)
"""True once the dashboard has drawn every chart (its script sets ``data-drawn``)."""
