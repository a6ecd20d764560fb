"""`loader timeline`, `loader rbac suggest`, `loader volume`: investigation and cost, from the warehouse's events."""

from __future__ import annotations

import csv
import json
import re
import shlex
import sys
from datetime import datetime, timezone
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..investigate.rbac import MAX_NAMES, subject, suggest
from ..investigate.timeline import GAP_MINUTES, Session, Subject, object_ref, timeline
from ..investigate.volume import TOP, Proposal, listed, propose, size
from ..warehouse import DEFAULT_DSN
from .hunt import _format, _rules, _time
from .options import Dsn, RulePacks, duration, err, fail, warehouse

rbac_app = typer.Typer(help="Least-privilege RBAC from what identities really did.", no_args_is_help=True)

Until = Annotated[Optional[str], typer.Option("--until", help="end of the window, ISO 8601 (default: now)")]


def register(app: typer.Typer) -> None:
    app.command("timeline")(timeline_command)
    app.add_typer(rbac_app, name="rbac")
    app.command("volume")(volume_command)


def _window(since: str, until: str | None) -> tuple[datetime, datetime]:
    """[start, end): --since is a duration before --until (24h, 30d) or an ISO time; --until defaults to now."""
    end = _time("--until", until) or datetime.now(timezone.utc)
    start = end - duration("--since", since) if re.match(r"^\s*\d+\s*[smhdw]\s*$", since) else _time("--since", since)
    assert start is not None
    if start >= end:
        fail(f"--since: the window must start before it ends ({since} .. {until or 'now'})", 2)
    return start, end


