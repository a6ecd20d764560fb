"""Least privilege from real use: the Role / ClusterRole and bindings that allow exactly what an identity did
successfully in a window (rbac.sql), its denied requests listed apart, as Kubernetes YAML."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from ..hunt import jsonable
from ..warehouse import Warehouse
from . import sql

MAX_NAMES = 10   # more objects than this under one verb: grant the verb on all of them, not by resourceNames
RBAC = "rbac.authorization.k8s.io"
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate")
# Every authenticated identity may already GET these (ClusterRoles system:discovery, system:public-info-viewer)
DISCOVERY = ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/version/",
             "/openapi", "/openapi/*")
# kubectl exec/attach/port-forward over WebSockets log verb get; since Kubernetes 1.30 the API server also
# checks create on the subresource (AuthorizePodWebsocketUpgradeCreatePermission)
STREAMING = ("pods/exec", "pods/attach", "pods/portforward")


@dataclass
class Access:
    """One row of rbac.sql: requests of one verb on one resource (or URL) in one namespace ('' = cluster-wide)."""

    apiGroup: str
    resource: str
    url: str
    verb: str
    namespace: str
    denied: bool
    requests: int
    named: bool
    names: list[str]
    firstSeen: datetime
    lastSeen: datetime

    @property
    def what(self) -> str:
        """kubectl's spelling: 'list secrets in kube-system', 'create clusterrolebindings.rbac.authorization.k8s.io'."""
        if self.url:
            return f"{self.verb} {self.url}"
        group = f".{self.apiGroup}" if self.apiGroup else ""
        res, _, sub = self.resource.partition("/")
        names = f" {','.join(self.names)}" if self.named and self.names and len(self.names) <= MAX_NAMES else ""
        where = f" in {self.namespace}" if self.namespace else " (cluster-wide)"
        return f"{self.verb} {res}{group}{'/' + sub if sub else ''}{names}{where}"

    def resource_names(self) -> list[str]:
        """The names to grant by, when every request named its object and there are few: [] = all objects. A create
        of an object (not of a subresource) and a deletecollection are authorized without a name, so never by name."""
        unnamed_verb = self.verb == "deletecollection" or (self.verb == "create" and "/" not in self.resource)
        if unnamed_verb or not self.named or not 0 < len(self.names) <= MAX_NAMES:
            return []
        return self.names


@dataclass
class Suggestion:
    actor: str
    start: datetime
    end: datetime
    granted: list[Access] = field(default_factory=list)
    denied: list[Access] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def yaml(self) -> str:
        """The objects as one YAML stream, led by comments: the window, the notes, the denied requests."""
        window = f"{jsonable(self.start)} to {jsonable(self.end)}"
        head = [f"# Least privilege for {self.actor}: what it did successfully from {window}",
                f"# ({sum(a.requests for a in self.granted)} requests; `loader rbac suggest`)."]
        head += [f"# {n}" for n in self.notes]
        if self.denied:
            head.append(f"# Denied, so not granted ({sum(a.requests for a in self.denied)} requests):")
            head += [f"#   {a.what}: {a.requests}x, last {jsonable(a.lastSeen)}" for a in self.denied]
        if not self.objects:
            head.append("# Nothing to grant: no successful request in the window.")
        body = yaml.safe_dump_all(self.objects, sort_keys=False, default_flow_style=None, width=120) if self.objects else ""
        return "\n".join(head) + "\n" + ("---\n" + body if body else "")

    def as_json(self) -> dict[str, Any]:
        return jsonable({"actor": self.actor, "start": self.start, "end": self.end, "objects": self.objects,
                         "denied": [{"what": a.what, **vars(a)} for a in self.denied], "notes": self.notes})


def subject(actor: str) -> dict[str, str]:
    """The RBAC subject of a username: a ServiceAccount for system:serviceaccount:NS:NAME, else a User."""
    parts = actor.split(":")
    if actor.startswith("system:serviceaccount:"):
        if len(parts) != 4 or not all(parts[2:]):
            raise ValueError(f"a service account is system:serviceaccount:NAMESPACE:NAME, not {actor!r}")
        return {"kind": "ServiceAccount", "name": parts[3], "namespace": parts[2]}
    if not actor.strip():
        raise ValueError("an empty username")
    return {"kind": "User", "apiGroup": RBAC, "name": actor}


