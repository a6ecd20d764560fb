"""GKE audit logs: Cloud Logging LogEntries (protoPayload.serviceName "k8s.io") become the same 69 columns.

tests/fixtures/gke/ holds one realistic entry per case the contract names (written as GKE writes them). They are
loaded once, in every input form (a Cloud Storage sink object in each compression, Pub/Sub message bodies, messages
and push envelopes, a `gcloud logging read --format=json` array), into a warehouse of this module's own; each case
then checks its columns. The same object also loads from S3 through backfill and from stdin. Last, the catalog's
rules run on the GKE versions of their own true-positive fixtures (loader.generate.gke_entry) and must find what
they find on the native ones.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aws import aws, moto_endpoint  # noqa: F401
from conftest import load_bytes, one

from loader.backfill import backfill
from loader.generate import compress, gke_entry, write
from loader.hunt import run_rule
from loader.pipeline import Settings, load_stream
from loader.rulecheck import END, START, _in_window, fixture
from loader.rules import load_rules
from loader.sources import Filter, list_prefix, s3_client
from loader.warehouse import Warehouse

FIXTURES = Path(__file__).parent / "fixtures" / "gke"
PROJECT, LOCATION, CLUSTER = "acme-prod-318207", "europe-west1", "prod-eu"
SOURCE = "cloudaudit.googleapis.com/activity/2025/05/14/09:00:00_09:59:59_S0.json"
NOT_K8S = "container_api_update_cluster"
SECRET_VALUES = ["c2hvcF9hcHA=", "Q2hlY2tvdXQtRGItUGFzc3dvcmQtOTEy", "Checkout-Db-Password-912",
                 "cG9zdGdyZXM6Ly9zaG9wX2FwcDpDaGVja291dC1EYi1QYXNzd29yZC05MTJAMTAuMjAuMC4zL3Nob3A="]


def entry(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


CASES = sorted(p.stem for p in FIXTURES.glob("*.json") if p.stem != NOT_K8S)


def jsonl(entries: list[dict]) -> bytes:
    return b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in entries)


def pubsub_message(e: dict, n: int) -> dict:
    """A Pub/Sub message as the log sink's topic delivers it (pulled: no envelope)."""
    return {"attributes": {"logging.googleapis.com/timestamp": e["timestamp"]},
            "data": base64.b64encode(json.dumps(e).encode()).decode(), "messageId": str(9182736450 + n),
            "publishTime": e["receiveTimestamp"]}


def push_envelope(e: dict, n: int) -> dict:
    """What a push subscription POSTs: the message, with message_id and publish_time spelled twice, as Google does."""
    m = pubsub_message(e, n)
    return {"message": {**m, "message_id": m["messageId"], "publish_time": m["publishTime"]},
            "subscription": f"projects/{PROJECT}/subscriptions/gke-audit-push"}


def forms(entries: list[dict]) -> dict[str, bytes]:
    """The same entries in every form the loader takes them in."""
    lines = jsonl(entries)
    return {
        "gcs": lines,
        **{f"gcs-{c}": b"".join(compress([lines], c)) for c in ("gzip", "zstd", "bzip2")},
        # one LogEntry per Pub/Sub message body, as a subscriber writes them out (pretty-printed)
        "pubsub-body": b"\n".join(json.dumps(e, indent=2).encode() for e in entries),
        "pubsub-message": jsonl([pubsub_message(e, i) for i, e in enumerate(entries)]),
        "pubsub-push": jsonl([push_envelope(e, i) for i, e in enumerate(entries)]),
        "gcloud": json.dumps(entries, indent=2, sort_keys=True).encode() + b"\n",
    }


ENTRIES = [entry(c) for c in CASES] + [entry(NOT_K8S)]
FORMS = forms(ENTRIES)