# -- timeline -----------------------------------------------------------------------------------------
def timeline_command(
    actor: Annotated[Optional[str], typer.Option("--actor", help="a username (effective or authenticated), or a "
                                                 "service account as NAMESPACE/NAME")] = None,
    ip: Annotated[Optional[str], typer.Option("--ip", help="a source address (any of sourceIPs)")] = None,
    namespace: Annotated[Optional[str], typer.Option("--namespace", help="requests in this namespace")] = None,
    obj: Annotated[Optional[str], typer.Option("--object", metavar="KIND/NS/NAME",
                                               help="one object (KIND/NAME if cluster-scoped), its subresources too: "
                                                    "pods/shop/web-0, deployment/shop/web, nodes/ip-10-0-1-7")] = None,
    since: Annotated[str, typer.Option("--since", help="how far back (24h, 7d) or an ISO time")] = "24h",
    until: Until = None,
    gap: Annotated[int, typer.Option("--gap", min=1, help="minutes of silence that start a new session")] = GAP_MINUTES,
    fmt: Annotated[str, typer.Option("--format", help="table, json (sessions with their requests) or csv")] = "table",
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """Every request of one actor, address, namespace or object, in order and in sessions.

    Denied requests marked, impersonation shown (who acted as whom), exec/attach/port-forward with pod, container
    and command, and the findings of `loader detect` that hold each request."""
    _format(fmt, ("table", "json", "csv"))
    given = {k: v for k, v in (("--actor", actor), ("--ip", ip), ("--namespace", namespace), ("--object", obj)) if v}
    if len(given) != 1:
        fail("give exactly one of --actor, --ip, --namespace, --object" + (f" (got {', '.join(given)})" if given else ""), 2)
    if obj:
        try:
            object_ref(obj)
        except ValueError as exc:
            fail(f"--object: {exc}", 2)
    start, end = _window(since, until)
    with warehouse(dsn) as wh:
        sessions = timeline(wh, Subject(actor or "", ip or "", namespace or "", obj or ""), start, end, gap)
    requests = sum(len(s.requests) for s in sessions)
    if fmt == "json":
        print(json.dumps([{**s.summary(), "events": s.requests} for s in sessions], indent=2))
    elif fmt == "csv":
        _timeline_csv(sessions)
    else:
        console = Console()
        for s in sessions:
            console.print(_session_table(s))
    err.print(f"{requests} request(s) in {len(sessions)} session(s), "
              f"{sum(s.denied for s in sessions)} denied, from {start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC")


def _who(r: dict[str, Any]) -> str:
    if r["impersonatedUser"]:
        return f"{r['authenticatedUser']} as {r['impersonatedUser']}"
    return r["user"]


def _request(r: dict[str, Any]) -> str:
    if not r["resource"]:
        return f"{r['verb']} {r['requestURI']}"
    what = r["resource"] + (f"/{r['subresource']}" if r["subresource"] else "")
    where = "/".join(x for x in (r["namespace"], r["name"]) if x)
    return f"{r['verb']} {what} {where}".rstrip()


def _detail(r: dict[str, Any]) -> str:
    """The command of an exec/attach, the ports of a port-forward, why a request was denied."""
    parts = []
    if r["subresource"] in ("exec", "attach"):
        container = f"[{r['container']}] " if r["container"] else ""
        parts.append(f"{r['subresource']} {container}{shlex.join(r['command'])}".rstrip())
    elif r["subresource"] == "portforward":
        parts.append(f"port-forward {r['ports']}".rstrip())
    if r["denied"]:
        parts.append(f"DENIED {r['code']}" + (f": {r['deniedReason']}" if r["deniedReason"] else ""))
    return "; ".join(parts)


def _findings(r: dict[str, Any]) -> str:
    return ", ".join(f"{f['rule']} ({f['severity']}{', suppressed' if f['suppressedBy'] else ''})" for f in r["findings"])


def _session_table(s: Session) -> Table:
    title = escape(f"session {s.number}: {s.start} .. {s.end}, {len(s.requests)} request(s)"
             + (f", {s.denied} denied" if s.denied else "") + (f", findings: {listed(s.findings, 5)}" if s.findings else ""))
    table = Table("time", "who", "from", "request", "code", "detail", "findings", title=title, title_justify="left",
                  box=None, header_style="bold", pad_edge=False)
    for r in s.requests:
        style = "red" if r["denied"] else "yellow" if r["findings"] else None
        cells = (r["eventTime"][11:19], _who(r), r["srcIP"], _request(r), str(r["code"]), _detail(r), _findings(r))
        table.add_row(*map(escape, cells), style=style)  # "[app]" is a container, not rich markup
    return table


def _timeline_csv(sessions: list[Session]) -> None:
    columns = ["session", "eventTime", "eventID", "user", "authenticatedUser", "impersonatedUser", "srcIP", "userAgent",
               "verb", "resource", "subresource", "namespace", "name", "requestURI", "stage", "code", "denied",
               "deniedReason", "container", "command", "ports", "findings"]
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(columns)
    for s in sessions:
        for r in s.requests:
            row = {**r, "session": s.number, "command": shlex.join(r["command"]), "findings": _findings(r),
                   "denied": str(r["denied"]).lower()}
            out.writerow([row[c] for c in columns])


# -- rbac suggest --------------------------------------------------------------------------------------
@rbac_app.command("suggest")
def rbac_suggest(
    actor: Annotated[str, typer.Option("--actor", help="system:serviceaccount:NAMESPACE:NAME, or a username")],
    since: Annotated[str, typer.Option("--since", help="how far back (30d) or an ISO time")] = "30d",
    until: Until = None,
    max_names: Annotated[int, typer.Option("--max-names", min=1, help="grant by resourceNames when every request "
                                           "named its object and there were at most this many")] = MAX_NAMES,
    fmt: Annotated[str, typer.Option("--format", help="yaml (Role/ClusterRole and bindings, denied requests as "
                                     "comments) or json")] = "yaml",
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """The least-privilege Roles and ClusterRole, with bindings, that allow exactly what --actor did.

    A Role per namespace and a ClusterRole for cluster-wide requests, from the successful requests in the window;
    the denied ones are listed apart (as comments), not granted."""
    _format(fmt, ("yaml", "json"))
    try:
        subject(actor)
    except ValueError as exc:
        fail(f"--actor: {exc}", 2)
    start, end = _window(since, until)
    with warehouse(dsn) as wh:
        s = suggest(wh, actor, start, end, max_names)
    print(json.dumps(s.as_json(), indent=2) if fmt == "json" else s.yaml(), end="\n" if fmt == "json" else "")
    err.print(f"{sum(a.requests for a in s.granted)} allowed request(s) -> {len(s.objects)} object(s); "
              f"{sum(a.requests for a in s.denied)} denied request(s) listed, not granted")


# -- volume --------------------------------------------------------------------------------------------
def volume_command(
    since: Annotated[str, typer.Option("--since", help="how far back (7d) or an ISO time")] = "7d",
    until: Until = None,
    top: Annotated[int, typer.Option("--top", min=1, help="rows per breakdown, and streams the policy names one by one")] = TOP,
    strict: Annotated[bool, typer.Option("--strict", help="count rules with operations: * as needing every stream: "
                                         "drop nothing, only lower levels")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text (breakdowns, streams, then the policy), yaml (the "
                                     "policy alone) or json")] = "text",
    packs: RulePacks = None,
    dsn: Dsn = DEFAULT_DSN,
) -> None:
    """What the audit log costs, and a proposed audit Policy that cuts it without blinding a rule.

    Events and bytes by user, verb, resource, level and stage, the noisiest streams and a monthly estimate; then
    a Policy (audit.k8s.io/v1) that drops or lowers noisy system streams while keeping every operation a rule
    (catalog and --rules) names at the level its header asks, each policy rule saying why and what it saves."""
    _format(fmt, ("text", "yaml", "json"))
    rules = _rules(packs)
    start, end = _window(since, until)
    with warehouse(dsn) as wh:
        p = propose(wh, rules, start, end, top=top, strict=strict)
    if fmt == "json":
        print(json.dumps(p.as_json(), indent=2))
    elif fmt == "yaml":
        print(p.yaml(), end="")
    else:
        _volume_text(p)
    if not p.events:
        err.print(f"no events from {start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC: nothing measured")
    else:
        err.print(f"{p.events} events, {size(p.bytes)}: ~{size(p.monthly(p.bytes))}/month today, "
                  f"~{size(p.monthly(p.kept))}/month under the proposed policy")


def _volume_text(p: Proposal) -> None:
    console = Console()
    for dimension in ("user", "verb", "resource", "level", "stage"):
        table = Table(dimension, "events", "bytes", "share", "per month", title=f"by {dimension}", title_justify="left",
                      box=None, header_style="bold", pad_edge=False)
        for row in p.by.get(dimension, []):
            table.add_row(escape(row["key"] or "(none)"), str(row["events"]), size(row["bytes"]),
                          f"{row['bytes'] / p.bytes:.1%}", size(p.monthly(row["bytes"])))
        console.print(table)
    table = Table("who", "request", "events", "bytes", "proposal", "because", title="noisiest streams",
                  title_justify="left", box=None, header_style="bold", pad_edge=False)
    for s in p.streams:
        because = listed(sorted(s.needs), 1) or ("no rule" if s.action == "drop" else "")
        proposal = {"drop": "drop", "lower": f"{s.level} -> {s.target}", "keep": f"keep {s.target}"}.get(
            s.action, f"{s.level}, last rule")
        table.add_row(*map(escape, (s.who, s.what, str(s.events), size(s.bytes), proposal, because)))
    console.print(table)
    print()
    print(p.yaml(), end="")
