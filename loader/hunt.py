"""Run rules against a Warehouse over [start, end) with their parameters; rows come back as dicts."""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from .rules import Rule, RuleError
from .warehouse import QueryError, Warehouse, WarehouseError, quote_string


class ParamError(ValueError):
    """A parameter value (--param) that no chosen rule takes, or that is not of the type the rule declares."""


@dataclass
class Hits:
    rule: Rule
    rows: list[dict[str, Any]]
    seconds: float


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_time(text: str) -> datetime:
    """ISO 8601 ('2024-05-01', '2024-05-01T10:00:00Z', with offset) -> aware UTC datetime."""
    return utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00")))


def _ch_time(value: datetime) -> str:
    return utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")


def parameters(rule: Rule, start: datetime, end: datetime, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Query parameters: the window plus each declared param's default, replaced by overrides.

    Overrides the rule does not declare are ignored: one --param can serve several rules.
    """
    params: dict[str, Any] = {"start": _ch_time(start), "end": _ch_time(end)}
    values = {p.name: p.default for p in rule.params.values()}
    values.update({k: v for k, v in (overrides or {}).items() if k in rule.params})
    for name, text in values.items():
        params[name] = literal(rule.params[name].type, text)
    return params


def literal(ch_type: str, text: str) -> Any:
    """A parameter's text as the value clickhouse-connect binds: scalars travel as text, which the
    server parses; composite literals ("['a', 'b']") become Python values, because the client
    escapes the quotes inside a text value."""
    if re.match(r"^(Nullable\()?(Array|Tuple|Map)\(", ch_type):
        try:
            return ast.literal_eval(text.strip() or "[]")
        except (ValueError, SyntaxError, RecursionError) as exc:
            raise ParamError(f"cannot read {text!r} as {ch_type}: {exc}") from exc
    return text


def check_params(wh: Warehouse, rules: list[Rule], overrides: dict[str, str]) -> None:
    """Refuse, before any rule runs, an override that none of the rules declares (a typo would run them
    with their defaults) or whose value ClickHouse cannot read as the declared type."""
    for name, text in overrides.items():
        takers: dict[str, Rule] = {}
        for r in rules:  # one check per type, named after the first rule (by id) that takes it
            if name in r.params:
                takers.setdefault(r.params[name].type, r)
        if not takers:
            raise ParamError(f"{name}: none of the rules takes it (their parameters: loader hunt show RULE)")
        for ch_type, rule in takers.items():
            try:
                wh.rows(f"SELECT {{v:{ch_type}}}", {"v": literal(ch_type, text)})
            except (ParamError, QueryError):
                like = "; write a literal such as ['a', 'b'], quotes included" if "Array(" in ch_type else ""
                raise ParamError(f"{name}: {text!r} is not a valid {ch_type} for rule {rule.id}{like}") from None


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return value


def run_rule(wh: Warehouse, rule: Rule, start: datetime, end: datetime,
             overrides: dict[str, str] | None = None, suppressions: list[tuple[str, str]] | None = None) -> Hits:
    """Run one rule; its rows must carry eventTime and eventIDs (queries/README.md). With suppressions
    ((id, SQL condition over the rule's columns)), each row also carries `suppressedBy`: the first one it
    satisfies, or ''."""
    t0 = time.monotonic()
    sql = rule.sql
    if suppressions:
        cases = ", ".join(f"({condition}), {quote_string(sid)}" for sid, condition in suppressions)
        sql = f"SELECT *, multiIf({cases}, '') AS suppressedBy FROM (\n{rule.sql}\n)"
    try:
        rows = wh.query_dicts(sql, parameters(rule, start, end, overrides))
    except WarehouseError as exc:
        raise exc.about(f"rule {rule.id}") from exc
    if rows and (missing := {"eventTime", "eventIDs"} - rows[0].keys()):
        raise RuleError(f"rule {rule.id}: result lacks column(s) {', '.join(sorted(missing))}")
    return Hits(rule, rows, time.monotonic() - t0)


# ATT&CK's enterprise tactics in kill-chain order; queries/ folders carry their names
TACTICS = ("initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion", "credential-access",
           "discovery", "lateral-movement", "collection", "command-and-control", "exfiltration", "impact")


def coverage(rules: list[Rule]) -> dict[str, dict[str, list[str]]]:
    """tactic -> technique -> ids of the rules that detect it, tactics in ATT&CK order (hunting last)."""
    out: dict[str, dict[str, list[str]]] = {}
    order = {t: i for i, t in enumerate(TACTICS)}
    for rule in sorted(rules, key=lambda r: (order.get(r.tactic, len(TACTICS)), r.tactic)):
        for technique in rule.mitre:
            out.setdefault(rule.tactic, {}).setdefault(technique, []).append(rule.id)
    return {t: dict(sorted(techniques.items())) for t, techniques in out.items()}
