"""The report and the console as a person sees them: headless Chromium (the system's, driven by Playwright)
opens them, and nothing may go wrong on the page: no console error, no script run from audit-log values, no
request leaving the page. Skipped, with the reason, where no Chromium is installed (`.ci/run` installs
Debian's chromium package)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from reportdata import HOSTILE_AGENT, HOSTILE_USER, loader_cli
from test_serve import Served

from loader.rules import load_catalog

CHROMIUM = os.environ.get("LOADER_TEST_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the test extra installs it
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install '.[test]')"),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: apt-get install chromium, or set LOADER_TEST_CHROMIUM"),
]
# the flags keep a headless Chromium from reaching for Google's services (this network refuses them) and let
# it run as root in a container
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


class Watched:
    """A page in a fresh context, recording whatever goes wrong on it."""

    def __init__(self, browser, **context):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type in ("error", "warning") and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("request", lambda r: r.url.startswith(("file:", "http://127.0.0.1")) or
                     self.problems.append(f"request: {r.url}"))

    def counts(self, selector: str, attr: str = "data-count") -> list[int]:
        return [int(v) for v in self.page.locator(selector).evaluate_all(f"els => els.map(e => e.getAttribute('{attr}'))")]


def sql(folder: Path, query: str) -> list[list[str]]:
    done = loader_cli("sql", query, "--dsn", f"chdb://{folder}", "--format", "TSV")
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.decode().splitlines()]


def test_report_in_chromium(report_folder, browser, tmp_path):
    folder, _ = report_folder
    out = tmp_path / "report.html"
    done = loader_cli("report", "--dsn", f"chdb://{folder}", "--since", "4000d", "-o", str(out), "--findings", "400")
    assert done.returncode == 0, done.stderr
    by_rule = {rule: int(n) for rule, n in sql(folder, "SELECT rule, count() FROM detections FINAL "
                                                       "WHERE suppressedBy = '' GROUP BY rule")}
    total = sum(by_rule.values())

    w = Watched(browser)
    w.page.goto(out.as_uri())
    assert w.page.locator(".tile").first.get_attribute("data-count") == str(total)
    # the chart's bars add up to every finding, and they are drawn (not just present)
    assert sum(w.counts("#over-time rect.bar")) == total
    assert w.page.locator("#over-time svg").bounding_box()["height"] > 150
    assert all(w.page.locator("#over-time rect.bar").evaluate_all("els => els.map(e => e.getBBox().height > 0)"))
    # the ATT&CK matrix: twelve tactics, every technique's count from the detections table and the rules' headers
    assert w.page.locator(".matrix .col").count() == 12
    cells = dict(zip(w.page.locator(".technique").evaluate_all(
        "els => els.map(e => e.parentElement.dataset.tactic + '/' + e.dataset.technique)"), w.counts(".technique")))
    expected = {}
    for rule in load_catalog():
        if rule.enabled:
            for t in rule.mitre:
                key = f"{rule.tactic}/{t}"
                expected[key] = expected.get(key, 0) + by_rule.get(rule.id, 0)
    assert cells == {k: v for k, v in expected.items() if not k.startswith("hunting/")}
    assert w.page.locator(".technique.hit").count() == sum(1 for v in cells.values() if v)
    assert w.page.locator(".matrix").bounding_box()["width"] > 900

    # a finding opens to its events, its notes and the SQL that reproduces it
    first = w.page.locator("details.finding").first
    events = first.locator("table.events tbody tr")
    assert not events.first.is_visible()
    first.locator("> summary").click()
    assert events.first.is_visible()
    assert events.count() == min(10, int(first.get_attribute("data-events")))
    assert first.get_by_text("False positives:").is_visible()

    # values that are markup in the audit log are shown as text and never run
    hostile = w.page.locator(f"#identities tr[data-identity={json.dumps(HOSTILE_USER)}]")
    assert hostile.locator("a").inner_text() == HOSTILE_USER
    exec_finding = w.page.locator("details.finding", has_text=HOSTILE_USER).first
    exec_finding.locator("> summary").click()
    assert exec_finding.get_by_text(HOSTILE_AGENT).first.is_visible()
    # and an identity link lands on its row
    hostile.locator("a").click()
    assert w.page.url.endswith("#" + hostile.get_attribute("id"))

    w.page.screenshot(path=tmp_path / "report.png", full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000
    assert w.problems == []
    w.context.close()


def test_console_in_chromium(report_folder, browser):
    folder, _ = report_folder
    served = Served(folder, "--password", "s3cret")
    try:
        stranger = Watched(browser)  # no password: asked for one (Chromium gives up, having none to offer)
        with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
            stranger.page.goto(served.url + "/?since=4000d")
        stranger.context.close()

        w = Watched(browser, http_credentials={"username": "default", "password": "s3cret"})
        assert w.page.goto(served.url + "/?since=4000d").status == 200
        all_findings = int(w.page.locator(".tile").first.get_attribute("data-count"))
        high_and_up = int(served.query("SELECT count() FROM detections FINAL WHERE suppressedBy = '' "
                                       "AND severity IN ('high', 'critical')", user="default", password="s3cret"))
        # the filter form: severity at least high
        w.page.select_option("select[name=severity]", "high")
        w.page.locator("form.filters button").click()
        w.page.wait_for_url("**severity=high**")
        assert int(w.page.locator(".tile").first.get_attribute("data-count")) == high_and_up < all_findings
        assert w.page.locator('.tile[data-severity="medium"]').get_attribute("data-count") == "0"
        assert set(w.page.locator("details.finding").evaluate_all("els => els.map(e => e.dataset.severity)")) == {"high", "critical"}

        # from a finding to its identity's requests, and back
        w.page.goto(served.url + "/?since=4000d")
        person = w.page.locator(f"#identities tr[data-identity={json.dumps(HOSTILE_USER)}] a")
        person.click()
        w.page.wait_for_url("**/identity?**")
        assert w.page.locator("header h1").inner_text() == HOSTILE_USER
        requests = w.page.locator("#requests tbody tr")
        assert requests.count() == 2  # its two exec requests, each held by a finding
        assert requests.first.get_by_text("k8s-pod-exec").is_visible()
        w.page.get_by_role("link", name="all findings").click()
        w.page.wait_for_url("**/?since=4000d")
        assert w.problems == []
        w.context.close()
    finally:
        code, _, err = served.stop()
    assert code == 0, err