@pytest.fixture(scope="module")
def gwh(engine_dir: Path):
    """A warehouse of this module's own: every form of the fixtures loaded, each in a workspace named after it."""
    db = f"gke_{uuid.uuid4().hex[:12]}"
    w = Warehouse(f"chdb://{engine_dir}?database={db}")
    w.apply_schema()
    for form, data in FORMS.items():
        r = load_stream(w, SOURCE, io.BytesIO(data), Settings(workspace=form, ttl_days=0))
        assert (r.events, r.rejects) == (len(CASES), 1), form
    yield w
    w.command(f"DROP DATABASE IF EXISTS `{db}`")
    w.close()


def row(w: Warehouse, audit_id: str, workspace: str = "gcs") -> dict:
    rows = w.query_dicts("SELECT * FROM kubernetes_audit_logs WHERE workspaceID = {w:String} AND eventID = {a:String}",
                         {"w": workspace, "a": audit_id})
    assert len(rows) == 1, rows
    return rows[0]


def check_common(r: dict, e: dict) -> dict:
    """What every row rebuilt from a GKE entry holds, whatever the request; returns its rawLog parsed."""
    pp = e["protoPayload"]
    aid = e["operation"]["id"]
    when = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).replace(microsecond=0, tzinfo=None)
    assert (r["kind"], r["apiVersion"], r["sourceType"], r["auditID"], r["eventID"]) == (
        "Event", "audit.k8s.io/v1", "kubernetes", aid, aid)
    assert r["id"] == hashlib.md5((aid + r["stage"]).encode()).hexdigest()
    assert r["requestReceivedTimestamp"] == r["stageTimestamp"] == e["timestamp"]
    assert [r[c].replace(tzinfo=None) for c in ("eventTime", "date", "time")] == [when] * 3
    assert r["user.username"] == pp["authenticationInfo"]["principalEmail"] == r["actor"]["username"]
    assert r["user.groups"] == [] and "groups" not in r["actor"] and "uid" not in r["actor"]
    assert r["sourceIPs"] == [pp["requestMetadata"]["callerIp"]]
    assert r["userAgent"] == pp["requestMetadata"]["callerSuppliedUserAgent"]
    assert r["annotations.authorization.k8s.io.decision"] == e["labels"]["authorization.k8s.io/decision"]
    assert r["annotations.authorization.k8s.io.reason"] == e["labels"]["authorization.k8s.io/reason"]
    assert r["stream"] == "" and all(r[c] == "" for c in r if c.startswith("kubernetes."))
    assert r["dstIP"] == r["dstASOrganization"] == "" and r["dstASNumber"] == 0
    tags = r["tags"]
    assert {k: tags.get(k) for k in ("gke.project_id", "gke.location", "cluster", "source")} == {
        "gke.project_id": PROJECT, "gke.location": LOCATION, "cluster": CLUSTER, "source": SOURCE}
    assert tags["gke.logName"] == e["logName"].rsplit("%2F", 1)[1]
    grpc = pp["status"].get("code", 0)
    assert tags.get("gke.status.code") == (str(grpc) if grpc else None)
    for k, v in e["labels"].items():  # annotations: key for key; the authorization ones have columns of their own
        assert tags.get(k) == (None if k.startswith("authorization.k8s.io/") or not v else v)
    raw = json.loads(r["rawLog"])  # the rebuilt Event, never the LogEntry
    assert "protoPayload" not in raw and '"@type"' not in r["rawLog"]
    assert (raw["kind"], raw["auditID"], raw["stage"], raw["verb"], raw["annotations"]) == (
        "Event", aid, r["stage"], r["verb"], e["labels"])
    assert raw["responseStatus"]["code"] == r["responseStatus.code"] and r["responseStatus.metadata"] == "{}"
    return raw


def body(e: dict, key: str) -> dict:
    return {k: v for k, v in e["protoPayload"][key].items() if k != "@type"}


