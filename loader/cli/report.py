"""`loader report`: findings, coverage and ingest health as one HTML file that opens offline."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..report.data import Filters, gather
from ..report.page import report_file
from ..rules import SEVERITIES
from ..warehouse import DEFAULT_DSN
from .hunt import _rules, _time
from .options import Dsn, RulePacks, duration, err, fail, warehouse


def register(app: typer.Typer) -> None:
    app.command()(report)


def report(
    output: Annotated[Path, typer.Option("--output", "-o", envvar="LOADER_REPORT_OUTPUT",
                                         help="the HTML file to write ('-': stdout)")] = Path("report.html"),
    since: Annotated[str, typer.Option("--since", envvar="LOADER_REPORT_SINCE",
                                       help="findings of this long before --until, e.g. 24h, 7d, 30d")] = "7d",
    until: Annotated[Optional[str], typer.Option("--until", help="end of the window, ISO 8601 (default: now)")] = None,
    min_severity: Annotated[str, typer.Option("--min-severity", envvar="LOADER_REPORT_MIN_SEVERITY",
                                              help=f"leave out findings below: {', '.join(SEVERITIES)}")] = "informational",
    rule: Annotated[Optional[list[str]], typer.Option("--rule", help="only these rules' findings (repeatable)")] = None,
    identity: Annotated[Optional[str], typer.Option("--identity", help="only the findings naming this user")] = None,
    listed: Annotated[int, typer.Option("--findings", min=0, help="findings listed one by one (most severe first)")] = 200,
    packs: RulePacks = None,
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """Write findings (by severity over time, rule, tactic, technique and the ATT&CK matrix), the identities
    and addresses behind them, each finding with its events and notes, and ingest health, as one HTML file.
    It needs nothing to open: no network, no script."""
    if min_severity not in SEVERITIES:
        fail(f"--min-severity: one of {', '.join(SEVERITIES)}, not {min_severity!r}", 2)
    end = _time("--until", until) or datetime.now(timezone.utc)
    span = duration("--since", since)
    catalog = _rules(packs)
    known = {r.id for r in catalog}
    if unknown := [r for r in rule or [] if r not in known]:
        fail(f"--rule: unknown rule id(s) {', '.join(unknown)} (see `loader hunt list`)", 2)
    filters = Filters(start=end - span, end=end, min_severity=min_severity, rules=tuple(rule or ()),
                      identity=identity or "", listed=listed)
    t0 = time.monotonic()
    with warehouse(dsn) as wh:
        data = gather(wh, catalog, filters)
    html = report_file(data, catalog).encode()
    if str(output) == "-":
        sys.stdout.buffer.write(html)
    else:
        try:
            output.write_bytes(html)
        except OSError as exc:
            fail(f"--output: cannot write {output}: {exc.strerror or exc}", 2)
    s = data.summary
    counts = ", ".join(f"{s[v]} {v}" for v in reversed(SEVERITIES) if s[v])
    err.print(f"{output}: {s['findings']} findings" + (f" ({counts})" if counts else "")
              + f" over {since}, {len(html) / 1e6:.1f} MB in {time.monotonic() - t0:.1f} s", highlight=False)
