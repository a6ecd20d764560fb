"""`loader demo`: the whole product on one machine with no AWS and no ClickHouse server.

moto's S3+SQS server runs in-process on 127.0.0.1; a bucket notifies a queue (with a DLQ) of every
new object; a generated cluster day in several envelopes and compressions, the shipped real corpus
and the seed samples are uploaded; the real sqs-poll code drains the queue into the warehouse; then
the hunting catalog runs over what arrived (or, without one, the top operations and actors).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3

from .decode import BOM
from .generate import default_day, encode, events
from .pipeline import Settings
from .sqs import PollStats, poll
from .warehouse import Warehouse

BUCKET = "demo-audit-logs"
QUEUE = "demo-audit-notifications"
SAMPLES = Path(__file__).resolve().parent / "samples"
# how the generated day is cut into objects: (envelope, compression, file suffix)
PARTS = [("jsonl", "gzip", "jsonl.gz"), ("eventlist", "zstd", "json.zst"), ("array", "bzip2", "json.bz2"),
         ("fluentbit", "none", "jsonl"), ("fluentbit-string", "gzip", "jsonl.gz"), ("cloudwatch", "gzip", "gz"),
         ("azure", "none", "json")]


@dataclass
class Upload:
    key: str
    size: int
    generated_events: int = 0   # events the generator put in it; 0 for shipped samples


@dataclass
class DemoResult:
    dsn: str
    uploads: list[Upload]
    stats: PollStats
    left_in_queue: int
    in_dlq: int
    findings: list[dict[str, Any]] = field(default_factory=list)
    top: dict[str, list[Sequence[Any]]] = field(default_factory=dict)
    hunt_errors: list[str] = field(default_factory=list)

    @property
    def generated_events(self) -> int:
        return sum(u.generated_events for u in self.uploads)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def emulator() -> Iterator[str]:
    """moto's S3+SQS server on a free loopback port; boto3 in this process points at it meanwhile."""
    from moto.server import ThreadedMotoServer  # demo dependency, imported only when used

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per S3/SQS call otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in [*env, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.update(env)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(k, None)
    try:
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def setup(s3, sqs) -> tuple[str, str]:
    """Bucket -> notification -> queue with a redrive policy to a DLQ; returns (queue URL, DLQ URL)."""
    s3.create_bucket(Bucket=BUCKET)
    dlq = sqs.create_queue(QueueName=QUEUE + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=QUEUE, Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return queue, dlq


def sample_objects() -> Iterator[tuple[str, bytes]]:
    """The shipped real corpus and seed samples as (key, body): one object per folder, its files joined
    by newlines (fewer, larger objects keep the demo quick); files starting with a byte-order mark stay
    objects of their own, since a BOM is only skipped at the start of an object."""
    for folder in sorted({p.parent for p in SAMPLES.rglob("*") if p.is_file()}):
        if "_licenses" in folder.parts:
            continue
        files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name != "SOURCES.md"]
        key = "samples/" + folder.relative_to(SAMPLES).as_posix()
        joined = [p.read_bytes() for p in files if not p.read_bytes().startswith(BOM)]
        if joined:
            yield f"{key}/all.json", b"\n".join(b.rstrip(b"\n") for b in joined) + b"\n"
        for p in files:
            if (body := p.read_bytes()).startswith(BOM):
                yield f"{key}/{p.name}", body


def objects(n_events: int, seed: int, day: datetime) -> Iterator[tuple[str, bytes, int]]:
    """What the demo uploads, as (key, body, generated events): the generated day cut into one object
    per envelope, then the shipped samples."""
    lines = list(events(n_events, seed, day))
    step = max(1, -(-len(lines) // len(PARTS)))
    prefix = day.strftime("clusters/prod-eu/%Y/%m/%d")
    for i, (fmt, compression, suffix) in enumerate(PARTS):
        if part := lines[i * step:(i + 1) * step]:
            yield f"{prefix}/audit-{i:02d}-{fmt}.{suffix}", b"".join(encode(part, fmt, compression)), len(part)
    for key, body in sample_objects():
        yield key, body, 0


def upload(s3, n_events: int, seed: int, day: datetime) -> list[Upload]:
    uploads = []
    for key, body, generated in objects(n_events, seed, day):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        uploads.append(Upload(key, len(body), generated))
    return uploads


def queue_depth(sqs, url: str) -> int:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def hunt(wh: Warehouse) -> tuple[list[dict[str, Any]], list[str]] | None:
    """Every enabled rule of the catalog over all loaded time, grouped into findings
    (rule, severity, actor, object, count); None when no catalog is installed."""
    try:
        from .hunt import run_rule
        from .rules import load_rules, select
    except ImportError:
        return None
    rules = select(load_rules())
    if not rules:
        return None
    start = datetime(1970, 1, 1, tzinfo=timezone.utc)
    end = datetime.now(timezone.utc) + timedelta(days=1)
    groups: dict[tuple, dict[str, Any]] = {}
    errors = []
    for rule in rules:
        try:
            hits = run_rule(wh, rule, start, end)
        except Exception as exc:  # one broken rule must not hide the others' findings
            errors.append(f"{rule.id}: {str(exc).splitlines()[0][:200]}")
            continue
        for row in hits.rows:
            actor = next((str(row[k]) for k in ("user", "actor", "username", "serviceAccount", "srcIP") if row.get(k)), "")
            obj = next((str(row[k]) for k in ("object", "resource", "name", "detail") if row.get(k)), "")
            g = groups.setdefault((rule.id, actor, obj), {"rule": rule.id, "severity": rule.severity, "rank": rule.rank,
                                                          "actor": actor, "object": obj, "count": 0})
            g["count"] += len(row["eventIDs"]) or 1
    findings = sorted(groups.values(), key=lambda g: (-g["rank"], g["rule"], -g["count"], g["actor"], g["object"]))
    for g in findings:
        del g["rank"]
    return findings, errors


def top(wh: Warehouse, limit: int = 10) -> dict[str, list[Sequence[Any]]]:
    return {
        "operations": list(wh.rows("SELECT eventName, count() AS events FROM kubernetes_audit_logs FINAL "
                                   "GROUP BY eventName ORDER BY events DESC, eventName LIMIT {n:UInt32}", {"n": limit})),
        "actors": list(wh.rows("SELECT actor['username'] AS actor, count() AS events FROM kubernetes_audit_logs FINAL "
                               "GROUP BY actor ORDER BY events DESC, actor LIMIT {n:UInt32}", {"n": limit})),
    }


def run(dsn: str, *, n_events: int = 30_000, seed: int = 0, workers: int = 2, workspace: str = "demo",
        idle_exit: float = 2.0, day: datetime | None = None, on_step: Callable[[str], None] = lambda _: None) -> DemoResult:
    """The demo end to end; returns what was uploaded, what the poller did and what the hunt found."""
    day = day or default_day()
    with emulator():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        queue, dlq = setup(s3, sqs)
        on_step(f"generating {n_events:,} events and uploading them with the shipped samples to s3://{BUCKET}")
        uploads = upload(s3, n_events, seed, day)
        on_step(f"{len(uploads)} objects uploaded; sqs-poll is draining the queue")
        # sample events are years old: keep everything (sourceTTL 0) so the demo shows all of it
        stats = poll(queue, dsn, Settings(workspace=workspace, source_id=QUEUE, ttl_days=0),
                     workers=workers, idle_exit=idle_exit)
        left, dead = queue_depth(sqs, queue), queue_depth(sqs, dlq)
    result = DemoResult(dsn, uploads, stats, left, dead)
    on_step("running the hunting queries")
    wh = Warehouse(dsn)
    try:
        found = hunt(wh)
        if found is None:
            result.top = top(wh)
        else:
            result.findings, result.hunt_errors = found
    finally:
        wh.close()
    return result
