"""Audit-volume advisor: what the log holds by user, verb, resource, level and stage (volume.sql), its noisiest
streams (streams.sql), and a proposed audit Policy that drops or lowers them without taking from any rule what
its header says it needs: its operations at its level. The saving is measured by replaying the policy over the
same events (policy_match.sql), as the API server would have applied it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import yaml

from ..hunt import jsonable, run_rule
from ..rules import Rule
from ..warehouse import Warehouse
from . import sql

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
TOP = 20                 # the streams the policy names one by one
MONTH = timedelta(days=30)
OMIT_STAGES = ["RequestReceived"]
# Who counts as a system component, whose streams nothing but the catalog's needs keeps: kubelets (the group
# system:nodes), the control plane's own users, kube-system's controllers. Credential-less probes of a URL
# (/healthz, /readyz) count too (streams.sql).
COMPONENTS = ["system:nodes", "system:kube-", "system:apiserver", "system:serviceaccount:kube-system:"]
GROUPS_BY_NAME = ("system:nodes", "system:unauthenticated")  # streams.sql's principals that are groups
# The API group of the built-in resources, for the policy rules that keep what the catalog needs above Metadata
# (a rule header names an operation as verb-resource, a Policy rule names the group too)
API_GROUPS = {
    **dict.fromkeys(["pods", "secrets", "configmaps", "services", "serviceaccounts", "nodes", "namespaces", "events",
                     "endpoints", "replicationcontrollers", "persistentvolumes", "persistentvolumeclaims"], ""),
    **dict.fromkeys(["deployments", "daemonsets", "statefulsets", "replicasets", "controllerrevisions"], "apps"),
    **dict.fromkeys(["jobs", "cronjobs"], "batch"),
    **dict.fromkeys(["roles", "rolebindings", "clusterroles", "clusterrolebindings"], "rbac.authorization.k8s.io"),
    **dict.fromkeys(["ingresses", "networkpolicies", "ingressclasses"], "networking.k8s.io"),
    **dict.fromkeys(["mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies",
                     "validatingadmissionpolicybindings"], "admissionregistration.k8s.io"),
    "certificatesigningrequests": "certificates.k8s.io", "leases": "coordination.k8s.io",
    "endpointslices": "discovery.k8s.io",
}


def rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def listed(ids: list[str], more: int = 3) -> str:
    return ", ".join(ids[:more]) + (f" (+{len(ids) - more} more)" if len(ids) > more else "")


def _need(ids: list[str]) -> str:
    return f"{listed(ids)} need{'s' if len(ids) == 1 else ''}"


@dataclass
class PolicyRule:
    """One rule of an audit.k8s.io/v1 Policy, with why it is there and, after replay, what it covered."""

    level: str
    why: str
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)
    resources: list[tuple[str, str]] = field(default_factory=list)   # (API group, resource[/subresource])
    urls: list[str] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    kept: int = 0        # bytes left under this rule's level (a raised level counts as unchanged)

    def manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {"level": self.level}
        for key, value in (("users", self.users), ("userGroups", self.groups), ("verbs", self.verbs)):
            if value:
                out[key] = value
        if self.resources:
            by_group: dict[str, list[str]] = defaultdict(list)
            for group, resource in self.resources:
                by_group[group].append(resource)
            out["resources"] = [{"group": g, "resources": sorted(rs)} for g, rs in sorted(by_group.items())]
        if self.urls:
            out["nonResourceURLs"] = self.urls
        return out

    def param(self) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
        """As policy_match.sql takes it."""
        return self.users, self.groups, self.verbs, [f"{g}|{r}" for g, r in self.resources], self.urls


@dataclass
class Stream:
    """One row of streams.sql, and what the proposal does with it."""

    principal: str
    verb: str
    apiGroup: str
    resource: str
    url: str
    operation: str
    component: bool
    events: int
    bytes: int
    requestBytes: int
    responseBytes: int
    level: str
    watchedBy: list[str]
    action: str = "last rule"     # drop, lower, keep, or left to the policy's last rule
    target: str = ""
    needs: dict[str, str] = field(default_factory=dict)   # rule id -> the level it needs

    @property
    def who(self) -> str:
        return f"group {self.principal}" if self.principal in GROUPS_BY_NAME else self.principal

    @property
    def what(self) -> str:
        """kubectl's spelling: 'update leases.coordination.k8s.io', 'patch nodes/status', 'get /healthz'."""
        if self.url:
            return f"{self.verb} {self.url}"
        resource, _, sub = self.resource.partition("/")
        return f"{self.verb} {resource}{'.' + self.apiGroup if self.apiGroup else ''}{'/' + sub if sub else ''}"

    def rule(self, level: str, why: str) -> PolicyRule:
        by_group = self.principal in GROUPS_BY_NAME
        return PolicyRule(level, why, users=[] if by_group else [self.principal], groups=[self.principal] if by_group else [],
                          verbs=[self.verb], resources=[(self.apiGroup, self.resource)] if self.resource else [],
                          urls=[self.url] if self.url else [])