# what each case must give, beyond check_common: columns, then the tags and actor keys it must hold
EXPECTED: dict[str, dict] = {
    "privileged_pod_create": dict(
        eventName="create-pods", verb="create", level="RequestResponse", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/payments/pods/node-debugger", code=201,
        ref=("pods", "payments", "node-debugger", "v1"), resources=["/api/v1/namespaces/payments/pods/node-debugger"],
        serviceName="core", readOnly=False, srcIP="203.0.113.24",
        tags={"pod-security.kubernetes.io/enforce-policy": "privileged:latest"},
        actor={"email": "alice@acme.example", "authenticatedUsername": "alice@acme.example"}),
    "podsecurity_denial": dict(
        eventName="create-pods", verb="create", level="RequestResponse", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/storefront/pods/node-debugger", code=403,
        ref=("pods", "storefront", "node-debugger", "v1"), resources=["/api/v1/namespaces/storefront/pods/node-debugger"],
        serviceName="core", readOnly=False, srcIP="203.0.113.24",
        tags={"pod-security.kubernetes.io/enforce-policy": "restricted:latest", "responseStatus.status": "Failure",
              "responseStatus.reason": "Forbidden", "gke.status.code": "7"}),
    "pod_exec": dict(
        eventName="create-pods-exec", verb="create", level="Metadata", stage="ResponseStarted",
        requestURI="/api/v1/namespaces/payments/pods/checkout-7d9f8b6c5-x2k4q/exec", code=101,
        ref=("pods", "payments", "checkout-7d9f8b6c5-x2k4q", "v1"),
        resources=["/api/v1/namespaces/payments/pods/checkout-7d9f8b6c5-x2k4q/exec"],
        serviceName="core", readOnly=False, srcIP="203.0.113.24", tags={"objectRef.subresource": "exec"}),
    "secrets_list_cluster_wide": dict(
        eventName="list-secrets", verb="list", level="Metadata", stage="ResponseComplete", requestURI="/api/v1/secrets",
        code=200, ref=("secrets", "", "", "v1"), resources=["/api/v1/secrets"], serviceName="core", readOnly=True,
        srcIP="10.8.1.17", srcConnectionType="internal",
        actor={"serviceAccount": "monitoring/metrics-agent",
               "authenticatedUsername": "system:serviceaccount:monitoring:metrics-agent"}),
    "clusterrolebinding_cluster_admin": dict(
        eventName="create-clusterrolebindings", verb="create", level="RequestResponse", stage="ResponseComplete",
        requestURI="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ci-deployer-admin", code=201,
        ref=("clusterrolebindings", "", "ci-deployer-admin", "v1"),
        resources=["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ci-deployer-admin",
                   "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin"],
        serviceName="rbac.authorization.k8s.io", readOnly=False, srcIP="34.76.201.9",
        tags={"objectRef.apiGroup": "rbac.authorization.k8s.io", "roleRef.kind": "ClusterRole",
              "roleRef.name": "cluster-admin"},
        actor={"email": "ci-bootstrap@acme-prod-318207.iam.gserviceaccount.com"}),
    "replicaset_pod_create": dict(
        eventName="create-pods", verb="create", level="RequestResponse", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/payments/pods", code=201, ref=("pods", "payments", "", "v1"),
        # no name in the path: the created pod's, from the response
        resources=["/api/v1/namespaces/payments/pods/checkout-7d9f8b6c5-mz8qp"],
        serviceName="core", readOnly=False, srcIP="::1", srcConnectionType="internal",
        actor={"serviceAccount": "kube-system/replicaset-controller"}),
    "forbidden_secret_get": dict(
        eventName="get-secrets", verb="get", level="Metadata", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/kube-system/secrets/cloud-sql-credentials", code=403,
        ref=("secrets", "kube-system", "cloud-sql-credentials", "v1"),
        resources=["/api/v1/namespaces/kube-system/secrets/cloud-sql-credentials"], serviceName="core", readOnly=True,
        srcIP="198.51.100.66",
        tags={"responseStatus.status": "Failure", "responseStatus.message": "PERMISSION_DENIED", "gke.status.code": "7"}),
    "metrics_nonresource": dict(
        eventName="get-/metrics", verb="get", level="Metadata", stage="ResponseComplete", requestURI="/metrics",
        code=200, ref=("", "", "", ""), resources=[], serviceName="", readOnly=True,
        srcIP="", srcConnectionType=""),  # callerIp gce-internal-ip: kept in sourceIPs, no address
    "anonymous_probe": dict(
        eventName="get-/.env", verb="get", level="Metadata", stage="ResponseComplete", requestURI="/.env", code=403,
        ref=("", "", "", ""), resources=[], serviceName="", readOnly=True, srcIP="185.220.101.47",
        tags={"responseStatus.status": "Failure", "gke.status.code": "7"}),
    "deployment_patch": dict(
        eventName="patch-deployments", verb="patch", level="RequestResponse", stage="ResponseComplete",
        requestURI="/apis/apps/v1/namespaces/payments/deployments/checkout", code=200,
        ref=("deployments", "payments", "checkout", "v1"), resources=["/apis/apps/v1/namespaces/payments/deployments/checkout"],
        serviceName="apps", readOnly=False, srcIP="34.76.201.9", tags={"objectRef.apiGroup": "apps"}),
    "namespace_finalize": dict(
        eventName="update-namespaces-finalize", verb="update", level="Request", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/old-team/finalize", code=200,
        # the Namespace itself: its namespace is its name, as the apiserver records it
        ref=("namespaces", "old-team", "old-team", "v1"),
        resources=["/api/v1/namespaces/old-team/namespaces/old-team/finalize"],
        serviceName="core", readOnly=False, srcIP="::1", srcConnectionType="internal",
        tags={"objectRef.subresource": "finalize"}),
    "configmap_exists_409": dict(
        eventName="create-configmaps", verb="create", level="Metadata", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/payments/configmaps/checkout-config", code=409,
        ref=("configmaps", "payments", "checkout-config", "v1"),
        resources=["/api/v1/namespaces/payments/configmaps/checkout-config"], serviceName="core", readOnly=False,
        srcIP="34.76.201.9",
        tags={"responseStatus.status": "Failure", "responseStatus.message": "ALREADY_EXISTS", "gke.status.code": "6"}),
    "service_delete_404": dict(
        eventName="delete-services", verb="delete", level="Metadata", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/payments/services/checkout-canary", code=404,
        ref=("services", "payments", "checkout-canary", "v1"),
        resources=["/api/v1/namespaces/payments/services/checkout-canary"], serviceName="core", readOnly=False,
        srcIP="203.0.113.31",
        tags={"responseStatus.status": "Failure", "responseStatus.message": "NOT_FOUND", "gke.status.code": "5"}),
    "secret_create_with_body": dict(
        eventName="create-secrets", verb="create", level="RequestResponse", stage="ResponseComplete",
        requestURI="/api/v1/namespaces/payments/secrets/checkout-db", code=201,
        ref=("secrets", "payments", "checkout-db", "v1"), resources=["/api/v1/namespaces/payments/secrets/checkout-db"],
        serviceName="core", readOnly=False, srcIP="34.76.201.9"),
}


