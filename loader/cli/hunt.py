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

from ..detect import reset_checkpoints, run_once, suppress, suppressions, unsuppress
from ..hunt import TACTICS, ParamError, check_params, coverage, jsonable, parse_time, run_rule
from ..rules import SEVERITIES, Rule, RuleError, load_catalog, parse_duration, select
from ..warehouse import DEFAULT_DSN, QueryError, Warehouse
from .options import EXIT_CODES, Dsn, RulePacks, duration, err, fail, pairs, warehouse

hunt_app = typer.Typer(help="Saved hunting and detection SQL (queries/).", no_args_is_help=True)
sigma_app = typer.Typer(help="Sigma rules (product: kubernetes, service: audit).", no_args_is_help=True)

Params = Annotated[Optional[list[str]], typer.Option("--param", "-p", help="name=value for a rule parameter (repeatable)")]


def _rules(packs: list[Path] | None = None) -> list[Rule]:
    try:
        return load_catalog(packs)
    except RuleError as exc:  # a broken pack is the user's to fix (2); a broken queries/ file is not
        fail(str(exc), 2 if packs else 1)


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
def hunt_list(fmt: Annotated[str, typer.Option("--format", help="table or json (every field)")] = "table",
              packs: RulePacks = None) -> None:
    """Every rule in the catalog; the table shows more columns on a wider terminal."""
    _format(fmt, ("table", "json"))
    rules = _rules(packs)
    if fmt == "json":
        print(json.dumps([r.meta() for r in rules], indent=2))
        return
    console = Console()
    console.print(_catalog(rules, console.width))
    err.print(f"{len(rules)} rules")


@hunt_app.command("show")
def hunt_show(rule_id: Annotated[str, typer.Argument(help="rule id")], packs: RulePacks = None) -> None:
    """A rule's metadata and SQL (paste the SQL into clickhouse-client with --param_start/--param_end)."""
    rules = {r.id: r for r in _rules(packs)}
    if rule_id not in rules:
        fail(f"unknown rule id {rule_id!r} (see `loader hunt list`)", 2)
    print(rules[rule_id].path.read_text(), end="")


@hunt_app.command("coverage")
def hunt_coverage(fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
                  packs: RulePacks = None) -> None:
    """The ATT&CK tactics and techniques the catalog covers, and by which rules."""
    _format(fmt, ("table", "json"))
    rules = [r for r in _rules(packs) if r.enabled]
    cover = coverage(rules)
    if fmt == "json":
        print(json.dumps(cover, indent=2))
        return
    table = Table("tactic", "technique", "rules", Column("rule ids", overflow="fold"))
    for tactic, techniques in cover.items():
        for i, (technique, ids) in enumerate(techniques.items()):
            table.add_row(tactic if i == 0 else "", technique, str(len(ids)), ", ".join(ids),
                          end_section=i == len(techniques) - 1)
    Console().print(table)
    missing = [t for t in TACTICS if t not in cover]
    err.print(f"{len({t for ts in cover.values() for t in ts})} techniques in {len(cover)} tactics by {len(rules)} "
              f"enabled rules" + (f"; no rule for {', '.join(missing)}" if missing else ""))


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
    packs: RulePacks = None,
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
    chosen = _select(_rules(packs), ids=rule_ids, include_disabled=True)
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
    packs: RulePacks = None,
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """Run enabled rules from their checkpoint (where the last run ended, minus --overlap; the rule's
    window on a first run); print new findings as JSON lines (and POST them to --webhook). The commands
    below keep suppressions: findings they match are recorded but neither printed nor delivered."""
    if ctx.invoked_subcommand:
        return
    if once and every:
        if getattr(ctx.get_parameter_source("every"), "name", None) != "ENVIRONMENT":  # by name: typer may vendor its own click
            fail("--once and --every exclusive", 2)
        every = None  # one pass by hand with a service's environment
    if retries < 1:
        fail(f"--retries: at least 1, not {retries}", 2)
    rules = _rules(packs)
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
            if s.suppressed:
                line += f", {s.suppressed} suppressed"
            if s.below_threshold:
                line += f", {s.below_threshold} below their rule's threshold"
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
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="write a rule pack: OUT/<tactic or sigma>/<id>.sql, loadable with --rules OUT")] = None,
) -> None:
    """Turn Sigma kubernetes/audit rules into queries/ rule files for this table.

    Rules of another logsource are skipped (said on stderr). Exit 1 when a kubernetes/audit rule cannot be
    converted (nothing is written) or when no rule converted at all."""
    if not path.exists():
        fail(f"{path}: no such file or directory", 2)
    if out and out.exists() and not out.is_dir():
        fail(f"--out {out}: not a folder", 2)
    from ..sigma import convert  # pySigma loads slowly: only for this command
    result = convert(path)
    for line in result.skipped:
        err.print(f"skipped {escape(line)}")
    for line in result.notes:
        err.print(f"note: {escape(line)}")
    if result.errors:
        for line in result.errors:
            err.print(f"[red]error:[/red] sigma: {escape(line)}")
        raise typer.Exit(1)
    if not result.converted:
        fail(f"sigma: {path}: no Sigma rule with logsource product: kubernetes, service: audit")
    if out:
        _write_rules(out, [(c.tactic, c.id, c.text) for c in result.converted])
    else:
        for c in result.converted:
            print(c.text)
    err.print(f"converted {len(result.converted)} Sigma rule(s)" + (f" into {out}" if out else ""))


