"""The report renders in headless Chromium, offline, without console errors.

Needs the Debian package ``chromium`` (CI installs it); skipped without it. Two checks:
the command-line screenshot (console messages go to Chromium's log on stderr), and a
DevTools-protocol session that also sees failed resource loads and undecodable images.
Each has a negative control page, so a check that cannot see errors would fail.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from hts.report import write_report

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)"
)

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,2400",
    # offline: any host name fails to resolve, so a remote resource could not load
    "--host-resolver-rules=MAP * ~NOTFOUND",
)  # fmt: skip

BROKEN = """<!DOCTYPE html><html><head><title>broken</title></head><body><p>x</p>
<img src="http://example.invalid/plot.png"><img src="data:image/png;base64,AAAA">
<script>console.error("marker-error"); missingFunction();</script></body></html>"""


@pytest.fixture(scope="module")
def report(segmented_plate, tmp_path_factory) -> Path:
    _, _, results = segmented_plate
    return write_report(results, tmp_path_factory.mktemp("browser") / "report.html")


def _screenshot(page: Path, tmp_path: Path) -> tuple[np.ndarray, list[str]]:
    """(BGR screenshot, console lines) from one command-line Chromium run."""
    shot = tmp_path / f"{page.stem}.png"
    proc = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / ('profile-' + page.stem)}",
         "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.exists(), proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    image = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    assert image is not None
    return image, console


def _plot_like(image: np.ndarray) -> tuple[float, float, int]:
    """(ink fraction, grey-level standard deviation, distinct colours) of a screenshot."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    colours = np.unique(image.reshape(-1, 3)[::7], axis=0).shape[0]
    return float((grey < 200).mean()), float(grey.std()), int(colours)


def test_screenshot_shows_the_plots_and_the_console_is_clean(report: Path, tmp_path: Path) -> None:
    image, console = _screenshot(report, tmp_path)
    assert console == []
    ink, spread, colours = _plot_like(image)
    assert ink > 0.03 and spread > 20.0 and colours > 100, (ink, spread, colours)
    # the growth-curve panel is drawn in the top part of the page: its rows vary a lot
    top = cv2.cvtColor(image[:1200], cv2.COLOR_BGR2GRAY)
    assert (top.std(axis=1) > 10).sum() > 300

    # negative controls: a page with console errors, and a page with no plot
    bad = tmp_path / "broken.html"
    bad.write_text(BROKEN, encoding="utf-8")
    _, bad_console = _screenshot(bad, tmp_path)
    assert any("marker-error" in line for line in bad_console)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    blank_image, _ = _screenshot(blank, tmp_path)
    assert _plot_like(blank_image)[1] < 1.0


class _DevTools:
    """A minimal Chrome DevTools Protocol session on one page (websockets' sync client)."""

    def __init__(self, tmp_path: Path) -> None:
        from websockets.sync.client import connect

        profile = tmp_path / "profile-cdp"
        self.proc = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return dict(message.get("result", {}))
            self.events.append(message)

    def load(self, url: str) -> list[dict[str, Any]]:
        """Navigate, wait for the load event; the page's events (errors included)."""
        self.events = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(url)
            self.events.append(json.loads(self.ws.recv(timeout=60)))
        self.call("Runtime.evaluate", expression="1")  # flush events queued before it
        return self.events

    def close(self) -> None:
        if hasattr(self, "ws"):
            self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _problems(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in (
            "error",
            "warning",
            "assert",
        ):
            out.append(f"console.{params['type']}: {params['args']}")
        elif method == "Runtime.exceptionThrown":
            out.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            out.append(f"log: {params['entry']['text']}")
        elif method == "Network.loadingFailed":
            out.append(f"load failed: {params.get('errorText')}")
    return out


IMAGES_OK = "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
N_IMAGES = "document.images.length"


def test_devtools_sees_no_errors_and_every_image_decodes(report: Path, tmp_path: Path) -> None:
    pytest.importorskip("websockets.sync.client", reason="needs the websockets package")
    session = _DevTools(tmp_path)
    try:
        events = session.load(report.as_uri())
        assert _problems(events) == []
        value = session.call("Runtime.evaluate", expression=IMAGES_OK)["result"]["value"]
        n_images = session.call("Runtime.evaluate", expression=N_IMAGES)["result"]["value"]
        assert value is True and n_images == 5
        shot = session.call("Page.captureScreenshot", format="png")["data"]
        image = cv2.imdecode(np.frombuffer(base64.b64decode(shot), np.uint8), cv2.IMREAD_COLOR)
        assert _plot_like(image)[1] > 20.0

        broken = tmp_path / "broken.html"
        broken.write_text(BROKEN, encoding="utf-8")
        problems = _problems(session.load(broken.as_uri()))
        assert any("marker-error" in p for p in problems)
        assert any("exception" in p for p in problems)
        assert any("load failed" in p or "Failed to load" in p for p in problems)
        assert session.call("Runtime.evaluate", expression=IMAGES_OK)["result"]["value"] is False
    finally:
        session.close()
