"""What every command shares: the error line, exit codes, the common options (each with its LOADER_*
variable), the ingest settings, the warehouse opened for a command, and the load summary."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..pipeline import Result, Settings
from ..rules import parse_duration
from ..units import DEFAULT_MAX_UNIT
from ..warehouse import DsnError, Warehouse, WarehouseError, check_dsn

# What a script can rely on (README "Exit codes"); typer itself exits 2 on usage errors and (0.29) 130 on Ctrl-C.
EXIT_CODES = ("Exit codes:\n"
              "0    success: every source loaded, every finding delivered\n"
              "1    a source, rule or webhook delivery failed (the others still ran),\n"
              "     or the warehouse is unreachable or refused a statement\n"
              "2    usage error: unknown option, bad value\n"
              "130  interrupted (Ctrl-C); `loader load` first prints what it committed")

# The variables no option carries: the root --help lists them (tests/test_cli.py checks every LOADER_* is shown)
ENVIRONMENT = ("Environment (besides each option's LOADER_* variable):\n"
               "LOADER_HOME             where the default embedded warehouse lives\n"
               "LOADER_CONNECT_TIMEOUT  seconds to reach a ClickHouse server (10)\n"
               "LOADER_QUERY_TIMEOUT    seconds a server statement may take (300)\n"
               "LOADER_RETRIES          retries of a failed server request (4)\n"
               "LOADER_RETRY_BACKOFF    first wait between retries, doubling (0.5 s)\n"
               "LOADER_CA_FILE          CA bundle for an https:// server with a private CA\n"
               "LOADER_DEBUG            set: an unexpected error shows its traceback\n"
               "AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...: boto3's standard chain")

err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def _dsn(value: str) -> str:
    try:
        return check_dsn(value)
    except DsnError as exc:
        fail(f"--dsn: {exc}", 2)


Dsn = Annotated[str, typer.Option("--dsn", envvar="LOADER_DSN", show_default=True, callback=_dsn,
                                  help="chdb:///path or chdb:relative/path (embedded), or "
                                       "http(s)://user:pass@host:8123/db")]
Workspace = Annotated[str, typer.Option("--workspace", envvar="LOADER_WORKSPACE", help="workspaceID of the rows")]
Ttl = Annotated[int, typer.Option("--ttl-days", envvar="LOADER_TTL_DAYS", min=0, help="sourceTTL: days to keep rows, 0 = forever")]
Cluster = Annotated[str, typer.Option("--cluster", envvar="LOADER_CLUSTER",
                                      help="default tags['cluster'] when the envelope names none")]
Redact = Annotated[bool, typer.Option("--redact/--no-redact", envvar="LOADER_REDACT",
                                      help="replace Secret data/stringData values by their hash")]
MaxUnit = Annotated[int, typer.Option("--max-unit-bytes", envvar="LOADER_MAX_UNIT_BYTES", min=1024,
                                      help="larger JSON values are rejected as too large")]


def _summary_format(value: str) -> str:
    if value not in ("text", "json"):
        fail(f"--format: text or json, not {value!r}", 2)
    return value


SummaryFormat = Annotated[str, typer.Option("--format", callback=_summary_format, help="summary: text or json")]


Include = Annotated[Optional[list[str]], typer.Option(
    "--include", envvar="LOADER_INCLUDE", metavar="GLOB",
    help="in directories and S3 prefixes, load only files whose path under it, or name, matches GLOB "
         "(repeatable, env space-separated; * stays within a folder, ** spans folders, {a,b} either)")]
Exclude = Annotated[Optional[list[str]], typer.Option(
    "--exclude", envvar="LOADER_EXCLUDE", metavar="GLOB",
    help="in directories and S3 prefixes, skip files matching GLOB (as --include; wins over it)")]


RulePacks = Annotated[Optional[list[Path]], typer.Option(
    "--rules", envvar="LOADER_RULES", metavar="DIR",
    help="also the rules in this folder, in the catalog's format (repeatable; env space-separated)")]


def pairs(option: str, items: list[str] | None) -> dict[str, str]:
    """name=value options (--param) as a dict; anything else is a usage error."""
    out = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            fail(f"{option} wants name=value, got {item!r}", 2)
        out[name.strip()] = value
    return out


@typing.overload
def duration(option: str, text: str) -> timedelta: ...
@typing.overload
def duration(option: str, text: None) -> None: ...
@typing.overload
def duration(option: str, text: str | None) -> timedelta | None: ...
def duration(option: str, text: str | None) -> timedelta | None:
    """A duration option (15m, 1h, 7d, 2w) as a timedelta; a bad or absurd one is a usage error."""
    if text is None:
        return None
    try:
        span = parse_duration(text)
        datetime.now(timezone.utc) - span  # a window must start after year 1
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)
    except OverflowError:
        fail(f"{option}: too long: {text!r}", 2)
    return span


def ingest_options(source_id: str | None, source_help: str = "sourceID of the rows") -> Callable:
    """Give a command the ingest options (workspace, source id, TTL, cluster tag, redaction, unit limit) and hand
    it one Settings built from them, so that load, sqs-poll and backfill take the same ones. A None source_id
    default leaves settings.source_id empty for the command to fill."""
    options = {
        "workspace": (Workspace, "default"),
        "source_id": (Annotated[Optional[str], typer.Option("--source-id", envvar="LOADER_SOURCE_ID",
                                                            help=source_help)], source_id),
        "ttl_days": (Ttl, 365),
        "cluster": (Cluster, ""),
        "redact": (Redact, True),
        "max_unit_bytes": (MaxUnit, DEFAULT_MAX_UNIT),
    }

    def wrap(command: Callable) -> Callable:
        hints = typing.get_type_hints(command, include_extras=True)  # the command module's names, resolved
        own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()
               if p.name != "settings"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                 for name, (annotation, default) in options.items()]

        @functools.wraps(command)
        def with_settings(**kwargs):
            v = {name: kwargs.pop(name) for name in options}
            return command(settings=Settings(workspace=v["workspace"], source_id=v["source_id"] or "",
                                             ttl_days=v["ttl_days"], cluster=v["cluster"], redact=v["redact"],
                                             max_unit=v["max_unit_bytes"]), **kwargs)

        params = own + added
        with_settings.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        with_settings.__annotations__ = {p.name: p.annotation for p in params}
        return with_settings
    return wrap


@contextmanager
def warehouse(dsn: str) -> Iterator[Warehouse]:
    try:
        wh = Warehouse(dsn)
        wh.ensure_schema()
    except WarehouseError as exc:
        fail(str(exc))
    try:
        yield wh
    except WarehouseError as exc:
        fail(f"warehouse: {exc}")
    finally:
        wh.close()


def summary_line(r: Result, sources: int, filtered: int = 0) -> str:
    rate = r.events / r.seconds if r.seconds else 0.0
    read, new = r.events + r.rejects, r.new_events + r.new_rejects
    news = ("" if not read else ", all new" if new == read else ", 0 new (already loaded)" if not new
            else f", {new} new ({read - new} already loaded)")
    return (f"loaded {sources} source(s): {r.events} events, {r.rejects} rejects read{news}, {r.size} bytes "
            f"in {r.seconds:.1f}s ({rate:,.0f} events/s)"
            + (f"; {filtered} skipped by --include/--exclude" if filtered else ""))
