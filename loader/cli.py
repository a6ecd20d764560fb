"""The `loader` command line: every command takes --dsn (LOADER_DSN) and applies the schema on first use."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Annotated, Iterator, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from . import __version__
from .pipeline import Result, Settings, load_stream
from .sources import Filter, Source, expand, open_source, s3_client
from .units import DEFAULT_MAX_UNIT
from .cluster import apply_cluster, cluster_schema
from .warehouse import (DEFAULT_DSN, DsnError, Warehouse, WarehouseError, check_dsn, redact_dsn, schema_files,
                        statements)

# What a script can rely on (README "Exit codes"); typer itself exits 2 on usage errors and (0.29) 130 on Ctrl-C.
EXIT_CODES = ("Exit codes:\n"
              "0    success: every source loaded, every finding delivered\n"
              "1    a source, rule or webhook delivery failed (the others still ran),\n"
              "     or the warehouse is unreachable or refused a statement\n"
              "2    usage error: unknown option, bad value\n"
              "130  interrupted (Ctrl-C); `loader load` first prints what it committed")

app = typer.Typer(help="Kubernetes audit logs into ClickHouse: load, hunt, detect.", no_args_is_help=True,
                  epilog=EXIT_CODES, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
schema_app = typer.Typer(help="The warehouse schema (schema/*.sql).", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
err = Console(stderr=True, soft_wrap=True)

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


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def main() -> None:
    """The `loader` command. An error no command expected is still one line, with a hint to the traceback:
    it is a bug, and LOADER_DEBUG=1 shows where."""
    try:
        app()
    except Exception as exc:
        if os.environ.get("LOADER_DEBUG"):
            raise
        err.print(f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(str(exc) or '')} "
                  "(unexpected: please report it; LOADER_DEBUG=1 shows the traceback)")
        sys.exit(1)


def _version(value: bool) -> None:
    if value:
        print(f"loader {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    pass


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


def _reason(exc: Exception) -> str:
    """Why a source did not load, without the path the line already names."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


Include = Annotated[Optional[list[str]], typer.Option(
    "--include", envvar="LOADER_INCLUDE", metavar="GLOB",
    help="in directories and S3 prefixes, load only files whose path under it, or name, matches GLOB "
         "(repeatable, env space-separated; * stays within a folder, ** spans folders, {a,b} either)")]
Exclude = Annotated[Optional[list[str]], typer.Option(
    "--exclude", envvar="LOADER_EXCLUDE", metavar="GLOB",
    help="in directories and S3 prefixes, skip files matching GLOB (as --include; wins over it)")]


@app.command(epilog=EXIT_CODES)
def load(
    paths: Annotated[list[str], typer.Argument(
        help="files, directories, '-' for stdin, s3://bucket/key, s3://bucket/prefix/")],
    dsn: Dsn = DEFAULT_DSN,
    workspace: Workspace = "default",
    source_id: Annotated[str, typer.Option("--source-id", envvar="LOADER_SOURCE_ID", help="sourceID of the rows")] = "file",
    ttl_days: Ttl = 365,
    cluster: Cluster = "",
    redact: Redact = True,
    max_unit_bytes: MaxUnit = DEFAULT_MAX_UNIT,
    include: Include = None,
    exclude: Exclude = None,
    fmt: SummaryFormat = "text",
) -> None:
    """Load audit logs from files, directories, stdin or S3 objects and prefixes (any envelope, any compression).
    Loading again adds nothing."""
    if fmt not in ("text", "json"):
        fail(f"--format: text or json, not {fmt!r}", 2)
    settings = Settings(workspace=workspace, source_id=source_id, ttl_days=ttl_days, cluster=cluster,
                        redact=redact, max_unit=max_unit_bytes)
    total, loaded = Result("total"), 0
    failed: dict[str, str] = {}  # source -> why it did not load
    t0 = time.monotonic()

    def failure(name: str, exc: Exception) -> None:
        failed[name] = _reason(exc)
        err.print(f"[red]error:[/red] {escape(name)}: {escape(failed[name])}")

    keep, s3 = Filter(include, exclude), cache(s3_client)  # one S3 client, made when the first S3 source needs it
    sources: list[Source] = []
    filtered = 0  # files left out by --include/--exclude
    for spec in paths:
        try:
            found, left_out = expand(spec, keep, s3)
        except Exception as exc:  # no such prefix or bucket, denied, no AWS credentials: say why, go on
            failure(spec, exc)
            continue
        sources += found
        filtered += left_out
    count = len(sources) + len(failed)
    partial: dict = {}  # the source being loaded: its Result as far as committed, and the bytes read
    with warehouse(dsn) as wh, Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                        TransferSpeedColumn(), TextColumn("{task.fields[counts]}"),
                                        TimeRemainingColumn(), console=err, disable=not err.is_terminal,
                                        transient=True) as progress:
        def on_bytes(n: int, task) -> None:
            partial["size"] = partial.get("size", 0) + n
            progress.advance(task, n)

        def on_chunk(r: Result, task) -> None:
            partial["result"] = r
            progress.update(task, counts=f"{r.events} events, {r.rejects} rejects")

        def add_partial() -> None:  # a source that stopped midway: what it committed counts
            if r := partial.get("result"):
                r.size = partial["size"]
                total.add(r)

        try:
            for source in sources:
                partial.clear()
                try:
                    with open_source(source, s3) as src:
                        task = progress.add_task(escape(Path(src.name).name), total=src.size, counts="")
                        r = load_stream(wh, src.name, src.stream, settings, identity=src.identity, size=src.size,
                                        on_bytes=lambda n, t=task: on_bytes(n, t),
                                        on_chunk=lambda r, t=task: on_chunk(r, t))
                        progress.remove_task(task)
                except WarehouseError:
                    raise
                except Exception as exc:  # unreadable source: say why, go on with the others
                    failure(source.name, exc)
                    add_partial()
                    continue
                loaded += 1
                total.add(r)
                if fmt == "json":
                    print(json.dumps(r.__dict__), flush=True)
        except KeyboardInterrupt:  # the pipeline has marked the source interrupted in the ledger
            add_partial()
            total.status = "interrupted"
    total.seconds = time.monotonic() - t0
    if failed and total.status == "done":
        total.status = "failed"
    if fmt == "json":
        print(json.dumps({"summary": True, **total.__dict__, "sources": count, "skipped": filtered,
                          "failed": list(failed), "errors": [{"source": s, "error": e} for s, e in failed.items()]}))
    else:
        err.print(summary_line(total, loaded, filtered) + (f"; {len(failed)} of {count} failed" if failed else ""))
    if total.status == "interrupted":
        err.print("[yellow]interrupted:[/yellow] what was committed stays; loading again adds only the rest")
        if Source("-") in sources:
            # the reading thread may be blocked on stdin, holding the lock that interpreter shutdown takes (it
            # would abort); the warehouse is closed and the summary printed, so nothing else is pending
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise typer.Exit(130)
    if failed:
        raise typer.Exit(1)


