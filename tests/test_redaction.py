"""Secret redaction, shape by shape: every Secret (and TokenRequest token) shape the contract names is loaded through
the real pipeline, then every stored table of the warehouse (and every log line) is searched for the secret values in
every encoding they could take (plain, base64, JSON-escaped once or twice, Go's HTML escaping).

Each shape is a function that builds its input with fresh random secret values and says what must come of it:
  - stored shapes: the valid events are in kubernetes_audit_logs once, never in the rejects; their verb, name and the
    keys under data survive, a string value becomes "<redacted sha256:12 hex>";
  - fail-closed shapes (unparseable, too large): the unit lands where it lands, with no body and no secret;
  - controls (a ConfigMap, --no-redact): the values ARE found, which proves the search finds what it looks for.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import re
import secrets as rnd
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from conftest import load_bytes

# ---------------------------------------------------------------------------------------------------------------------
# building events

WHEN = datetime.now(timezone.utc) - timedelta(hours=1)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def secret(tag: str) -> str:
    """A distinctive secret value: S3cr3t-<tag>-<16 random hex>."""
    return f"S3cr3t-{tag}-{rnd.token_hex(8)}"


def mark(tag: str) -> str:
    """A distinctive value that is not secret, placed inside a body: a fail-closed unit must not keep it either."""
    return f"body-mark-{tag}-{rnd.token_hex(6)}"


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def redacted(value: str) -> str:
    return f"<redacted sha256:{hashlib.sha256(value.encode()).hexdigest()[:12]}>"


def event(verb: str, resource: str = "secrets", name: str = "db-creds", subresource: str = "", *,
          first: dict | None = None, **bodies) -> dict:
    """An audit Event (RequestResponse); bodies: requestObject=..., responseObject=...; first: keys put before all."""
    ref = {"resource": resource, "namespace": "prod", "name": name, "apiVersion": "v1"}
    if subresource:
        ref["subresource"] = subresource
    if not name:
        del ref["name"]
    uri = f"/api/v1/namespaces/prod/{resource}" + (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")
    e = dict(first or {})
    e |= {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": str(uuid.uuid4()),
          "stage": "ResponseComplete", "requestURI": uri, "verb": verb,
          "user": {"username": "alice@example.com", "groups": ["system:authenticated"]},
          "sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b",
          "objectRef": ref, "responseStatus": {"metadata": {}, "code": 201 if verb == "create" else 200}}
    e |= bodies
    e |= {"requestReceivedTimestamp": WHEN.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
          "stageTimestamp": (WHEN + timedelta(milliseconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    return e


def secret_obj(name: str = "db-creds", data: dict | None = None, string_data: dict | None = None,
               annotations: dict | None = None, labels: dict | None = None) -> dict:
    meta = {"name": name, "namespace": "prod", "uid": str(uuid.uuid4()), "resourceVersion": "4242"}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    obj = {"kind": "Secret", "apiVersion": "v1", "metadata": meta, "type": "Opaque"}
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


def line(e) -> bytes:
    return json.dumps(e).encode()


def go_escape(text: str) -> str:
    """Go's encoding/json escapes <, > and & (and U+2028/9) in every string it writes: real audit logs do too."""
    for c, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(c, esc)
    return text


# ---------------------------------------------------------------------------------------------------------------------
# what a shape expects


@dataclass
class Case:
    data: bytes                                          # the file loaded
    secrets: list[str]                                   # values that must be stored nowhere, in no encoding
    events: list[dict] = field(default_factory=list)     # valid events that must be stored once (first: the Secret one)
    markers: dict[str, str] = field(default_factory=dict)  # key -> string value: the first event's rawLog holds
                                                         # "key":"<redacted sha256:...>" of that value
    keys: list[str] = field(default_factory=list)        # keys the first event's rawLog must still hold
    unchanged: list[dict] = field(default_factory=list)  # events whose fields must be stored exactly as they were
    present: list[str] = field(default_factory=list)     # controls: values that must be found
    settings: dict = field(default_factory=dict)         # load_bytes settings (max_unit, redact)
    outcome: str = "event"                               # fail-closed shapes: "reject" or "either"
    reason: str = ""                                     # expected start of the reject reason
    body_marks: list[str] = field(default_factory=list)  # fail-closed: non-secret body text that must be gone too