def _write_rules(out: Path, rules: list[tuple[str, str, str]]) -> None:
    """(tactic, id, text) -> out/<tactic>/<id>.sql"""
    try:
        for tactic, rid, text in rules:
            (out / tactic).mkdir(parents=True, exist_ok=True)
            (out / tactic / f"{rid}.sql").write_text(text)
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}")


detect_app = typer.Typer(invoke_without_command=True)
detect_app.callback(epilog=EXIT_CODES)(detect)


@detect_app.command("suppress")
def detect_suppress(
    rule_id: Annotated[str, typer.Argument(help="the rule whose findings to suppress")],
    where: Annotated[str, typer.Option("--where", help="SQL over the rule's result columns (loader hunt show RULE), "
                                       "e.g. \"user = 'ci-bot' AND srcIP = '10.0.0.7'\"")],
    reason: Annotated[str, typer.Option("--reason", help="why: shown by `loader detect suppressions`")],
    until: Annotated[str, typer.Option("--until", help="ISO time, or a duration from now (30d)")] = "30d",
    by: Annotated[str, typer.Option("--by", envvar="USER", help="who suppresses")] = "",
    packs: RulePacks = None,
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """Suppress a rule's findings that match --where until --until: they are recorded, not printed nor delivered."""
    [rule] = _select(_rules(packs), ids=[rule_id])
    if not reason.strip():
        fail("--reason: say why (it is what the next person reads)", 2)
    span = None
    try:
        span = parse_duration(until)
    except ValueError:
        pass
    end = datetime.now(timezone.utc) + span if span else _time("--until", until)
    assert end is not None
    if end <= datetime.now(timezone.utc):
        fail(f"--until: {jsonable(end)} is in the past", 2)
    with warehouse(dsn) as wh:
        try:
            s = suppress(wh, rule, where, end, reason.strip(), by)
        except QueryError as exc:  # the condition names no column of the rule, or is no SQL
            fail(f"--where: {exc}", 2)
    print(s.id)
    err.print(f"suppressed {rule.id} where {where} until {jsonable(end)} (id {s.id})")


@detect_app.command("suppressions")
def detect_suppressions(
    everything: Annotated[bool, typer.Option("--all", help="also expired and removed ones")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """The suppressions in force (newest first)."""
    _format(fmt, ("table", "json"))
    with warehouse(dsn) as wh:
        found = suppressions(wh, everything)
    if fmt == "json":
        print(json.dumps([jsonable(vars(s)) for s in found], indent=2))
        return
    table = Table("id", "rule", "where", "until", "reason", "by", *(["removed"] if everything else []))
    for s in found:
        table.add_row(s.id, s.rule, s.condition, jsonable(s.until), s.reason, s.createdBy,
                      *([str(s.removed).lower()] if everything else []))
    Console().print(table)
    err.print(f"{len(found)} suppression(s)")


@detect_app.command("unsuppress")
def detect_unsuppress(suppression_id: Annotated[str, typer.Argument(help="id from `loader detect suppressions`")],
                      dsn: Dsn = DEFAULT_DSN) -> None:
    """Remove a suppression: the rule's findings are alerted again from the next pass."""
    with warehouse(dsn) as wh:
        s = unsuppress(wh, suppression_id)
    if s is None:
        fail(f"no suppression {suppression_id!r} in force (see loader detect suppressions)", 2)
    err.print(f"removed suppression {s.id} of {s.rule}")


def register(app: typer.Typer) -> None:
    app.add_typer(hunt_app, name="hunt")
    app.add_typer(sigma_app, name="sigma")
    app.add_typer(detect_app, name="detect")
