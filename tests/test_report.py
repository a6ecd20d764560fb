"""`loader report` and the console's pages, read as HTML (tests/test_browser.py looks at them in Chromium).

The numbers on the page are checked against the detections table and the catalog's headers, counted here
independently; values from audit logs that look like markup must arrive as text."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from conftest import load_bytes
from reportdata import HOSTILE_AGENT, HOSTILE_USER, events, loader_cli
from test_serve import Served

from loader.detect import run_once
from loader.rulecheck import reset
from loader.report.data import Filters, gather
from loader.report.page import report_file
from loader.rules import load_catalog

CATALOG = load_catalog()
BY_ID = {r.id: r for r in CATALOG}


class Elements(HTMLParser):
    """Every element's attributes, by tag; and whether any <script> element exists."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def having(self, attr: str, tag: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if attr in a and (tag is None or t == tag)]


@pytest.fixture(scope="module")
def reported(_session_wh):
    """Loaded and detected once for the module's tests, which only read (the `wh` fixture of later tests
    empties the tables again)."""
    wh = _session_wh
    reset(wh)
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)  # rejects are dated when loaded
    data = "".join(json.dumps(e) + "\n" for e in events(at)).encode() + b'{"not": "an event"}\n'
    load_bytes(wh, data)
    run_once(wh, CATALOG, emit=lambda f: None, since=timedelta(days=4000), now=at + timedelta(hours=1))
    return wh, at


def window(at: datetime, **kw) -> Filters:
    return Filters(start=at - timedelta(days=4000), end=at + timedelta(hours=1), **kw)


def test_report_counts_what_the_detections_table_holds(reported):
    wh, at = reported
    by_rule = dict(wh.rows("SELECT rule, count() FROM detections FINAL WHERE suppressedBy = '' GROUP BY rule"))
    severities = dict(wh.rows("SELECT severity, count() FROM detections FINAL WHERE suppressedBy = '' GROUP BY severity"))
    r = gather(wh, CATALOG, window(at, listed=7, per_finding=3))

    assert r.summary["findings"] == sum(by_rule.values()) > 100
    assert {s: r.summary[s] for s in severities} == severities
    assert {row["rule"]: row["findings"] for row in r.by_rule} == by_rule
    assert sum(n for _, n in r.by_tactic) == r.summary["findings"]
    # every technique of the matrix: the findings of the enabled rules that detect it
    for tactic, techniques in r.matrix:
        for t in techniques:
            rules = [x.id for x in CATALOG if x.enabled and x.tactic == tactic and t.id in x.mitre]
            assert sorted(t.rules) == sorted(rules)
            assert t.findings == sum(by_rule.get(x, 0) for x in rules), (tactic, t.id)
    assert [t for t, _ in r.matrix][:3] == ["initial-access", "execution", "persistence"]

    # a few MB whatever the data: listed findings and their events are capped
    assert len(r.findings) == 7
    ranks = [["critical", "high", "medium", "low", "informational"].index(f.row["severity"]) for f in r.findings]
    assert ranks == sorted(ranks)
    for f in r.findings:
        ids = wh.rows("SELECT eventIDs FROM detections FINAL WHERE fingerprint = {f:String}", {"f": f.row["fingerprint"]})[0][0]
        assert f.row["events"] == len(ids)
        assert [e["eventID"] for e in f.events] == ids[:3]  # all of the sample, in the finding's order
        assert f.rule is BY_ID[f.row["rule"]]
        assert "--param_start=" in f.reproduce() and f.rule.sql.strip() in f.reproduce()

    hostile = next(row for row in r.identities if row["user"] == HOSTILE_USER)
    assert hostile["findings"] >= 1 and hostile["addresses"] == ["198.51.100.66"]
    assert any(row["srcIP"] == "198.51.100.66" and HOSTILE_USER in row["users"] for row in r.addresses)

    assert [(row["reason"], row["rejects"]) for row in r.rejects] == [("not an audit event (no auditID and no kind: Event)", 1)]


def test_filters_narrow_every_panel(reported):
    wh, at = reported
    high = gather(wh, CATALOG, window(at, min_severity="high"))
    assert high.summary["findings"] == high.summary["high"] + high.summary["critical"] > 0
    assert {row["severity"] for row in high.by_rule} <= {"high", "critical"}
    assert {f.row["severity"] for f in high.findings} <= {"high", "critical"}

    one = gather(wh, CATALOG, window(at, rules=("k8s-pod-exec",), identity=HOSTILE_USER))
    assert [row["rule"] for row in one.by_rule] == ["k8s-pod-exec"]
    assert [row["user"] for row in one.identities] == [HOSTILE_USER]
    assert one.summary["findings"] == len(one.findings) == 2  # one exec, one finding each

    empty = gather(wh, CATALOG, Filters(start=at + timedelta(days=1), end=at + timedelta(days=2)))
    assert empty.summary["findings"] == 0 and empty.findings == [] and empty.identities == []
    assert "No findings in this window." in report_file(empty, CATALOG)


