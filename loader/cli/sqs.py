"""The `loader sqs-poll` and `loader backfill` commands."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from typing import Annotated, Optional

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ..backfill import backfill as run_backfill
from ..pipeline import Settings
from ..sources import Filter, SetupError, list_prefix, parse_s3, s3_client
from ..sqs import poll
from ..warehouse import DEFAULT_DSN
from .options import Dsn, Exclude, Include, SummaryFormat, err, fail, ingest_options, summary_line, warehouse

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's structured extras."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        formatter = JsonFormatter()
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("botocore").setLevel(logging.WARNING)


def register(app: typer.Typer) -> None:
    app.command("sqs-poll")(sqs_poll)
    app.command("backfill")(backfill)


@ingest_options(source_id=None, source_help="sourceID of the rows [default: the queue name]")
def sqs_poll(
    queue_url: Annotated[str, typer.Option("--queue-url", envvar="LOADER_QUEUE_URL", help="SQS queue receiving S3 notifications")],
    settings: Settings,
    dsn: Dsn = DEFAULT_DSN,
    workers: Annotated[int, typer.Option("--workers", envvar="LOADER_WORKERS", min=1, help="objects in flight")] = 2,
    idle_exit: Annotated[Optional[float], typer.Option("--idle-exit", envvar="LOADER_IDLE_EXIT",
                                                       help="exit 0 once the queue has been empty this many seconds")] = None,
    visibility_timeout: Annotated[Optional[int], typer.Option("--visibility-timeout", envvar="LOADER_VISIBILITY_TIMEOUT",
                                                              help="seconds each heartbeat extends [default: the queue's]")] = None,
    metrics_port: Annotated[Optional[int], typer.Option("--metrics-port", envvar="LOADER_METRICS_PORT",
                                                        help="serve Prometheus metrics on this port")] = None,
    log_format: Annotated[str, typer.Option("--log-format", envvar="LOADER_LOG_FORMAT", help="text or json")] = "text",
    fmt: SummaryFormat = "text",
) -> None:
    """Consume S3 notifications from SQS and load each object exactly once. SIGTERM/SIGINT stop it cleanly."""
    if log_format not in ("text", "json"):
        fail("--log-format is text or json", 2)
    setup_logging(log_format)
    settings.source_id = settings.source_id or queue_url.rstrip("/").rsplit("/", 1)[-1]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    t0 = time.monotonic()
    try:
        stats = poll(queue_url, dsn, settings, workers=workers, idle_exit=idle_exit, stop=stop,
                     metrics_port=metrics_port, visibility_timeout=visibility_timeout)
    except SetupError as exc:
        fail(str(exc))
    seconds = time.monotonic() - t0
    if fmt == "json":
        print(json.dumps({"summary": True, **stats.__dict__, "seconds": round(seconds, 3)}))
    else:
        err.print(f"sqs-poll: {stats.messages_received} messages received, {stats.messages_deleted} deleted, "
                  f"{stats.messages_failed} left; {stats.objects} objects, {stats.events} events, "
                  f"{stats.rejects} rejects, {stats.bytes} bytes in {seconds:.1f}s")


@ingest_options(source_id="s3", source_help="sourceID of the rows (use sqs-poll's, its queue name, to match)")
def backfill(
    uri: Annotated[str, typer.Argument(help="s3://bucket/prefix to load everything under (s3://bucket: all of it)")],
    settings: Settings,
    dsn: Dsn = DEFAULT_DSN,
    include: Include = None,
    exclude: Exclude = None,
    fmt: SummaryFormat = "text",
) -> None:
    """Load the objects already under an S3 prefix, skipping those loaded before (same ETag). Resumable."""
    try:
        bucket, prefix = parse_s3(uri)
    except ValueError as exc:
        fail(str(exc), 2)
    t0 = time.monotonic()
    try:
        client = s3_client()
        objects, filtered = list_prefix(client, bucket, prefix, Filter(include, exclude))
    except (SetupError, LookupError, BotoCoreError, ClientError) as exc:  # no credentials, no bucket, denied
        fail(f"{uri}: {exc}")
    with warehouse(dsn) as wh:
        done = {"loaded": 0, "skipped": 0, "failed": 0}

        def counted(_, state: str) -> None:
            done[state] += 1
            progress.update(task, counts=f"{sum(done.values())}/{len(objects)} objects ({done['skipped']} skipped)")

        with Progress(TextColumn("backfill"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[counts]}"),
                      TimeRemainingColumn(), console=err, disable=not err.is_terminal, transient=True) as progress:
            task = progress.add_task("backfill", total=sum(o.size for o in objects), counts="")
            out = run_backfill(wh, bucket, objects, settings, client=client,
                               on_bytes=lambda n: progress.advance(task, n), on_object=counted)
    for failure in out.failed:
        err.print(f"[red]error:[/red] {escape(failure)}")
    out.total.seconds = time.monotonic() - t0
    if fmt == "json":
        print(json.dumps({"summary": True, **out.total.__dict__, "objects": len(objects), "loaded": out.loaded,
                          "skipped": out.skipped, "filtered": filtered, "failed": out.failed}))
    else:
        err.print(f"{summary_line(out.total, out.loaded, filtered)}; skipped {out.skipped} already loaded, "
                  f"{len(out.failed)} failed")
    if out.failed:  # the others loaded; running it again retries only the failed ones
        raise typer.Exit(1)
