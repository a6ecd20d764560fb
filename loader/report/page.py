"""HTML from a Report: the standalone report file and the console's pages. Jinja2 escapes every value: user
names, user agents and request paths in audit logs are whatever an attacker sent, and the page must show them,
never run them (the pages carry no script and a Content-Security-Policy that allows none)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .. import __version__
from ..hunt import utc
from ..rules import SEVERITIES, Rule
from . import charts
from .data import Filters, Finding, Report

_env = Environment(loader=PackageLoader("loader.report", "templates"), autoescape=select_autoescape(default=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _when(value: datetime | None) -> str:
    return utc(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def anchor(user: str) -> str:
    """A stable, safe element id for an identity (names hold ':', '@', spaces...)."""
    return "id-" + hashlib.sha256(user.encode()).hexdigest()[:12]


_env.filters.update(when=_when, thousands=lambda n: f"{n:,}", anchor=anchor,
                    attack=lambda t: "https://attack.mitre.org/techniques/" + t.replace(".", "/") + "/")


def _render(template: str, catalog: list[Rule], link: Callable[[str], str], **context: Any) -> str:
    severity = {r.id: r.severity for r in catalog}
    return _env.get_template(template).render(
        version=__version__, colors=charts.COLORS, severities=SEVERITIES, catalog=catalog, link=link,
        severity_of=lambda rule: severity.get(rule, "informational"), **context)


def _report(report: Report, catalog: list[Rule], link: Callable[[str], str], **extra: Any) -> str:
    f = report.filters
    return _render("report.html.j2", catalog, link, r=report, **extra,
                   charts={"over_time": charts.over_time(report.over_time, f.start, f.end, f.step),
                           "tactics": charts.bars(report.by_tactic, "tactic")})


def report_file(report: Report, catalog: list[Rule]) -> str:
    """The standalone report: identities link to their row in the identities table."""
    return _report(report, catalog, lambda user: "#" + anchor(user), served=False)


def _identity_link(since: str) -> Callable[[str], str]:
    return lambda user: "/identity?" + urlencode({"identity": user, "since": since})


def console(report: Report, catalog: list[Rule], since: str) -> str:
    """The console's front page: the report with the filter form; identities link to their page."""
    return _report(report, catalog, _identity_link(since), served=True, since=since)


def identity_page(filters: Filters, total: int, findings: list[Finding], catalog: list[Rule],
                  events: list[dict[str, Any]], since: str) -> str:
    """An identity's findings (total of them, the listed ones) and its own requests; back goes to the front page
    over the same window."""
    return _render("identity.html.j2", catalog, _identity_link(since), filters=filters, total=total,
                   findings=findings, events=events, back="/?" + urlencode({"since": since}))