def test_every_case_has_its_expectations():
    assert sorted(EXPECTED) == CASES


@pytest.mark.parametrize("case", CASES)
def test_case_columns(gwh, case):
    e, x = entry(case), EXPECTED[case]
    r = row(gwh, e["insertId"])
    raw = check_common(r, e)
    got = {k: r[k] for k in ("eventName", "verb", "level", "stage", "requestURI", "resources", "serviceName",
                             "readOnly", "srcIP")}
    assert got == {k: x[k] for k in got}
    assert r["responseStatus.code"] == x["code"]
    assert tuple(r[f"objectRef.{k}"] for k in ("resource", "namespace", "name", "apiVersion")) == x["ref"]
    assert r["srcConnectionType"] == x.get("srcConnectionType", "")
    assert {k: r["tags"].get(k) for k in x.get("tags", {})} == x.get("tags", {})
    assert {k: r["actor"].get(k) for k in x.get("actor", {})} == x.get("actor", {})
    assert ("objectRef" in raw) == bool(x["ref"][0])
    assert "gke.methodName" not in r["tags"]  # every fixture's methodName agrees with its resourceName


def test_bodies_lose_their_type_and_gain_what_it_names(gwh):
    # a Pod: apiVersion and kind were there; "@type" goes, nothing else changes
    e = entry("privileged_pod_create")
    raw = json.loads(row(gwh, e["insertId"])["rawLog"])
    assert raw["requestObject"] == body(e, "request") and raw["responseObject"] == body(e, "response")
    # a ClusterRoleBinding request without apiVersion and kind: taken from rbac.authorization.k8s.io/v1.ClusterRoleBinding
    e = entry("clusterrolebinding_cluster_admin")
    raw = json.loads(row(gwh, e["insertId"])["rawLog"])
    assert raw["requestObject"] == {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
                                    **body(e, "request")}
    # a patch (k8s.io/Patch): the patch document as it is; a response's own apiVersion/kind are never overwritten
    e = entry("deployment_patch")
    raw = json.loads(row(gwh, e["insertId"])["rawLog"])
    assert raw["requestObject"] == body(e, "request") and "kind" not in raw["requestObject"]
    assert raw["responseObject"] == body(e, "response")
    # a denial: the Status answers, and gives the code (403) and the status fields
    e = entry("podsecurity_denial")
    raw = json.loads(row(gwh, e["insertId"])["rawLog"])
    status = body(e, "response")
    assert raw["responseStatus"] == {"metadata": {}, "status": "Failure", "reason": "Forbidden",
                                     "message": status["message"], "code": 403}
    assert raw["responseObject"] == status
    # a failure without a Status: gRPC 7 -> 403, and its message
    raw = json.loads(row(gwh, entry("forbidden_secret_get")["insertId"])["rawLog"])
    assert raw["responseStatus"] == {"metadata": {}, "status": "Failure", "message": "PERMISSION_DENIED", "code": 403}
    assert raw["level"] == "Metadata" and "requestObject" not in raw and "responseObject" not in raw