def stored(e: dict, secrets: list[str], markers: dict | None = None, keys: list[str] | None = None,
           data: bytes | None = None, **kw) -> Case:
    return Case(data if data is not None else line(e), secrets, [e], markers or {}, keys or [], **kw)


def secret_event(tag: str) -> tuple[dict, list[str], dict[str, str]]:
    """The usual Secret create: data (base64) and stringData (plain), echoed in the response."""
    pw, api = secret(f"{tag}-pw"), secret(f"{tag}-api")
    obj = secret_obj(data={"password": b64(pw)}, string_data={"api-key": api})
    return event("create", requestObject=obj, responseObject=secret_obj(data={"password": b64(pw), "api-key": b64(api)})), \
        [pw, api], {"password": b64(pw), "api-key": api}


def other_event() -> dict:
    return event("get", "pods", "web-0", responseObject={"kind": "Pod", "metadata": {"name": "web-0"}})


STORED: dict[str, callable] = {}
FAIL_CLOSED: dict[str, callable] = {}


def shape(table: dict, name: str):
    def register(build):
        table[name] = build
        return build
    return register


# ---------------------------------------------------------------------------------------------------------------------
# the shapes whose events must be stored, redacted


@shape(STORED, "create: data (base64)")
def _():
    pw, user = secret("data-pw"), secret("data-user")
    obj = secret_obj(data={"password": b64(pw), "username": b64(user)})
    return stored(event("create", requestObject=obj, responseObject=obj), [pw, user],
                  {"password": b64(pw), "username": b64(user)})


@shape(STORED, "create: stringData (plain)")
def _():
    pw = secret("sd-pw")
    return stored(event("create", requestObject=secret_obj(string_data={"password": pw})), [pw], {"password": pw})


@shape(STORED, "stringData value is a JSON document")
def _():
    pw = secret("json-doc")
    doc = json.dumps({"auths": {"r.example.com": {"password": pw, "auth": b64("u:" + pw)}}})
    return stored(event("create", requestObject=secret_obj(string_data={"config.json": doc})), [pw, b64("u:" + pw)],
                  {"config.json": doc})


@shape(STORED, "stringData value with } and { inside")
def _():
    pw = secret("braces")
    value = f'}}"}}, "x": {{"{pw}"}}{{'
    return stored(event("create", requestObject=secret_obj(string_data={"weird": value, "after": "fine"})),
                  [pw, value], {"weird": value, "after": "fine"})


@shape(STORED, "data value is a nested object")
def _():
    pw, deep = secret("nested"), secret("nested-deep")
    data = {"nested": {"inner": {"password": pw, "list": [deep, {"k": deep}]}, "n": 42}}
    return stored(event("create", requestObject=secret_obj(data=data)), [pw, deep], keys=["nested"])


@shape(STORED, "get: responseObject")
def _():
    pw = secret("get")
    return stored(event("get", responseObject=secret_obj(data={"token": b64(pw)})), [pw], {"token": b64(pw)})


@shape(STORED, "list: items[] of several Secrets")
def _():
    values = [secret(f"list-{i}") for i in range(3)]
    items = [secret_obj(f"s{i}", data={"password": b64(v)}) for i, v in enumerate(values)]
    items[2]["data"]["tls.key"] = b64(values[2] + "-key")
    e = event("list", name="", responseObject={"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": items})
    return stored(e, values, {"password": b64(values[0]), "tls.key": b64(values[2] + "-key")})


@shape(STORED, "update (PUT) body")
def _():
    old, new = secret("put-old"), secret("put-new")
    return stored(event("update", requestObject=secret_obj(data={"password": b64(new)}),
                        responseObject=secret_obj(data={"password": b64(new), "previous": b64(old)})),
                  [old, new], {"password": b64(new), "previous": b64(old)})


