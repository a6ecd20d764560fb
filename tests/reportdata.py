"""A warehouse folder with findings to report on: every true-positive fixture of the catalog moved in time so
its last event is at `at` (their order and gaps kept, so every rule still fires), plus an identity whose
name and user agent are markup, to prove pages show such values and never run them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import loader

QUERIES = Path(loader.__file__).resolve().parent.parent / "queries"
HOSTILE_USER = '<script>alert("user")</script>'
HOSTILE_AGENT = '<img src=x onerror=alert("agent")>'
STAMPS = ("requestReceivedTimestamp", "stageTimestamp")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def events(at: datetime) -> list[dict]:
    out = [json.loads(line) for f in sorted(QUERIES.rglob("*.tp.jsonl")) for line in f.read_text().splitlines()
           if line.strip()]
    out = [e for e in out if isinstance(e, dict) and all(k in e for k in STAMPS)]
    shift = at - max(_time(e["stageTimestamp"]) for e in out)
    for e in out:
        for k in STAMPS:
            e[k] = (_time(e[k]) + shift).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stamp = (at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out += [{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"hostile-{i}",
             "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/prod/pods/web-{i}/exec?command=sh",
             "verb": "create", "user": {"username": HOSTILE_USER}, "sourceIPs": ["198.51.100.66"],
             "userAgent": HOSTILE_AGENT,
             "objectRef": {"resource": "pods", "namespace": "prod", "name": f"web-{i}", "subresource": "exec"},
             "responseStatus": {"code": 101}, "requestReceivedTimestamp": stamp, "stageTimestamp": stamp}
            for i in range(2)]
    return out


def loader_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loader", *args], input=stdin, capture_output=True, timeout=300)


def build(folder: Path, at: datetime | None = None) -> datetime:
    """Load the events into the embedded warehouse at folder and run every rule over them; returns `at`."""
    at = at or datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    dsn = f"chdb://{folder}"
    data = "".join(json.dumps(e) + "\n" for e in events(at)).encode()
    for args, stdin in ((("load", "-", "--ttl-days", "0"), data), (("detect", "--since", "4000d"), None)):
        done = loader_cli(*args, "--dsn", dsn, stdin=stdin)
        assert done.returncode == 0, done.stderr.decode()
    return at
