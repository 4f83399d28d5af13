"""The picture in a real browser: `trilink serve` as a user starts it (a subprocess on a
free loopback port), Debian's chromium driven by Playwright.

- The JPN view loads with no console error, its tracks move, the impact ellipse and
  Japan's alert appear (screenshots into docs/images/ for the README).
- Suspending KOR→JPN in the KOR view (KOR's operator: the agreement is from KOR) stops
  Korea's tracks in the JPN view; resuming brings them back (held traffic first).

Needs /usr/bin/chromium (``make setup`` installs it) and the built front end (``make
setup`` builds it): without either the tests fail and say so.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from trilink.web.app import STATIC_DIR
from trilink.world.library import DEFAULT_EVENT_ID

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
VIEWPORT = {"width": 1600, "height": 1000}

pytestmark = pytest.mark.slow


def _require_browser_and_build() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium. Run `make "
            "setup` (it runs `apt-get install -y chromium` as root), or install it yourself."
        )
    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail(
            f"the front end is not built ({STATIC_DIR}/index.html is missing). Run `make "
            "setup` (npm ci and the build in frontend/)."
        )


class Server:
    """`trilink serve` in a subprocess; its printed viewer addresses."""

    def __init__(self, data_dir: Path, speed: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trilink",
                "serve",
                "--port",
                "0",
                "--speed",
                str(speed),
                "--event",
                DEFAULT_EVENT_ID,
                "--data-dir",
                str(data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        self.viewers: dict[str, str] = {}
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _wait("the viewer addresses", lambda: len(self.viewers) == 3 or self.proc.poll(), 60)
        assert len(self.viewers) == 3, "".join(self.lines)

    def _read(self) -> None:
        """Keep reading what the server prints (so it never blocks on a full pipe)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            found = re.search(r"(JPN|KOR|USA) view: (http://127\.0\.0\.1:\d+/#token=\S+)", line)
            if found:
                self.viewers[found.group(1)] = found.group(2)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_browser_and_build()
    srv = Server(tmp_path_factory.mktemp("serve"), speed=30.0)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require_browser_and_build()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _open(browser: Browser, url: str, problems: list[str]) -> Page:
    page = browser.new_page(viewport=VIEWPORT)

    def console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            problems.append(f"{msg.type}: {msg.text}")

    page.on("console", console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page


def _wait(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _tracks(page: Page, originator: str | None = None) -> list[dict[str, Any]]:
    where = "circle.track" + (f"[data-originator='{originator}']" if originator else "")
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        where,
        "els => els.map(e => ({id: e.dataset.trackId, lat: +e.dataset.lat, lon: +e.dataset.lon,"
        " t: +e.dataset.tRel, age: +e.dataset.age}))",
    )
    return found


def _t_rel(page: Page) -> float:
    value = page.evaluate("document.body.dataset.tRel || ''")
    return float(value) if value else -1.0


def _latest(page: Page, originator: str) -> float:
    return max((t["t"] for t in _tracks(page, originator)), default=-1.0)


def test_the_jpn_view_shows_tracks_moving_the_impact_ellipse_and_the_alert(
    server: Server, browser: Browser
) -> None:
    problems: list[str] = []
    page = _open(browser, server.viewers["JPN"], problems)
    assert page.locator("#sim-badge").inner_text().strip() == "SIMULATION"
    assert page.locator("#nation").inner_text() == "JPN"
    first = _wait("a track in the JPN view", lambda: _tracks(page))
    before = {t["id"]: (t["lat"], t["lon"]) for t in first}
    time.sleep(2.0)

    def moved() -> bool:
        now = {t["id"]: (t["lat"], t["lon"]) for t in _tracks(page)}
        return any(k in now and now[k] != v for k, v in before.items())

    _wait("a track to move", moved, 30)
    _wait("the impact ellipse", lambda: page.locator("path.impact-ellipse.own").count(), 90)
    alert = _wait(
        "Japan's alert",
        lambda: page.locator("#alerts li.alert[data-originator='JPN']").count(),
        60,
    )
    assert alert >= 1
    assert page.locator("#alerts li.alert").first.get_attribute("data-stage") in (
        "launch",
        "evacuate",
        "update",
        "passed_over",
    )
    ellipse = page.locator("path.impact-ellipse.own").get_attribute("d")
    assert ellipse and len(ellipse) > 20
    IMAGES.mkdir(parents=True, exist_ok=True)
    _wait("the missile over Hokkaido (T+420 s)", lambda: _t_rel(page) >= 420, 60)
    page.screenshot(path=str(IMAGES / "picture-jpn.png"))
    page.click("#zoom-impact")
    time.sleep(1.0)

    def ellipse_width() -> float:
        # The layer is redrawn as the feed arrives: a box read while its ellipse is being
        # replaced is None, so the width is read until one is drawn.
        box = page.locator("path.impact-ellipse.own").bounding_box(timeout=2000)
        return 0.0 if box is None else float(box["width"])

    width = _wait("the impact ellipse after zooming to it", ellipse_width, 10)
    assert width > 40, width  # drawn to scale, visible when zoomed
    page.screenshot(path=str(IMAGES / "picture-jpn-impact.png"))
    assert problems == []


def test_suspending_kor_to_jpn_in_the_kor_view_stops_koreas_tracks_in_the_jpn_view(
    server: Server, browser: Browser
) -> None:
    problems: list[str] = []
    kor = _open(browser, server.viewers["KOR"], problems)
    jpn = _open(browser, server.viewers["JPN"], problems)
    # Korea's radars hold the missile from about T+42 s to T+330 s: replay from the start,
    # with the timeline control, at 15× real time.
    kor.select_option("#event-select", DEFAULT_EVENT_ID)
    kor.fill("#speed-input", "15")
    run = int(jpn.evaluate("document.body.dataset.run"))
    kor.click("#replay-button")
    _wait("the new replay", lambda: int(jpn.evaluate("document.body.dataset.run")) > run)
    _wait("Korea's tracks in the JPN view", lambda: _latest(jpn, "KOR") > 0, 60)
    assert jpn.locator("tr[data-agreement='KOR-JPN'] button").count() == 0  # not JPN's to change
    kor.click("tr[data-agreement='KOR-JPN'] button[data-action='suspend']")
    _wait(
        "KOR-JPN suspended at Japan's node",
        lambda: jpn.locator("tr[data-agreement='KOR-JPN'][data-state='suspended']").count(),
        20,
    )
    frozen = _latest(jpn, "KOR")
    t0 = _t_rel(jpn)
    _wait("event time to go on 40 s", lambda: _t_rel(jpn) > t0 + 40, 30)
    assert _latest(jpn, "KOR") == frozen, "Korea's tracks stopped in the JPN view"
    assert _latest(jpn, "JPN") > frozen or _latest(jpn, "USA") > frozen  # the others go on
    assert _latest(kor, "KOR") > frozen + 30  # Korea itself still tracks
    jpn.screenshot(path=str(IMAGES / "picture-jpn-kor-suspended.png"))
    kor.screenshot(path=str(IMAGES / "picture-kor-links.png"))
    kor.click("tr[data-agreement='KOR-JPN'] button[data-action='resume']")
    _wait(
        "KOR-JPN active again at Japan's node",
        lambda: jpn.locator("tr[data-agreement='KOR-JPN'][data-state='active']").count(),
        20,
    )
    _wait("Korea's tracks back in the JPN view", lambda: _latest(jpn, "KOR") > frozen + 30, 30)
    assert problems == []