def test_every_form_gives_the_same_rows(gwh):
    """A Cloud Storage sink object in any compression, Pub/Sub bodies, messages and push envelopes, a gcloud array:
    the same rows (workspaceID and receivedAt aside)."""
    def rows(form: str) -> dict:
        got = gwh.query_dicts("SELECT * EXCEPT (workspaceID, receivedAt) FROM kubernetes_audit_logs "
                              "WHERE workspaceID = {w:String}", {"w": form})
        # a body's keys keep the order they came in (gcloud sorts them)
        return {r["eventID"]: {**r, "rawLog": json.loads(r["rawLog"])} for r in got}
    want = rows("gcs")
    assert sorted(want) == sorted(entry(c)["insertId"] for c in CASES)
    for form in FORMS:
        assert rows(form) == want, form


def test_other_log_entries_are_rejects_never_rows(gwh):
    e = entry(NOT_K8S)
    got = gwh.query_dicts("SELECT workspaceID, reason, raw, line, item FROM kubernetes_audit_logs_rejects "
                          "ORDER BY workspaceID")
    assert {r["workspaceID"] for r in got} == set(FORMS) and len(got) == len(FORMS)
    assert {r["reason"] for r in got} == {"not a kubernetes audit entry"}
    assert all(json.loads(r["raw"]) == e for r in got)  # the LogEntry, decoded from Pub/Sub, one line
    by = {r["workspaceID"]: r for r in got}
    assert by["gcs"]["line"] == len(CASES) + 1 and by["gcloud"]["item"] == len(CASES) + 1
    assert one(gwh, "SELECT count() FROM kubernetes_audit_logs WHERE eventID = {a:String}",
               a=e["operation"]["id"]) == (0,)


