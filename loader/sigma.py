"""Sigma rules (product: kubernetes, service: audit) to rule files for this table, with pySigma.

A processing pipeline maps Sigma's Kubernetes audit field names to ClickHouse expressions (columns,
tags/actor keys, rawLog JSON paths); a TextQueryBackend writes the condition; the result is a
complete queries/ rule (header + SELECT, format in queries/README.md) that `hunt run` can execute.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, ClassVar, cast

import yaml
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.processing.conditions import LogsourceCondition, RuleProcessingCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.rule import SigmaRule
from sigma.types import CompareOperators, SigmaString, SpecialChars

# Containers and volumes come from the rule helpers of schema/080_rule_functions.sql, so a Sigma rule and
# the catalog agree on what "every container" is. Sigma rules look at the request body only (they run on
# every operation: a response's spec would make reads match): the first four of k8sPodSpecs are the request
# root (the pre-1.25 EphemeralContainers body), a Pod's spec, a workload's pod template and a CronJob's job
# template; volumes are read from the last three, the real pod specs.
_CONTAINERS = "k8sContainers(arraySlice(k8sPodSpecs(rawLog), 1, 4))"
_VOLUMES = "k8sVolumes(arraySlice(k8sPodSpecs(rawLog), 2, 3))"

# Sigma field -> ClickHouse expression (columns: docs/columns.md).
FIELDS: dict[str, str] = {
    "verb": "verb",
    "requestURI": "requestURI",
    "stage": "stage",
    "level": "level",
    "auditID": "auditID",
    "userAgent": "userAgent",
    "objectRef.resource": "`objectRef.resource`",
    "objectRef.subresource": "tags['objectRef.subresource']",
    "objectRef.namespace": "`objectRef.namespace`",
    "objectRef.name": "`objectRef.name`",
    "objectRef.apiGroup": "tags['objectRef.apiGroup']",
    "objectRef.apiVersion": "`objectRef.apiVersion`",
    "objectRef.uid": "tags['objectRef.uid']",
    "user.username": "`user.username`",
    "user.uid": "actor['uid']",
    "impersonatedUser.username": "actor['impersonatedUsername']",
    "responseStatus.code": "`responseStatus.code`",
    "responseStatus.status": "tags['responseStatus.status']",
    "responseStatus.reason": "tags['responseStatus.reason']",
    "responseStatus.message": "tags['responseStatus.message']",
    "annotations.authorization.k8s.io/decision": "`annotations.authorization.k8s.io.decision`",
    "annotations.authorization.k8s.io/reason": "`annotations.authorization.k8s.io.reason`",
    "srcIP": "srcIP",
}
# Multi-valued fields: a condition holds when it holds for any element.
ARRAYS: dict[str, str] = {
    "user.groups": "`user.groups`",
    "impersonatedUser.groups": "splitByChar(',', actor['groups'])",
    "sourceIPs": "sourceIPs",
    "hostPath": f"arrayFilter(p -> p != '', arrayMap(v -> JSONExtractString(v, 'hostPath', 'path'), {_VOLUMES}))",
    "capabilities": f"arrayFlatten(arrayMap(c -> JSONExtract(c, 'securityContext', 'capabilities', 'add', "
                    f"'Array(String)'), {_CONTAINERS}))",
    "image": f"arrayMap(c -> JSONExtractString(c, 'image'), {_CONTAINERS})",
    # 'true'/'false' as Sigma's booleans are written (bool_values); JSONExtractBool gives a UInt8, 1 or 0
    "privileged": f"arrayMap(c -> if(JSONExtractBool(c, 'securityContext', 'privileged'), 'true', 'false'), "
                  f"{_CONTAINERS})",
}
_ARRAY_EXPRS = {v: k for k, v in ARRAYS.items()}
# typed as FieldMappingTransformation takes it (a value may also be a list of fields)
MAPPING = cast(dict[str | None, str | list[str]], {**FIELDS, **ARRAYS})
_JSON_PATH = re.compile(r"^(requestObject|responseObject)(\.[A-Za-z0-9_\-/]+)+$")
_SEVERITY = {"informational": "informational", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}


class BodyPathTransformation(FieldMappingTransformationBase):
    """requestObject.a.b / responseObject.a.b -> the string at that path in rawLog."""

    def apply_field_name(self, field: str | None) -> str | None:
        if field and _JSON_PATH.match(field):
            return "JSONExtractString(rawLog, " + ", ".join(f"'{p}'" for p in field.split(".")) + ")"
        return None


def kubernetes_audit_pipeline() -> ProcessingPipeline:
    def k8s() -> list[RuleProcessingCondition]:  # a condition object belongs to one item
        return [LogsourceCondition(product="kubernetes", service="audit")]
    return ProcessingPipeline(
        name="kubernetes audit -> kubernetes_audit_logs", priority=20,
        items=[ProcessingItem(identifier="k8s_fields", transformation=FieldMappingTransformation(MAPPING),
                              rule_conditions=k8s()),
               ProcessingItem(identifier="k8s_body_paths", transformation=BodyPathTransformation(), rule_conditions=k8s())])


class ClickHouseK8sBackend(TextQueryBackend):
    """WHERE-clause text for kubernetes_audit_logs; string literals and LIKE patterns in ClickHouse syntax."""

    name: ClassVar[str] = "ClickHouse kubernetes_audit_logs"
    formats: ClassVar[dict[str, str]] = {"default": "queries/ rule file"}
    requires_pipeline: ClassVar[bool] = False
    group_expression: ClassVar[str] = "({expr})"
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    field_quote = None
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    add_escaped: ClassVar[str] = "\\"
    bool_values: ClassVar[dict[bool, str | None]] = {True: "'true'", False: "'false'"}
    wildcard_match_expression: ClassVar[str] = "{field} ILIKE {value}"
    case_sensitive_match_expression: ClassVar[str] = "{field} LIKE {value}"
    re_expression: ClassVar[str] = "match({field}, '{regex}')"
    re_escape_char: ClassVar[str] = "\\"
    re_escape: ClassVar[list[str]] = ["'"]
    re_escape_escape_char: bool = True
    cidr_expression: ClassVar[str] = "isIPAddressInRange({field}, '{value}')"
    compare_op_expression: ClassVar[str] = "{field} {operator} {value}"
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<", CompareOperators.LTE: "<=", CompareOperators.GT: ">",
        CompareOperators.GTE: ">=", CompareOperators.NEQ: "!="}
    field_null_expression: ClassVar[str] = "empty({field})"
    field_exists_expression: ClassVar[str] = "notEmpty({field})"
    field_not_exists_expression: ClassVar[str] = "empty({field})"
    convert_or_as_in: ClassVar[bool] = True
    convert_and_as_in: ClassVar[bool] = False
    in_expressions_allow_wildcards: ClassVar[bool] = False
    field_in_list_expression: ClassVar[str] = "{field} {op} ({list})"
    or_in_operator: ClassVar[str] = "IN"
    list_separator: ClassVar[str] = ", "
    unbound_value_str_expression: ClassVar[str] = "positionCaseInsensitive(rawLog, {value}) > 0"
    unbound_value_num_expression: ClassVar[str] = "position(rawLog, '{value}') > 0"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(processing_pipeline=kubernetes_audit_pipeline(), **kwargs)

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        if s.contains_special():
            return super().convert_value_str(s, state)
        # a plain value is compared with '=' / IN, where % and _ are ordinary characters
        return self.quote_string(s.convert(self.escape_char, None, None, self.str_quote + self.add_escaped, self.filter_chars))

    def decide_convert_condition_as_in_expression(self, cond, state: ConversionState) -> bool:
        if any(getattr(a, "field", None) in _ARRAY_EXPRS for a in cond.args):
            return False  # arrays get one arrayExists per value instead
        return super().decide_convert_condition_as_in_expression(cond, state)

    def convert_condition_field_eq_val(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> Any:
        if cond.field in _ARRAY_EXPRS:
            element = copy.copy(cond)
            element.field = "x"
            return f"arrayExists(x -> {super().convert_condition_field_eq_val(element, state)}, {cond.field})"
        value = cond.value
        if isinstance(value, SigmaString) and tuple(value.s) == (SpecialChars.WILDCARD_MULTI,):
            return f"notEmpty({cond.field})"  # Sigma's bare '*' means "has a value"
        return super().convert_condition_field_eq_val(cond, state)

    def finalize_query_default(self, rule: SigmaRule, query: Any, index: int, state: ConversionState) -> str:
        return rule_file(rule, str(query))


def _one_line(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def rule_id(rule: SigmaRule) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", str(rule.title).lower()).strip("-")
    return f"sigma-{slug}"[:80].rstrip("-")


def rule_file(rule: SigmaRule, condition: str) -> str:
    """A complete queries/ rule file around the converted condition."""
    level = "Request" if "rawLog" in condition else "Metadata"  # body fields need Request-level events
    mitre = sorted({t.name.upper() for t in rule.tags
                    if t.namespace == "attack" and re.match(r"^t\d{4}(\.\d{3})?$", t.name, re.I)})
    severity = _SEVERITY.get(str(rule.level.name).lower() if rule.level else "", "medium")
    header = [
        f"-- id: {rule_id(rule)}",
        f"-- title: {_one_line(rule.title)}",
        f"-- description: {_one_line(rule.description) or _one_line(rule.title)} (converted from Sigma {rule.id or ''})".replace(" )", ")"),
        f"-- severity: {severity}",
        f"-- mitre: {', '.join(mitre) or 'T1078'}",  # the format requires one; T1078 when Sigma names none
        "-- operations: *",
        "-- mode: event",
        f"-- level: {level}",
        "-- window: 1h",
        f"-- false_positives: {_one_line('; '.join(map(str, rule.falsepositives))) or 'Unknown'}",
        "-- enabled: true",
    ]
    sql = ("SELECT\n    eventTime,\n    [eventID] AS eventIDs,\n    actor['username'] AS user,\n    srcIP,\n"
           "    userAgent,\n    eventName AS operation,\n"
           "    concat(`objectRef.namespace`, '/', `objectRef.name`) AS object\n"
           "FROM kubernetes_audit_logs\n"
           "WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}\n"
           "  AND stage != 'RequestReceived'\n"
           f"  AND ({condition})\n"
           "ORDER BY eventTime\nLIMIT 1 BY eventID\n")
    return "\n".join(header) + "\n" + sql


def sigma_files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]


def _documents(f: Path) -> list[dict]:
    """The YAML documents of a Sigma file; SigmaError, naming the file, when it holds something else."""
    try:
        docs = [d for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d is not None]
    except (OSError, ValueError, yaml.YAMLError) as exc:  # unreadable, not UTF-8, not YAML
        raise SigmaError(f"{f}: {_one_line(exc)}") from None
    if not all(isinstance(d, dict) for d in docs):
        raise SigmaError(f"{f}: not a Sigma rule (a YAML mapping with title, logsource and detection)")
    return docs


def convert(path: Path) -> list[tuple[Path, str]]:
    """(source file, rule file text) for every kubernetes audit Sigma rule under path; SigmaError names
    the file it cannot read or convert."""
    out = []
    backend = ClickHouseK8sBackend()
    for f in sigma_files(path):
        docs = _documents(f)
        try:
            rules: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [
                r for r in SigmaCollection.from_dicts(docs).rules if isinstance(r, SigmaRule)
                     and r.logsource.product == "kubernetes" and r.logsource.service == "audit"]
            out += [(f, text) for text in backend.convert(SigmaCollection(rules))]
        except SigmaError as exc:
            raise SigmaError(f"{f}: {_one_line(exc)}") from None
    return out


__all__ = ["ClickHouseK8sBackend", "SigmaError", "convert", "kubernetes_audit_pipeline", "rule_id"]
