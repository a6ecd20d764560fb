"""`loader load` on S3 objects and prefixes, --include/--exclude, and AWS setup (AWS_REGION, the queue URL's
region, profiles) whose faults are one line and exit 1: the CLI run as a user runs it (subprocesses) against
moto's server and a real embedded ClickHouse."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

from aws import audit_events, aws, bare_env, clients, moto_endpoint, unique_name  # noqa: F401
from loader.sources import Filter, expand, open_source, s3_client

ODD_KEY = """logs/it's #1 ?x=1&y=%41 "quoted".json"""
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def run(*args: str, dsn: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    extra = ["--dsn", dsn] if dsn else []
    return subprocess.run([sys.executable, "-m", "loader", *args, *extra], capture_output=True, text=True,
                          env=env, timeout=300)


def summary(p: subprocess.CompletedProcess) -> dict:
    assert "Traceback" not in p.stderr, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


def one_error(p: subprocess.CompletedProcess) -> str:
    """What a user sees when something is wrong: exit 1, no traceback, one error: line."""
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, p.stderr
    return errors[0]


@pytest.fixture(scope="module")
def dsn(tmp_path_factory) -> str:
    """One warehouse for the module (the schema is applied once); each test has a bucket of its own."""
    return f"chdb://{tmp_path_factory.mktemp('wh')}"


@pytest.fixture
def bucket(aws) -> str:
    name = unique_name("logs")
    clients()[0].create_bucket(Bucket=name)
    return name


def put(bucket: str, objects: dict[str, bytes]) -> None:
    s3 = clients()[0]
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def loaded(dsn: str, bucket: str) -> list[str]:
    p = run("sql", f"SELECT source FROM ingest_ledger FINAL WHERE startsWith(source, 's3://{bucket}/') "
                   "AND status = 'done' ORDER BY source", "--format", "JSONEachRow", dsn=dsn)
    return [json.loads(line)["source"] for line in p.stdout.splitlines()]


# -- S3 objects and prefixes -----------------------------------------------------------------------
def test_a_prefix_loads_every_object_under_it(dsn, bucket):
    put(bucket, {"eks/2025/a.log": audit_events(4), "eks/2025/sub/b.log.gz": audit_events(3, compress=True),
                 "eks/2025/README": b"not a log\n", "eks/2025/folder/": b"", "eks/2025-06/c.log": audit_events(2),
                 "elsewhere/d.log": audit_events(1)})
    p = run("load", f"s3://{bucket}/eks/2025/", "--format", "json", dsn=dsn)
    assert p.returncode == 0, p.stderr
    total = summary(p)
    assert (total["sources"], total["events"], total["rejects"], total["skipped"]) == (3, 7, 1, 0)

    # a URI naming no key is a prefix (S3's: eks/2025 covers eks/2025-06/); --include on the name
    p = run("load", f"s3://{bucket}/eks/2025", "--include", "*.log", "--include", "*.gz", "--format", "json", dsn=dsn)
    assert p.returncode == 0, p.stderr
    total = summary(p)
    assert (total["sources"], total["events"], total["new_events"], total["skipped"]) == (3, 9, 2, 1)

    p = run("load", f"s3://{bucket}", "--exclude", "README", dsn=dsn)  # the whole bucket
    assert p.returncode == 0, p.stderr
    assert "loaded 4 source(s): 10 events, 0 rejects read, 1 new (9 already loaded)" in p.stderr
    assert p.stderr.rstrip().endswith("; 1 skipped by --include/--exclude")
    assert loaded(dsn, bucket) == [f"s3://{bucket}/{k}" for k in ("eks/2025-06/c.log", "eks/2025/README",
                                                                  "eks/2025/a.log", "eks/2025/sub/b.log.gz",
                                                                  "elsewhere/d.log")]


def test_keys_are_taken_verbatim_in_load_and_backfill(dsn, bucket):
    put(bucket, {ODD_KEY: audit_events(5), ODD_KEY + ".old": audit_events(1), "dir #2/x ?.log": audit_events(2)})
    p = run("load", f"s3://{bucket}/{ODD_KEY}", "--format", "json", dsn=dsn)
    assert p.returncode == 0, p.stderr
    assert (summary(p)["sources"], summary(p)["events"]) == (1, 5)  # the key, not a prefix of the .old one
    assert json.loads(p.stdout.splitlines()[0])["source"] == f"s3://{bucket}/{ODD_KEY}"

    p = run("load", f"s3://{bucket}/dir #2/", "--format", "json", dsn=dsn)
    assert p.returncode == 0 and summary(p)["events"] == 2

    p = run("backfill", f"s3://{bucket}/{ODD_KEY}", "--format", "json", dsn=dsn)
    assert p.returncode == 0, p.stderr
    out = summary(p)
    assert (out["loaded"], out["skipped"], out["events"]) == (1, 1, 1)  # the key itself was loaded above
    assert loaded(dsn, bucket) == sorted(f"s3://{bucket}/{k}" for k in (ODD_KEY, ODD_KEY + ".old", "dir #2/x ?.log"))


def test_backfill_filters_and_counts_what_it_leaves_out(dsn, bucket):
    put(bucket, {"audit/1.log": audit_events(2), "audit/2.log.gz": audit_events(2, compress=True),
                 "audit/tmp/3.log": audit_events(2), "audit/LICENSE": b"MIT\n"})
    p = run("backfill", f"s3://{bucket}/audit/", "--include", "*.log*", "--exclude", "tmp/**", dsn=dsn)
    assert p.returncode == 0, p.stderr
    assert "loaded 2 source(s): 4 events, 0 rejects read, all new" in p.stderr
    assert "; 2 skipped by --include/--exclude; skipped 0 already loaded, 0 failed" in p.stderr

    p = run("backfill", f"s3://{bucket}/audit/", "--format", "json", dsn=dsn,
            env=os.environ | {"LOADER_EXCLUDE": "LICENSE tmp/*"})
    out = summary(p)
    assert (out["objects"], out["loaded"], out["skipped"], out["filtered"]) == (2, 0, 2, 2)


def test_each_object_is_pinned_to_the_etag_listed(bucket):
    put(bucket, {"p/a.log": audit_events(1)})
    [listed], _ = expand(f"s3://{bucket}/p/", Filter(), s3_client)
    put(bucket, {"p/a.log": audit_events(1)})  # replaced between the listing and the read
    with pytest.raises(ClientError, match="PreconditionFailed"):
        with open_source(listed, s3_client):
            pass


# -- local directories -----------------------------------------------------------------------------
def test_include_and_exclude_in_a_directory(tmp_path):
    logs = tmp_path / "logs"
    (logs / "2025" / "05").mkdir(parents=True)
    assert run("generate", "-n", "300", "--seed", "1", "-o", str(logs / "2025" / "05" / "a.jsonl")).returncode == 0
    (logs / "2025" / "b.jsonl.gz").write_bytes(audit_events(10, compress=True))
    (logs / "README.md").write_text("# audit logs\n\nCopied from the cluster.\n")
    (logs / "LICENSE").write_text("Apache License\nVersion 2.0\n")
    (logs / ".a.jsonl.swp").write_bytes(b"\x00\x01")  # hidden: skipped, and not counted as filtered
    dsn = f"chdb://{tmp_path / 'wh'}"

    p = run("load", str(logs), "--include", "*.jsonl", "--include", "**/*.gz", dsn=dsn)
    assert p.returncode == 0, p.stderr
    assert "loaded 2 source(s): 310 events, 0 rejects read, all new" in p.stderr
    assert p.stderr.rstrip().endswith("; 2 skipped by --include/--exclude")

    p = run("load", str(logs), "--format", "json", dsn=dsn,
            env=os.environ | {"LOADER_INCLUDE": "*.jsonl *.gz", "LOADER_EXCLUDE": "2025/**/*.jsonl"})
    total = summary(p)
    assert (total["sources"], total["events"], total["rejects"], total["skipped"]) == (1, 10, 0, 3)


def test_globs():
    cases = {"*.gz": ["a.gz", "x/y/a.gz"], "2025/*/a.log": ["2025/05/a.log"],
             "2025/**/a.log": ["2025/a.log", "2025/05/01/a.log"], "logs/**": ["logs/a", "logs/x/y"],
             "[!.]*.log": ["a.log", "d/a.log"], "?.log": ["a.log"], "*.{gz,zst}": ["a.gz", "d/a.zst"]}
    misses = {"2025/*/a.log": ["2025/05/01/a.log"], "logs/**": ["other/logs"], "?.log": ["ab.log"],
              "[!.]*.log": [".a.log"], "a.log": ["xa.log"], "*.{gz,zst}": ["a.bz2"]}
    for pattern, names in cases.items():
        assert all(Filter([pattern])(n) for n in names), pattern
    for pattern, names in misses.items():
        assert not any(Filter([pattern])(n) for n in names), pattern
    assert not Filter(["*.log"], ["tmp/**"])("tmp/a.log")  # --exclude wins


# -- what a user gets wrong: one line, exit 1 ------------------------------------------------------
def test_user_errors_are_one_line(dsn, bucket, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(audit_events(3))
    p = run("load", f"s3://{bucket}/no/such/prefix/", str(good), dsn=dsn)
    assert one_error(p) == f"error: s3://{bucket}/no/such/prefix/: no such key, and no object under this prefix"
    assert "loaded 1 source(s): 3 events" in p.stderr and "1 of 2 failed" in p.stderr

    assert "NoSuchBucket" in one_error(run("load", "s3://no-such-bucket-here/x.log", dsn=dsn))
    assert "NoSuchBucket" in one_error(run("backfill", "s3://no-such-bucket-here/", dsn=dsn))
    assert one_error(run("backfill", f"s3://{bucket}/nothing/", dsn=dsn)) == \
        f"error: s3://{bucket}/nothing/: no such key, and no object under this prefix"
    assert "bad bucket name ''" in one_error(run("load", "s3:///key.log", dsn=dsn))
    p = run("sqs-poll", "--queue-url", f"{os.environ['AWS_ENDPOINT_URL']}/123456789012/no-such-queue", dsn=dsn)
    assert one_error(p).startswith("error: cannot read the queue ") and "NonExistentQueue" in p.stderr
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = run("sqs-poll", "--queue-url", "q", "--metrics-port", str(port), dsn=dsn)
    assert one_error(p) == f"error: --metrics-port {port}: Address already in use"


def test_no_region_no_credentials_no_profile(dsn, bucket, tmp_path, moto_endpoint):
    put(bucket, {"a.log": audit_events(2)})
    queue = f"{moto_endpoint}/123456789012/q"  # a URL naming no region
    p = run("sqs-poll", "--queue-url", queue, dsn=dsn,
            env=bare_env(tmp_path, AWS_ENDPOINT_URL=moto_endpoint, **CREDENTIALS))
    assert one_error(p).startswith("error: no AWS region: set AWS_REGION")
    assert len(p.stderr.splitlines()) == 1

    no_credentials = bare_env(tmp_path, AWS_ENDPOINT_URL=moto_endpoint, AWS_REGION="us-east-1")
    unknown_profile = bare_env(tmp_path, AWS_ENDPOINT_URL=moto_endpoint, AWS_PROFILE="nope")
    for args in (["sqs-poll", "--queue-url", queue], ["backfill", f"s3://{bucket}/"], ["load", f"s3://{bucket}/a.log"]):
        assert "no AWS credentials: set AWS_ACCESS_KEY_ID" in one_error(run(*args, dsn=dsn, env=no_credentials))
        assert "The config profile (nope) could not be found" in one_error(run(*args, dsn=dsn, env=unknown_profile))

    # S3 alone needs no region (its global endpoint redirects); a profile's credentials are used
    (tmp_path / "aws-credentials").write_text("[team]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    p = run("load", f"s3://{bucket}/a.log", "--format", "json", dsn=dsn,
            env=bare_env(tmp_path, AWS_ENDPOINT_URL=moto_endpoint, AWS_PROFILE="team"))
    assert p.returncode == 0, p.stderr
    assert summary(p)["events"] == 2


@pytest.mark.parametrize("configured", ["AWS_REGION", "queue URL"])
def test_sqs_poll_finds_its_region(dsn, bucket, tmp_path, moto_endpoint, configured):
    """moto keeps queues per region: the queue is found only by a client in the region it was made in."""
    put(bucket, {"a.log": audit_events(3)})
    sqs = boto3.client("sqs", region_name="eu-west-1")
    name = unique_name("q")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": {"key": "a.log"}}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))
    if configured == "AWS_REGION":  # AWS_REGION wins over AWS_DEFAULT_REGION, as in the AWS CLI
        env = bare_env(tmp_path, AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="us-east-1")
    else:
        env, url = bare_env(tmp_path), f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"
    p = run("sqs-poll", "--queue-url", url, "--idle-exit", "1", "--format", "json", dsn=dsn,
            env=env | {"AWS_ENDPOINT_URL": moto_endpoint, **CREDENTIALS})
    assert p.returncode == 0, p.stderr
    stats = summary(p)
    assert (stats["messages_deleted"], stats["events"]) == (1, 3)


def test_backfill_with_one_object_it_cannot_read_exits_1_and_loads_the_others(dsn, bucket):
    events = audit_events(5)
    put(bucket, {"audit/a.log": events})
    # archived audit logs: GetObject answers InvalidObjectState until the object is restored
    clients()[0].put_object(Bucket=bucket, Key="audit/old.log", Body=events, StorageClass="GLACIER")
    p = run("backfill", f"s3://{bucket}/audit/", "--format", "json", dsn=dsn)
    assert p.returncode == 1
    out = summary(p)
    assert out["loaded"] == 1 and len(out["failed"]) == 1 and "audit/old.log" in out["failed"][0]
    assert "InvalidObjectState" in out["failed"][0]