def test_markup_from_audit_logs_stays_text(reported):
    wh, at = reported
    html = report_file(gather(wh, CATALOG, window(at, identity=HOSTILE_USER)), CATALOG)
    assert HOSTILE_USER not in html and HOSTILE_AGENT not in html
    assert '&lt;script&gt;alert(&#34;user&#34;)&lt;/script&gt;' in html
    page = Elements(html)
    assert not [a for t, a in page.tags if t == "script"]
    assert not page.having("onerror")
    csp = next(a for a in page.having("http-equiv", "meta") if a["http-equiv"] == "Content-Security-Policy")
    assert "default-src 'none'" in csp["content"] and "script-src" not in csp["content"]


def test_report_file_stands_alone(reported):
    wh, at = reported
    html = report_file(gather(wh, CATALOG, window(at)), CATALOG)
    page = Elements(html)
    # nothing fetched at view time: no external stylesheet, script, image or font
    assert not [a for t, a in page.tags if t in ("link", "script", "img", "iframe")]
    assert not re.search(r"url\(|@import", html)
    hrefs = [a["href"] for a in page.having("href")]
    assert all(h.startswith("#") or h.startswith("https://attack.mitre.org/techniques/T") for h in hrefs)
    # identity links point at their row of the identities table
    ids = {a["id"] for a in page.having("id")}
    assert all(h[1:] in ids for h in hrefs if h.startswith("#"))
    bars = page.having("data-severity", "rect")
    assert sum(int(a["data-count"]) for a in bars) == gather(wh, CATALOG, window(at)).summary["findings"]


def test_cli_writes_the_report(report_folder, tmp_path):
    folder, at = report_folder
    out = tmp_path / "r.html"
    done = loader_cli("report", "--dsn", f"chdb://{folder}", "--since", "4000d", "-o", str(out), "--findings", "20")
    assert done.returncode == 0, done.stderr
    line = done.stderr.decode().strip()
    assert re.fullmatch(rf"{re.escape(str(out))}: \d+ findings \(.*\) over 4000d, [\d.]+ MB in [\d.]+ s", line), line
    html = out.read_text()
    assert html.count('<details class="finding"') == 20
    tiles = {a["data-ingest"]: a for a in Elements(html).having("data-ingest")}
    assert set(tiles) == {"loaded", "failed", "loading", "events", "rejects"}
    assert re.search(r'data-ingest="loaded"><b>1</b>', html) and re.search(r'data-ingest="failed"><b>0</b>', html)
    findings = int(re.search(r": (\d+) findings", line).group(1))
    count = loader_cli("sql", "SELECT count() FROM detections FINAL WHERE suppressedBy = ''", "--dsn", f"chdb://{folder}",
                       "--format", "TSV")
    assert int(count.stdout) == findings

    stdout = loader_cli("report", "--dsn", f"chdb://{folder}", "--since", "1h", "--until", at.isoformat(),
                        "--min-severity", "critical", "-o", "-")
    assert stdout.returncode == 0 and stdout.stdout.startswith(b"<!doctype html>")


@pytest.mark.parametrize("args, message", [
    (("--since", "soon"), "--since: not a duration"),
    (("--until", "yesterday"), "--until: not an ISO 8601 time"),
    (("--min-severity", "severe"), "--min-severity: one of informational"),
    (("--rule", "k8s-no-such-rule"), "--rule: unknown rule id(s) k8s-no-such-rule"),
    (("-o", "/nonexistent/dir/r.html"), "--output: cannot write /nonexistent/dir/r.html"),
])
def test_cli_usage_errors_are_one_line(tmp_path, args, message):
    done = loader_cli("report", "--dsn", f"chdb://{tmp_path / 'wh'}", *args)
    assert done.returncode == 2
    assert message in done.stderr.decode() and len(done.stderr.decode().strip().splitlines()) == 1


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_served_console(report_folder):
    folder, _ = report_folder
    served = Served(folder, "--password", "s3cret")
    try:
        assert get(served.url + "/")[2] == "Ok.\n"  # health checks that expect ClickHouse's answer still get it
        status, headers, _ = get(served.url + "/?since=4000d", HTML)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")  # a browser asks for the password
        auth = {"Authorization": "Basic " + base64.b64encode(b"default:s3cret").decode(), **HTML}
        status, headers, html = get(served.url + "/?since=4000d", auth)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        page = Elements(html)
        assert page.having("name", "select") and page.having("action", "form")
        links = [a["href"] for a in page.having("href") if a["href"].startswith("/identity?")]
        assert links
        status, _, person = get(served.url + links[0], auth)
        assert status == 200 and 'id="requests"' in person
        for query, message in (("since=soon", "since: not a duration"), ("severity=severe", "severity: one of"),
                               ("rule=nope", "rule: unknown rule id 'nope'")):
            status, _, body = get(f"{served.url}/?{query}", auth)
            assert (status, body.strip()) == (400, body.strip()) and message in body, body
        assert get(served.url + "/identity", auth)[0] == 400
        # the ClickHouse interface is unchanged beside it
        assert served.query("SELECT 1", user="default", password="s3cret") == "1\n"
    finally:
        code, _, err = served.stop()
    assert code == 0, err
