"""Real AWS APIs for tests: moto's server on 127.0.0.1 (a free port), and helpers to build a bucket,
a queue with a DLQ and uploads of unique audit events."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from datetime import datetime, timezone

import boto3
import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="session")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """boto3's standard chain pointed at the moto server, for this process and its subprocesses."""
    for k, v in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    return moto_endpoint


def bare_env(tmp_path, **aws: str) -> dict[str, str]:
    """This process's environment for a subprocess, with no AWS setting but the given ones: no AWS_* variable,
    empty config and credentials files, no instance metadata, so nothing from this machine leaks in."""
    (tmp_path / "aws-config").touch()
    (tmp_path / "aws-credentials").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {"AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
                  "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
                  "AWS_EC2_METADATA_DISABLED": "true"} | aws


def make_queue(sqs, name: str, visibility: int = 5, max_receive: int = 2) -> tuple[str, str]:
    """A queue whose messages go to a DLQ after max_receive receives; returns (queue url, dlq url)."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}),
    })["QueueUrl"]
    return url, dlq


def notify(s3, sqs, bucket: str, queue_url: str) -> None:
    """S3 event notifications from bucket to queue (moto sends a real s3:TestEvent first)."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def audit_events(n: int, compress: bool = False) -> bytes:
    """n audit Events as JSON lines, each with its own auditID, timestamped now."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = [json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                         "auditID": str(uuid.uuid4()), "stage": "ResponseComplete", "verb": "get",
                         "requestURI": f"/api/v1/namespaces/default/pods/p{i}", "user": {"username": "alice"},
                         "objectRef": {"resource": "pods", "namespace": "default", "name": f"p{i}"},
                         "responseStatus": {"code": 200}, "requestReceivedTimestamp": now, "stageTimestamp": now})
             for i in range(n)]
    data = ("\n".join(lines) + "\n").encode()
    return gzip.compress(data) if compress else data


def uploaded_bucket(s3, sqs, objects: int, events_per_object: int, gzip_every: int = 1) -> str:
    """A new bucket notifying a new queue (visibility 3 s, a DLQ after 100 receives) of objects of unique
    audit events, every gzip_every-th one gzipped; returns the queue URL."""
    bucket = unique_name("logs")
    s3.create_bucket(Bucket=bucket)
    url, _ = make_queue(sqs, unique_name("q"), visibility=3, max_receive=100)
    notify(s3, sqs, bucket, url)
    for i in range(objects):
        gz = i % gzip_every == 0
        s3.put_object(Bucket=bucket, Key=f"audit/{i:03}.log" + (".gz" if gz else ""),
                      Body=audit_events(events_per_object, compress=gz))
    return url


def queue_depth(sqs, url: str) -> int:
    """Messages still in the queue, visible or in flight."""
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                               "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def clients():
    return boto3.client("s3"), boto3.client("sqs")


__all__ = ["moto_endpoint", "aws", "bare_env", "make_queue", "notify", "unique_name", "audit_events", "queue_depth",
           "clients", "uploaded_bucket"]
