"""Redact: Secret values and live tokens never leave the loader (contract, "Secret redaction").

Redaction works on structure, so it runs here, on the few units that can hold a Secret body (they
mention `secrets` or `serviceaccounts` and carry a request or response body): ClickHouse has no
recursive JSON rewrite, and regular expressions cannot follow JSON nesting. Every other unit passes
through untouched and is parsed once, in ClickHouse.

Any envelope works the same way: the unit is parsed, every audit event found in it (at the top, in
arrays, or inside a JSON string such as CloudWatch's `message`) is redacted, and the unit is written
back. GKE writes an event as a Cloud Logging LogEntry whose AuditLog (`protoPayload`) carries the bodies
as `request` and `response`; a Pub/Sub message carries that LogEntry in base64 (`data`), which is
decoded, redacted and encoded again. A unit that cannot be parsed fails closed: its bodies are cut off
before it goes anywhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

import orjson

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_BODIES = ("requestObject", "responseObject")
_GKE_BODIES = ("request", "response")
# From the first body (or Secret field, or base64 Pub/Sub data) on, an unparseable text is dropped.
_CUT = re.compile(rb'\\*"(?:requestObject|responseObject|request|response|data|stringData|items)\\*"\s*:')
_CUT_MARK = b'"<redacted: unparseable Secret body>"'
_GKE_BODY = re.compile(rb'(?:request|response)\\*"')
_VERSION = re.compile(r"v\d+((alpha|beta)\d+)?")


def _base64_forms(word: bytes) -> tuple[bytes, ...]:
    """What base64 text always holds where the plain text holds word, at each of the 3 alignments: the
    characters that encode word's bits only."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + word)
        forms.append(encoded[-(-8 * shift // 6):8 * (shift + len(word)) // 6])
    return tuple(forms)


_BASE64_NAMES = _base64_forms(b"secrets") + _base64_forms(b"serviceaccounts")


def _names_in_base64(text: bytes) -> bool:
    return any(form in text for form in _BASE64_NAMES)


def names_secrets(text: bytes) -> bool:
    """Whether the bytes name a resource whose bodies hold credentials (Secrets, TokenRequests), in plain
    text or in a Pub/Sub message's base64 data."""
    return b"secrets" in text or b"serviceaccounts" in text or (b'"data"' in text and _names_in_base64(text))


def mentions_secret(text: bytes) -> bool:
    """Whether a unit may hold a Secret body or a token: cheap byte tests, before any parsing."""
    return names_secrets(text) and (b"Object" in text or b'"data"' in text or _GKE_BODY.search(text) is not None)


def redact_unit(text: bytes) -> bytes:
    """The unit with every Secret value and TokenRequest token redacted; fail closed if unparseable."""
    if not mentions_secret(text):
        return text
    try:
        value = _loads(text)
    except ValueError:
        return cut_bodies(text)
    value, changed = _walk(value)
    return _dumps(value) if changed else text


def cut_bodies(text: bytes) -> bytes:
    """Fail closed: keep what comes before the first body, drop the rest."""
    m = _CUT.search(text)
    return text[:m.end()] + _CUT_MARK if m else text


def _loads(text: bytes | str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # integers beyond 64 bits and the like: slower, but a valid event must not become a reject
        return json.loads(text)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, separators=(",", ":")).encode()


def _walk(v: Any) -> tuple[Any, bool]:
    """Find audit events anywhere in a parsed unit (envelopes, arrays, JSON inside strings, GKE AuditLogs,
    Pub/Sub messages)."""
    if isinstance(v, dict):
        if isinstance(v.get("objectRef"), dict):
            return v, _redact_event(v)
        if v.get("serviceName") == "k8s.io" and isinstance(v.get("resourceName"), str):
            return v, _redact_gke(v)
        if isinstance(v.get("data"), str) and ("messageId" in v or "message_id" in v or "attributes" in v):
            return v, _redact_message(v)
        changed = False
        for k, x in v.items():
            v[k], c = _walk(x)
            changed |= c
        return v, changed
    if isinstance(v, list):
        changed = False
        for i, x in enumerate(v):
            v[i], c = _walk(x)
            changed |= c
        return v, changed
    if isinstance(v, str) and ("secrets" in v or "serviceaccounts" in v) and "Object" in v:
        try:
            inner = _loads(v)
        except ValueError:
            if v.lstrip()[:1] in ("{", "["):  # an event text that does not parse: fail closed
                cut = cut_bodies(v.encode())
                return cut.decode(errors="replace"), cut != v.encode()
            return v, False
        inner, changed = _walk(inner)
        return (_dumps(inner).decode() if changed else v), changed
    return v, False


def _redact_event(e: dict) -> bool:
    ref = e["objectRef"]
    if ref.get("resource") == "secrets":
        changed = False
        for key in _BODIES:
            if key in e:
                e[key], c = _secret_body(e[key])
                changed |= c
        return changed
    if ref.get("resource") == "serviceaccounts" and ref.get("subresource") == "token":
        changed = False
        for key in _BODIES:
            status = e.get(key, {}).get("status") if isinstance(e.get(key), dict) else None
            if isinstance(status, dict) and status.get("token") is not None:
                status["token"], changed = _hidden(status["token"]), True
        return changed
    return False


def _gke_resource(payload: dict) -> tuple[str, str]:
    """(resource, subresource) of a GKE AuditLog, read from resourceName as schema/035_gke.sql reads it:
    GROUP/VERSION/[namespaces/NS/]RES[/NAME[/SUB]] (a Namespace's own requests read neither as secrets nor
    as a serviceaccounts token)."""
    parts = payload["resourceName"].split("/")
    if len(parts) < 3 or not _VERSION.fullmatch(parts[1]) or not parts[2]:
        return "", ""
    rest = parts[2:]
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    return rest[0], rest[2] if len(rest) > 2 else ""


def _redact_gke(payload: dict) -> bool:
    """A GKE AuditLog: its request and response bodies, as an Event's."""
    resource, subresource = _gke_resource(payload)
    event = {key: payload[gke] for key, gke in zip(_BODIES, _GKE_BODIES) if gke in payload}
    event["objectRef"] = {"resource": resource, "subresource": subresource}
    changed = _redact_event(event)
    for key, gke in zip(_BODIES, _GKE_BODIES):
        if key in event:
            payload[gke] = event[key]
    return changed


def _redact_message(message: dict) -> bool:
    """A Pub/Sub message: its base64 data (a GKE LogEntry) decoded, redacted, encoded again; data that
    names secrets but cannot be decoded is dropped."""
    data = message["data"]
    if not _names_in_base64(data.encode()):
        return False
    try:
        inner = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        message["data"] = ""
        return True
    redacted = redact_unit(inner)
    if redacted == inner:
        return False
    message["data"] = base64.b64encode(redacted).decode()
    return True


def _secret_body(body: Any) -> tuple[Any, bool]:
    """A Secret request or response body in any form: object, list, patch (merge, JSON, apply), text."""
    if isinstance(body, list):  # a JSON patch, or a list of Secrets
        changed = False
        for i, item in enumerate(body):
            body[i], c = _secret_body(item)
            changed |= c
        return body, changed
    if isinstance(body, dict):
        if isinstance(body.get("op"), str) and isinstance(body.get("path"), str):
            return _patch_op(body)
        changed = False
        for key in ("data", "stringData"):
            if key in body:
                body[key], c = _values(body[key])
                changed |= c
        if isinstance(body.get("items"), list):  # SecretList
            body["items"], c = _secret_body(body["items"])
            changed |= c
        annotations = body.get("metadata", {}).get("annotations") if isinstance(body.get("metadata"), dict) else None
        if isinstance(annotations, dict) and annotations.get(LAST_APPLIED):
            annotations[LAST_APPLIED], changed = "<redacted>", True
        return body, changed
    if isinstance(body, str) and body:  # a body logged as text (YAML apply, base64): parse it or hide it
        try:
            parsed = _loads(body)
        except ValueError:
            return _hidden(body), True
        parsed, changed = _secret_body(parsed)
        return (_dumps(parsed).decode() if changed else body), changed
    return body, False


def _patch_op(op: dict) -> tuple[dict, bool]:
    """One JSON-patch operation: its value is redacted when its path reaches Secret data."""
    path, value = op["path"], op.get("value")
    if "value" not in op or value is None:
        return op, False
    if re.match(r"/(data|stringData)(/|$)", path):
        op["value"], _ = _values(value)
        return op, True
    if path in ("", "/"):  # the whole object replaced
        op["value"], c = _secret_body(value)
        return op, c
    if path == "/metadata" or path.startswith("/metadata/annotations"):
        if "last-applied-configuration" in path:
            op["value"] = "<redacted>"
            return op, True
        if isinstance(value, dict):
            holder = {"metadata": value} if path == "/metadata" else {"metadata": {"annotations": value}}
            _, c = _secret_body(holder)
            return op, c
    return op, False


def _values(v: Any) -> tuple[Any, bool]:
    """Every value at any depth becomes its hash; keys stay."""
    if isinstance(v, dict):
        return {k: _values(x)[0] for k, x in v.items()}, bool(v)
    if isinstance(v, list):
        return [_values(x)[0] for x in v], bool(v)
    if v is None:
        return v, False
    return _hidden(v), True


def _hidden(v: Any) -> str:
    text = v if isinstance(v, str) else _dumps(v).decode()
    return f"<redacted sha256:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}>"
