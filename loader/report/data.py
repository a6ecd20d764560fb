"""What the report and the console show, read by the SQL files beside this module. Python only joins the
rows with the rules' headers (titles, tactics, techniques, notes) and picks the chart's bucket size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from ..hunt import TACTICS, coverage, utc
from ..rules import SEVERITIES, Rule
from ..warehouse import Warehouse

HERE = Path(__file__).parent
HOUR, DAY, WEEK = 3600, 86400, 7 * 86400


@cache
def sql(name: str) -> str:
    return (HERE / f"{name}.sql").read_text()


@dataclass(frozen=True)
class Filters:
    """Which findings: eventTime in [start, end), at least min_severity, only these rules and this identity
    when given. The limits keep a report over any amount of data a few MB: top-N lists, sampled events."""

    start: datetime
    end: datetime
    min_severity: str = "informational"
    rules: tuple[str, ...] = ()
    identity: str = ""
    top: int = 50            # rows of the identity, address and reject lists
    listed: int = 200        # findings listed one by one
    per_finding: int = 10    # events shown per finding

    @property
    def severities(self) -> list[str]:
        return list(SEVERITIES[SEVERITIES.index(self.min_severity):])

    @property
    def step(self) -> int:
        """The chart's bucket: hours up to three days, days up to four months, else weeks (at most ~120 bars)."""
        span = self.end - self.start
        return HOUR if span <= timedelta(days=3) else DAY if span <= timedelta(days=120) else WEEK

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "severities": self.severities, "rules": list(self.rules),
                "identity": self.identity, **extra}


@dataclass
class Finding:
    row: dict[str, Any]
    rule: Rule | None
    events: list[dict[str, Any]] = field(default_factory=list)

    def reproduce(self) -> str:
        """The rule's SQL with the clickhouse-client line that runs it over its window around the finding."""
        if self.rule is None:
            return ""
        at = utc(self.row["eventTime"])
        start, end = at - self.rule.lookback, at + self.rule.lookback
        stamp = "%Y-%m-%d %H:%M:%S"
        return (f"-- clickhouse-client --param_start='{start:{stamp}}' --param_end='{end:{stamp}}' --queries-file "
                f"{self.rule.path.name}\n{self.rule.sql.strip()}\n")


@dataclass
class Technique:
    id: str
    findings: int
    rules: list[str]


@dataclass
class Report:
    filters: Filters
    generated: datetime
    summary: dict[str, Any]
    over_time: list[dict[str, Any]]
    by_rule: list[dict[str, Any]]
    by_tactic: list[tuple[str, int]]
    matrix: list[tuple[str, list[Technique]]]
    identities: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    findings: list[Finding]
    ingest: dict[str, Any]
    rejects: list[dict[str, Any]]
    failed: list[dict[str, Any]]


def gather(wh: Warehouse, rules: list[Rule], filters: Filters, now: datetime | None = None) -> Report:
    catalog = {r.id: r for r in rules}
    p = filters.params
    by_rule = wh.query_dicts(sql("by_rule"), p())
    for row in by_rule:
        rule = catalog.get(row["rule"])
        row["title"] = rule.title if rule else row["rule"]
        row["tactic"] = rule.tactic if rule else "unknown"
        row["mitre"] = rule.mitre if rule else []
    found = {row["rule"]: row["findings"] for row in by_rule}

    tactics: dict[str, int] = {}
    for row in by_rule:
        tactics[row["tactic"]] = tactics.get(row["tactic"], 0) + row["findings"]
    order = {t: i for i, t in enumerate(TACTICS)}
    by_tactic = sorted(tactics.items(), key=lambda kv: (order.get(kv[0], len(TACTICS)), kv[0]))

    covered = coverage([r for r in rules if r.enabled])
    matrix = [(tactic, [Technique(t, sum(found.get(r, 0) for r in ids), ids) for t, ids in covered.get(tactic, {}).items()])
              for tactic in TACTICS]

    return Report(
        filters=filters,
        generated=now or datetime.now().astimezone(),
        summary=summary(wh, filters),
        over_time=wh.query_dicts(sql("over_time"), p(step=filters.step)),
        by_rule=by_rule,
        by_tactic=by_tactic,
        matrix=matrix,
        identities=wh.query_dicts(sql("identities"), p(top=filters.top)),
        addresses=wh.query_dicts(sql("addresses"), p(top=filters.top)),
        findings=listed(wh, catalog, filters),
        ingest=wh.query_dicts(sql("ingest"), p())[0],
        rejects=wh.query_dicts(sql("rejects"), p(top=filters.top)),
        failed=wh.query_dicts(sql("failed_objects"), p(top=filters.top)),
    )


def summary(wh: Warehouse, filters: Filters) -> dict[str, Any]:
    """The headline numbers: findings by severity, identities, rules that fired, events in the window."""
    return wh.query_dicts(sql("summary"), filters.params())[0]


def listed(wh: Warehouse, catalog: dict[str, Rule], filters: Filters) -> list[Finding]:
    """The findings listed one by one, most severe first, each with its sampled events."""
    out = [Finding(row, catalog.get(row["rule"]))
           for row in wh.query_dicts(sql("findings"), filters.params(top=filters.listed, per=filters.per_finding))]
    ids = sorted({i for f in out for i in f.row["sample"]})
    if ids:
        since = min(f.row["eventTime"] for f in out) - timedelta(days=1)
        events = {e["eventID"]: e for e in wh.query_dicts(sql("events"), {"since": since, "ids": ids})}
        for f in out:
            f.events = [events[i] for i in f.row["sample"] if i in events]
    return out


def identity_events(wh: Warehouse, filters: Filters, limit: int = 500) -> list[dict[str, Any]]:
    """The identity's own requests in the window, the latest first, each marked with the rules whose
    findings hold it (the console's identity page)."""
    return wh.query_dicts(sql("identity_events"), filters.params(top=limit))
