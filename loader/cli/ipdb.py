"""`loader ipdb load|status|refresh` and `loader enrich`: IP intelligence for the src* columns."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..hunt import jsonable
from ..ipdb import Imported, IpdbError, databases, dictionary_status, fingerprint, forget, import_path, reload_dictionaries
from ..warehouse import DEFAULT_DSN, Warehouse
from .options import Dsn, SummaryFormat, duration, err, fail, warehouse

ipdb_app = typer.Typer(help="IP databases (MaxMind CSV/MMDB, IPtoASN, DB-IP) behind the src* columns.",
                       no_args_is_help=True)

# The nine columns enrich rewrites, each from the same ipIntel() the flattening view uses.
SRC_COLUMNS = {"srcASCountryCode": "asCountryCode", "srcASNumber": "asNumber", "srcASOrganization": "asOrganization",
               "srcCity": "city", "srcConnectionType": "connectionType", "srcISP": "isp",
               "srcLatitude": "latitude", "srcLongitude": "longitude", "srcUserType": "userType"}


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} networks"),
                    TimeElapsedColumn(), console=err, disable=not err.is_terminal, transient=True)


def _import(wh: Warehouse, paths: list[Path]) -> list[Imported]:
    done = []
    with _progress() as progress:
        for path in paths:
            if not path.exists():
                fail(f"{path}: no such file or directory")
            task = progress.add_task(path.name, total=None)
            try:
                done.append(import_path(wh, path, on_rows=partial(progress.advance, task)))
            except (IpdbError, ValueError, OSError) as exc:
                fail(str(exc) if str(path) in str(exc) else f"{path}: {exc}")
            progress.remove_task(task)
    reload_dictionaries(wh)
    return done


def _report(done: list[Imported], fmt: str, verb: str, seconds: float) -> None:
    if fmt == "json":
        for d in done:
            print(json.dumps({**d.__dict__, "modified": d.modified.isoformat()}))
    networks = sum(d.networks for d in done)
    err.print(f"{verb} {len(done)} IP database(s): {networks:,} networks in {seconds:.1f}s; "
              f"new events are enriched at load, run `loader enrich` for rows already loaded")


@ipdb_app.command("load")
def ipdb_load(
    paths: Annotated[list[Path], typer.Argument(help="MMDB files, MaxMind CSV files/directories/.zip, IPtoASN TSV, DB-IP CSV")],
    dsn: Dsn = DEFAULT_DSN,
    fmt: SummaryFormat = "text",
) -> None:
    """Import IP databases (a file loaded again replaces its earlier rows) and reload the lookups."""
    t0 = time.monotonic()
    with warehouse(dsn) as wh:
        done = _import(wh, paths)
    _report(done, fmt, "loaded", time.monotonic() - t0)


@ipdb_app.command("refresh")
def ipdb_refresh(
    dsn: Dsn = DEFAULT_DSN,
    force: Annotated[bool, typer.Option(help="re-read every file, not only changed ones")] = False,
    fmt: SummaryFormat = "text",
) -> None:
    """Re-read the loaded database files that changed on disk (same path); forget those that are gone."""
    t0 = time.monotonic()
    with warehouse(dsn) as wh:
        changed, gone = [], []
        for db in databases(wh):
            path = Path(db["source"])
            if not path.exists():
                gone.append(db["source"])
                forget(wh, db["source"])
                err.print(f"[yellow]warning:[/yellow] {path} is gone: its networks were removed")
            elif force or fingerprint(path)[1] != db["sha256"]:
                changed.append(path)
        done = _import(wh, changed)
    _report(done, fmt, "refreshed", time.monotonic() - t0)


@ipdb_app.command("status")
def ipdb_status(dsn: Dsn = DEFAULT_DSN, fmt: SummaryFormat = "text") -> None:
    """What is loaded, how old it is, and whether the lookups are loaded."""
    with warehouse(dsn) as wh:
        dbs, dicts = databases(wh), dictionary_status(wh)
    if fmt == "json":
        print(json.dumps(jsonable({"databases": dbs, "dictionaries": dicts}), default=str))
        return
    if not dbs:
        print("no IP database loaded: src* columns stay empty (private addresses get srcConnectionType='internal')")
    for d in dbs:
        print(f"{d['source']}  {d['format']}  {d['networks']:,} networks  loaded {_age(d['loadedAgeSeconds'])} ago, "
              f"file modified {_age(d['fileAgeSeconds'])} ago")
    for d in dicts:
        state = "not loaded yet (loads on first lookup)" if d["status"] == "NOT_LOADED" else f"{d['status']}, {d['networks']:,} networks"
        print(f"dictionary {d['name']}: {state}" + (f", error: {d['error']}" if d["error"] else ""))


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def enrich(
    since: Annotated[str, typer.Option("--since", help="rows whose eventTime is this recent: 12h, 30d, 2w")] = "30d",
    workspace: Annotated[str, typer.Option("--workspace", envvar="LOADER_WORKSPACE",
                                           help="only this workspaceID ('' = all)")] = "",
    dsn: Dsn = DEFAULT_DSN,
    fmt: SummaryFormat = "text",
) -> None:
    """Back-fill the nine src* columns of rows already loaded, from the IP databases loaded now.

    Cost: an ALTER TABLE ... UPDATE (a mutation). In the months the window touches, ClickHouse rewrites the nine src* column files of every data part holding a row whose values change; the other 60 columns are hard-linked, not copied. Expect the time and disk of reading and writing those nine columns once, plus the old parts until ClickHouse removes them. Rows whose values would not change are skipped, so a second run costs one scan.
    """
    window = duration("--since", since)
    assert window is not None  # since is a str, never None
    where = ("eventTime >= now() - toIntervalSecond({s:UInt64}) AND ({w:String} = '' OR workspaceID = {w:String}) "
             "AND tuple(" + ", ".join(SRC_COLUMNS) + ") != ipIntel(srcIP)")
    params = {"s": int(window.total_seconds()), "w": workspace}
    t0 = time.monotonic()
    with warehouse(dsn) as wh:
        rows = wh.rows(f"SELECT count(), uniqExact(_partition_id) FROM kubernetes_audit_logs WHERE {where}", params)[0]
        if rows[0]:
            sets = ", ".join(f"`{col}` = ipIntel(srcIP).{field}" for col, field in SRC_COLUMNS.items())
            with Progress(SpinnerColumn(), TextColumn(f"enriching {rows[0]:,} rows in {rows[1]} partition(s)"),
                          TimeElapsedColumn(), console=err, disable=not err.is_terminal, transient=True) as p:
                p.add_task("enrich", total=None)
                wh.command(f"ALTER TABLE kubernetes_audit_logs UPDATE {sets} WHERE {where} "
                           "SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1", params)
    seconds = time.monotonic() - t0
    if fmt == "json":
        print(json.dumps({"rows": rows[0], "partitions": rows[1], "since": since, "seconds": round(seconds, 3)}))
    err.print(f"enriched {rows[0]:,} rows in {rows[1]} partition(s) since {since} in {seconds:.1f}s")


def register(app: typer.Typer) -> None:
    app.add_typer(ipdb_app, name="ipdb")
    app.command("enrich")(enrich)
