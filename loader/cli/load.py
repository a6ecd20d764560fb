"""`loader load`: files, directories, stdin and S3 objects or prefixes into the warehouse."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from functools import cache
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ..pipeline import Result, Settings, load_stream
from ..sources import Filter, Source, expand, open_source, s3_client
from ..warehouse import DEFAULT_DSN, WarehouseError
from .options import EXIT_CODES, Dsn, Exclude, Include, SummaryFormat, err, ingest_options, summary_line, warehouse


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES)(load)


def _reason(exc: Exception) -> str:
    """Why a source did not load, without the path the line already names."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


@ingest_options(source_id="file")
def load(
    paths: Annotated[list[str], typer.Argument(
        help="files, directories, '-' for stdin, s3://bucket/key, s3://bucket/prefix/")],
    settings: Settings,
    dsn: Dsn = DEFAULT_DSN,
    include: Include = None,
    exclude: Exclude = None,
    fmt: SummaryFormat = "text",
) -> None:
    """Load audit logs from files, directories, stdin or S3 objects and prefixes (any envelope, any compression).
    Loading again adds nothing."""
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
                                        on_bytes=functools.partial(on_bytes, task=task),
                                        on_chunk=functools.partial(on_chunk, task=task))
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
