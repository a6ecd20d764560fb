"""`loader hunt list|show|run`, `loader detect`, `loader sigma convert`: the queries/ catalog at work."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DEFAULT_DSN, EXIT_CODES, Dsn, err, fail, warehouse
from .detect import DEFAULT_OVERLAP, run_once
from .hunt import jsonable, parse_time, run_rule
from .rules import SEVERITIES, Rule, RuleError, load_rules, parse_duration, select

hunt_app = typer.Typer(help="Saved hunting and detection SQL (queries/).", no_args_is_help=True)
sigma_app = typer.Typer(help="Sigma rules (product: kubernetes, service: audit).", no_args_is_help=True)

Params = Annotated[Optional[list[str]], typer.Option("--param", "-p", help="name=value for a rule parameter (repeatable)")]


def _rules() -> list[Rule]:
    try:
        return load_rules()
    except RuleError as exc:
        fail(str(exc))
        raise


def _params(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for p in pairs or []:
        if "=" not in p:
            fail(f"--param wants name=value, got {p!r}", 2)
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


@hunt_app.command("list")
def hunt_list(fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """Every rule in the catalog, with its metadata."""
    rules = _rules()
    if fmt == "json":
        print(json.dumps([r.meta() for r in rules], indent=2))
        return
    table = Table("id", "severity", "mode", "level", "tactic", "mitre", "title")
    for r in rules:
        table.add_row(r.id, r.severity, r.mode, r.level, r.tactic, ",".join(r.mitre), r.title)
    from rich.console import Console
    Console().print(table)
    err.print(f"{len(rules)} rules")


@hunt_app.command("show")
def hunt_show(rule_id: Annotated[str, typer.Argument(help="rule id")]) -> None:
    """A rule's metadata and SQL (paste the SQL into clickhouse-client with --param_start/--param_end)."""
    rules = {r.id: r for r in _rules()}
    if rule_id not in rules:
        fail(f"unknown rule id {rule_id!r} (see `loader hunt list`)")
    print(rules[rule_id].path.read_text(), end="")


def _window(since: str | None, start: str | None, end: str | None, rule: Rule) -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    try:
        stop = parse_time(end) if end else now
        if start:
            return parse_time(start), stop
        return stop - (parse_duration(since) if since else rule.lookback), stop
    except ValueError as exc:
        fail(f"bad time: {exc}", 2)
        raise


def _emit_rows(fmt: str, rule: Rule, rows: list[dict], state: dict) -> None:
    if fmt == "jsonl":
        for row in rows:
            print(json.dumps({"rule": rule.id, "severity": rule.severity, **jsonable(row)}))
    elif fmt == "json":
        state.setdefault("all", []).extend({"rule": rule.id, "severity": rule.severity, **jsonable(row)} for row in rows)
    elif fmt == "csv":
        for row in rows:
            flat = {"rule": rule.id, "severity": rule.severity,
                    **{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in jsonable(row).items()}}
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(flat))
            if state.get("header") != list(flat):  # rules differ in columns: a header per column set
                writer.writeheader()
                state["header"] = list(flat)
            writer.writerow(flat)
            sys.stdout.write(buf.getvalue())
    else:
        if not rows:
            return
        from rich.console import Console
        table = Table(*rows[0].keys(), title=f"{rule.id} ({rule.severity}): {rule.title}", title_justify="left")
        for row in rows:
            table.add_row(*(json.dumps(v) if isinstance(v, (list, dict)) else str(v) for v in jsonable(row).values()))
        Console().print(table)


