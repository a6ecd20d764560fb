"""The `loader serve` command."""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import threading
import time
from typing import Annotated, Optional
from urllib.parse import urlparse

import typer

from ..chhttp import Access
from ..pipeline import Settings
from ..rules import SEVERITIES
from ..serve import Detection, Loading, ServeError, serve
from ..warehouse import DEFAULT_DSN, Warehouse, WarehouseError
from .hunt import Params, _check_params, _rules, _select
from .options import Dsn, RulePacks, SummaryFormat, duration, err, fail, ingest_options, pairs
from .sqs import setup_logging


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def _listen(value: str) -> str:
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        fail(f"--listen: HOST:PORT, e.g. 127.0.0.1:8123, not {value!r}", 2)
    return value


def _loopback(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


@ingest_options(source_id=None, source_help="sourceID of the rows loaded from --queue-url [default: the queue name]")
def serve_command(
    settings: Settings,
    dsn: Dsn = DEFAULT_DSN,
    listen: Annotated[str, typer.Option("--listen", envvar="LOADER_SERVE_LISTEN", callback=_listen,
                                        help="address of the ClickHouse HTTP interface, /ping and /metrics; "
                                             "another than loopback needs --password")] = "127.0.0.1:8123",
    user: Annotated[str, typer.Option("--user", envvar="LOADER_SERVE_USER", help="the read-only user")] = "default",
    password: Annotated[str, typer.Option("--password", envvar="LOADER_SERVE_PASSWORD",
                                          help="its password [default: none, loopback only]")] = "",
    writer_user: Annotated[str, typer.Option("--writer-user", envvar="LOADER_SERVE_WRITER_USER",
                                             help="the user that may also write (INSERT, DDL) over HTTP")] = "writer",
    writer_password: Annotated[Optional[str], typer.Option("--writer-password", envvar="LOADER_SERVE_WRITER_PASSWORD",
                                                           help="its password; none: no writer over HTTP (local "
                                                                "loader commands still write)")] = None,
    max_execution_time: Annotated[int, typer.Option("--max-execution-time", envvar="LOADER_SERVE_MAX_EXECUTION_TIME",
                                                    min=1, help="seconds a reader's statement may run")] = 60,
    max_memory_usage: Annotated[str, typer.Option("--max-memory-usage", envvar="LOADER_SERVE_MAX_MEMORY_USAGE",
                                                  help="memory a reader's statement may use (bytes, or 500M, 4Gi)")] = "4Gi",
    queue_url: Annotated[Optional[str], typer.Option("--queue-url", envvar="LOADER_QUEUE_URL",
                                                     help="load S3 notifications from this SQS queue, as sqs-poll")] = None,
    workers: Annotated[int, typer.Option("--workers", envvar="LOADER_WORKERS", min=1, help="objects in flight")] = 2,
    visibility_timeout: Annotated[Optional[int], typer.Option("--visibility-timeout", envvar="LOADER_VISIBILITY_TIMEOUT",
                                                              help="seconds each heartbeat extends [default: the queue's]")] = None,
    detect_every: Annotated[Optional[str], typer.Option("--detect-every", envvar="LOADER_DETECT_EVERY",
                                                        help="run the detection rules at this interval, e.g. 5m, "
                                                             "as `loader detect --every`")] = None,
    webhook: Annotated[Optional[str], typer.Option("--webhook", envvar="LOADER_WEBHOOK", help="POST each new finding (JSON) here")] = None,
    min_severity: Annotated[Optional[str], typer.Option("--min-severity", envvar="LOADER_DETECT_MIN_SEVERITY",
                                                         help=f"skip rules below: {', '.join(SEVERITIES)}")] = None,
    disable: Annotated[Optional[list[str]], typer.Option("--disable", envvar="LOADER_DETECT_DISABLE", help="skip these rule ids")] = None,
    overlap: Annotated[str, typer.Option(help="detection re-reads this much before each checkpoint, for late events")] = "5m",
    param: Params = None,
    packs: RulePacks = None,
    log_format: Annotated[str, typer.Option("--log-format", envvar="LOADER_LOG_FORMAT", help="text or json")] = "text",
    fmt: SummaryFormat = "text",
) -> None:
    """Hold the embedded warehouse and serve ClickHouse's HTTP interface on it (read-only unless the writer),
    while loading from --queue-url and detecting every --detect-every. Other loader commands on the folder go
    through it. New findings are printed as JSON lines. SIGTERM/SIGINT drain and stop."""
    if log_format not in ("text", "json"):
        fail("--log-format is text or json", 2)
    if not dsn.startswith("chdb:") or urlparse(dsn).netloc == "memory":
        fail("--dsn: serve holds an embedded warehouse folder (chdb:///path); a ClickHouse server has an HTTP "
             "interface of its own", 2)
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")  # [::1]:8123
    if not _loopback(host) and not password:
        fail(f"--listen {listen} is reachable from other machines: give the reader a --password "
             "(LOADER_SERVE_PASSWORD), or listen on 127.0.0.1", 2)
    if writer_password is not None and (not writer_password or writer_user == user):
        fail("--writer-password must not be empty, and --writer-user must differ from --user", 2)
    try:
        access = Access(users={user: password} | ({writer_user: writer_password} if writer_password else {}),
                        writers={writer_user} if writer_password else set(),
                        limits={"max_execution_time": max_execution_time, "max_memory_usage": max_memory_usage})
    except ValueError as exc:  # a limit that is no number
        fail(f"--max-memory-usage: {exc}", 2)
    setup_logging(log_format)
    every = duration("--detect-every", detect_every)
    if every is not None and not every:
        fail("--detect-every: at least 1s, not 0s", 2)
    detection = None
    catalog = _rules(packs)  # the console shows every rule's coverage, whatever the schedule runs
    if every:
        chosen = _select(catalog, min_severity=min_severity, disabled=disable)
        detection = Detection(chosen, every, webhook, duration("--overlap", overlap) or Detection.overlap,
                              params=pairs("--param", param))
    loading = None
    if queue_url:
        settings.source_id = settings.source_id or queue_url.rstrip("/").rsplit("/", 1)[-1]
        loading = Loading(queue_url, settings, workers, visibility_timeout)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    t0 = time.monotonic()
    try:
        wh = Warehouse(dsn)
    except WarehouseError as exc:
        fail(str(exc))
    try:
        if detection:
            _check_params(wh, detection.rules, detection.params)
        folder = urlparse(dsn).path

        def ready(url: str) -> None:
            what = ([f"loading from {queue_url}"] if loading else []) + ([f"detecting every {detect_every}"] if every else [])
            err.print(f"serving {folder} on {url} (console: {url}/ in a browser)" + (f"; {'; '.join(what)}" if what else "")
                      + "; other loader commands on this folder go through it; SIGTERM stops", highlight=False)

        counts = serve(wh, host, int(port), access, loading=loading, detection=detection, stop=stop, ready=ready,
                       catalog=catalog)
    except (ServeError, WarehouseError) as exc:
        fail(str(exc))
    finally:
        wh.close()
    v = {k: int(n) for k, n in counts.items() if not k.endswith("_seconds")}
    seconds = time.monotonic() - t0
    if fmt == "json":
        print(json.dumps({"summary": True, **v, "seconds": round(seconds, 3)}))
    else:
        loaded = f"{v['objects']} objects, {v['events']} events, {v['rejects']} rejects loaded; " if loading else ""
        err.print(f"serve: {loaded}{v['http_queries']} HTTP statements ({v['http_errors']} errors), "
                  f"{v['detect_runs']} detection passes ({v['detect_findings']} new findings) in {seconds:.1f}s")
