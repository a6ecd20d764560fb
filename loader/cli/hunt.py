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
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from ..detect import reset_checkpoints, run_once
from ..hunt import ParamError, check_params, jsonable, parse_time, run_rule
from ..rules import SEVERITIES, Rule, RuleError, load_rules, select
from ..warehouse import DEFAULT_DSN, Warehouse
from .options import EXIT_CODES, Dsn, duration, err, fail, pairs, warehouse

hunt_app = typer.Typer(help="Saved hunting and detection SQL (queries/).", no_args_is_help=True)
sigma_app = typer.Typer(help="Sigma rules (product: kubernetes, service: audit).", no_args_is_help=True)

Params = Annotated[Optional[list[str]], typer.Option("--param", "-p", help="name=value for a rule parameter (repeatable)")]


def _rules() -> list[Rule]:
    try:
        return load_rules()
    except RuleError as exc:  # a broken file in queries/: not the user's command
        fail(str(exc))


def _select(rules: list[Rule], **how) -> list[Rule]:
    try:
        return select(rules, **how)
    except RuleError as exc:  # an unknown id or severity
        fail(str(exc), 2)


def _format(fmt: str, choices: tuple[str, ...]) -> None:
    if fmt not in choices:
        fail(f"--format: {', '.join(choices[:-1])} or {choices[-1]}, not {fmt!r}", 2)


def _check_params(wh: Warehouse, rules: list[Rule], overrides: dict[str, str]) -> None:
    try:
        check_params(wh, rules, overrides)
    except ParamError as exc:
        fail(f"--param {exc}", 2)


def _time(option: str, text: str | None) -> datetime | None:
    try:
        return parse_time(text) if text is not None else None
    except (ValueError, OverflowError):
        fail(f"{option}: not an ISO 8601 time such as 2024-05-01 or 2024-05-01T10:00:00Z: {text!r}", 2)


_OPTIONAL_COLUMNS = ("tactic", "mitre", "mode", "level")  # in this order, as the width allows


def _catalog(rules: list[Rule], width: int) -> Table:
    """id and severity whole (to copy), the optional columns while the title keeps 40 characters, and
    the title last, wrapped by words: fits 80 columns."""
    rows = [{"id": r.id, "severity": r.severity, "tactic": r.tactic, "mitre": ",".join(r.mitre), "mode": r.mode,
             "level": r.level} for r in rules]
    widths = {k: max([len(k)] + [len(row[k]) for row in rows]) + 1 for k in ("id", "severity", *_OPTIONAL_COLUMNS)}
    shown = ["id", "severity"]
    for k in _OPTIONAL_COLUMNS:
        if sum(widths[c] for c in shown) + widths[k] + 40 <= width:
            shown.append(k)
    table = Table(*(Column(k, no_wrap=True) for k in shown), "title", box=None, pad_edge=False,
                  collapse_padding=True, header_style="bold")
    for r, row in zip(rules, rows):
        table.add_row(*(row[k] for k in shown), r.title)
    return table


@hunt_app.command("list")
def hunt_list(fmt: Annotated[str, typer.Option("--format", help="table or json (every field)")] = "table") -> None:
    """Every rule in the catalog; the table shows more columns on a wider terminal."""
    _format(fmt, ("table", "json"))
    rules = _rules()
    if fmt == "json":
        print(json.dumps([r.meta() for r in rules], indent=2))
        return
    console = Console()
    console.print(_catalog(rules, console.width))
    err.print(f"{len(rules)} rules")


@hunt_app.command("show")
def hunt_show(rule_id: Annotated[str, typer.Argument(help="rule id")]) -> None:
    """A rule's metadata and SQL (paste the SQL into clickhouse-client with --param_start/--param_end)."""
    rules = {r.id: r for r in _rules()}
    if rule_id not in rules:
        fail(f"unknown rule id {rule_id!r} (see `loader hunt list`)", 2)
    print(rules[rule_id].path.read_text(), end="")


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
    _format(fmt, ("table", "json", "jsonl", "csv"))
    if bool(rule_ids) == all_rules:
        fail("name rule ids or give --all", 2)
    if since and start:
        fail("--since and --start exclusive", 2)
    lookback, lo = duration("--since", since), _time("--start", start)
    hi = _time("--end", end) or datetime.now(timezone.utc)
    if lo and lo >= hi:
        fail(f"--start: {jsonable(lo)} is not before the end of the window, {jsonable(hi)}", 2)
    chosen = _select(_rules(), ids=rule_ids, include_disabled=True)
    state: dict[str, list] = {}
    overrides, hits_total, t0 = pairs("--param", param), 0, time.monotonic()
    with warehouse(dsn) as wh:
        _check_params(wh, chosen, overrides)
        for rule in chosen:
            try:
                hits = run_rule(wh, rule, lo or hi - (lookback or rule.lookback), hi, overrides)
            except RuleError as exc:  # a rule whose rows lack eventTime / eventIDs
                fail(str(exc))
            hits_total += len(hits.rows)
            _emit_rows(fmt, rule, hits.rows, state)
    if fmt == "json":
        print(json.dumps(state.get("all", []), indent=2))
    err.print(f"ran {len(chosen)} rule(s): {hits_total} hit(s) in {time.monotonic() - t0:.1f}s")


