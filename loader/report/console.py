"""The console of `loader serve`: the report's pages, live, filtered by URL parameters (since, severity, rule,
identity), each request on a warehouse handle of its own so pages, loading and detection run at once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from ..chhttp import Page
from ..rules import SEVERITIES, Rule, parse_duration
from ..warehouse import Warehouse
from .data import Filters, gather, identity_events, listed, summary
from .page import console, identity_page

DEFAULT_SINCE = "24h"


def _filters(params: Mapping[str, str], catalog: list[Rule]) -> tuple[Filters, str]:
    since = params.get("since") or DEFAULT_SINCE
    try:
        span = parse_duration(since)
    except ValueError:
        raise ValueError(f"since: not a duration such as 24h or 7d: {since!r}") from None
    severity = params.get("severity") or "informational"
    if severity not in SEVERITIES:
        raise ValueError(f"severity: one of {', '.join(SEVERITIES)}, not {severity!r}")
    rule = params.get("rule", "")
    if rule and rule not in {r.id for r in catalog}:
        raise ValueError(f"rule: unknown rule id {rule!r}")
    end = datetime.now(timezone.utc)
    try:
        start = end - span
    except OverflowError:
        raise ValueError(f"since: too long: {since!r}") from None
    return Filters(start=start, end=end, min_severity=severity, rules=(rule,) if rule else (),
                   identity=params.get("identity", "")), since


def pages(dsn: str, catalog: list[Rule]) -> dict[str, Page]:
    """`/`: findings, coverage and ingest health; `/identity?identity=NAME`: that identity's findings and
    requests."""
    by_id = {r.id: r for r in catalog}

    def front(params: Mapping[str, str]) -> bytes:
        filters, since = _filters(params, catalog)
        wh = Warehouse(dsn)
        try:
            return console(gather(wh, catalog, filters), catalog, since).encode()
        finally:
            wh.close()

    def identity(params: Mapping[str, str]) -> bytes:
        if not params.get("identity"):
            raise ValueError("identity: which user? /identity?identity=NAME")
        filters, since = _filters(params, catalog)
        wh = Warehouse(dsn)
        try:
            total, found = summary(wh, filters)["findings"], listed(wh, by_id, filters)
            events = identity_events(wh, filters)
        finally:
            wh.close()
        return identity_page(filters, total, found, catalog, events, since).encode()

    return {"/": front, "/identity": identity}
