"""Timeline: every request of one actor, source address, namespace or object, in order and in sessions, with
denials, impersonation, exec commands and the findings that hold each event (timeline.sql)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..hunt import jsonable
from ..warehouse import Warehouse
from . import sql

GAP_MINUTES = 30  # a longer silence starts a new session


@dataclass(frozen=True)
class Subject:
    """What to follow: exactly one of these is set (the CLI checks)."""

    actor: str = ""      # effective or authenticated username, or a service account as namespace/name
    ip: str = ""
    namespace: str = ""
    object: str = ""     # KIND/NAMESPACE/NAME, or KIND/NAME for a cluster-scoped object


def object_ref(text: str) -> tuple[list[str], str, str]:
    """'pods/shop/web-0' -> (resource names to match, namespace, name). KIND may be the resource (pods), its
    singular (pod) or its Kind (Pod), with or without its group (deployments.apps); ValueError if malformed."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts[:1] + parts[-1:]):
        raise ValueError(f"want KIND/NAMESPACE/NAME or KIND/NAME (cluster-scoped), got {text!r}")
    kind, namespace, name = parts[0], parts[1] if len(parts) == 3 else "", parts[-1]
    k = kind.split(".", 1)[0].lower()
    # the plural the API server names the resource by, whichever spelling was given
    plurals = {k, f"{k}s", f"{k}es"} | ({f"{k[:-1]}ies"} if k.endswith("y") else set())
    return sorted(plurals), namespace, name


@dataclass
class Session:
    number: int
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def start(self) -> str:
        return self.requests[0]["eventTime"]

    @property
    def end(self) -> str:
        return self.requests[-1]["eventTime"]

    @property
    def denied(self) -> int:
        return sum(1 for r in self.requests if r["denied"])

    @property
    def findings(self) -> list[str]:
        return sorted({f["rule"] for r in self.requests for f in r["findings"]})

    def summary(self) -> dict[str, Any]:
        return {"session": self.number, "start": self.start, "end": self.end, "requests": len(self.requests),
                "denied": self.denied, "findings": self.findings}


def timeline(wh: Warehouse, subject: Subject, start: datetime, end: datetime,
             gap_minutes: int = GAP_MINUTES) -> list[Session]:
    """The subject's requests in [start, end), one per auditID, in sessions split at gaps over gap_minutes."""
    resources, obj_ns, obj_name = object_ref(subject.object) if subject.object else ([], "", "")
    rows = wh.query_dicts(sql("timeline"), {
        "start": start, "end": end, "actor": subject.actor, "ip": subject.ip, "namespace": subject.namespace,
        "resources": resources, "object_namespace": obj_ns, "object_name": obj_name, "gap_minutes": gap_minutes})
    sessions: dict[int, Session] = {}
    for row in rows:
        row["findings"] = [{"rule": r, "severity": s, "suppressedBy": by} for r, s, by in row["findings"]]
        row["eventID"] = row.pop("request")
        del row["requestReceivedTimestamp"]  # ordered by it; eventTime is the time shown
        n = row.pop("session")
        sessions.setdefault(n, Session(n)).requests.append(jsonable(row))
    return list(sessions.values())