@dataclass
class Proposal:
    start: datetime
    end: datetime
    strict: bool
    events: int = 0
    bytes: int = 0
    first: datetime | None = None
    last: datetime | None = None
    by: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    streams: list[Stream] = field(default_factory=list)
    rules: list[PolicyRule] = field(default_factory=list)
    wildcard: list[str] = field(default_factory=list)     # ids of the rules with operations: *
    unplaced: list[str] = field(default_factory=list)     # operations needed above Metadata whose API group is unknown
    omitted_events: int = 0
    omitted_bytes: int = 0

    @property
    def span(self) -> timedelta:
        """The time the events cover (at least a second): what the monthly estimate scales from."""
        if self.first is None or self.last is None:
            return timedelta(seconds=1)
        return max(self.last - self.first, timedelta(seconds=1))

    def monthly(self, n: float) -> float:
        return n * (MONTH / self.span)

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.rules)

    def _saving(self, saved: int) -> str:
        share = "" if not self.bytes else (f", {saved / self.bytes:.1%} of the log" if saved >= self.bytes / 1000
                                           else ", under 0.1% of the log")
        return f"saves ~{size(self.monthly(saved))}/month{share}"

    def yaml(self) -> str:
        """The Policy, each rule led by comments: what it covers, why that is safe for the catalog, its saving."""
        hours = self.span.total_seconds() / 3600
        lines = [
            f"# Proposed audit policy (`loader volume`): {self.events} events, {size(self.bytes)} from "
            f"{jsonable(self.first)} to {jsonable(self.last)} ({hours:.1f} h of events).",
            f"# Logged today: ~{size(self.monthly(self.bytes))}/month; under this policy: ~{size(self.monthly(self.kept))}/month"
            + (f" ({(self.kept - self.bytes) / self.bytes:+.0%})." if self.bytes else "."),
            "# The first rule that matches a request sets its level. Every operation a rule's header names stays",
            "# logged at the level the header asks for: no rule below drops or lowers one.",
        ]
        if self.strict:
            lines.append(f"# --strict: the {len(self.wildcard)} rules with operations: * count as needing every stream, "
                         "so nothing is dropped, only lowered to the level they need.")
        elif self.wildcard:
            lines += [f"# {len(self.wildcard)} rules look at every operation (operations: *): {listed(self.wildcard, 5)}.",
                      "# Their headers do not say which streams they need: a stream their findings in this window hold",
                      "# is kept for them; a dropped stream is one they found nothing in. Dropping it still hides it from",
                      "# them from now on (e.g. a stolen kubelet credential used only to renew leases); --strict drops none."]
        if self.unplaced:
            lines += ["# Needed above Metadata by the catalog but not placed below (API group unknown here): keep them",
                      f"# at that level in a rule of your own before the last one: {', '.join(self.unplaced)}."]
        lines += ["apiVersion: audit.k8s.io/v1", "kind: Policy",
                  f"# RequestReceived: {self.omitted_events} events in the window"
                  + (f", {self._saving(self.omitted_bytes)}" if self.omitted_events else "")
                  + ". Every request also logs a later",
                  "# stage with the same auditID, which is what the rules read.",
                  f"omitStages: [{', '.join(OMIT_STAGES)}]", "rules:"]
        for r in self.rules:
            lines.append(f"# {r.why}")
            if r.events:
                saved = f": {self._saving(r.bytes - r.kept)}" if r.kept < r.bytes else ""
                lines.append(f"#   {r.events} events, {size(r.bytes)} in the window{saved}")
            lines += yaml.safe_dump([r.manifest()], sort_keys=False, default_flow_style=None, width=120).splitlines()
        return "\n".join(lines) + "\n"

    def policy(self) -> dict[str, Any]:
        return {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": OMIT_STAGES,
                "rules": [r.manifest() for r in self.rules]}

    def as_json(self) -> dict[str, Any]:
        return jsonable({
            "start": self.start, "end": self.end, "first": self.first, "last": self.last,
            "span_seconds": self.span.total_seconds(), "events": self.events, "bytes": self.bytes,
            "monthly_bytes": round(self.monthly(self.bytes)), "proposed_monthly_bytes": round(self.monthly(self.kept)),
            "by": self.by, "strict": self.strict, "wildcard_rules": self.wildcard, "unplaced": self.unplaced,
            "streams": [vars(s) for s in self.streams], "policy": self.policy(),
            "rules": [{"manifest": r.manifest(), "why": r.why, "events": r.events, "bytes": r.bytes, "kept_bytes": r.kept}
                      for r in self.rules],
            "omitted": {"stages": OMIT_STAGES, "events": self.omitted_events, "bytes": self.omitted_bytes}})