@hunt_app.command("run")
def hunt_run(
    rule_ids: Annotated[Optional[list[str]], typer.Argument(help="rule ids to run")] = None,
    all_rules: Annotated[bool, typer.Option("--all", help="run every rule in the catalog")] = False,
    since: Annotated[Optional[str], typer.Option(help="lookback such as 15m, 24h, 7d (default: each rule's window)")] = None,
    start: Annotated[Optional[str], typer.Option(help="ISO start (UTC unless an offset is given)")] = None,
    end: Annotated[Optional[str], typer.Option(help="ISO end (default: now)")] = None,
    param: Params = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv")] = "table",
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """Run rules over a time window and print the hits."""
    if fmt not in ("table", "json", "jsonl", "csv"):
        fail(f"--format: table, json, jsonl or csv, not {fmt!r}", 2)
    if bool(rule_ids) == all_rules:
        fail("name rule ids or give --all", 2)
    if since and start:
        fail("--since and --start exclusive", 2)
    try:
        chosen = select(_rules(), ids=rule_ids, include_disabled=True)
    except RuleError as exc:
        fail(str(exc), 2)
    overrides, state, hits_total, t0 = _params(param), {}, 0, time.monotonic()
    with warehouse(dsn) as wh:
        for rule in chosen:
            lo, hi = _window(since, start, end, rule)
            hits = run_rule(wh, rule, lo, hi, overrides)
            hits_total += len(hits.rows)
            _emit_rows(fmt, rule, hits.rows, state)
    if fmt == "json":
        print(json.dumps(state.get("all", []), indent=2))
    err.print(f"ran {len(chosen)} rule(s): {hits_total} hit(s) in {time.monotonic() - t0:.1f}s")


def detect(
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit (the default)")] = False,
    every: Annotated[Optional[str], typer.Option("--every", help="run again at this interval, e.g. 5m")] = None,
    rule: Annotated[Optional[list[str]], typer.Option("--rule", help="only these rule ids (repeatable; runs them even if disabled)")] = None,
    disable: Annotated[Optional[list[str]], typer.Option("--disable", envvar="LOADER_DETECT_DISABLE", help="skip these rule ids")] = None,
    min_severity: Annotated[Optional[str], typer.Option("--min-severity", envvar="LOADER_DETECT_MIN_SEVERITY",
                                                         help=f"skip rules below: {', '.join(SEVERITIES)}")] = None,
    webhook: Annotated[Optional[str], typer.Option("--webhook", envvar="LOADER_WEBHOOK", help="POST each new finding (JSON) here")] = None,
    overlap: Annotated[str, typer.Option(help="re-read this much before the checkpoint, for late events")] = "5m",
    retries: Annotated[int, typer.Option(help="webhook attempts per finding per run")] = 3,
    since: Annotated[Optional[str], typer.Option("--since", help="a rule's first run (no checkpoint yet) looks back "
                                                 "this far, e.g. 30d, instead of its default window")] = None,
    param: Params = None,
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """Run enabled rules since their last run; print new findings as JSON lines (and POST them to --webhook)."""
    if once and every:
        fail("--once and --every exclusive", 2)
    try:
        chosen = select(_rules(), ids=rule, min_severity=min_severity, disabled=disable)
        gap, interval = parse_duration(overlap), parse_duration(every) if every else None
        first = parse_duration(since) if since else None
    except (RuleError, ValueError) as exc:
        fail(str(exc), 2)
    emit = lambda f: (print(json.dumps(f)), sys.stdout.flush())  # noqa: E731
    with warehouse(dsn) as wh:
        while True:
            t0 = time.monotonic()
            s = run_once(wh, chosen, emit=emit, webhook=webhook, overlap=gap or DEFAULT_OVERLAP,
                         params=_params(param), tries=retries, first_lookback=first)
            for e in s.errors:
                err.print(f"[red]error:[/red] {e}")
            line = f"detect: {s.rules} rule(s), {s.findings} finding(s), {s.new} new"
            if s.updates:
                line += f", {s.updates} grown since reported (not re-alerted)"
            if webhook:
                line += f", {s.delivered} delivered, {s.failed} delivery failure(s) (retried next run)"
            err.print(line + f" in {time.monotonic() - t0:.1f}s")
            if s.failed:  # one line, grouped by reason: 34 failures are usually one cause
                reasons = ", ".join(f"{why} ({n})" for why, n in s.failures.most_common())
                many = "deliveries" if s.failed > 1 else "delivery"
                err.print(f"[red]error:[/red] {s.failed} {many} failed: {escape(reasons)}")
            if interval is None:
                break
            time.sleep(max(0.0, interval.total_seconds() - (time.monotonic() - t0)))
    if s.errors or s.failed:
        raise typer.Exit(1)


@sigma_app.command("convert")
def sigma_convert(
    path: Annotated[Path, typer.Argument(help="a Sigma rule .yml or a directory of them", exists=True)],
    out: Annotated[Optional[Path], typer.Option("--out", help="write <id>.sql files into this folder instead of stdout")] = None,
) -> None:
    """Turn Sigma kubernetes/audit rules into queries/ rule files for this table."""
    from .sigma import SigmaError, convert  # pySigma loads slowly: only for this command
    try:
        converted = convert(path)
    except SigmaError as exc:
        fail(f"sigma: {exc}")
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for _, text in converted:
        if out:
            rid = text.splitlines()[0].split(":", 1)[1].strip()
            (out / f"{rid}.sql").write_text(text)
        else:
            print(text)
    err.print(f"converted {len(converted)} Sigma rule(s)" + (f" into {out}" if out else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(hunt_app, name="hunt")
    app.add_typer(sigma_app, name="sigma")
    app.command("detect", epilog=EXIT_CODES)(detect)
