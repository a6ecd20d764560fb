"""Sources: where bytes come from (a local file, stdin, an S3 object), as a readable binary stream.

S3 objects are streamed (never read whole into memory), pinned to the version or ETag the caller
expects, through boto3's standard chain (AWS_ENDPOINT_URL, profiles, instance roles) plus AWS_REGION.
A directory or an S3 prefix expands to the files under it, narrowed by --include / --exclude globs.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from wcmatch.glob import BRACE, DOTGLOB, GLOBSTAR, globmatch

GLOB_FLAGS = GLOBSTAR | BRACE | DOTGLOB
S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=120)
BUCKET_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")  # what botocore accepts (legacy names included)


class SetupError(Exception):
    """The environment keeps a command from starting: no AWS region or credentials, an unknown profile,
    a queue it cannot read, a port it cannot listen on. One line for the user, not a traceback."""


@dataclass
class Opened:
    name: str                 # what tags['source'] and the ledger say: s3://bucket/key, a path, '-'
    stream: BinaryIO
    size: int | None          # bytes, when known
    identity: str | None      # S3 ETag/version; None for local content (hashed while read)


@dataclass(frozen=True)
class Source:
    name: str                 # a path, '-', or s3://bucket/key
    etag: str | None = None   # S3: the ETag listed; the object read must still be that one


@dataclass
class Listed:
    key: str
    etag: str
    size: int


def aws_session(region_hint: str | None = None, *, need_region: bool = True) -> boto3.Session:
    """boto3's standard chain, checked up front so that a missing piece is one line, not a traceback at the
    first call. AWS_REGION comes first as in the AWS CLI v2 (botocore 1.x reads only AWS_DEFAULT_REGION and
    profiles); region_hint (a queue URL's region) applies when nothing sets one."""
    try:
        session = boto3.Session(region_name=os.environ.get("AWS_REGION") or None)
        if not session.region_name and region_hint:
            session = boto3.Session(region_name=region_hint)
        if need_region and not session.region_name:
            raise SetupError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in the AWS profile)")
        if session.get_credentials() is None:
            raise SetupError("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE, "
                             "or run with an instance or task role")
    except BotoCoreError as exc:  # an unknown profile, a credential process or SSO token that fails
        raise SetupError(f"AWS configuration: {exc}") from exc
    return session


def s3_client(session: boto3.Session | None = None):
    # S3 needs no region: its global endpoint redirects to the bucket's
    return (session or aws_session(need_region=False)).client("s3", config=S3_CONFIG)


def parse_s3(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key). The key is every character after the bucket's '/', '#', '?', '%' and
    spaces included: S3 keys are not URL-encoded, so this is no URL parse."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not BUCKET_NAME.fullmatch(bucket):
        raise ValueError(f"not an s3://bucket/key URI (bad bucket name {bucket!r}): {uri}")
    return bucket, key


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
def open_source(source: Source, s3: Callable = s3_client) -> Iterator[Opened]:
    """Open a local path, '-' (stdin) or an S3 object; s3() gives the client."""
    if source.name == "-":
        yield Opened("-", sys.stdin.buffer, None, None)
    elif source.name.startswith("s3://"):
        with open_s3(*parse_s3(source.name), s3(), etag=source.etag) as opened:
            yield opened
    else:
        path = Path(source.name)
        with path.open("rb") as f:
            yield Opened(str(path), f, path.stat().st_size, None)


class Filter:
    """--include / --exclude: a name is kept when it matches an include (if any) and no exclude; a pattern
    matches the path under the directory or prefix, or the file's name alone ('*.gz')."""

    def __init__(self, include: list[str] | None = None, exclude: list[str] | None = None):
        self.include, self.exclude = include or [], exclude or []

    def __call__(self, relative: str) -> bool:
        names = (relative, relative.rsplit("/", 1)[-1])
        return (not self.include or _matches(self.include, names)) and not _matches(self.exclude, names)


def _matches(patterns: list[str], names: tuple[str, ...]) -> bool:
    # wcmatch: the globs of bash's globstar (* within a folder, ** across, 'a/**/b' matches 'a/b') and {a,b}
    return any(globmatch(n, patterns, flags=GLOB_FLAGS) for n in names)


def list_objects(client, bucket: str, prefix: str) -> Iterator[Listed]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            if not o["Key"].endswith("/"):  # folder placeholders
                yield Listed(o["Key"], o["ETag"], o["Size"])


def list_prefix(client, bucket: str, prefix: str, keep: Filter) -> tuple[list[Listed], int]:
    """The objects under a prefix that keep() accepts, and how many it left out. Keys are matched from the
    prefix's last '/' on (logs/2025 lists logs/2025-01.json, matched as 2025-01.json). LookupError when
    nothing is there: a wrong prefix must not pass for an empty one."""
    listed = list(list_objects(client, bucket, prefix))
    if not listed:
        raise LookupError("no such key, and no object under this prefix")
    base = prefix.rfind("/") + 1
    kept = [o for o in listed if keep(o.key[base:])]
    return kept, len(listed) - len(kept)


def _expand_s3(uri: str, keep: Filter, s3: Callable) -> tuple[list[Source], int]:
    bucket, key = parse_s3(uri)
    client = s3()
    if key and not key.endswith("/"):  # a key, unless no object has that name (then a prefix)
        try:
            return [Source(uri, client.head_object(Bucket=bucket, Key=key)["ETag"])], 0
        except ClientError as exc:
            # 403 is also S3's "no such key" without s3:ListBucket: the listing says which
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "403"):
                raise
    objects, skipped = list_prefix(client, bucket, key, keep)
    return [Source(f"s3://{bucket}/{o.key}", o.etag) for o in objects], skipped


def expand(spec: str, keep: Filter, s3: Callable = s3_client) -> tuple[list[Source], int]:
    """What one command-line spec stands for, and how many files keep() left out: a directory's files
    (sorted, hidden ones skipped), an S3 prefix's objects (each pinned to the ETag listed), else itself."""
    if spec.startswith("s3://"):
        return _expand_s3(spec, keep, s3)
    p = Path(spec)
    if spec == "-" or not p.is_dir():
        return [Source(spec)], 0
    files = [f for f in sorted(p.rglob("*")) if f.is_file() and not f.name.startswith(".")]
    kept = [f for f in files if keep(f.relative_to(p).as_posix())]
    return [Source(str(f)) for f in kept], len(files) - len(kept)
