"""The web console in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium) against ``news-monitor run`` as a subprocess.

The daemon reads two local feeds (realistic stories, and one archived article with a
hostile title that matches no rule) and alerts to three channels: the console
(delivered), a webhook answering 503 (retrying) and one answering 400 (dead at once).
With ``MONITOR_HTTP_TOKEN`` set, the browser logs in, loads every page, runs a
playground query as it types, creates and expires a silence, and retries a dead
letter. The page never logs an error to the browser's console (a CSP violation
would), and no script of an article ever runs.

Without chromium the tests skip on a laptop and fail under ``CI=true`` (``.ci/run``
installs it). ``CONSOLE_SCREENSHOT=docs/console.png`` also saves the overview there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import free_port, skip_or_fail
from tests.servers import Item, monitor_env, rss

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TOKEN = "browser-test-token-0123456789abcdef"
HOSTILE_TITLE = "<script>alert(1)</script> Weekly markets wrap"


def _items(now: datetime) -> dict[str, list[Item]]:
    def at(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    wire = [
        Item(
            "Iran and Russia agree to build attack drones together",
            "https://wire.example.org/world/iran-russia-drones",
            "Tehran and Moscow signed an agreement to expand production of attack drones, "
            "officials said. Iran will supply designs while Russia builds a plant in Tatarstan.",
            at(12),
            "wire-1",
        ),
        Item(
            "Ukraine restores power in Kyiv after overnight strikes on the grid",
            "https://wire.example.org/europe/kyiv-power",
            "Engineers restored electricity to most districts of the capital after a wave of "
            "strikes on substations; Ukraine's energy ministry warned of further outages.",
            at(25),
            "wire-2",
        ),
        Item(
            "Magnitude 6.1 earthquake strikes off the coast of central Chile",
            "https://wire.example.org/americas/chile-quake",
            "A strong earthquake of magnitude 6.1 struck off Valparaiso on Tuesday; no tsunami "
            "warning was issued and there were no immediate reports of damage.",
            at(40),
            "wire-3",
        ),
        Item(
            HOSTILE_TITLE,
            "https://wire.example.org/markets/weekly",
            "Stocks ended the week flat <img src=x onerror=alert(2)> as investors waited.",
            at(55),
            "wire-4",
        ),
    ]
    desk = [
        Item(
            "Iran unveils long-range drone at Tehran defence exhibition",
            "https://desk.example.org/mideast/iran-drone-expo",
            "The drone, shown on state television, has a stated range of 2,000 km and was "
            "presented alongside a new air-defence system.",
            at(8),
            "desk-1",
        ),
        Item(
            "Turkey reports magnitude 5.4 earthquake near Malatya",
            "https://desk.example.org/europe/malatya-quake",
            "The disaster agency said the earthquake, of magnitude 5.4, was felt across "
            "several provinces; schools were closed as a precaution.",
            at(30),
            "desk-2",
        ),
        Item(
            "Ukraine's grid operator plans rolling blackouts as cold snap deepens",
            "https://desk.example.org/europe/ukraine-blackouts",
            "Ukrenergo said scheduled outages of up to four hours would rotate between "
            "regions while repairs continue.",
            at(70),
            "desk-3",
        ),
    ]
    return {"/wire.xml": wire, "/desk.xml": desk}


@dataclass
class Daemon:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.request(
            method, f"{self.base}/api/v1{path}", headers=headers, timeout=10, **kwargs
        )


def _wait_for(check: Any, timeout: float, what: str, daemon: Daemon) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.process.poll() is None, daemon.log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if value := check():
                return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}: {daemon.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("console")
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        for path, items in _items(datetime.now(UTC)).items():
            server.expect_request(path).respond_with_data(
                rss(items), content_type="application/rss+xml"
            )
        server.expect_request("/siem").respond_with_data("busy", status=503)
        server.expect_request("/pager").respond_with_data("bad payload", status=400)
        rules = tmp / "rules"
        rules.mkdir()
        (rules / "watch.yaml").write_text(
            "feeds:\n"
            f'  - {{id: wire, name: World Wire, url: "{server.url_for("/wire.xml")}"}}\n'
            f'  - {{id: desk, name: Regional Desk, url: "{server.url_for("/desk.xml")}"}}\n'
            "channels:\n"
            "  ops: {type: console}\n"
            f'  siem: {{type: webhook, url: "{server.url_for("/siem")}"}}\n'
            f'  pager: {{type: webhook, url: "{server.url_for("/pager")}"}}\n'
            "rules:\n"
            "  - {id: iran-drones, query: Iran AND drone*, notify: [ops, pager]}\n"
            "  - {id: ukraine-grid, query: Ukraine AND (grid OR power OR blackout*), "
            "notify: [ops]}\n"
            "  - {id: quakes, query: earthquake AND magnitude, notify: [ops, siem]}\n"
        )
        addr = f"127.0.0.1:{free_port()}"
        env = monitor_env(
            MONITOR_RULES_DIR=str(rules),
            MONITOR_DATA_DIR=str(tmp / "data"),
            MONITOR_HTTP_ADDR=addr,
            MONITOR_HTTP_TOKEN=TOKEN,
            MONITOR_LOG_FORMAT="json",
            MONITOR_DELIVERY_BACKOFF="30s",
        )
        log = tmp / "daemon.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run"],
                env=env,
                cwd=tmp,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        running = Daemon(f"http://{addr}", process, log)
        try:
            _wait_for(
                lambda: len(running.api("GET", "/dead-letters").json()["alerts"]) == 2,
                60,
                "two dead letters",
                running,
            )
            yield running
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        assert process.returncode == 0, log.read_text()[-3000:]
        assert TOKEN not in log.read_text()  # the token is redacted from every log line
    finally:
        server.clear()
        server.stop()


@pytest.fixture(scope="module")
def browser(daemon: Daemon) -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[dev]')")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        skip_or_fail("no chromium / chromedriver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, condition: Any, timeout: float = 10) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _css(selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return (By.CSS_SELECTOR, selector)


def _no_browser_errors(driver: Any) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def _no_dialog(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - an article's script would have opened one


def _login(driver: Any, daemon: Daemon) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(daemon.base + "/rules")
    _wait(driver, ec.url_contains("/login"))
    driver.find_element(*_css("input[name=token]")).send_keys(TOKEN)
    driver.find_element(*_css("form[action='/login'] button")).click()
    _wait(driver, ec.url_to_be(daemon.base + "/rules"))


def test_login_then_every_page_loads(browser: Any, daemon: Daemon) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    _login(browser, daemon)
    pages = {
        "/": "Overview",
        "/feeds": "Feeds",
        "/alerts": "Alerts",
        "/dead-letters": "Dead letters",
        "/channels": "Channels",
        "/rules": "Rules",
        "/playground": "Playground",
        "/silences": "Silences",
    }
    for path, heading in pages.items():
        browser.get(daemon.base + path)
        _wait(browser, ec.text_to_be_present_in_element(_css("main h1"), heading))
        assert browser.find_element(*_css("nav a.active")).text == heading
    browser.get(daemon.base + "/feeds")
    assert "World Wire" in browser.page_source and "Regional Desk" in browser.page_source
    browser.get(daemon.base + "/alerts?rule=quakes")
    rows = browser.find_elements(*_css("table.alerts tbody tr"))
    assert len(rows) == 4  # two quakes, to ops and to siem
    first = browser.find_element(*_css("table.alerts td.title a"))
    first.click()
    _wait(browser, ec.presence_of_element_located(_css("h1.article-title mark")))
    marks = {m.text.lower() for m in browser.find_elements(*_css(".article mark, h1 mark"))}
    assert {"earthquake", "magnitude"} <= marks
    _no_browser_errors(browser)
    _no_dialog(browser)


def test_the_playground_answers_as_you_type(browser: Any, daemon: Daemon) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    browser.get(daemon.base + "/playground")
    box = browser.find_element(*_css("#q"))
    box.send_keys("Ukraine AND blackout*")
    _wait(browser, ec.text_to_be_present_in_element(_css("#results .summary"), "1 of 7"))
    match = browser.find_element(*_css("#results article.match"))
    assert "rolling blackouts" in match.text
    assert [m.text for m in match.find_elements(*_css("h3 mark"))] == ["Ukraine", "blackouts"]
    match.find_element(*_css("details summary")).click()
    tree = match.find_element(*_css("ul.explain")).text
    assert "✓ AND" in tree and "✓ blackout*" in tree
    assert "/playground?q=Ukraine" in browser.current_url  # the URL follows the query

    box.send_keys(" AND (")
    error = _wait(browser, ec.visibility_of_element_located(_css("#results .query-error")))
    assert error.find_element(*_css("pre.caret")).text.endswith("^")

    # A hostile title in the archive is shown as text, and its script never runs.
    box.clear()
    box.send_keys("markets")
    _wait(browser, ec.text_to_be_present_in_element(_css("#results .summary"), "1 of 7"))
    title = browser.find_element(*_css("#results article.match h3")).text
    assert title == "<script>alert(1)</script> Weekly markets wrap"
    _no_dialog(browser)
    _no_browser_errors(browser)


def test_create_and_expire_a_silence(browser: Any, daemon: Daemon) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    browser.get(daemon.base + "/silences")
    Select(browser.find_element(*_css("#kind"))).select_by_value("rule")
    browser.find_element(*_css("#target")).send_keys("ukraine-grid")
    duration = browser.find_element(*_css("#duration"))
    duration.clear()
    duration.send_keys("2h")
    browser.find_element(*_css("#comment")).send_keys("power outages are expected")
    browser.find_element(*_css("form.silence-form button")).click()
    _wait(browser, ec.text_to_be_present_in_element(_css(".flash"), "added"))
    [made] = [s for s in daemon.api("GET", "/silences").json()["silences"] if s["active"]]
    assert (made["kind"], made["target"], made["created_by"]) == ("rule", "ukraine-grid", "web")
    row = browser.find_element(*_css(f"#silence-{made['id']}"))
    assert "active" in row.text and "power outages are expected" in row.text

    row.find_element(*_css("button")).click()
    _wait(browser, ec.text_to_be_present_in_element(_css(".flash"), "expired"))
    assert "expired" in browser.find_element(*_css(f"#silence-{made['id']}")).text
    [after] = [
        s for s in daemon.api("GET", "/silences").json()["silences"] if s["id"] == made["id"]
    ]
    assert after["active"] is False
    _no_browser_errors(browser)


def test_retry_a_dead_letter(browser: Any, daemon: Daemon) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    browser.get(daemon.base + "/dead-letters")
    rows = browser.find_elements(*_css("table.dead tbody tr"))
    assert len(rows) == 2
    alert_id = rows[0].get_attribute("id").removeprefix("dead-")
    assert "bad payload" in rows[0].text or "400" in rows[0].text
    rows[0].find_element(*_css("button")).click()
    _wait(browser, ec.text_to_be_present_in_element(_css(".flash"), "queued again"))

    def outcomes() -> list[str]:
        return [e["outcome"] for e in daemon.api("GET", f"/alerts/{alert_id}").json()["events"]]

    _wait_for(lambda: "requeued" in outcomes(), 10, "the requeued event", daemon)
    # The receiver still answers 400: the retry is attempted at once and dies again.
    _wait_for(lambda: outcomes()[-1] == "dead", 30, "the retried attempt", daemon)
    _no_browser_errors(browser)


def test_a_phone_sized_window_and_a_screenshot(
    browser: Any, daemon: Daemon, tmp_path: Path
) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    browser.set_window_size(390, 844)
    try:
        browser.get(daemon.base + "/alerts")
        _wait(browser, ec.presence_of_element_located(_css("table.alerts")))
        # No horizontal scrolling of the page itself (a wide table scrolls in its own box).
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390 + 1, width
    finally:
        browser.set_window_size(1280, 900)
    browser.get(daemon.base + "/")
    _wait(browser, ec.presence_of_element_located(_css(".cards")))
    shot = tmp_path / "console.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if target := os.environ.get("CONSOLE_SCREENSHOT"):
        shutil.copyfile(shot, target)
