"""Scheduled detection: run enabled rules since their checkpoint, keep new findings, deliver them.

State lives in ClickHouse (schema/070_detections.sql), so any number of runs, restarts or hosts
share it. A finding is new when no earlier finding of the same rule holds any of its events: the
same events matched again (overlapping windows) add nothing, and an aggregate that grew since it was
reported (a burst still going on) counts as an update of that finding, not a second alert, as with
Elastic's alert suppression. A finding whose webhook delivery failed stays delivered = 0 until a
later run gets it through.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .hunt import jsonable, run_rule
from .rules import Rule, RuleError, parse_duration
from .warehouse import Warehouse, WarehouseError

DEFAULT_OVERLAP = timedelta(minutes=5)
# A reset appends this checkpoint rather than deleting rows: the detect user may only SELECT and INSERT
_RESET = datetime(1970, 1, 1, tzinfo=timezone.utc)
_COLUMNS = ["rule", "severity", "fingerprint", "eventTime", "eventIDs", "finding", "detectedAt", "delivered",
            "attempts", "version"]


@dataclass
class RunSummary:
    rules: int = 0
    findings: int = 0
    new: int = 0
    updates: int = 0
    delivered: int = 0
    failed: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # why deliveries failed: reason -> count
    errors: list[str] = field(default_factory=list)
    suppressed: int = 0   # new findings a suppression matched: recorded, not printed nor delivered
    below_threshold: int = 0  # findings with fewer events than the rule's threshold: not alerted yet


@dataclass
class Suppression:
    id: str
    rule: str
    condition: str
    until: datetime
    reason: str
    createdBy: str
    createdAt: datetime
    removed: bool = False


_SUPPRESSION_COLUMNS = ["id", "rule", "condition", "until", "reason", "createdBy", "createdAt", "removed", "version"]


def suppressions(wh: Warehouse, everything: bool = False, at: datetime | None = None) -> list[Suppression]:
    """The suppressions in force at `at` (now by default; with everything: expired and removed ones too),
    newest first."""
    rows = wh.query_dicts("SELECT id, rule, condition, until, reason, createdBy, createdAt, removed "
                          "FROM detection_suppressions FINAL "
                          + ("" if everything else "WHERE NOT removed AND until > {at:DateTime64(6)} ")
                          + "ORDER BY createdAt DESC", {"at": at or _now()})
    return [Suppression(**row) for row in rows]


def suppress(wh: Warehouse, rule: Rule, condition: str, until: datetime, reason: str, by: str) -> Suppression:
    """Keep a suppression; ClickHouse first checks the condition against the rule's columns (a typo fails
    here, not at the next pass)."""
    now = _now()
    run_rule(wh, rule, now, now, suppressions=[("check", condition)])  # an empty window: compiles, reads nothing
    s = Suppression(hashlib.sha256(f"{rule.id}\0{condition}\0{now.isoformat()}".encode()).hexdigest()[:12],
                    rule.id, condition, until, reason, by, now)
    _insert(wh, [[*vars(s).values(), now]], "detection_suppressions", _SUPPRESSION_COLUMNS)
    return s


def unsuppress(wh: Warehouse, suppression_id: str) -> Suppression | None:
    """Remove a suppression (it stays listed with --all); None if there is no such one in force."""
    found = [s for s in suppressions(wh, everything=True) if s.id == suppression_id and not s.removed]
    if found:
        found[0].removed = True
        _insert(wh, [[*vars(found[0]).values(), _now()]], "detection_suppressions", _SUPPRESSION_COLUMNS)
    return found[0] if found else None


def fingerprint(rule_id: str, event_ids: list[str]) -> str:
    return hashlib.sha256("\0".join([rule_id, *sorted(set(event_ids))]).encode()).hexdigest()[:32]


def checkpoints(wh: Warehouse) -> dict[str, datetime]:
    return {r: t.replace(tzinfo=timezone.utc) for r, t in
            wh.rows("SELECT rule, argMax(lastEnd, updatedAt) AS last FROM detection_checkpoints GROUP BY rule "
                    "HAVING last > {reset:DateTime64(6)}", {"reset": _RESET})}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _insert(wh: Warehouse, rows: list[list[Any]], table: str = "detections", columns: list[str] = _COLUMNS) -> None:
    if rows:
        wh.insert(table, rows, columns)


def _checkpoint(wh: Warehouse, rows: list[list[Any]]) -> None:
    _insert(wh, rows, "detection_checkpoints", ["rule", "lastEnd", "updatedAt"])


def reset_checkpoints(wh: Warehouse, rule_ids: list[str] | None = None) -> list[str]:
    """Forget the checkpoints of these rules (all when None): their next run starts from its lookback.
    Returns the rules that had one."""
    marks = checkpoints(wh)
    ids = sorted(marks) if rule_ids is None else [r for r in rule_ids if r in marks]
    _checkpoint(wh, [[r, _RESET, _now()] for r in ids])
    return ids


def reported(wh: Warehouse, rule_id: str, prints: list[str], event_ids: list[str]) -> tuple[set[str], set[str]]:
    """(fingerprints, event IDs) among these that earlier findings of the rule already hold."""
    if not prints:
        return set(), set()
    rows = wh.rows("SELECT fingerprint, arrayIntersect(eventIDs, {e:Array(String)}) FROM detections "
                   "WHERE rule = {r:String} AND (fingerprint IN {f:Array(String)} OR hasAny(eventIDs, {e:Array(String)}))",
                   {"r": rule_id, "f": prints, "e": event_ids})
    return {fp for fp, _ in rows} & set(prints), {i for _, ids in rows for i in ids}


def post(url: str, body: bytes, tries: int = 3, backoff: float = 0.5, timeout: float = 10.0) -> str | None:
    """POST JSON; retry with exponential backoff on errors and 5xx/429. None on success, else the last error."""
    error = None
    for attempt in range(tries):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                if resp.status < 300:
                    return None
                error = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                return error  # the receiver refuses this finding; retrying now will not help
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", None) or exc)  # "Connection refused", not "<urlopen error ...>"
    return error


def deliver_pending(wh: Warehouse, url: str, tries: int = 3, backoff: float = 0.5) -> tuple[int, Counter[str]]:
    """POST every undelivered finding (this run's and earlier failures); returns (delivered, failure reasons)."""
    pending = wh.rows("SELECT rule, severity, fingerprint, eventTime, eventIDs, finding, detectedAt, attempts "
                      "FROM detections FINAL WHERE NOT delivered AND suppressedBy = '' ORDER BY detectedAt, rule")
    ok, failures = 0, Counter[str]()
    for rule, severity, fp, event_time, ids, finding, detected, attempts in pending:
        error = post(url, finding.encode(), tries=tries, backoff=backoff)
        if error is None:
            ok += 1
        else:
            failures[error] += 1
        _insert(wh, [[rule, severity, fp, event_time, ids, finding, detected, error is None, attempts + 1, _now()]])
    return ok, failures


def _alerted_entities(wh: Warehouse, rule: Rule, now: datetime) -> set[str] | None:
    """For a rule with a dedup window: the entities (the finding's `user`) alerted within it; else None."""
    if not rule.dedup:
        return None
    rows = wh.rows("SELECT DISTINCT JSONExtractString(finding, 'user') FROM detections FINAL WHERE rule = {r:String} "
                   "AND suppressedBy = '' AND detectedAt >= {since:DateTime64(6)}",
                   {"r": rule.id, "since": now - parse_duration(rule.dedup)})
    return {u for (u,) in rows}


def run_once(wh: Warehouse, rules: list[Rule], *, emit: Callable[[dict], object], webhook: str | None = None,
             overlap: timedelta = DEFAULT_OVERLAP, params: dict[str, str] | None = None,
             now: datetime | None = None, tries: int = 3, backoff: float = 0.5,
             since: timedelta | None = None) -> RunSummary:
    """One detection pass: each rule over [now - since, now) when since is given, checkpoints or not;
    else over [checkpoint - overlap, now), or its default window when it has no checkpoint yet."""
    end = now or _now()
    marks = checkpoints(wh)
    summary = RunSummary()
    muted: dict[str, list[tuple[str, str]]] = {}
    for s in suppressions(wh, at=end):
        muted.setdefault(s.rule, []).append((s.id, s.condition))
    for rule in rules:
        start = (end - since if since is not None else marks[rule.id] - overlap if rule.id in marks
                 else end - rule.lookback)
        try:
            hits = run_rule(wh, rule, start, end, params, muted.get(rule.id))
        except (WarehouseError, RuleError) as exc:  # one broken rule must not stop the others
            summary.errors.append(str(exc))
            continue
        summary.rules += 1
        summary.findings += len(hits.rows)
        prints = [fingerprint(rule.id, row["eventIDs"]) for row in hits.rows]
        seen, old_events = reported(wh, rule.id, prints, sorted({i for row in hits.rows for i in row["eventIDs"]}))
        fresh, stamp = [], _now()
        alerted = _alerted_entities(wh, rule, stamp)
        for fp, row in zip(prints, hits.rows):
            if fp in seen:
                continue
            seen.add(fp)
            if old_events.intersection(row["eventIDs"]):
                summary.updates += 1
                continue
            if len(row["eventIDs"]) < rule.threshold:  # alerted once it holds enough events (not recorded: a
                summary.below_threshold += 1           # later pass sees the grown finding as new)
                continue
            muted_by = row.pop("suppressedBy", "")
            if alerted is not None and not muted_by:  # one alert per entity within the rule's dedup window
                entity = str(row.get("user", ""))
                muted_by = f"dedup {rule.dedup}" if entity in alerted else ""
                alerted.add(entity)
            finding = {"rule": rule.id, "title": rule.title, "severity": rule.severity, "mitre": rule.mitre,
                       "fingerprint": fp, "detectedAt": jsonable(stamp), **jsonable(row)}
            fresh.append([rule.id, rule.severity, fp, row["eventTime"], list(row["eventIDs"]),
                          json.dumps(finding, default=str), stamp, webhook is None, 0, stamp, muted_by])
            if muted_by:
                summary.suppressed += 1
            else:
                emit(finding)
        _insert(wh, fresh, columns=[*_COLUMNS, "suppressedBy"])
        summary.new += len(fresh) - sum(1 for f in fresh if f[-1])
        _checkpoint(wh, [[rule.id, end, _now()]])
    if webhook:
        summary.delivered, summary.failures = deliver_pending(wh, webhook, tries=tries, backoff=backoff)
        summary.failed = summary.failures.total()
    return summary