@shape(STORED, "merge patch {data: {k: v}}")
def _():
    v = secret("merge")
    return stored(event("patch", requestObject={"data": {"k": b64(v)}}), [v], {"k": b64(v)})


@shape(STORED, "strategic merge patch with stringData")
def _():
    v = secret("smp")
    req = {"stringData": {"token": v}, "metadata": {"labels": {"rotated": "yes"}}}
    return stored(event("patch", requestObject=req, responseObject=secret_obj(data={"token": b64(v)})), [v],
                  {"token": v}, keys=["rotated"])


@shape(STORED, "JSON patch add /data/password")
def _():
    v = secret("jp-add")
    ops = [{"op": "test", "path": "/metadata/name", "value": "db-creds"},
           {"op": "add", "path": "/data/password", "value": b64(v)}]
    return stored(event("patch", requestObject=ops), [v], {"value": b64(v)})


@shape(STORED, "JSON patch replace /data with an object")
def _():
    a, b = secret("jp-obj-a"), secret("jp-obj-b")
    ops = [{"op": "replace", "path": "/data", "value": {"password": b64(a), "username": b64(b)}}]
    return stored(event("patch", requestObject=ops), [a, b])


@shape(STORED, "JSON patch path /stringData/x")
def _():
    v = secret("jp-sd")
    return stored(event("patch", requestObject=[{"op": "add", "path": "/stringData/x", "value": v}]), [v], {"value": v})


@shape(STORED, "single JSON-patch op object as the body")
def _():
    v = secret("jp-one")
    return stored(event("patch", requestObject={"op": "replace", "path": "/data", "value": {"k": b64(v)}}), [v])


@shape(STORED, "JSON patch of the last-applied annotation")
def _():
    v = secret("jp-la")
    copy = json.dumps(secret_obj(data={"password": b64(v)}))
    ops = [{"op": "replace", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
            "value": copy}]
    return stored(event("patch", requestObject=ops), [v])


@shape(STORED, "server-side apply body")
def _():
    v, w = secret("ssa"), secret("ssa-2")
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds", "namespace": "prod"},
            "stringData": {"password": v}, "data": {"other": b64(w)}}
    e = event("patch", requestObject=body, responseObject=secret_obj(data={"password": b64(v), "other": b64(w)}))
    e["userAgent"] = "kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b"
    e["requestURI"] += "?fieldManager=kubectl&fieldValidation=Strict&force=false"
    return stored(e, [v, w], {"password": v, "other": b64(w)})


@shape(STORED, "last-applied annotation in requestObject")
def _():
    now, before = secret("la-req-now"), secret("la-req-before")   # the annotation holds an older copy
    copy = json.dumps(secret_obj(data={"password": b64(before)}, string_data={"api": before}))
    req = secret_obj(data={"password": b64(now)}, annotations={LAST_APPLIED: copy, "team": "db"})
    return stored(event("patch", requestObject=req), [now, before], {"password": b64(now)}, keys=["team"])


@shape(STORED, "last-applied annotation in responseObject")
def _():
    now, before = secret("la-resp-now"), secret("la-resp-before")
    copy = json.dumps(secret_obj(data={"password": b64(before)}))
    resp = secret_obj(data={"password": b64(now)}, annotations={LAST_APPLIED: copy})
    return stored(event("get", responseObject=resp), [now, before], {"password": b64(now)})


@shape(STORED, "TokenRequest status.token")
def _():
    token = "eyJhbGciOiJSUzI1NiJ9." + b64(secret("tokenrequest")) + ".c2lnbmF0dXJl"
    e = event("create", "serviceaccounts", "builder", "token",
              requestObject={"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                             "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600}},
              responseObject={"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                              "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600},
                              "status": {"token": token, "expirationTimestamp": "2030-01-01T00:00:00Z"}})
    return stored(e, [token], {"token": token}, keys=["expirationTimestamp", "audiences"])