def _name(actor: str) -> str:
    """The objects' name: a path segment (no '/' nor '%'), readable as whose it is."""
    who = actor.removeprefix("system:serviceaccount:")
    return "least-privilege:" + re.sub(r"[/%]", "-", who)


def _discovery(a: Access) -> bool:
    return a.verb == "get" and any(a.url == p or (p.endswith("*") and a.url.startswith(p[:-1])) for p in DISCOVERY)


def _verbs(verbs: set[str]) -> list[str]:
    return sorted(verbs, key=lambda v: (VERBS.index(v) if v in VERBS else len(VERBS), v))


def policy_rules(accesses: list[Access]) -> list[dict[str, Any]]:
    """PolicyRules allowing exactly these accesses (all in one namespace, or all cluster-wide): per API group, the
    resources that share the same verbs and resourceNames go in one rule, so every rule grants only what was used."""
    verbs: dict[tuple[str, str, tuple[str, ...]], set[str]] = defaultdict(set)
    urls: dict[str, set[str]] = defaultdict(set)
    for a in accesses:
        if a.url:
            urls[a.url].add(a.verb)
            continue
        names = tuple(a.resource_names())
        verbs[(a.apiGroup, a.resource, names)].add(a.verb)
        if a.verb == "get" and a.resource in STREAMING:
            verbs[(a.apiGroup, a.resource, names)].add("create")
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for (group, resource, names), verb_set in verbs.items():
        grouped[(group, tuple(_verbs(verb_set)), names)].append(resource)
    rules: list[dict[str, Any]] = []
    for (group, vs, names), resources in grouped.items():
        rule: dict[str, Any] = {"apiGroups": [group], "resources": sorted(resources)}
        if names:
            rule["resourceNames"] = list(names)
        rule["verbs"] = list(vs)
        rules.append(rule)
    rules.sort(key=lambda r: (r["apiGroups"], r["resources"], r["verbs"]))  # as one reads them: by resource
    by_verbs: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for url, url_verbs in urls.items():
        by_verbs[tuple(_verbs(url_verbs))].append(url)
    rules += [{"nonResourceURLs": sorted(us), "verbs": list(vs)} for vs, us in sorted(by_verbs.items())]
    return rules


def suggest(wh: Warehouse, actor: str, start: datetime, end: datetime, max_names: int = MAX_NAMES) -> Suggestion:
    """The least-privilege Roles (one per namespace used) and ClusterRole (what was cluster-wide or had no
    namespace), each with its binding to the actor, from the actor's requests in [start, end)."""
    who = subject(actor)
    rows = [Access(**r) for r in wh.query_dicts(sql("rbac"), {"start": start, "end": end, "user": actor,
                                                                 "max_names": max_names})]
    s = Suggestion(actor, start, end)
    s.denied = sorted((a for a in rows if a.denied), key=lambda a: (a.namespace, a.apiGroup, a.resource, a.url, a.verb))
    allowed = [a for a in rows if not a.denied]
    if skipped := sorted({a.url for a in allowed if _discovery(a)}):
        s.notes.append(f"Not granted here, every authenticated identity may already: GET {', '.join(skipped)} "
                       "(ClusterRoles system:discovery, system:public-info-viewer).")
        allowed = [a for a in allowed if not _discovery(a)]
    if any(a.verb == "get" and a.resource in STREAMING for a in allowed):
        s.notes.append("create is granted with get on pods/exec, pods/attach, pods/portforward: over WebSockets "
                       "these log verb get, and since Kubernetes 1.30 the API server also checks create.")
    s.granted = allowed
    name = _name(actor)
    scopes: dict[str, list[Access]] = defaultdict(list)
    for a in allowed:
        scopes[a.namespace].append(a)
    for namespace in sorted(scopes):  # '' (cluster-wide) first: the ClusterRole
        kind = "Role" if namespace else "ClusterRole"
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        s.objects.append({"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": meta,
                          "rules": policy_rules(scopes[namespace])})
        s.objects.append({"apiVersion": f"{RBAC}/v1", "kind": f"{kind}Binding", "metadata": dict(meta),
                          "roleRef": {"apiGroup": RBAC, "kind": kind, "name": name}, "subjects": [who]})
    return s
