"""Test rules against their fixtures, as `panther_analysis_tool test` does: `loader rules test DIR` for a user's
pack, tests/test_rules.py for the catalog.

Beside each `<id>.sql`, `<id>.tp.jsonl` holds events the rule must find, every one of them (events timed
before 2000-01-01 are history that baseline rules compare against, not findings), and `<id>.tn.jsonl` events
it must not find. A threshold rule's tn fixture holds one event fewer than its threshold.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .hunt import run_rule
from .pipeline import Settings, load_stream
from .rules import Rule, RuleError, parse_rule, rule_files
from .warehouse import Warehouse, WarehouseError

# the window a fixture is checked over; what lies before START is a baseline rule's history
START = datetime(2000, 1, 1, tzinfo=timezone.utc)
END = datetime(2100, 1, 1, tzinfo=timezone.utc)


@dataclass
class Outcome:
    path: Path
    rule: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def fixture(rule_path: Path, kind: str) -> Path:
    return rule_path.with_name(f"{rule_path.stem}.{kind}.jsonl")


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _in_window(event: dict) -> bool:
    stamp = event.get("requestReceivedTimestamp") or event.get("stageTimestamp") or ""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= START
    except ValueError:
        return True


def reset(wh: Warehouse) -> None:
    """Empty every table of the scratch warehouse (TRUNCATE also clears insert deduplication)."""
    for (table,) in wh.rows("SELECT name FROM system.tables WHERE database = currentDatabase() "
                            "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"):
        wh.command(f"TRUNCATE TABLE `{table}`")


def _load(wh: Warehouse, path: Path) -> str | None:
    r = load_stream(wh, path.name, io.BytesIO(path.read_bytes()), Settings(ttl_days=0))
    if r.rejects or not r.events:
        return f"{path.name}: {r.events} events loaded, {r.rejects} rejected (want every line an event)"
    return None


def check(wh: Warehouse, rule: Rule) -> list[str]:
    """What is wrong with a rule's fixtures on an empty warehouse (emptied again after): [] when it passes."""
    tp, tn = fixture(rule.path, "tp"), fixture(rule.path, "tn")
    missing = [f"no {p.name} beside it" for p in (tp, tn) if not p.is_file()]
    if missing:
        return missing
    problems: list[str] = []
    try:
        if bad := _load(wh, tp):
            return [bad]
        rows = run_rule(wh, rule, START, END).rows
        if bad_rows := [row for row in rows if not isinstance(row["eventTime"], datetime) or not row["eventIDs"]
                        or len(row["eventIDs"]) > 100]:
            problems.append(f"rows want a DateTime eventTime and 1 to 100 eventIDs: {bad_rows[0]}")
        events = _events(tp)
        wanted = {e["auditID"] for e in events if _in_window(e)}
        found = {i for row in rows for i in row["eventIDs"]}
        if lost := wanted - found:
            problems.append(f"true positives not found: {len(lost)} of {len(wanted)} ({', '.join(sorted(lost)[:5])})")
        if stray := found - {e["auditID"] for e in events}:
            problems.append(f"eventIDs that are not fixture events: {', '.join(sorted(stray)[:5])}")
        far = datetime(1971, 1, 1, tzinfo=timezone.utc)
        if run_rule(wh, rule, far, far + timedelta(days=1)).rows:
            problems.append("found rows in a window that holds no fixture event: bind every branch by {start} and {end}")
        reset(wh)
        if bad := _load(wh, tn):
            return problems + [bad]
        if rows := run_rule(wh, rule, START, END).rows:
            problems.append(f"matched its true-negative fixture: {len(rows)} row(s), events "
                            f"{', '.join(i for row in rows[:3] for i in row['eventIDs'][:2])}")
    except (WarehouseError, RuleError) as exc:
        problems.append(str(exc))
    finally:
        reset(wh)
    return problems


def check_pack(wh: Warehouse, folder: Path) -> list[Outcome]:
    """Every rule file under folder: its header (queries/README.md), then its fixtures."""
    outcomes = []
    for path in rule_files(folder):
        try:
            rule = parse_rule(path)
        except RuleError as exc:
            outcomes.append(Outcome(path, path.stem, [str(exc).removeprefix(f"{path}: ")]))
            continue
        outcomes.append(Outcome(path, rule.id, check(wh, rule)))
    return outcomes