@shape(STORED, "unicode value (non-ASCII)")
def _():
    v = secret("uni") + "-пароль-密码-🔑-é"
    return stored(event("create", requestObject=secret_obj(string_data={"pässwörd": v}, data={"ключ": b64(v)})), [v],
                  {"pässwörd": v, "ключ": b64(v)})


@shape(STORED, "value with backslashes and quotes")
def _():
    v = secret("bs") + r'\"quoted\" C:\path\to\ it\'s \\u0041 \n'
    return stored(event("create", requestObject=secret_obj(string_data={"p": v})), [v], {"p": v})


@shape(STORED, "value with < > & (Go escapes them)")
def _():
    v = secret("html") + "<script>&amp;</script>"
    e = event("create", requestObject=secret_obj(string_data={"p": v}))
    return stored(e, [v], {"p": v}, data=go_escape(json.dumps(e)).encode())


@shape(STORED, "very long value (100 KB)")
def _():
    v = secret("long") + rnd.token_hex(50_000)
    return stored(event("create", requestObject=secret_obj(data={"blob": b64(v)}, string_data={"raw": v})), [v],
                  {"blob": b64(v), "raw": v})


@shape(STORED, "metadata-level Secret event (no body) is stored unchanged")
def _():
    e = event("get")
    e["level"] = "Metadata"
    return Case(line(e), [], [e], unchanged=[e])


@shape(STORED, "several events in one file, the others unchanged")
def _():
    sec, sec_values, sec_markers = secret_event("mixed")
    token = "eyJ." + b64(secret("mixed-token")) + ".sig"
    cm_value = "not-secret-" + rnd.token_hex(8)
    others = [
        other_event(),
        event("create", "configmaps", "settings", requestObject={"kind": "ConfigMap", "data": {"k": cm_value}}),
        event("create", "roles", "reader", requestObject={
            "kind": "Role", "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}),
        event("create", "pods", "app", requestObject={"kind": "Pod", "spec": {
            "volumes": [{"name": "s", "secret": {"secretName": "db-creds"}}],
            "containers": [{"name": "c", "env": [{"name": "P", "valueFrom": {
                "secretKeyRef": {"name": "db-creds", "key": "password"}}}]}]}}),
        event("update", "widgets", "w", requestObject={"kind": "Widget", "data": {"password": "public-" + cm_value},
                                                       "stringData": {"note": "secrets are elsewhere"}}),
    ]
    tokenrequest = event("create", "serviceaccounts", "builder", "token",
                         responseObject={"kind": "TokenRequest", "status": {"token": token}})
    events = [sec, *others, tokenrequest]
    return Case(b"\n".join(map(line, events)) + b"\n", sec_values + [token], [sec, *others, tokenrequest],
                sec_markers, unchanged=others, present=[cm_value])


@shape(STORED, "objectRef.resource spelled with a JSON escape (\\u0073ecrets)")
def _():
    e, values, markers = secret_event("escaped-resource")
    return stored(e, values, markers, data=line(e).replace(b'"resource": "secrets"', b'"resource": "\\u0073ecrets"'))


# the usual Secret create inside every accepted envelope, next to an ordinary event

def cloudwatch(es: list[dict]) -> bytes:
    return json.dumps({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/eks/prod-eks/cluster",
                       "logStream": "kube-apiserver-audit-x", "subscriptionFilters": ["f"],
                       "logEvents": [{"id": str(i), "timestamp": 1700000000000 + i, "message": json.dumps(e)}
                                     for i, e in enumerate(es)]}).encode()


def lines(wrap):
    return lambda es: b"\n".join(wrap(e) for e in es) + b"\n"


ENVELOPES = {
    "pretty-printed": lines(lambda e: json.dumps(e, indent=2).encode()),
    "JSON array": lambda es: json.dumps(es).encode(),
    "EventList": lambda es: json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
                                        "items": es}).encode(),
    "Fluent Bit record merged": lines(lambda e: line(e | {
        "date": 1740823200.5, "stream": "stdout", "time": "2025-03-01T10:00:00.123456789Z",
        "kubernetes": {"pod_name": "kube-apiserver-cp1", "namespace_name": "kube-system"}})),
    "log as string": lines(lambda e: line({"log": json.dumps(e) + "\n", "stream": "stdout", "time": "2025-03-01T10:00:00Z"})),
    "log as object": lines(lambda e: line({"log": e, "stream": "stdout", "time": "2025-03-01T10:00:00Z"})),
    "message as string": lines(lambda e: line({"message": json.dumps(e), "host": "cp1"})),
    "CloudWatch": cloudwatch,
    "CloudWatch gzip": lambda es: gzip.compress(cloudwatch(es)),
    "Azure records": lambda es: json.dumps({"records": [{
        "category": "kube-audit", "time": "2025-03-01T10:00:00Z", "resourceId": "/SUBSCRIPTIONS/X/MANAGEDCLUSTERS/AKS",
        "properties": {"log": json.dumps(e), "stream": "stdout", "pod": "kube-apiserver-1"}} for e in es]}).encode(),
}