def detect(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit (the default): "
                                       "wins over LOADER_DETECT_EVERY, not allowed with --every")] = False,
    every: Annotated[Optional[str], typer.Option("--every", envvar="LOADER_DETECT_EVERY",
                                                 help="run again at this interval, e.g. 5m")] = None,
    rule: Annotated[Optional[list[str]], typer.Option("--rule", help="only these rule ids (repeatable; runs them even if disabled)")] = None,
    disable: Annotated[Optional[list[str]], typer.Option("--disable", envvar="LOADER_DETECT_DISABLE", help="skip these rule ids")] = None,
    min_severity: Annotated[Optional[str], typer.Option("--min-severity", envvar="LOADER_DETECT_MIN_SEVERITY",
                                                         help=f"skip rules below: {', '.join(SEVERITIES)}")] = None,
    webhook: Annotated[Optional[str], typer.Option("--webhook", envvar="LOADER_WEBHOOK", help="POST each new finding (JSON) here")] = None,
    overlap: Annotated[str, typer.Option(help="re-read this much before the checkpoint, for late events")] = "5m",
    retries: Annotated[int, typer.Option(help="webhook attempts per finding per run")] = 3,
    since: Annotated[Optional[str], typer.Option("--since", help="look back this far, e.g. 30d, for every rule, "
                                                 "checkpoint or not (with --every: the first pass)")] = None,
    reset: Annotated[Optional[list[str]], typer.Option("--reset", help="forget this rule's checkpoint first "
                                                       "(repeatable): it starts again from --since or its window")] = None,
    reset_all: Annotated[bool, typer.Option("--reset-all", help="forget every rule's checkpoint first")] = False,
    param: Params = None,
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """Run enabled rules from their checkpoint (where the last run ended, minus --overlap; the rule's
    window on a first run); print new findings as JSON lines (and POST them to --webhook)."""
    if once and every:
        if getattr(ctx.get_parameter_source("every"), "name", None) != "ENVIRONMENT":  # by name: typer may vendor its own click
            fail("--once and --every exclusive", 2)
        every = None  # one pass by hand with a service's environment
    if retries < 1:
        fail(f"--retries: at least 1, not {retries}", 2)
    rules = _rules()
    chosen = _select(rules, ids=rule, min_severity=min_severity, disabled=disable)
    if reset:
        _select(rules, ids=reset)  # a typo is a usage error, not "none was set"
    gap, interval, lookback = duration("--overlap", overlap), duration("--every", every), duration("--since", since)
    if interval is not None and not interval:
        fail("--every: at least 1s, not 0s", 2)
    overrides = pairs("--param", param)
    emit = lambda f: (print(json.dumps(f)), sys.stdout.flush())  # noqa: E731
    with warehouse(dsn) as wh:
        _check_params(wh, chosen, overrides)
        if reset or reset_all:
            done = reset_checkpoints(wh, None if reset_all else reset)
            named = "" if reset_all else f": {', '.join(done) or 'none was set'}"
            err.print(f"reset {len(done)} checkpoint(s){named}")
        while True:
            t0 = time.monotonic()
            s = run_once(wh, chosen, emit=emit, webhook=webhook, overlap=gap, params=overrides, tries=retries,
                         since=lookback)
            lookback = None  # later passes go on from the checkpoints
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
    path: Annotated[Path, typer.Argument(help="a Sigma rule .yml or a directory of them")],
    out: Annotated[Optional[Path], typer.Option("--out", help="write <id>.sql files into this folder instead of stdout")] = None,
) -> None:
    """Turn Sigma kubernetes/audit rules into queries/ rule files for this table."""
    if not path.exists():
        fail(f"{path}: no such file or directory", 2)
    if out and out.exists() and not out.is_dir():
        fail(f"--out {out}: not a folder", 2)
    from ..sigma import SigmaError, convert  # pySigma loads slowly: only for this command
    try:
        converted = convert(path)
    except SigmaError as exc:
        fail(f"sigma: {exc}")
    if out:
        _write_rules(out, [text for _, text in converted])
    else:
        for _, text in converted:
            print(text)
    err.print(f"converted {len(converted)} Sigma rule(s)" + (f" into {out}" if out else ""))


def _write_rules(out: Path, texts: list[str]) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        for text in texts:
            rid = text.splitlines()[0].split(":", 1)[1].strip()
            (out / f"{rid}.sql").write_text(text)
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}")


def register(app: typer.Typer) -> None:
    app.add_typer(hunt_app, name="hunt")
    app.add_typer(sigma_app, name="sigma")
    app.command("detect", epilog=EXIT_CODES)(detect)
