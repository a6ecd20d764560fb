"""`loader sql` and `loader info`: the warehouse, asked directly."""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Optional

import typer

from .. import __version__
from ..warehouse import DEFAULT_DSN, redact_dsn
from .options import Dsn, SummaryFormat, fail, pairs, warehouse


def register(app: typer.Typer) -> None:
    app.command()(sql)
    app.command()(info)


def sql(
    query: Annotated[str, typer.Argument(help="SQL text, or '-' to read it from stdin")],
    dsn: Dsn = DEFAULT_DSN,
    fmt: Annotated[str, typer.Option("--format", "-f", help="any ClickHouse output format")] = "PrettyCompact",
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="name=value for {name:Type}")] = None,
) -> None:
    """Run SQL against the warehouse and print the result in any ClickHouse format."""
    text = (sys.stdin.read() if query == "-" else query).strip().rstrip(";")
    if not text:
        fail("no SQL given" + (" on stdin" if query == "-" else ""), 2)
    if m := re.search(r"\bFORMAT\s+(\w+)\s*$", text, re.I):
        text, fmt = text[:m.start()], m.group(1)
    params = pairs("--param", param)
    with warehouse(dsn) as wh:
        formats = [name for (name,) in wh.rows("SELECT name FROM system.formats WHERE is_output")]
        if fmt not in formats:
            like = [name for name in formats if name.lower() == fmt.lower()]
            fail(f"--format: {fmt!r} is not a ClickHouse output format"
                 + (f"; did you mean {like[0]}?" if like else " (e.g. PrettyCompact, TSV, CSVWithNames, JSONEachRow)"), 2)
        out = wh.raw(text, fmt, params or None)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()


def info(dsn: Dsn = DEFAULT_DSN, fmt: SummaryFormat = "text") -> None:
    """Where the warehouse is and what it holds."""
    with warehouse(dsn) as wh:
        counts = {t: wh.rows(f"SELECT count() FROM {t}")[0][0]
                  for t in ("kubernetes_audit_logs", "kubernetes_audit_logs_rejects")}
        sources = wh.rows("SELECT uniqExact(source, identity) FROM ingest_ledger")[0][0]
        version, via = wh.server_version, wh.via
    data = {"version": __version__, "dsn": redact_dsn(dsn), "default_dsn": DEFAULT_DSN, "clickhouse": version,
            "events": counts["kubernetes_audit_logs"], "rejects": counts["kubernetes_audit_logs_rejects"],
            "sources": sources, "served_by": via or ""}
    if fmt == "json":
        print(json.dumps(data))
    else:
        for k, v in data.items():
            print(f"{k:12} {v}")
