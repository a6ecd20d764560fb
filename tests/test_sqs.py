"""sqs-poll and backfill against moto's real S3/SQS APIs and a real embedded ClickHouse."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

import loader.sqs
from aws import audit_events, aws, clients, make_queue, moto_endpoint, notify, queue_depth, unique_name  # noqa: F401
from conftest import one
from loader.cli import app
from loader.notifications import NotificationError, ObjectRef, parse
from loader.pipeline import Settings
from loader.sqs import poll

SETTINGS = Settings(workspace="default", source_id="q", ttl_days=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_record(bucket: str, key: str, name: str = "ObjectCreated:Put", etag: str | None = None) -> dict:
    obj = {"key": key, "size": 1}
    if etag:
        obj["eTag"] = etag
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": name,
            "s3": {"bucket": {"name": bucket}, "object": obj}}


def eventbridge(bucket: str, key: str) -> dict:
    return {"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1, "etag": None},
                       "reason": "PutObject"}}


def sns(message: dict) -> dict:
    return {"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Message": json.dumps(message)}


@pytest.fixture
def world(aws):
    s3, sqs = clients()
    bucket = unique_name("logs")
    s3.create_bucket(Bucket=bucket)
    url, dlq = make_queue(sqs, unique_name("q"))
    return s3, sqs, bucket, url, dlq


# -- notification bodies ---------------------------------------------------------------------------
def test_every_envelope_parses_to_decoded_keys():
    direct = {"Records": [s3_record("b", "dir/a+b%2Bc.log", etag="e1"),
                          s3_record("b", "gone.log", name="ObjectRemoved:Delete"),
                          s3_record("b", "x%3Ay.log", name="s3:ObjectCreated:CompleteMultipartUpload")]}
    want = [ObjectRef("b", "dir/a b+c.log", "e1", None, 1), ObjectRef("b", "x:y.log", None, None, 1)]
    assert parse(json.dumps(direct)).objects == want
    assert parse(json.dumps(direct)).ignored == 1
    assert parse(json.dumps(sns(direct))).objects == want
    assert parse(json.dumps(eventbridge("b", "dir/a+b%2Bc.log"))).objects == [ObjectRef("b", "dir/a b+c.log", None, None, 1)]
    test = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    assert parse(json.dumps(test)).test_event and parse(json.dumps(sns(test))).test_event
    for garbage in ("not json", "[1]", '{"hello": 1}', '{"Records": [{"eventName": "ObjectCreated:Put"}]}'):
        with pytest.raises(NotificationError):
            parse(garbage)


# -- end to end ------------------------------------------------------------------------------------
def test_bucket_notifications_load_every_object_once(wh, world):
    s3, sqs, bucket, url, _ = world
    notify(s3, sqs, bucket, url)  # moto sends a real s3:TestEvent, then one message per upload
    bodies = {"plain one.log": audit_events(30), "c++/two%.log.gz": audit_events(20, compress=True),
              "three.log": audit_events(10) + b"{broken\n"}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    stats = poll(url, wh.dsn, SETTINGS, idle_exit=1)
    assert (stats.messages_received, stats.messages_deleted, stats.messages_failed) == (4, 4, 0)
    assert (stats.objects, stats.events, stats.rejects) == (3, 60, 1)
    assert one(wh, "SELECT count(), uniqExact(id) FROM kubernetes_audit_logs") == (60, 60)
    assert sorted(r[0] for r in wh.rows("SELECT source FROM ingest_ledger FINAL WHERE status = 'done'")) == \
        sorted(f"s3://{bucket}/{k}" for k in bodies)
    assert queue_depth(sqs, url) == 0


def test_sns_eventbridge_and_multi_record_messages(wh, world):
    s3, sqs, bucket, url, _ = world
    keys = ["a b+c.log", "sns-raw.log", "eb.log", "multi-1.log", "multi-2.log"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=audit_events(5))
    bodies = [sns({"Records": [s3_record(bucket, "a+b%2Bc.log")]}),                      # SNS, non-raw
              {"Records": [s3_record(bucket, "sns-raw.log")]},                           # SNS raw = S3 body
              eventbridge(bucket, "eb.log"),
              {"Records": [s3_record(bucket, "multi-1.log"), s3_record(bucket, "multi-2.log"),
                           s3_record(bucket, "multi-1.log", name="ObjectRemoved:Delete")]},
              sns({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket})]
    for b in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(b))
    stats = poll(url, wh.dsn, SETTINGS, idle_exit=1, workers=3)
    assert (stats.messages_deleted, stats.objects, stats.events) == (5, 5, 25)
    assert one(wh, "SELECT count(), uniqExact(id), uniqExact(tags['source']) FROM kubernetes_audit_logs") == (25, 25, 5)
    assert queue_depth(sqs, url) == 0


def test_missing_object_and_garbage_go_to_the_dlq_while_the_rest_loads(wh, aws):
    s3, sqs = clients()
    bucket = unique_name("logs")
    s3.create_bucket(Bucket=bucket)
    url, dlq = make_queue(sqs, unique_name("q"), visibility=1, max_receive=2)
    s3.put_object(Bucket=bucket, Key="good.log", Body=audit_events(7))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [s3_record(bucket, "deleted.log")]}))
    sqs.send_message(QueueUrl=url, MessageBody="this is not a notification")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [s3_record(bucket, "good.log")]}))
    stats = poll(url, wh.dsn, SETTINGS, idle_exit=3)
    assert stats.events == 7 and stats.messages_deleted == 1
    assert stats.messages_failed >= 4  # both bad messages, received at least twice each
    assert one(wh, "SELECT count() FROM kubernetes_audit_logs") == (7,)
    status, error = one(wh, "SELECT status, error FROM ingest_ledger FINAL WHERE source = {s:String}",
                        s=f"s3://{bucket}/deleted.log")
    assert status == "failed" and "NoSuchKey" in error
    assert queue_depth(sqs, url) == 0
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert sorted(m["Body"][:10] for m in dead) == sorted(["this is no", '{"Records"'])


@contextmanager
def slow_reads(monkeypatch, seconds: float, opened: list):
    """Wrap the real S3 stream so the first read stalls: the object outlives the visibility timeout."""
    real = loader.sqs.open_s3

    @contextmanager
    def slow_open(*args, **kwargs):
        opened.append(args[1])
        with real(*args, **kwargs) as src:
            read, first = src.stream.read, [True]

            def stalling(n=-1):
                if first:
                    first.clear()
                    time.sleep(seconds)
                return read(n)
            src.stream.read = stalling
            yield src

    monkeypatch.setattr(loader.sqs, "open_s3", slow_open)
    yield


def test_visibility_is_extended_while_a_slow_object_loads(wh, aws, monkeypatch):
    s3, sqs = clients()
    bucket = unique_name("logs")
    s3.create_bucket(Bucket=bucket)
    url, _ = make_queue(sqs, unique_name("q"), visibility=2, max_receive=5)
    s3.put_object(Bucket=bucket, Key="slow.log", Body=audit_events(12))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [s3_record(bucket, "slow.log")]}))
    opened: list[str] = []
    port = free_port()
    scraped: list[str] = []
    with slow_reads(monkeypatch, 6, opened):
        t = threading.Thread(target=lambda: scraped.append(
            (time.sleep(5), urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode())[1]))
        t.start()
        stats = poll(url, wh.dsn, SETTINGS, workers=2, idle_exit=1, metrics_port=port)
        t.join()
    assert opened == ["slow.log"]  # a second worker never got the message although 6 s > 2 s
    assert (stats.messages_received, stats.messages_deleted, stats.events) == (1, 1, 12)
    extensions = [l for l in scraped[0].splitlines() if l.startswith("loader_sqs_visibility_extensions_total ")]
    assert float(extensions[0].split()[1]) >= 2
    assert "loader_sqs_messages_received_total 1" in scraped[0]
    assert one(wh, "SELECT count() FROM kubernetes_audit_logs") == (12,)


def test_clickhouse_down_leaves_messages_then_everything_arrives_once(wh, world):
    s3, sqs, bucket, url, _ = world
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"o{i}.log", Body=audit_events(4))
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [s3_record(bucket, f"o{i}.log")]}))
    stop = threading.Event()
    down: list = []
    t = threading.Thread(target=lambda: down.append(poll(url, f"http://127.0.0.1:{free_port()}/", SETTINGS, stop=stop)))
    t.start()
    time.sleep(3)
    assert queue_depth(sqs, url) == 3
    stop.set()
    t.join(timeout=30)
    assert not t.is_alive() and down[0].messages_deleted == 0 and down[0].events == 0
    assert queue_depth(sqs, url) == 3
    stats = poll(url, wh.dsn, SETTINGS, idle_exit=1)
    assert (stats.messages_deleted, stats.events) == (3, 12)
    assert one(wh, "SELECT count(), uniqExact(id) FROM kubernetes_audit_logs") == (12, 12)


def test_inserts_failing_mid_run_are_retried_without_deleting(wh, world):
    s3, sqs, bucket, url, _ = world
    s3.put_object(Bucket=bucket, Key="o.log", Body=audit_events(9))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [s3_record(bucket, "o.log")]}))
    wh.command("RENAME TABLE ingest_chunks TO ingest_chunks_away")  # the views' insert now fails
    result: list = []
    t = threading.Thread(target=lambda: result.append(poll(url, wh.dsn, SETTINGS, idle_exit=1)))
    t.start()
    try:
        time.sleep(3)
        assert t.is_alive() and queue_depth(sqs, url) == 1
    finally:  # the session's database serves the next tests
        wh.command("RENAME TABLE ingest_chunks_away TO ingest_chunks")
        t.join(timeout=60)
    assert result[0].messages_deleted == 1 and result[0].events == 9
    assert one(wh, "SELECT count(), uniqExact(id) FROM kubernetes_audit_logs") == (9, 9)
    assert queue_depth(sqs, url) == 0


def test_backfill_loads_a_prefix_once_and_resumes(wh, world):
    s3, _, bucket, _, _ = world
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"audit/2026/{i}.log", Body=audit_events(6))
    s3.put_object(Bucket=bucket, Key="other/x.log", Body=audit_events(6))
    args = ["backfill", f"s3://{bucket}/audit/", "--dsn", wh.dsn, "--ttl-days", "0", "--format", "json"]

    def run() -> dict:
        out = CliRunner().invoke(app, args)
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run()
    assert (first["loaded"], first["skipped"], first["events"]) == (3, 0, 18)
    s3.put_object(Bucket=bucket, Key="audit/2026/3.log", Body=audit_events(6))
    second = run()
    assert (second["loaded"], second["skipped"], second["events"]) == (1, 3, 6)
    assert one(wh, "SELECT count(), uniqExact(id) FROM kubernetes_audit_logs") == (24, 24)