def _envelope(wrap):
    def build():
        e, values, markers = secret_event("env")
        other = other_event()
        return Case(wrap([other, e]), values, [e, other], markers, unchanged=[other])
    return build


for _name, _wrap in ENVELOPES.items():
    shape(STORED, f"envelope: {_name}")(_envelope(_wrap))


# controls: values that must be found, so a search that finds nothing proves something

@shape(STORED, "control: configmaps are not redacted")
def _():
    v = secret("configmap")
    e = event("create", "configmaps", "settings", requestObject={"kind": "ConfigMap", "data": {"password": v}})
    return Case(line(e), [], [e], unchanged=[e], present=[v])


@shape(STORED, "control: --no-redact stores the values")
def _():
    pw, odd = secret("noredact"), secret("noredact-odd") + r'\"q\" \\'
    e = event("create", requestObject=secret_obj(data={"password": b64(pw)}, string_data={"odd": odd}))
    return Case(line(e), [], [e], unchanged=[e], present=[pw, odd], settings={"redact": False})
# ---------------------------------------------------------------------------------------------------------------------
# fail-closed shapes: unparseable or too large Secret events keep no body and no secret, wherever they land


def _labelled(tag: str) -> tuple[dict, list[str], list[str]]:
    pw, api, m = secret(f"{tag}-pw"), secret(f"{tag}-api"), mark(tag)
    obj = secret_obj(data={"password": b64(pw)}, string_data={"api-key": api}, labels={"app": m})
    return event("create", requestObject=obj, responseObject=obj), [pw, api], [m]


@shape(FAIL_CLOSED, "truncated Secret line")
def _():
    e, values, marks = _labelled("trunc")
    return Case(line(e)[:-60], values, outcome="reject", reason="invalid JSON", body_marks=marks)


@shape(FAIL_CLOSED, "truncated inside a secret value")
def _():
    e, values, marks = _labelled("trunc-mid")
    text = line(e)
    cut = text.index(values[1].encode()) + len(values[1]) - 4   # the value's last 4 chars are cut off
    return Case(text[:cut], values + [values[1][:-4]], outcome="reject", body_marks=marks)


@shape(FAIL_CLOSED, "log as string, the event in it truncated")
def _():
    e, values, marks = _labelled("trunc-log")
    return Case(line({"log": json.dumps(e)[:-60], "stream": "stdout"}), values, outcome="reject", body_marks=marks)


@shape(FAIL_CLOSED, "CloudWatch message truncated")
def _():
    e, values, marks = _labelled("trunc-cw")
    payload = {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod-eks/cluster", "logStream": "kube-apiserver-audit-x",
               "logEvents": [{"id": "1", "timestamp": 1700000000000, "message": json.dumps(e)[:-60]}]}
    return Case(gzip.compress(json.dumps(payload).encode()), values, outcome="reject", body_marks=marks)


