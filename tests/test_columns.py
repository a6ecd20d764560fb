"""Every raw seed sample loads, and its 69 columns are filled exactly as docs/columns.md says."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import load_bytes
from samples import seed_documents, seed_raw_events

COLUMNS_69 = [
    "workspaceID", "sourceID", "sourceType", "sourceTTL", "receivedAt", "id", "eventTime", "eventName", "eventID",
    "srcIP", "srcASCountryCode", "srcASNumber", "srcASOrganization", "srcCity", "srcConnectionType", "srcISP",
    "srcLatitude", "srcLongitude", "srcUserType", "dstIP", "dstASCountryCode", "dstASNumber", "dstASOrganization",
    "dstCity", "dstConnectionType", "dstISP", "dstLatitude", "dstLongitude", "dstUserType", "actor", "tags",
    "resources", "serviceName", "readOnly", "rawLog", "date", "stream", "time", "kind", "apiVersion", "level",
    "auditID", "stage", "requestURI", "verb", "user.username", "user.groups", "sourceIPs", "userAgent",
    "objectRef.resource", "objectRef.namespace", "objectRef.name", "objectRef.apiVersion", "responseStatus.metadata",
    "responseStatus.code", "requestReceivedTimestamp", "stageTimestamp", "annotations.authorization.k8s.io.decision",
    "annotations.authorization.k8s.io.reason", "kubernetes.pod_name", "kubernetes.namespace_name", "kubernetes.pod_id",
    "kubernetes.labels.component", "kubernetes.labels.tier", "kubernetes.host", "kubernetes.container_name",
    "kubernetes.docker_id", "kubernetes.container_hash", "kubernetes.container_image",
]
TYPES_69 = dict(zip(COLUMNS_69, [
    "String", "String", "LowCardinality(String)", "UInt32", "DateTime", "String", "DateTime", "String", "String",
    "String", "String", "UInt32", "String", "String", "String", "String", "Float64", "Float64", "String", "String",
    "String", "UInt32", "String", "String", "String", "String", "Float64", "Float64", "String", "Map(String, String)",
    "Map(String, String)", "Array(String)", "String", "Bool", "String", "DateTime", "String", "DateTime", "String",
    "String", "String", "String", "String", "String", "String", "String", "Array(String)", "Array(String)", "String",
    "String", "String", "String", "String", "String", "Int64", "String", "String", "String", "String", "String",
    "String", "String", "String", "String", "String", "String", "String", "String", "String",
]))


def test_table_has_exactly_the_69_documented_columns(wh):
    described = [(r[0], r[1]) for r in wh.rows("DESCRIBE TABLE kubernetes_audit_logs")]
    assert described == [(c, TYPES_69[c]) for c in COLUMNS_69]


def row(wh, audit_id: str) -> dict:
    cols = ", ".join(f"`{c}`" for c in COLUMNS_69)
    rows = wh.rows(f"SELECT {cols} FROM kubernetes_audit_logs WHERE auditID = {{a:String}}", {"a": audit_id})
    assert len(rows) == 1, rows
    return dict(zip(COLUMNS_69, rows[0]))


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


EMPTY_DST = {c: ("" if TYPES_69[c] == "String" else 0) for c in COLUMNS_69 if c.startswith("dst")}
EMPTY_SHIPPER = {c: "" for c in COLUMNS_69 if c.startswith("kubernetes.")} | {"stream": ""}


@pytest.fixture
def seeds(wh):
    raw = seed_raw_events()
    # the samples, concatenated as the package ships them (one line or pretty-printed)
    r = load_bytes(wh, "\n".join(raw.values()).encode(), name="seeds.json", workspace="acme", source_id="seed",
                   cluster="minikube")
    assert (r.events, r.rejects) == (len(raw), 0)
    return raw


def check(got: dict, expected: dict, raw_text: str) -> None:
    for col, want in expected.items():
        assert got[col] == want, f"{col}: {got[col]!r} != {want!r}"
    assert got["date"] == got["eventTime"] and got["time"] == got["eventTime"]
    assert "\n" not in got["rawLog"] and json.loads(got["rawLog"]) == json.loads(raw_text)
    assert got["receivedAt"].year >= 2025
    for col, want in (EMPTY_DST | EMPTY_SHIPPER).items():
        assert got[col] == want, col


def test_clusterrolebinding(wh, seeds):
    got = row(wh, "cc1dcb56-f0e4-4720-bad1-433ce652add7")
    check(got, {
        "workspaceID": "acme", "sourceID": "seed", "sourceType": "kubernetes", "sourceTTL": 0,
        "id": md5("cc1dcb56-f0e4-4720-bad1-433ce652add7ResponseComplete"),
        "eventName": "create-clusterrolebindings", "eventID": "cc1dcb56-f0e4-4720-bad1-433ce652add7",
        "srcIP": "1.2.3.4", "srcConnectionType": "", "srcASNumber": 0, "srcCity": "",
        "actor": {"username": "minikube-user", "groups": "system:masters,system:authenticated",
                  "authenticatedUsername": "minikube-user",
                  "credentialID": "X509SHA256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
        "tags": {"objectRef.apiGroup": "rbac.authorization.k8s.io", "roleRef.kind": "ClusterRole",
                 "roleRef.name": "cluster-admin", "cluster": "minikube", "source": "seeds.json"},
        "resources": ["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/example-admin-binding",
                      "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin"],
        "serviceName": "rbac.authorization.k8s.io", "readOnly": False,
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "stage": "ResponseComplete",
        "requestURI": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create&fieldValidation=Strict",
        "verb": "create", "user.username": "minikube-user", "user.groups": ["system:masters", "system:authenticated"],
        "sourceIPs": ["1.2.3.4"], "userAgent": "kubectl/v1.32.5 (linux/amd64) kubernetes/9894294",
        "objectRef.resource": "clusterrolebindings", "objectRef.namespace": "", "objectRef.name": "example-admin-binding",
        "objectRef.apiVersion": "v1", "responseStatus.metadata": "{}", "responseStatus.code": 201,
        "requestReceivedTimestamp": "2025-05-22T12:23:08.702110Z", "stageTimestamp": "2025-05-22T12:23:08.704223Z",
        "annotations.authorization.k8s.io.decision": "allow", "annotations.authorization.k8s.io.reason": "",
    }, seeds["cc1dcb56-f0e4-4720-bad1-433ce652add7"])
    assert got["eventTime"].isoformat() == "2025-05-22T12:23:08"


def test_exec(wh, seeds):
    got = row(wh, "91afc40c-f1ef-4956-b85a-7e12d09511e9")
    check(got, {
        "eventName": "create-pods-exec", "id": md5("91afc40c-f1ef-4956-b85a-7e12d09511e9ResponseComplete"),
        "srcIP": "192.168.0.1", "srcConnectionType": "internal",
        "actor": {"username": "user@mail.com", "email": "user@mail.com", "groups": "system:authenticated",
                  "authenticatedUsername": "user@mail.com"},
        "tags": {"objectRef.subresource": "exec", "cluster": "minikube", "source": "seeds.json"},
        "resources": ["/api/v1/namespaces/test/pods/test-1669140000-zp58r/exec"],
        "serviceName": "core", "readOnly": False, "kind": "", "apiVersion": "", "level": "RequestResponse",
        "requestURI": "/api/v1/namespaces/test/pods/test-1669140000-zp58r/exec?command=sh&container=test&stdin=true&stdout=true&tty=true",
        "objectRef.resource": "pods", "objectRef.namespace": "test", "objectRef.name": "test-1669140000-zp58r",
        "responseStatus.code": 101, "responseStatus.metadata": "{}",
        "annotations.authorization.k8s.io.decision": "allow",
        "annotations.authorization.k8s.io.reason":
            "RBAC: allowed by ClusterRoleBinding test-role-binding of ClusterRole test-admin to Group system:authenticated",
    }, seeds["91afc40c-f1ef-4956-b85a-7e12d09511e9"])
    assert got["eventTime"].isoformat() == "2022-11-23T14:36:45"


def test_impersonation(wh, seeds):
    got = row(wh, "bdeb089c-5d70-4776-b6af-88e739fb0dd5")
    sa = "system:serviceaccount:pinniped-concierge:pinniped-concierge-impersonation-proxy"
    check(got, {
        "eventName": "list-pods", "readOnly": True, "srcIP": "1.1.1.1", "sourceIPs": ["1.1.1.1", "2.2.2.2"],
        "actor": {"username": "john.doe@example.org", "email": "john.doe@example.org",
                  "uid": "6258bd11-9713-442b-bbed-2587a76975d9", "groups": "admin,system:authenticated",
                  "authenticatedUsername": sa, "impersonatedUsername": "john.doe@example.org",
                  "credentialID": "JTI=581d10f3-b521-480f-aa42-bcd6a70df8ea"},
        "user.username": sa,
        "user.groups": ["system:serviceaccounts", "system:serviceaccounts:pinniped-concierge", "system:authenticated"],
        "resources": ["/api/v1/namespaces/support/pods"], "serviceName": "core", "objectRef.name": "",
        "level": "Request", "responseStatus.code": 200,
    }, seeds["bdeb089c-5d70-4776-b6af-88e739fb0dd5"])


def test_scale_patch(wh, seeds):
    got = row(wh, "bbd6d83f-4b6d-4a3d-b3cd-840a0691c19f")
    check(got, {
        "eventName": "patch-deployments-scale", "serviceName": "apps", "objectRef.name": "",
        "resources": ["/apis/apps/v1/namespaces/test/deployments/test/scale"],
        "tags": {"objectRef.subresource": "scale", "objectRef.apiGroup": "apps", "cluster": "minikube",
                 "source": "seeds.json"},
        "responseStatus.code": 200, "verb": "patch", "readOnly": False,
    }, seeds["bbd6d83f-4b6d-4a3d-b3cd-840a0691c19f"])


def test_privileged_pod(wh, seeds):
    got = row(wh, "8cb523a6-0be6-4198-8886-ed4fa57bd375")
    check(got, {
        "eventName": "create-pods", "resources": ["/api/v1/namespaces/default/pods/priv-shell"],
        "tags": {"pod-security.kubernetes.io/enforce-policy": "privileged:latest", "cluster": "minikube",
                 "source": "seeds.json"},
        "serviceName": "core", "objectRef.name": "priv-shell", "responseStatus.code": 201,
    }, seeds["8cb523a6-0be6-4198-8886-ed4fa57bd375"])
    assert json.loads(got["rawLog"])["requestObject"]["spec"]["containers"][0]["securityContext"]["privileged"] is True


def test_every_seed_document_loads(wh):
    """The normalizer outputs in the seeds wrap the Event as a JSON string in 'message': they load as that Event."""
    docs = seed_documents()
    r = load_bytes(wh, "\n".join(docs).encode(), name="seed-docs.json")
    assert (r.events, r.rejects) == (len(docs), 0)
    ids = {row[0] for row in wh.rows("SELECT auditID FROM kubernetes_audit_logs")}
    assert ids == set(seed_raw_events())