def split(operation: str) -> tuple[str, str, str]:
    """'create-pods-exec' -> ('create', 'pods/exec', ''); 'get-/healthz' -> ('get', '', '/healthz')."""
    verb, _, rest = operation.partition("-")
    if rest.startswith("/"):
        return verb, "", rest
    return verb, rest.replace("-", "/", 1), ""


def needs(rules: list[Rule]) -> tuple[dict[str, dict[str, str]], list[Rule]]:
    """operation -> {rule id: level} from the rules' headers, and the rules whose operations are *."""
    named: dict[str, dict[str, str]] = defaultdict(dict)
    wildcard = []
    for r in rules:
        if "*" in r.operations:
            wildcard.append(r)
        for op in r.operations:
            if op != "*":
                named[op][r.id] = r.level
    return named, wildcard


def watched(wh: Warehouse, rules: list[Rule], start: datetime, end: datetime) -> dict[str, list[str]]:
    """eventID -> ids of the rules (with their default parameters) whose findings in [start, end) hold it."""
    out: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        for row in run_rule(wh, rule, start, end).rows:
            for i in row["eventIDs"]:
                out[i].append(rule.id)
    return out


def _decide(s: Stream, named: dict[str, dict[str, str]], wildcard: list[Rule], base: str, strict: bool) -> PolicyRule | None:
    """What to do with one noisy stream: drop it when it is a system component's and nothing needs it, else log it
    at the level its needs ask (lowered if logged above it), or leave it to the last rule."""
    s.needs = {**named.get(s.operation, {}),
               **{r.id: r.level for r in wildcard if strict or r.id in s.watchedBy}}
    if not s.needs:
        if s.component:
            s.action, s.target = "drop", "None"
            return s.rule("None", f"drop: {s.what} by {s.who}: no rule's operations name {s.operation}"
                          + ("" if strict or not wildcard else ", and no operations: * rule found anything in it"))
        s.target = base
        if rank(s.level) > rank(base):
            s.action = "lower"
            return s.rule(base, f"lower {s.level} -> {base}: {s.what} by {s.who}: no rule reads its bodies")
        return None
    s.target = max(s.needs.values(), key=rank)
    for_whom = f"{_need(sorted(s.needs))} {s.operation} at {s.target}"
    if rank(s.level) > rank(s.target):
        s.action = "lower"
        return s.rule(s.target, f"lower {s.level} -> {s.target}: {s.what} by {s.who}: {for_whom}")
    s.action, s.target = "keep", max(s.level, s.target, key=rank)
    raised = f" (logged at {s.level} today: raised; the growth is not estimated)" if rank(s.target) > rank(s.level) else ""
    return s.rule(s.target, f"keep at {s.target}{raised}: {s.what} by {s.who}: {for_whom}")


