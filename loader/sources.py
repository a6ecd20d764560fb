"""Sources: where bytes come from (a local file, stdin, an S3 object), as a readable binary stream.

S3 objects are streamed (never read whole into memory), pinned to the version or ETag the caller
expects, through boto3's standard chain (AWS_ENDPOINT_URL, profiles, instance roles).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import boto3
from botocore.config import Config

S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=120)


@dataclass
class Opened:
    name: str                 # what tags['source'] and the ledger say: s3://bucket/key, a path, '-'
    stream: BinaryIO
    size: int | None          # bytes, when known
    identity: str | None      # S3 ETag/version; None for local content (hashed while read)


def s3_client():
    return boto3.client("s3", config=S3_CONFIG)


def parse_s3(uri: str) -> tuple[str, str]:
    u = urlparse(uri)
    if u.scheme != "s3" or not u.netloc:
        raise ValueError(f"not an s3:// URI: {uri}")
    return u.netloc, u.path.lstrip("/")


def s3_identity(etag: str, version: str | None) -> str:
    etag = etag.strip('"')
    return f"{etag}@{version}" if version and version != "null" else etag


@contextmanager
def open_s3(bucket: str, key: str, client=None, etag: str | None = None, version: str | None = None) -> Iterator[Opened]:
    client = client or s3_client()
    args = {"Bucket": bucket, "Key": key}
    if version:
        args["VersionId"] = version
    elif etag:
        args["IfMatch"] = etag
    obj = client.get_object(**args)
    body = obj["Body"]
    try:
        yield Opened(f"s3://{bucket}/{key}", body, obj.get("ContentLength"),
                     s3_identity(obj.get("ETag", ""), obj.get("VersionId")))
    finally:
        body.close()


@contextmanager
def open_source(spec: str) -> Iterator[Opened]:
    """Open a local path, '-' (stdin) or an s3://bucket/key URI."""
    if spec == "-":
        yield Opened("-", sys.stdin.buffer, None, None)
    elif spec.startswith("s3://"):
        bucket, key = parse_s3(spec)
        with open_s3(bucket, key) as opened:
            yield opened
    else:
        path = Path(spec)
        with path.open("rb") as f:
            yield Opened(str(path), f, path.stat().st_size, None)


def expand(specs: list[str]) -> list[str]:
    """Directories expand to the files under them (sorted); other specs pass through."""
    out: list[str] = []
    for spec in specs:
        p = Path(spec)
        if spec != "-" and not spec.startswith("s3://") and p.is_dir():
            out.extend(str(f) for f in sorted(p.rglob("*")) if f.is_file() and not f.name.startswith("."))
        else:
            out.append(spec)
    return out
