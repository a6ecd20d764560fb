"""One test per input form and compression of the contract, built here; idempotence; redaction; sizes."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import json

import pytest
import zstandard

from conftest import load_bytes, one


def event(i: int, **extra) -> dict:
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"aud-{i:04d}",
         "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/ns/pods/p{i}", "verb": "get",
         "user": {"username": "alice", "groups": ["dev"]}, "sourceIPs": ["203.0.113.7"],
         "objectRef": {"resource": "pods", "namespace": "ns", "name": f"p{i}", "apiVersion": "v1"},
         "responseStatus": {"metadata": {}, "code": 200},
         "requestReceivedTimestamp": f"2025-03-01T10:00:{i % 60:02d}.000001Z",
         "stageTimestamp": f"2025-03-01T10:00:{i % 60:02d}.000002Z"}
    e.update(extra)
    return e


def line(e) -> bytes:
    return json.dumps(e).encode()


def audit_ids(wh) -> list[str]:
    return [r[0] for r in wh.rows("SELECT auditID FROM kubernetes_audit_logs ORDER BY auditID")]


EVENTS = [event(i) for i in range(3)]
IDS = [e["auditID"] for e in EVENTS]

FORMS = {
    "plain lines": b"\n".join(map(line, EVENTS)) + b"\n",
    "no trailing newline, CRLF": b"\r\n".join(map(line, EVENTS)),
    "concatenated on one line": b"".join(map(line, EVENTS)),
    "pretty-printed": b"\n".join(json.dumps(e, indent=2).encode() for e in EVENTS),
    "array": json.dumps(EVENTS).encode(),
    "pretty array": json.dumps(EVENTS, indent=4).encode(),
    "array with items at column 0": b"[\n" + b",\n".join(map(line, EVENTS)) + b"\n]",
    "EventList": json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": EVENTS}).encode(),
    "array of EventLists": json.dumps([{"kind": "EventList", "items": EVENTS[:2]}, {"kind": "EventList", "items": EVENTS[2:]}]).encode(),
    "nested in log as string": b"\n".join(line({"log": json.dumps(e) + "\n", "stream": "stdout"}) for e in EVENTS),
    "nested in message as string": b"\n".join(line({"message": json.dumps(e), "host": "x"}) for e in EVENTS),
    "nested in log as object": b"\n".join(line({"log": e, "time": "2025-01-01T00:00:00Z"}) for e in EVENTS),
    "azure records": json.dumps({"records": [{"category": "kube-audit", "time": "2025-03-01T10:00:00Z",
                                               "resourceId": "/SUBSCRIPTIONS/X/MANAGEDCLUSTERS/PROD-AKS",
                                               "properties": {"log": json.dumps(e), "stream": "stdout", "pod": "kube-apiserver-1"}}
                                              for e in EVENTS]}).encode(),
}


@pytest.mark.parametrize("form", FORMS)
def test_input_form(wh, form):
    r = load_bytes(wh, FORMS[form], name=f"{form}.json")
    assert (r.events, r.rejects) == (3, 0)
    assert audit_ids(wh) == IDS
    for raw in wh.rows("SELECT rawLog FROM kubernetes_audit_logs")[0]:
        assert "\n" not in raw and json.loads(raw)["auditID"] in IDS


def test_fluent_bit_merged_record_fills_shipper_columns(wh):
    rec = event(7) | {"date": 1740823200.5, "stream": "stderr", "time": "2025-03-01T10:00:00.123456789Z",
                      "kubernetes": {"pod_name": "kube-apiserver-cp1", "namespace_name": "kube-system", "pod_id": "uid-1",
                                     "labels": {"component": "kube-apiserver", "tier": "control-plane"},
                                     "host": "cp1", "container_name": "kube-apiserver", "docker_id": "abc",
                                     "container_hash": "sha256:h", "container_image": "registry.k8s.io/kube-apiserver:v1.30.0"}}
    del rec["requestReceivedTimestamp"], rec["stageTimestamp"]
    assert load_bytes(wh, line(rec)).events == 1
    got = one(wh, "SELECT toString(date), stream, toString(time), toString(eventTime), `kubernetes.pod_name`, "
                  "`kubernetes.namespace_name`, `kubernetes.pod_id`, `kubernetes.labels.component`, `kubernetes.labels.tier`, "
                  "`kubernetes.host`, `kubernetes.container_name`, `kubernetes.docker_id`, `kubernetes.container_hash`, "
                  "`kubernetes.container_image` FROM kubernetes_audit_logs")
    # eventTime falls back to the shipper's time when the Event carries no timestamp
    assert got == ("2025-03-01 10:00:00", "stderr", "2025-03-01 10:00:00", "2025-03-01 10:00:00", "kube-apiserver-cp1",
                   "kube-system", "uid-1", "kube-apiserver", "control-plane", "cp1", "kube-apiserver", "abc",
                   "sha256:h", "registry.k8s.io/kube-apiserver:v1.30.0")


def cloudwatch(messages: list[dict], group="/aws/eks/prod-eks/cluster", kind="DATA_MESSAGE") -> bytes:
    payload = {"messageType": kind, "owner": "123456789012", "logGroup": group,
               "logStream": "kube-apiserver-audit-0123", "subscriptionFilters": ["f"],
               "logEvents": [{"id": str(i), "timestamp": 1740823200000 + i, "message": json.dumps(m)}
                             for i, m in enumerate(messages)]}
    return gzip.compress(json.dumps(payload).encode())


def test_cloudwatch_via_firehose_concatenated_gzip_members(wh):
    no_time = {k: v for k, v in event(9).items() if not k.endswith("Timestamp")}
    data = (cloudwatch(EVENTS[:2]) + cloudwatch([], kind="CONTROL_MESSAGE", group="")
            + cloudwatch([EVENTS[2], no_time]))
    r = load_bytes(wh, data, name="firehose.gz")
    assert (r.events, r.rejects) == (4, 0)
    assert audit_ids(wh) == IDS + ["aud-0009"]
    assert one(wh, "SELECT uniqExact(tags['cluster']), any(tags['cluster']) FROM kubernetes_audit_logs") == (1, "prod-eks")
    # an Event without timestamps takes the CloudWatch logEvents timestamp (ms)
    assert one(wh, "SELECT toString(eventTime) FROM kubernetes_audit_logs WHERE auditID = 'aud-0009'") == ("2025-03-01 10:00:00",)


def test_azure_envelope_cluster_and_stream(wh):
    load_bytes(wh, FORMS["azure records"])
    assert one(wh, "SELECT uniqExact(tags['cluster']), any(tags['cluster']), any(stream), any(`kubernetes.pod_name`) "
                   "FROM kubernetes_audit_logs") == (1, "prod-aks", "stdout", "kube-apiserver-1")


def test_cluster_flag_is_the_default_and_envelope_wins(wh):
    load_bytes(wh, FORMS["plain lines"] + b"\n" + FORMS["azure records"].replace(b"aud-", b"az-"), cluster="dev-1")
    got = dict(wh.rows("SELECT substring(auditID, 1, 3), any(tags['cluster']) FROM kubernetes_audit_logs GROUP BY 1"))
    assert got == {"aud": "dev-1", "az-": "prod-aks"}


PLAIN = FORMS["plain lines"]
COMPRESSIONS = {
    "gzip multi-member": gzip.compress(PLAIN[:300]) + gzip.compress(PLAIN[300:]),
    "zstd multi-frame": zstandard.ZstdCompressor().compress(PLAIN[:300]) + zstandard.ZstdCompressor().compress(PLAIN[300:]),
    "bzip2 multi-stream": bz2.compress(PLAIN[:300]) + bz2.compress(PLAIN[300:]),
    "plain with BOM": b"\xef\xbb\xbf" + PLAIN,
    "gzip with BOM": gzip.compress(b"\xef\xbb\xbf" + PLAIN),
}


@pytest.mark.parametrize("name", COMPRESSIONS)
def test_compression_is_detected_from_the_bytes(wh, name):
    r = load_bytes(wh, COMPRESSIONS[name], name="no-extension")
    assert (r.events, r.rejects) == (3, 0)
    assert audit_ids(wh) == IDS


def test_damaged_compression_loads_what_it_can_and_rejects_the_rest(wh):
    data = gzip.compress(PLAIN) + gzip.compress(PLAIN.replace(b"aud-", b"bad-"))[:40]
    r = load_bytes(wh, data)
    assert (r.events, r.rejects) == (3, 1)
    assert one(wh, "SELECT reason LIKE 'undecodable compression:%' FROM kubernetes_audit_logs_rejects") == (1,)


def test_rejects_say_why_and_where(wh):
    data = b"\n".join([line(EVENTS[0]), b"not json at all", b'{"kind": 0}', b"[1, 2]", b'{"kind":"Event", "verb":',
                       line(EVENTS[1]), b'"a string"'])
    r = load_bytes(wh, data, name="mixed.log")
    assert (r.events, r.rejects) == (2, 6)
    got = wh.rows("SELECT line, item, reason, raw FROM kubernetes_audit_logs_rejects ORDER BY line, item")
    not_event = "not an audit event (no auditID and no kind: Event)"
    not_object = "not an audit event: the JSON value is not an object"
    assert got == [(2, 0, "invalid JSON", "not json at all"), (3, 0, not_event, '{"kind": 0}'),
                   (4, 1, not_object, "1"), (4, 2, not_object, "2"),
                   (5, 0, "invalid JSON", '{"kind":"Event", "verb":'), (7, 0, not_object, '"a string"')]
    assert one(wh, "SELECT any(source), sum(rejects) FROM ingest_ledger FINAL") == ("mixed.log", 6)


def test_reloading_adds_nothing(wh):
    data = PLAIN + b"garbage\n"
    first = load_bytes(wh, data, name="a.log")
    again = load_bytes(wh, data, name="a.log")
    elsewhere = load_bytes(wh, data, name="copy/of/a.log")  # same content under another path
    assert (first.events, first.rejects) == (again.events, again.rejects) == (elsewhere.events, elsewhere.rejects) == (3, 1)
    assert one(wh, "SELECT count() FROM kubernetes_audit_logs") == (3,)
    assert one(wh, "SELECT count() FROM kubernetes_audit_logs_rejects") == (1,)
    # other settings shape other rows: a load into another workspace is a new load
    load_bytes(wh, data, name="a.log", workspace="team-b")
    assert one(wh, "SELECT count() FROM kubernetes_audit_logs WHERE workspaceID = 'team-b'") == (3,)


def test_same_event_from_different_sources_gets_the_same_id(wh):
    load_bytes(wh, PLAIN, name="kube-apiserver.log")
    load_bytes(wh, FORMS["azure records"], name="azure.json")
    assert one(wh, "SELECT count(), uniqExact(id) FROM kubernetes_audit_logs") == (6, 3)
    assert one(wh, "SELECT count() FROM kubernetes_audit_logs FINAL") == (3,)


def secret_events() -> tuple[bytes, list[str]]:
    pw, token, api = b"hunter2-s3cr3t", b"eyJhbGciOiJSUzI1NiJ9.tok", b"AKIAEXAMPLEKEY"
    data = {"password": base64.b64encode(pw).decode(), "token": base64.b64encode(token).decode()}
    last_applied = json.dumps({"apiVersion": "v1", "kind": "Secret", "data": data, "metadata": {"name": "db"}})
    obj = {"kind": "Secret", "apiVersion": "v1", "data": data, "stringData": {"api-key": api.decode()},
           "metadata": {"name": "db", "namespace": "prod",
                        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}}}
    create = event(20, level="RequestResponse", verb="create",
                   objectRef={"resource": "secrets", "namespace": "prod", "name": "db", "apiVersion": "v1"},
                   requestObject=obj, responseObject=obj)
    listing = event(21, level="RequestResponse", verb="list",
                    objectRef={"resource": "secrets", "namespace": "prod", "apiVersion": "v1"},
                    responseObject={"kind": "SecretList", "items": [obj, {"kind": "Secret", "data": {"k": data["token"]}}]})
    pretty = json.dumps(create, indent=2).encode()  # pretty-printed input is minified, then redacted
    broken = line(create)[:-40]                     # a truncated Secret line: a reject, still redacted
    values = [pw.decode(), token.decode(), api.decode(), data["password"], data["token"]]
    return b"\n".join([line(create), line(listing), pretty, broken]), values


def test_secret_values_never_reach_any_table(wh):
    data, values = secret_events()
    r = load_bytes(wh, data)
    assert (r.events, r.rejects) == (3, 1)
    for table in ("kubernetes_audit_logs", "kubernetes_audit_logs_rejects", "ingest_ledger", "ingest_chunks"):
        dump = "\n".join(map(str, wh.rows(f"SELECT * FROM {table}")))
        for v in values:
            assert v not in dump, (table, v)
    raw = json.loads(one(wh, "SELECT rawLog FROM kubernetes_audit_logs WHERE auditID = 'aud-0021'")[0])
    digest = hashlib.sha256(base64.b64encode(b"hunter2-s3cr3t")).hexdigest()[:12]
    assert raw["responseObject"]["items"][0]["data"]["password"] == f"<redacted sha256:{digest}>"
    assert set(raw["responseObject"]["items"][0]["data"]) == {"password", "token"}  # keys stay


def test_redaction_can_be_turned_off(wh):
    data, values = secret_events()
    load_bytes(wh, data, redact=False)
    dump = "\n".join(r[0] for r in wh.rows("SELECT rawLog FROM kubernetes_audit_logs"))
    assert values[3] in dump


def test_a_3_mib_line_is_stored_and_a_too_large_one_rejected_with_its_digest(wh):
    big = event(30, requestObject={"metadata": {"annotations": {"blob": "x" * (3 * 1024 * 1024)}}})
    text = line(big)
    assert load_bytes(wh, text).events == 1
    assert one(wh, "SELECT length(rawLog) > 3 * 1024 * 1024 FROM kubernetes_audit_logs") == (1,)
    r = load_bytes(wh, text + b"\n" + line(EVENTS[0]), name="small-limit.log", max_unit=2 * 1024 * 1024)
    assert (r.events, r.rejects) == (1, 1)
    got = one(wh, "SELECT reason, length(raw), rawSize, rawSHA256, truncated FROM kubernetes_audit_logs_rejects")
    assert got == (f"too large: {len(text)} bytes, the limit is {2 * 1024 * 1024}", 1024 * 1024, len(text),
                   hashlib.sha256(text).hexdigest(), True)