def _floor(named: dict[str, dict[str, str]], streams: list[Stream]) -> tuple[list[PolicyRule], list[str]]:
    """Rules logging every operation the catalog needs above Metadata at that level, whoever asks; and the
    operations left out because their API group is unknown (not built in, not seen among the streams)."""
    seen = {s.resource.split("/")[0]: s.apiGroup for s in streams if s.resource}
    levels: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    why: dict[tuple[str, str, str], set[str]] = defaultdict(set)   # (level, group, resource) -> rule ids
    unplaced = []
    for op, by_rule in sorted(named.items()):
        level = max(by_rule.values(), key=rank)
        if rank(level) <= rank("Metadata"):
            continue
        verb, resource, url = split(op)
        base = resource.split("/")[0]
        group = API_GROUPS.get(base, seen.get(base))
        if url or group is None:
            unplaced.append(op)
            continue
        levels[level][(group, resource)].add(verb)
        why[(level, group, resource)].update(r for r, lv in by_rule.items() if lv == level)
    rules = []
    for level, resources in sorted(levels.items(), key=lambda kv: -rank(kv[0])):
        by_verbs: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
        for gr, verb_set in resources.items():
            by_verbs[tuple(sorted(verb_set))].append(gr)
        for verbs, grs in sorted(by_verbs.items()):
            ids = sorted({r for g, res in grs for r in why[(level, g, res)]})
            rules.append(PolicyRule(level, f"at {level}, whoever asks: {_need(ids)} these operations at {level} "
                                    "(their headers)", verbs=list(verbs), resources=sorted(grs)))
    return rules, unplaced


def propose(wh: Warehouse, rules: list[Rule], start: datetime, end: datetime, *, top: int = TOP,
            strict: bool = False) -> Proposal:
    """Measure [start, end) and propose a Policy for it that every rule of `rules` can live with."""
    p = Proposal(start, end, strict)
    window = {"start": start, "end": end}
    for row in wh.query_dicts(sql("volume"), {**window, "top": top}):
        dimension = row.pop("dimension")
        if dimension == "total":
            p.events, p.bytes, p.first, p.last = row["events"], row["bytes"], row["firstSeen"], row["lastSeen"]
        else:
            p.by.setdefault(dimension, []).append(row)
    named, wildcard = needs(rules)
    p.wildcard = [r.id for r in wildcard]
    seen = watched(wh, wildcard, start, end) if wildcard and not strict and p.events else {}
    p.streams = [Stream(**row) for row in wh.query_dicts(sql("streams"), {
        **window, "top": top, "components": COMPONENTS, "watched_ids": list(seen),
        "watched_rules": [",".join(ids) for ids in seen.values()]})]
    base = max([r.level for r in wildcard] + ["Metadata"], key=rank)   # what every stream keeps for the * rules
    p.rules = [r for s in p.streams if (r := _decide(s, named, wildcard, base, strict))]
    floor, p.unplaced = _floor(named, p.streams)
    p.rules += floor
    p.rules.append(PolicyRule(base, f"everything else at {base}: the level "
                              + ("the rules with operations: * need" if wildcard else "that keeps who did what")))
    replay(wh, p)
    return p


def replay(wh: Warehouse, p: Proposal) -> None:
    """Fill each rule's events, bytes and kept bytes, and the omitted stage's, by applying the policy to the window."""
    rows = wh.rows(f"SELECT rule, omitted, count(), sum(bytes), sum(keptBytes) FROM ({sql('policy_match')}) "
                   "GROUP BY rule, omitted", policy_params(p))
    for rule, omitted, events, n, kept in rows:
        if omitted:
            p.omitted_events += events
            p.omitted_bytes += n
        elif rule:
            r = p.rules[rule - 1]
            r.events, r.bytes, r.kept = r.events + events, r.bytes + n, r.kept + kept


def policy_params(p: Proposal) -> dict[str, Any]:
    """policy_match.sql's parameters for this proposal over its window."""
    return {"start": p.start, "end": p.end, "omit_stages": OMIT_STAGES, "rules": [r.param() for r in p.rules],
            "levels": [r.level for r in p.rules]}