@app.command()
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
    params = {}
    for p in param or []:
        if "=" not in p:
            fail(f"--param wants name=value, got {p!r}", 2)
        k, v = p.split("=", 1)
        params[k] = v
    with warehouse(dsn) as wh:
        formats = [name for (name,) in wh.rows("SELECT name FROM system.formats WHERE is_output")]
        if fmt not in formats:
            like = [name for name in formats if name.lower() == fmt.lower()]
            fail(f"--format: {fmt!r} is not a ClickHouse output format"
                 + (f"; did you mean {like[0]}?" if like else " (e.g. PrettyCompact, TSV, CSVWithNames, JSONEachRow)"), 2)
        out = wh.raw(text, fmt, params or None)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()


@app.command()
def info(dsn: Dsn = DEFAULT_DSN, fmt: SummaryFormat = "text") -> None:
    """Where the warehouse is and what it holds."""
    with warehouse(dsn) as wh:
        counts = {t: wh.rows(f"SELECT count() FROM {t}")[0][0]
                  for t in ("kubernetes_audit_logs", "kubernetes_audit_logs_rejects")}
        sources = wh.rows("SELECT uniqExact(source, identity) FROM ingest_ledger")[0][0]
        version = wh.client.server_version
    data = {"version": __version__, "dsn": redact_dsn(dsn), "default_dsn": DEFAULT_DSN, "clickhouse": version,
            "events": counts["kubernetes_audit_logs"], "rejects": counts["kubernetes_audit_logs_rejects"],
            "sources": sources}
    if fmt == "json":
        print(json.dumps(data))
    else:
        for k, v in data.items():
            print(f"{k:12} {v}")


ChCluster = Annotated[str, typer.Option("--cluster", envvar="LOADER_SCHEMA_CLUSTER",
                                        help="ClickHouse cluster (remote_servers) for ON CLUSTER, replicated, sharded DDL")]


@schema_app.command("apply")
def schema_apply(dsn: Dsn = DEFAULT_DSN,
                 force: Annotated[bool, typer.Option(help="re-run every file, not only changed ones")] = False,
                 on_cluster: ChCluster = "") -> None:
    """Create or upgrade every object in schema/ (idempotent); with --cluster, the cluster form on every node."""
    try:
        wh = Warehouse(dsn)
        applied = apply_cluster(wh, on_cluster, force=force) if on_cluster else wh.apply_schema(force=force)
        wh.close()
    except (WarehouseError, ValueError) as exc:
        fail(str(exc))
    err.print(f"schema up to date at {redact_dsn(dsn)}" + (f"; applied {', '.join(applied)}" if applied else ""))


@schema_app.command("show")
def schema_show(on_cluster: ChCluster = "") -> None:
    """Print the schema SQL, in apply order; with --cluster, the SQL `schema apply --cluster` runs."""
    pieces = cluster_schema(on_cluster) if on_cluster else [(f.name, statements(f.read_text())) for f in schema_files()]
    for name, stmts in pieces:
        print(f"-- {name}")
        print("".join(stmt + ";\n\n" for stmt in stmts), end="")


from .cli_sqs import register as _register_sqs  # noqa: E402 (registers on the app above)
_register_sqs(app)
from .cli_ipdb import register as _register_ipdb  # noqa: E402
_register_ipdb(app)
from .cli_demo import register as _register_demo  # noqa: E402
_register_demo(app)
from .cli_hunt import register as _register_hunt  # noqa: E402
_register_hunt(app)