def test_a_secret_body_is_stored_nowhere(gwh):
    """A custom policy logged a Secret create with its bodies: in every form (base64 in Pub/Sub too), no value is
    stored anywhere; the keys stay, each value its hash."""
    hits = []
    for (table,) in gwh.rows("SELECT name FROM system.tables WHERE database = currentDatabase() "
                             "AND engine LIKE '%MergeTree%'"):
        dump = gwh.raw(f"SELECT * FROM `{table}`", "TSVRaw").decode()
        hits += [f"{table}: {v}" for v in SECRET_VALUES if v in dump]
    assert hits == []
    e = entry("secret_create_with_body")
    for form in FORMS:
        raw = json.loads(row(gwh, e["insertId"], form)["rawLog"])
        data = raw["requestObject"]["data"]
        assert data == {k: f"<redacted sha256:{hashlib.sha256(v.encode()).hexdigest()[:12]}>"
                        for k, v in body(e, "request")["data"].items()}
        assert set(raw["requestObject"]["stringData"]) == {"dsn"} and set(raw["responseObject"]["data"]) == {
            "username", "password", "dsn"}


def test_tags_from_the_entry(wh):
    """--cluster overrides the entry's cluster; an authority selector next to a principal, a methodName that
    disagrees with resourceName and a gRPC failure are kept as tags; callerIP is read as callerIp."""
    e = entry("namespace_finalize")
    pp = e["protoPayload"]
    pp["authenticationInfo"]["authoritySelector"] = "principal://iam.googleapis.com/projects/-/serviceAccounts/x"
    pp["methodName"] = "io.k8s.core.v1.namespaces.update"
    pp["requestMetadata"]["callerIP"] = pp["requestMetadata"].pop("callerIp")
    load_bytes(wh, jsonl([e]), cluster="prod-eu-blue")
    (tags, ips, name) = one(wh, "SELECT tags, sourceIPs, eventName FROM kubernetes_audit_logs")
    assert tags["cluster"] == "prod-eu-blue"
    assert tags["gke.authoritySelector"] == pp["authenticationInfo"]["authoritySelector"]
    assert tags["gke.methodName"] == "io.k8s.core.v1.namespaces.update"
    assert ips == ["::1"] and name == "update-namespaces-finalize"  # the resourceName parse is kept


def test_authority_selector_and_source_address_as_the_contracts_say(wh):
    """gke.md keeps an authority selector as a tag only next to a principalEmail; it makes srcIP empty for a
    caller that is no address, while the main contract's srcIP for a native Event stays sourceIPs[1]."""
    e = entry("namespace_finalize")
    auth = e["protoPayload"]["authenticationInfo"]
    auth["principalSubject"] = "serviceAccount:ci@example.iam.gserviceaccount.com"
    auth["authoritySelector"] = "principal://iam.googleapis.com/projects/-/serviceAccounts/x"
    del auth["principalEmail"]
    native = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "native-1",
              "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces", "verb": "list",
              "user": {"username": "alice"}, "sourceIPs": ["private"], "responseStatus": {"code": 200},
              "requestReceivedTimestamp": "2024-05-01T10:00:00Z", "stageTimestamp": "2024-05-01T10:00:00Z"}
    load_bytes(wh, jsonl([e, native]))
    rows = dict(wh.rows("SELECT eventID, (tags, `user.username`, srcIP) FROM kubernetes_audit_logs"))
    tags, user, _ = rows[e["operation"]["id"]]
    assert user == auth["principalSubject"] and "gke.authoritySelector" not in tags
    assert rows["native-1"][2] == "private"


