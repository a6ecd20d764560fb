"""`loader serve`: one process holds an embedded warehouse and, at the same time, answers ClickHouse's HTTP
interface on it, loads from SQS and runs the detection schedule.

chDB lets one process open a folder; inside that process any number of engine handles run statements
concurrently. So the loading workers, the detection pass and every HTTP request each get a handle of their
own here, and other `loader` commands on the folder reach it over HTTP: the record written to the folder
(warehouse.Served) names the address and a writer made for this run, and Warehouse() finds it.

SIGTERM or SIGINT drains: loading stops taking messages (those in flight finish or go back to the queue),
the detection pass under way ends, HTTP requests under way are answered, then the record is removed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from urllib.parse import urlparse

from .chhttp import Access, make_server
from .detect import DEFAULT_OVERLAP, run_once
from .metrics import SERVE_METRICS, Metrics
from .pipeline import Settings
from .report import console
from .rules import Rule
from .sqs import connect, poll
from .warehouse import Served, Warehouse, WarehouseError

log = logging.getLogger("loader.serve")

LOCAL_WRITER = "loader"  # the writer other `loader` commands on this machine use; its password is new each run


@dataclass
class Loading:
    """What `loader sqs-poll` would be told."""

    queue_url: str
    settings: Settings
    workers: int = 2
    visibility_timeout: int | None = None


@dataclass
class Detection:
    """What `loader detect --every` would be told."""

    rules: list[Rule]
    every: timedelta
    webhook: str | None = None
    overlap: timedelta = DEFAULT_OVERLAP
    retries: int = 3
    params: dict[str, str] = field(default_factory=dict)


class ServeError(Exception):
    """serve cannot start: the folder is served already, the address is taken."""


def serve(wh: Warehouse, host: str, port: int, access: Access, *, loading: Loading | None = None,
          detection: Detection | None = None, stop: threading.Event,
          ready: Callable[[str], None] = lambda url: None, catalog: list[Rule] | None = None) -> dict[str, float]:
    """Serve until stop is set, then drain; return the counters (loader_sqs_* and loader_serve_* by name).
    wh is the embedded warehouse, opened by the caller in this process. Loading that cannot start (no AWS
    credentials, a queue it cannot read) stops everything: ServeError after the drain. With a catalog, the
    console (findings, coverage, ingest health) is served to browsers at / and /identity."""
    if wh.via:
        raise ServeError(f"{urlparse(wh.dsn).path} is served already, by `loader serve` at {wh.via}")
    wh.ensure_schema()
    sqs_metrics, metrics = Metrics(), Metrics(SERVE_METRICS, "loader_serve_")
    local = secrets.token_urlsafe(32)
    access = replace(access, users={**access.users, LOCAL_WRITER: local}, writers={*access.writers, LOCAL_WRITER})
    routes = {"/metrics": lambda: ((sqs_metrics.exposition() + metrics.exposition()).encode(),
                                   "text/plain; version=0.0.4; charset=utf-8")}
    try:
        server = make_server(wh, access, host, port, routes, on_query=partial(_counted, metrics),
                             pages=console.pages(wh.dsn, catalog) if catalog is not None else None)
    except OSError as exc:  # taken, or privileged
        raise ServeError(f"--listen {host}:{port}: {exc.strerror or exc}") from exc
    bound = server.server_address[1]
    local_host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://{f'[{local_host}]' if ':' in local_host else local_host}:{bound}"
    folder = urlparse(wh.dsn).path
    record = Served(pid=os.getpid(), url=url, user=LOCAL_WRITER, password=local).write(folder)
    threads = [threading.Thread(target=server.serve_forever, name="http", daemon=True)]
    failed: list[Exception] = []
    if loading:
        threads.append(threading.Thread(target=_load, args=(wh.dsn, loading, stop, sqs_metrics, failed), name="sqs",
                                        daemon=True))
    if detection:
        threads.append(threading.Thread(target=_detect, args=(wh.dsn, detection, stop, metrics), name="detect",
                                        daemon=True))
    for t in threads:
        t.start()
    ready(url)
    try:
        stop.wait()
    finally:
        for t in threads[1:]:  # loading and detection finish what they hold
            t.join()
        record.unlink(missing_ok=True)  # new commands open the folder themselves once this process is gone
        server.shutdown()
        server.server_close()  # waits for the requests under way
    if failed:
        raise ServeError(f"loading from {loading.queue_url if loading else ''}: {failed[0]}")
    return {**sqs_metrics.values, **metrics.values}


def _counted(metrics: Metrics, ok: bool) -> None:
    metrics.add("http_queries")
    if not ok:
        metrics.add("http_errors")


def _load(dsn: str, loading: Loading, stop: threading.Event, metrics: Metrics, failed: list[Exception]) -> None:
    """The sqs-poll loop; if it cannot start (or ends on an error it does not retry) serve stops."""
    try:
        poll(loading.queue_url, dsn, loading.settings, workers=loading.workers, stop=stop, metrics=metrics,
             visibility_timeout=loading.visibility_timeout)
    except Exception as exc:  # a user who asked for loading must not get a server that silently does not load
        failed.append(exc)
        stop.set()


def _detect(dsn: str, d: Detection, stop: threading.Event, metrics: Metrics) -> None:
    wh = connect(dsn, stop)
    if wh is None:
        return

    def emit(finding: dict) -> None:
        print(json.dumps(finding), flush=True)
        metrics.add("detect_findings")

    try:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                s = run_once(wh, d.rules, emit=emit, webhook=d.webhook, overlap=d.overlap, params=d.params,
                             tries=d.retries)
            except WarehouseError as exc:  # the warehouse refused the checkpoints: try again next pass
                metrics.add("detect_errors")
                log.error("detection pass failed: %s", exc, extra={"event": "detect_failed", "error": str(exc)})
            else:
                metrics.add("detect_runs")
                metrics.add("detect_errors", len(s.errors))
                metrics.add("detect_delivery_failures", s.failed)
                if not s.errors:
                    metrics.set("detect_last_success_timestamp_seconds", time.time())
                for e in s.errors:
                    log.error("rule failed: %s", e, extra={"event": "rule_failed", "error": e})
                log.info("detect: %d rule(s), %d finding(s), %d new, %d delivery failure(s) in %.1fs", s.rules,
                         s.findings, s.new, s.failed, time.monotonic() - t0,
                         extra={"event": "detected", "rules": s.rules, "new": s.new, "failed": s.failed})
            stop.wait(max(0.0, d.every.total_seconds() - (time.monotonic() - t0)))
    finally:
        wh.close()
