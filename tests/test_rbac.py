"""`loader rbac suggest`: the least-privilege Role/ClusterRole and bindings from what a service account did
successfully, checked rule by rule and against the RBAC v1 schema; its denied requests listed apart."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import load_bytes
from typer.testing import CliRunner

from loader.cli import app
from loader.investigate.rbac import subject, suggest
from loader.rulecheck import reset

FIXTURES = Path(__file__).parent / "fixtures" / "investigate"
SA = "system:serviceaccount:shop:reporter"
NAME = "least-privilege:shop:reporter"
START, END = datetime(2024, 5, 1, tzinfo=timezone.utc), datetime(2024, 6, 1, tzinfo=timezone.utc)
VALIDATOR = jsonschema.Draft202012Validator(json.loads((FIXTURES / "rbac-v1.schema.json").read_text()))


@pytest.fixture(scope="module")
def wh(_session_wh):
    reset(_session_wh)
    assert load_bytes(_session_wh, (FIXTURES / "serviceaccount.jsonl").read_bytes()).events == 24
    return _session_wh


@pytest.fixture(scope="module")
def suggestion(wh):
    return suggest(wh, SA, START, END)


def objects(s) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"].get("namespace", "")): o for o in s.objects}


def test_one_role_per_namespace_and_a_cluster_role_each_bound(suggestion):
    found = objects(suggestion)
    assert sorted(found) == [("ClusterRole", ""), ("ClusterRoleBinding", ""), ("Role", "monitoring"),
                             ("Role", "shop"), ("RoleBinding", "monitoring"), ("RoleBinding", "shop")]
    for (kind, _), o in found.items():
        assert o["metadata"]["name"] == NAME
        if kind.endswith("Binding"):
            assert o["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": kind.removesuffix("Binding"),
                                    "name": NAME}
            assert o["subjects"] == [{"kind": "ServiceAccount", "name": "reporter", "namespace": "shop"}]


def test_the_shop_role_rule_by_rule(suggestion):
    assert objects(suggestion)[("Role", "shop")]["rules"] == [
        # always the same ConfigMap (also when alice acted as the service account): by name
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config"], "verbs": ["get"]},
        # a create is authorized before its object has a name: never by name
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/log"], "resourceNames": ["web-0", "web-1"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "resourceNames": ["web"], "verbs": ["patch"]},
    ]
    assert objects(suggestion)[("Role", "monitoring")]["rules"] == [
        {"apiGroups": [""], "resources": ["services"], "resourceNames": ["prometheus"], "verbs": ["get"]}]


def test_the_cluster_role_rule_by_rule(suggestion):
    assert objects(suggestion)[("ClusterRole", "")]["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces", "nodes"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["nodes"], "resourceNames": ["ip-10-0-0-1.ec2.internal"], "verbs": ["get"]},
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},  # /api: every authenticated identity has it already
    ]
    assert any("/api" in note and "system:discovery" in note for note in suggestion.notes)


def test_denied_requests_listed_apart_not_granted(suggestion):
    assert [(a.what, a.requests) for a in suggestion.denied] == [
        ("list secrets (cluster-wide)", 1), ("get secrets db-creds in shop", 2)]
    granted = [r for o in suggestion.objects for r in o.get("rules", [])]
    assert not any("secrets" in r.get("resources", []) for r in granted)
    text = suggestion.yaml()
    assert "# Denied, so not granted (3 requests):\n#   list secrets (cluster-wide): 1x" in text
    assert "#   get secrets db-creds in shop: 2x, last 2024-05-03T08:13:00Z" in text


def test_schema_valid_and_the_yaml_is_the_objects(suggestion):
    for o in suggestion.objects:
        errors = [e.message for e in VALIDATOR.iter_errors(o)]
        assert not errors, (o, errors)
    assert list(yaml.safe_load_all(suggestion.yaml())) == suggestion.objects
    assert suggestion.yaml().startswith(f"# Least privilege for {SA}: what it did successfully from 2024-05-01T00:00:00Z")


def test_the_schema_catches_what_kubernetes_refuses():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "x", "namespace": "a"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    assert VALIDATOR.is_valid(role)
    for broken in ({**role, "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]},   # namespaced URL rule
                   {**role, "rules": [{"apiGroups": [""], "resources": ["pods"]}]},           # no verbs
                   {**role, "rules": [{"apiGroups": [""], "resource": ["pods"], "verbs": ["get"]}]},  # misspelt
                   {**role, "metadata": {"name": "x"}}):                                        # no namespace
        assert not VALIDATOR.is_valid(broken), broken


def test_impersonation_rights_and_streaming_verbs(wh):
    """alice acted as the service account: impersonating it is hers to be granted, namespaced, by name."""
    s = suggest(wh, "alice@example.com", START, END)
    assert objects(s)[("Role", "shop")]["rules"] == [
        {"apiGroups": [""], "resources": ["serviceaccounts"], "resourceNames": ["reporter"], "verbs": ["impersonate"]}]
    assert objects(s)[("RoleBinding", "shop")]["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice@example.com"}]
    assert all(VALIDATOR.is_valid(o) for o in s.objects)


def test_nothing_done_nothing_granted(wh):
    s = suggest(wh, "system:serviceaccount:shop:idle", START, END)
    assert s.objects == [] and s.denied == []
    assert "# Nothing to grant: no successful request in the window." in s.yaml()


@pytest.mark.parametrize("actor", ["system:serviceaccount:shop", "system:serviceaccount::x", " "])
def test_bad_actor(actor):
    with pytest.raises(ValueError):
        subject(actor)


def test_cli(wh):
    r = CliRunner().invoke(app, ["rbac", "suggest", "--actor", SA, "--since", "2024-05-01", "--until", "2024-06-01",
                                 "--dsn", wh.dsn])
    assert r.exit_code == 0, r.output
    docs = list(yaml.safe_load_all(r.stdout))
    assert [d["kind"] for d in docs] == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Role", "RoleBinding"]
    assert "allowed request(s) -> 6 object(s); 3 denied request(s) listed, not granted" in r.stderr
    out = json.loads(CliRunner().invoke(app, ["rbac", "suggest", "--actor", SA, "--since", "2024-05-01", "--until",
                                              "2024-06-01", "--format", "json", "--dsn", wh.dsn]).stdout)
    assert out["objects"] == docs and [d["what"] for d in out["denied"]][0] == "list secrets (cluster-wide)"
    bad = CliRunner().invoke(app, ["rbac", "suggest", "--actor", "system:serviceaccount:shop", "--dsn", wh.dsn])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --actor: a service account is")