@shape(FAIL_CLOSED, "invalid UTF-8 byte in userAgent")
def _():
    e, values, marks = _labelled("utf8")
    text = line(e).replace(b"kubectl/v1.30.0", b"kubectl/v1.30.0\xff", 1)
    return Case(text, values, outcome="either", body_marks=marks)


def _oversized(tag: str, body_first: bool) -> Case:
    e, values, marks = _labelled(tag)
    e["requestObject"]["stringData"]["padding"] = "p" * 6000
    if body_first:  # the body comes before objectRef in the text
        e = {"requestObject": e.pop("requestObject"), "responseObject": e.pop("responseObject")} | e
    return Case(line(e), values, outcome="reject", reason="too large", body_marks=marks, settings={"max_unit": 4096})


@shape(FAIL_CLOSED, "too large, requestObject before objectRef")
def _():
    return _oversized("big-first", body_first=True)


@shape(FAIL_CLOSED, "too large, objectRef first")
def _():
    return _oversized("big-last", body_first=False)


@shape(FAIL_CLOSED, "Secret list over the limit across read blocks, objectRef last")
def _():
    # a list response of ~9 MiB on one line: read in several 4 MiB blocks, its tail (values, then the
    # objectRef that says secrets) must not become units of its own
    e, values, marks = _labelled("list-big")
    e["responseObject"] = {"kind": "SecretList", "items": [e["responseObject"]] * 20_000}
    e = {"responseObject": e.pop("responseObject")} | e
    return Case(line(e), values, outcome="reject", reason="too large", body_marks=marks, settings={"max_unit": 4096})


# ---------------------------------------------------------------------------------------------------------------------
# searching the warehouse


def needles(value: str) -> list[str]:
    """The texts that would betray a value: plain, base64, JSON-escaped (ASCII or not, Go style), each also escaped once
    more (an event inside a JSON string). A long value is searched by its first 192 bytes, whose encodings are prefixes
    of the full value's; the distinctive S3cr3t-... part is searched on its own too."""
    head = value.encode()[:192].decode(errors="ignore")
    forms = {head, base64.b64encode(value.encode()[:192]).decode(), json.dumps(head)[1:-1],
             json.dumps(head, ensure_ascii=False)[1:-1], go_escape(json.dumps(head)[1:-1])}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}
    forms |= set(re.findall(r"S3cr3t-[a-z0-9-]+?-[0-9a-f]{16}", value))
    return sorted(forms)


def _searchable(column: str, ctype: str) -> tuple[str, bool] | None:
    """An expression holding a column's text unescaped, and whether it is escaped (a complex type's toString)."""
    c = f"`{column}`"
    t = ctype.removeprefix("LowCardinality(").removeprefix("Nullable(").rstrip(")")
    if t == "String" or t.startswith("FixedString"):
        return f"ifNull(toString({c}), '')", False
    if ctype == "Array(String)":
        return f"arrayStringConcat({c}, '\\n')", False
    if ctype == "Map(String, String)":
        return f"arrayStringConcat(arrayConcat(mapKeys({c}), mapValues({c})), '\\n')", False
    if "String" in ctype:
        return f"toString({c})", True
    return None  # numbers, dates: hold no text


def find(wh, values: list[str], log_text: str = "") -> list[str]:
    """Where any encoding of any value is stored: every MergeTree table of the database, every column, and the log."""
    if not values:
        return []
    plain = sorted({n for v in values for n in needles(v)})
    quoted = sorted(set(plain) | {n.replace("\\", "\\\\").replace("'", "\\'") for n in plain})
    hits = []
    tables = wh.rows("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree%'")
    for (table,) in tables:
        cols = wh.rows("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
                       {"t": table})
        exprs = [(name, *s) for name, ctype in cols if (s := _searchable(name, ctype))]
        sql = ", ".join(f"countIf(multiSearchAny({x}, {{{'q' if esc else 'p'}:Array(String)}}))" for _, x, esc in exprs)
        counts = wh.rows(f"SELECT {sql} FROM `{table}`", {"p": plain, "q": quoted})[0]
        for (name, x, esc), n in zip(exprs, counts):
            if n:
                (text,) = wh.rows(f"SELECT {x} FROM `{table}` WHERE multiSearchAny({x}, {{p:Array(String)}}) LIMIT 1",
                                  {"p": quoted if esc else plain})[0]
                hits.append(f"{table}.{name}: {_context(text, quoted if esc else plain)}")
    if log_text and (found := [n for n in plain if n in log_text]):
        hits.append(f"log: {found[0][:60]!r}")
    return hits