def test_bad_pubsub_data_is_a_reject(wh):
    bad = {"message": {"data": "bm90IGEgbG9nIGVudHJ5", "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}
    r = load_bytes(wh, jsonl([bad]))
    assert (r.events, r.rejects) == (0, 1)
    assert one(wh, "SELECT reason, raw FROM kubernetes_audit_logs_rejects") == (
        "not a Pub/Sub message: data is not a base64 JSON object", json.dumps(bad, separators=(",", ":")))


def test_an_s3_object_through_backfill(wh, aws):  # noqa: F811
    """GCS sink objects copied to S3 load through backfill (sqs-poll's path: load_stream on the object)."""
    s3 = s3_client()
    bucket = f"gke-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=SOURCE, Body=gzip.compress(jsonl(ENTRIES)))
    objects, _ = list_prefix(s3, bucket, "cloudaudit.googleapis.com/", Filter())
    out = backfill(wh, bucket, objects, Settings(ttl_days=0), client=s3)
    assert (out.loaded, out.total.events, out.total.rejects) == (1, len(CASES), 1)
    assert one(wh, "SELECT uniqExact(eventID), any(tags['source']) FROM kubernetes_audit_logs") == (
        len(CASES), f"s3://{bucket}/{SOURCE}")


def test_stdin(tmp_path):
    p = subprocess.run([sys.executable, "-m", "loader", "load", "-", "--ttl-days", "0", "--format", "json",
                        "--dsn", f"chdb://{tmp_path / 'wh'}"], input=gzip.compress(FORMS["gcs"]),
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    summary = json.loads(p.stdout.decode().splitlines()[-1])
    assert (summary["events"], summary["rejects"]) == (len(CASES), 1)


def test_generate_gke_is_the_same_day(wh):
    """`loader generate --format gke` writes the day `--format jsonl` writes, as GKE entries."""
    day = datetime(2025, 3, 14, tzinfo=timezone.utc)
    for fmt in ("jsonl", "gke"):
        out = io.BytesIO()
        write(out, 400, fmt, "gzip", seed=2, day=day)
        assert load_bytes(wh, out.getvalue(), name=fmt).events == 400
    # (the authenticated user: GKE does not log impersonation)
    q = ("SELECT groupArray((eventID, eventName, verb, `objectRef.name`, `user.username`, srcIP, "
         "`responseStatus.code`, eventTime)) FROM (SELECT * FROM kubernetes_audit_logs WHERE tags['source'] = {s:String} "
         "ORDER BY eventID)")
    assert one(wh, q, s="gke") == one(wh, q, s="jsonl")


# Rules that cannot fire on GKE data, and why: each lacks a field GKE does not log.
LOST_ON_GKE = {
    # the command of an exec is in requestURI's query string, which GKE does not log
    "k8s-exec-cloud-metadata": "no query string", "k8s-exec-credential-files": "no query string",
    "k8s-exec-network-tool": "no query string", "k8s-exec-reverse-shell": "no query string",
    "k8s-exec-shell": "no query string", "k8s-kubectl-cp": "no query string",
    "k8s-impersonation-privileged": "no impersonatedUser", "k8s-impersonation-used": "no impersonatedUser",
    "k8s-source-ip-forwarded-mismatch": "one callerIp, not the X-Forwarded-For chain",
    # its fixture's exec succeeds with 201; GKE logs no code for a success and the contract infers 101 for an exec,
    # outside the rule's 200-399
    "k8s-first-seen-workload-writer": "an exec's success code is inferred as 101",
}


def test_rules_fire_on_the_gke_versions_of_their_true_positives(wh, engine_dir: Path):
    """Every rule's true-positive fixture, native in one warehouse and converted by gke_entry in another: each rule
    finds the same of its own events in both, but for LOST_ON_GKE, where it finds fewer."""
    rules = load_rules()
    db = f"gke_rules_{uuid.uuid4().hex[:8]}"
    native = Warehouse(f"chdb://{engine_dir}?database={db}")
    native.apply_schema()
    tps = {r.id: [json.loads(line) for line in fixture(r.path, "tp").read_text().splitlines() if line.strip()]
           for r in rules}
    events = [e for es in tps.values() for e in es]
    load_bytes(native, jsonl(events))
    load_bytes(wh, jsonl([gke_entry(e) for e in events]))
    lost, kept = {}, []
    for rule in rules:
        own = {e["auditID"] for e in tps[rule.id] if _in_window(e)}
        found = [own & {i for r in run_rule(w, rule, START, END).rows for i in r["eventIDs"]} for w in (native, wh)]
        assert found[0] == own, rule.id
        if found[1] != found[0]:
            lost[rule.id] = sorted(own - found[1])
        else:
            kept.append(rule.id)
    native.command(f"DROP DATABASE `{db}`")
    native.close()
    assert sorted(lost) == sorted(LOST_ON_GKE)
    assert len(kept) == len(rules) - len(LOST_ON_GKE)
