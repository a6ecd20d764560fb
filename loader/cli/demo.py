"""The `loader generate` and `loader demo` commands."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..generate import COMPRESSIONS, FORMATS, write
from ..warehouse import DEFAULT_DSN, WarehouseError, redact_dsn
from .options import Dsn, SummaryFormat, Workspace, err, fail


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("demo")(demo)


def generate(
    events: Annotated[int, typer.Option("--events", "-n", min=0, help="how many events")] = 100_000,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"envelope: {', '.join(FORMATS)}")] = "jsonl",
    compression: Annotated[str, typer.Option("--compression", "-c", help=f"{', '.join(COMPRESSIONS)}")] = "none",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write [default: stdout]")] = None,
    seed: Annotated[int, typer.Option("--seed", help="same seed and day, same bytes")] = 0,
    day: Annotated[Optional[str], typer.Option("--day", help="UTC day of the events, YYYY-MM-DD [default: yesterday]")] = None,
) -> None:
    """Write a realistic cluster day of audit events (with an embedded attack story) in any envelope and compression."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}", 2)
    if compression not in COMPRESSIONS:
        fail(f"--compression must be one of {', '.join(COMPRESSIONS)}", 2)
    try:
        when = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc) if day else None
    except ValueError:
        fail(f"--day: {day!r} is not a day (YYYY-MM-DD)", 2)
    t0 = time.monotonic()
    try:
        out = output.open("wb") if output else sys.stdout.buffer
    except OSError as exc:
        fail(f"{output}: {exc.strerror}")
    try:
        with Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, disable=not err.is_terminal, transient=True) as progress:
            task = progress.add_task("", total=events)
            size = write(out, events, fmt, compression, seed, when, on_events=lambda k: progress.advance(task, k))
    finally:
        if output:
            out.close()
    seconds = time.monotonic() - t0
    err.print(f"generated {events} events, {size} bytes ({fmt}, {compression}) in {seconds:.1f}s "
              f"({events / seconds if seconds else 0:,.0f} events/s)" + (f" -> {output}" if output else ""))


def demo(
    dsn: Dsn = DEFAULT_DSN,
    workspace: Workspace = "demo",
    events: Annotated[int, typer.Option("--events", "-n", min=0, help="generated events to upload")] = 30_000,
    seed: Annotated[int, typer.Option("--seed", help="generator seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="objects loaded in parallel")] = 2,
    fmt: SummaryFormat = "text",
) -> None:
    """Run the product end to end on this machine: S3+SQS emulator, generated and real audit logs, sqs-poll, hunting."""
    from ..demo import run  # imports moto's server only when the demo runs

    t0 = time.monotonic()
    try:
        result = run(dsn, n_events=events, seed=seed, workers=workers, workspace=workspace, on_step=err.print)
    except WarehouseError as exc:
        fail(f"warehouse: {exc}")
    except ImportError as exc:
        fail(f"the demo needs moto's server: pip install 'k8s-audit-warehouse[demo]' ({exc})")
    seconds = time.monotonic() - t0
    s = result.stats
    if fmt == "json":
        print(json.dumps({"dsn": redact_dsn(dsn), "seconds": round(seconds, 1), "objects_uploaded": len(result.uploads),
                          "generated_events": result.generated_events, **s.__dict__,
                          "left_in_queue": result.left_in_queue, "in_dlq": result.in_dlq,
                          "findings": result.findings, "top": result.top, "hunt_errors": result.hunt_errors},
                         default=str))
        return
    out = Console(soft_wrap=True)  # the next-step command must stay copyable on one line
    if result.findings or not result.top:
        table = Table(title="Findings", title_justify="left")
        for col in ("rule", "severity", "actor", "object", "count"):
            table.add_column(col, justify="right" if col == "count" else "left", overflow="fold")
        for f in result.findings:
            table.add_row(f["rule"], f["severity"], f["actor"], f["object"], str(f["count"]))
        out.print(table)
    for name, rows in result.top.items():
        table = Table(title=f"Top {name}", title_justify="left")
        table.add_column(name[:-1])
        table.add_column("events", justify="right")
        for what, n in rows:
            table.add_row(str(what), f"{n:,}")
        out.print(table)
    for problem in result.hunt_errors:
        err.print(f"[yellow]rule skipped:[/yellow] {problem}")
    dsn_flag = "" if dsn == DEFAULT_DSN else f" --dsn '{redact_dsn(dsn)}'"
    out.print(f"\nwarehouse: {redact_dsn(dsn)}\nnext: loader sql{dsn_flag} \"SELECT eventName, count() FROM "
              f"kubernetes_audit_logs WHERE workspaceID = '{workspace}' GROUP BY 1 ORDER BY 2 DESC LIMIT 10\"\n"
              f"      loader serve{dsn_flag}   (ClickHouse's HTTP interface on 127.0.0.1:8123 for curl, "
              "clickhouse-connect, Grafana; detections with --detect-every 5m)\n"
              f"      loader detect{dsn_flag} --since 2d && loader report{dsn_flag} --since 2d -o report.html   "
              "(the findings on a page)")
    err.print(f"demo: {len(result.uploads)} objects, {s.messages_received} messages, {s.events} events, "
              f"{s.rejects} rejects loaded in {seconds:.1f}s; {result.left_in_queue} left in the queue, "
              f"{result.in_dlq} in the DLQ")