def _context(text: str, needles_: list[str]) -> str:
    for n in needles_:
        if (i := text.find(n)) >= 0:
            return repr(text[max(0, i - 60):i + len(n) + 20][:200])
    return "?"


def canonical(raw_log: str) -> str:
    return json.dumps(json.loads(raw_log), separators=(",", ":"), ensure_ascii=False)


def raw_log(wh, audit_id: str) -> str:
    rows = wh.rows("SELECT rawLog FROM kubernetes_audit_logs WHERE auditID = {a:String}", {"a": audit_id})
    assert len(rows) == 1, f"event {audit_id}: {len(rows)} rows"
    return rows[0][0]


# ---------------------------------------------------------------------------------------------------------------------
# the tests


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize("build", STORED.values(), ids=STORED.keys())
def test_secret_shape_is_redacted_and_stored(wh, log, build):
    case: Case = build()
    r = load_bytes(wh, case.data, name="redaction.json", **case.settings)

    # (1) no secret value, in any encoding, in any table or log line
    assert find(wh, case.secrets, log.text) == []
    # controls: the same search does find a stored value
    for v in case.present:
        assert find(wh, [v]), f"the search does not find {v!r}"

    # (2) every valid event stored once, none rejected, its fields intact
    assert (r.events, r.rejects) == (len(case.events), 0), r
    for e in case.events:
        got = wh.rows("SELECT verb, `objectRef.name`, `objectRef.resource` FROM kubernetes_audit_logs "
                      "WHERE auditID = {a:String}", {"a": e["auditID"]})
        assert got == [(e["verb"], e["objectRef"].get("name", ""), e["objectRef"]["resource"])], e["auditID"]
        assert wh.rows("SELECT count() FROM kubernetes_audit_logs_rejects WHERE position(raw, {a:String}) > 0",
                       {"a": e["auditID"]}) == [(0,)]
    if case.events:
        stored_text = canonical(raw_log(wh, case.events[0]["auditID"]))
        for key, value in case.markers.items():
            assert f'{json.dumps(key, ensure_ascii=False)}:"{redacted(value)}"' in stored_text, key
        for key in case.keys:
            assert f'{json.dumps(key, ensure_ascii=False)}:' in stored_text, key
    for e in case.unchanged:  # a shipper's fields merged next to the event may be kept too
        got = json.loads(raw_log(wh, e["auditID"]))
        assert {k: got.get(k) for k in e} == e


@pytest.mark.parametrize("build", FAIL_CLOSED.values(), ids=FAIL_CLOSED.keys())
def test_unreadable_secret_unit_fails_closed(wh, log, build):
    case: Case = build()
    r = load_bytes(wh, case.data, name="redaction.json", **case.settings)

    # (3) the unit lands somewhere, counted ...
    assert r.events + r.rejects == 1, r
    if case.outcome == "reject":
        assert (r.events, r.rejects) == (0, 1), r
    if case.reason:
        assert wh.rows("SELECT startsWith(reason, {r:String}) FROM kubernetes_audit_logs_rejects",
                       {"r": case.reason}) == [(1,)]
    # ... with no secret, in any encoding, anywhere
    assert find(wh, case.secrets, log.text) == []
    # ... and, when it could not be read, with none of its bodies
    if r.rejects:
        assert find(wh, case.body_marks) == []
