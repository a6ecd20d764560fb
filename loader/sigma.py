"""Sigma rules (product: kubernetes, service: audit) to rule files for this table, with pySigma.

A processing pipeline maps Sigma's Kubernetes audit field names to ClickHouse expressions (columns,
tags/actor keys, rawLog JSON paths) and rejects a field it cannot map; a TextQueryBackend writes the
condition with values typed by the target column; `convert` wraps each condition into a complete
queries/ rule (header + SELECT, format in queries/README.md) that `load_rules` parses and `hunt run` runs.

Matching: wildcards, startswith/endswith/contains are ILIKE (Sigma strings are case-insensitive), `|cased`
is LIKE, plain values are `=` / IN (exact: Kubernetes names, verbs and users are case-sensitive), `|re` is
re2 `match`. Literals and LIKE patterns are escaped for ClickHouse: `\\ % _` by a backslash in a pattern,
then `\\ '` by a backslash in the string literal.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, ClassVar, cast

import yaml
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError, SigmaTransformationError, SigmaValueError
from sigma.processing.conditions import LogsourceCondition, RuleProcessingCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.processing.transformations.base import DetectionItemTransformation, FieldMappingTransformationBase
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

# Containers and volumes come from the rule helpers of schema/080_rule_functions.sql, so a Sigma rule and
# the catalog agree on what "every container" is. Sigma rules look at the request body only (they run on
# every operation: a response's spec would make reads match): the first four of k8sPodSpecs are the request
# root (the pre-1.25 EphemeralContainers body), a Pod's spec, a workload's pod template and a CronJob's job
# template; volumes are read from the last three, the real pod specs.
_CONTAINERS = "k8sContainers(arraySlice(k8sPodSpecs(rawLog), 1, 4))"
_VOLUMES = "k8sVolumes(arraySlice(k8sPodSpecs(rawLog), 2, 3))"

# Sigma field -> ClickHouse String expression (columns: docs/columns.md).
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
    "responseStatus.status": "tags['responseStatus.status']",
    "responseStatus.reason": "tags['responseStatus.reason']",
    "responseStatus.message": "tags['responseStatus.message']",
    "annotations.authorization.k8s.io/decision": "`annotations.authorization.k8s.io.decision`",
    "annotations.authorization.k8s.io/reason": "`annotations.authorization.k8s.io.reason`",
    "srcIP": "srcIP",
}
# Sigma field -> ClickHouse numeric expression: values must be whole numbers.
NUMBERS: dict[str, str] = {
    "responseStatus.code": "`responseStatus.code`",
}
# Multi-valued fields (Array(String)): a condition holds when it holds for any element.
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
# Names SigmaHQ rules use for a field of another name: an audit Event has no top-level apiGroup.
ALIASES: dict[str, str] = {"apiGroup": "objectRef.apiGroup"}
# Fields read from the request body: the rule needs Request-level events.
BODY_FIELDS = ("hostPath", "capabilities", "image", "privileged")

_ALL = {**FIELDS, **NUMBERS, **ARRAYS}
_MAPPING = cast(dict[str | None, str | list[str]], {**_ALL, **{a: _ALL[f] for a, f in ALIASES.items()}})
_SIGMA_NAME = {expr: name for name, expr in _ALL.items()}  # for messages
_ARRAY_EXPRS = set(ARRAYS.values())
_NUMBER_EXPRS = set(NUMBERS.values())
_JSON_PATH = re.compile(r"^(requestObject|responseObject)(\.[A-Za-z0-9_\-/]+)+$")
_SEVERITY = ("informational", "low", "medium", "high", "critical")
# ATT&CK tactic tags -> the queries/ folders (queries/README.md); Stealth and Defense Impairment are ATT&CK
# v18's halves of Defense Evasion.
_TACTICS = {t: t for t in ("initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion",
                           "credential-access", "discovery", "lateral-movement", "collection", "impact")}
_TACTICS |= {"stealth": "defense-evasion", "defense-impairment": "defense-evasion"}
MITRE_PLACEHOLDER = "T1078"  # the rule format requires a technique; used (and said in the note) when Sigma names none

# Known defects of published SigmaHQ rules, fixed in memory before conversion (the rule file stays as
# published): Sigma rule id -> (field, value as written, field, value meant, why).
ERRATA: dict[str, list[tuple[str, Any, str, Any, str]]] = {
    # Kubernetes Potential Enumeration Activity: 'ALLOW' is the authorization decision, not an HTTP status
    "597a7e84-187d-458b-9e4f-2f5a0e676711": [
        ("responseStatus.code", "ALLOW", "annotations.authorization.k8s.io/decision", "allow",
         "responseStatus.code is an HTTP status; ALLOW is the API server's authorization decision"),
    ],
}


def _rule_name(rule: Any) -> str:
    return f"rule {_one_line(getattr(rule, 'title', '')) or '(untitled)'!r}" + (f" ({rule.id})" if getattr(rule, "id", None) else "")


def _mapped(name: str) -> bool:
    return name in _MAPPING or bool(_JSON_PATH.match(name))


class UnmappedFieldCheck(DetectionItemTransformation):
    """A field this table cannot answer is a conversion error naming it and the rule (the SQL would only fail
    when run, or never match)."""

    _rule: Any = None

    def apply(self, rule: Any) -> None:
        self._rule = rule
        super().apply(rule)

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        name = detection_item.field
        if name is not None and not _mapped(name):
            raise SigmaTransformationError(
                f"field {name!r} of {_rule_name(self._rule)} is not mapped to kubernetes_audit_logs (fields: "
                f"{', '.join(sorted({*_ALL, *ALIASES}))}, requestObject.<path>, responseObject.<path>)")
        for v in detection_item.value:
            if isinstance(v, SigmaFieldReference):
                raise SigmaTransformationError(f"field {name!r} of {_rule_name(self._rule)}: the fieldref modifier is not supported")


class BodyPathTransformation(FieldMappingTransformationBase):
    """requestObject.a.b / responseObject.a.b -> the value at that path in rawLog as text: a string as is, a
    number or boolean as written in JSON (3, true), '' when absent."""

    def apply_field_name(self, field: str | None) -> str | None:
        if field and _JSON_PATH.match(field):
            path = ", ".join(f"'{p}'" for p in field.split("."))
            return (f"if(JSONType(rawLog, {path}) = 'String', JSONExtractString(rawLog, {path}), "
                    f"JSONExtractRaw(rawLog, {path}))")
        return None


def kubernetes_audit_pipeline() -> ProcessingPipeline:
    def k8s() -> list[RuleProcessingCondition]:  # a condition object belongs to one item
        return [LogsourceCondition(product="kubernetes", service="audit")]
    return ProcessingPipeline(
        name="kubernetes audit -> kubernetes_audit_logs", priority=20,
        items=[ProcessingItem(identifier="k8s_unmapped", transformation=UnmappedFieldCheck(), rule_conditions=k8s()),
               ProcessingItem(identifier="k8s_fields", transformation=FieldMappingTransformation(_MAPPING),
                              rule_conditions=k8s()),
               ProcessingItem(identifier="k8s_body_paths", transformation=BodyPathTransformation(), rule_conditions=k8s())])


def sql_string(text: str) -> str:
    """A ClickHouse string literal: backslash and quote escaped, control characters as \\xHH."""
    body = text.replace("\\", "\\\\").replace("'", "\\'")
    return "'" + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", body) + "'"


def _parts(s: SigmaString, what: str) -> list[str | SpecialChars]:
    for p in s.s:
        if not isinstance(p, (str, SpecialChars)):
            raise SigmaValueError(f"{what}: placeholder {p} has no value (placeholders are not supported)")
    return cast(list[str | SpecialChars], list(s.s))


def like_pattern(s: SigmaString, what: str = "value") -> str:
    """A Sigma string with wildcards as a ClickHouse LIKE pattern literal: \\ % _ escaped in the pattern, * and
    ? as % and _."""
    out = []
    for p in _parts(s, what):
        if isinstance(p, str):
            out.append(re.sub(r"([\\%_])", r"\\\1", p))
        else:
            out.append("%" if p == SpecialChars.WILDCARD_MULTI else "_")
    return sql_string("".join(out))


def plain_string(s: SigmaString, what: str = "value") -> str:
    return "".join(p if isinstance(p, str) else ("*" if p == SpecialChars.WILDCARD_MULTI else "?")
                   for p in _parts(s, what))


class ClickHouseK8sBackend(TextQueryBackend):
    """WHERE-clause text for kubernetes_audit_logs; string literals and LIKE patterns in ClickHouse syntax."""

    name: ClassVar[str] = "ClickHouse kubernetes_audit_logs"
    formats: ClassVar[dict[str, str]] = {"default": "WHERE condition"}
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

    # --- values -------------------------------------------------------------------------------------------
    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        # with wildcards the value goes to (I)LIKE; a plain value to '=' / IN, where % _ \ are ordinary
        return like_pattern(s) if s.contains_special() else sql_string(plain_string(s))

    @staticmethod
    def _whole_number(field: str, value: Any) -> str:
        """A value for a numeric column, or a conversion error naming it."""
        name = _SIGMA_NAME.get(field, field)
        if isinstance(value, SigmaNumber):
            if isinstance(value.number, int):
                return str(value.number)
        elif isinstance(value, SigmaString) and not value.contains_special():
            text = plain_string(value).strip()
            if re.fullmatch(r"[+-]?\d+", text):
                return str(int(text))
        shown = value.number if isinstance(value, SigmaNumber) else plain_string(value) if isinstance(value, SigmaString) else value
        raise SigmaValueError(f"{name}: {shown!r} is not a whole number ({name} is a numeric column)")

    def _typed_list_value(self, field: str, value: Any, state: ConversionState) -> str:
        if field in _NUMBER_EXPRS:
            return self._whole_number(field, value)
        if isinstance(value, SigmaNumber):
            return sql_string(str(value.number))
        return self.convert_value_str(value, state)

    def decide_convert_condition_as_in_expression(self, cond: ConditionOR | ConditionAND, state: ConversionState) -> bool:
        if any(getattr(a, "field", None) in _ARRAY_EXPRS for a in cond.args):
            return False  # arrays get one arrayExists per value instead
        return super().decide_convert_condition_as_in_expression(cond, state)

    def convert_condition_as_in_expression(self, cond: ConditionOR | ConditionAND, state: ConversionState) -> Any:
        args = cast(list[ConditionFieldEqualsValueExpression], cond.args)
        field = args[0].field
        values = self.list_separator.join(self._typed_list_value(field, a.value, state) for a in args)
        return self.field_in_list_expression.format(field=field, op=self.or_in_operator, list=values)

    # --- conditions ---------------------------------------------------------------------------------------
    def convert_condition_field_eq_val(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> Any:
        f, value = cond.field, cond.value
        if isinstance(value, SigmaFieldReference):
            raise SigmaFeatureNotSupportedByBackendError("the fieldref modifier is not supported")
        if f in _ARRAY_EXPRS:
            if isinstance(value, (SigmaNull, SigmaExists)):
                want_values = isinstance(value, SigmaExists) and bool(value.exists)
                return f"{'notEmpty' if want_values else 'empty'}(arrayFilter(x -> notEmpty(x), {f}))"
            element = copy.copy(cond)
            element.field = "x"
            return f"arrayExists(x -> {self.convert_condition_field_eq_val(element, state)}, {f})"
        if f in _NUMBER_EXPRS:
            return self._number_condition(cond, state)
        if isinstance(value, SigmaNumber):  # a number for a text column: compare its text
            return f"{f} = {sql_string(str(value.number))}"
        if isinstance(value, SigmaCompareExpression):
            raise SigmaValueError(f"{_SIGMA_NAME.get(f, f)}: a comparison (lt, lte, gt, gte) needs a numeric column")
        if isinstance(value, SigmaString) and tuple(value.s) == (SpecialChars.WILDCARD_MULTI,):
            return f"notEmpty({f})"  # Sigma's bare '*' means "has a value"
        return super().convert_condition_field_eq_val(cond, state)

    def _number_condition(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> Any:
        f, value, name = cond.field, cond.value, _SIGMA_NAME.get(cond.field, cond.field)
        if isinstance(value, SigmaString) and value.contains_special():
            if tuple(value.s) == (SpecialChars.WILDCARD_MULTI,):
                return f"{f} != 0"  # 0 is "absent" (docs/columns.md)
            return f"toString({f}) LIKE {like_pattern(value, name)}"  # a digit pattern: 4?? or 5*
        if isinstance(value, (SigmaString, SigmaNumber)):
            return f"{f} = {self._whole_number(f, value)}"
        if isinstance(value, SigmaCompareExpression):
            op = self.compare_operators[value.op]
            return f"{f} {op} {self._whole_number(f, value.number)}"
        if isinstance(value, SigmaNull):
            return f"{f} = 0"
        if isinstance(value, SigmaExists):
            return f"{f} {'!=' if value.exists else '='} 0"
        if isinstance(value, SigmaRegularExpression):
            as_text = copy.copy(cond)
            as_text.field = f"toString({f})"
            return super().convert_condition_field_eq_val(as_text, state)
        kind = "a boolean" if isinstance(value, SigmaBool) else "a CIDR" if isinstance(value, SigmaCIDRExpression) else type(value).__name__
        raise SigmaValueError(f"{name}: {kind} value for a numeric column")

    def convert_condition_field_eq_val_cidr(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> Any:
        cidr = cast(SigmaCIDRExpression, cond.value)
        f = cond.field
        ip = f"(isIPv4String({f}) OR isIPv6String({f}))"  # isIPAddressInRange throws on '' and non-addresses
        return f"({ip} AND isIPAddressInRange(if({ip}, {f}, '::'), {sql_string(str(cidr.network))}))"

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        value = cast(SigmaString, cond.value)
        if value.contains_special():  # a keyword is found anywhere in the event
            return f"rawLog ILIKE {like_pattern(SigmaString('*') + value + SigmaString('*'))}"
        return f"positionCaseInsensitive(rawLog, {sql_string(plain_string(value))}) > 0"

    def finalize_query_default(self, rule: SigmaRule, query: Any, index: int, state: ConversionState) -> str:
        return str(query)


# --- rule files -------------------------------------------------------------------------------------------

def _one_line(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def rule_id(rule: SigmaRule) -> str:
    """sigma-<slug of the title> (80 characters at most), else sigma-<first 8 of the Sigma id>."""
    slug = _slug(str(rule.title or ""))
    if slug:
        return f"sigma-{slug}"[:80].rstrip("-")
    return f"sigma-{str(rule.id)[:8]}" if rule.id else "sigma-rule"


def tactic(rule: SigmaRule) -> str:
    """The queries/ folder of the rule's first ATT&CK tactic tag, 'sigma' when it has none."""
    for t in rule.tags:
        name = t.name.lower().replace("_", "-")
        if t.namespace == "attack" and name in _TACTICS:
            return _TACTICS[name]
    return "sigma"


def _leaves(node: Any) -> list[tuple[str, Any]]:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return [(node.field, node.value)]
    return [leaf for arg in getattr(node, "args", []) for leaf in _leaves(arg)]


_OPERATION_FIELDS = ("verb", "objectRef.resource", "objectRef.subresource")
_MAX_ALTERNATIVES = 1000


def _alternatives(node: Any) -> list[dict[str, set[str]]] | None:
    """What a match needs of verb/resource/subresource: a list of alternatives (field -> allowed values; a
    field left out allows any), None when there are too many to list."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        v = node.value
        if node.field in _OPERATION_FIELDS and isinstance(v, SigmaString) and not v.contains_special():
            return [{node.field: {plain_string(v)}}]
        return [{}]
    if isinstance(node, ConditionOR):
        out: list[dict[str, set[str]]] = []
        for arg in node.args:
            alts = _alternatives(arg)
            if alts is None or len(out) + len(alts) > _MAX_ALTERNATIVES:
                return None
            out += alts
        return out
    if isinstance(node, ConditionAND):
        acc: list[dict[str, set[str]]] = [{}]
        for arg in node.args:
            alts = _alternatives(arg)
            if alts is None or len(acc) * len(alts) > _MAX_ALTERNATIVES:
                return None
            merged = []
            for a, b in product(acc, alts):
                m = {k: a.get(k, b.get(k, set())) & b.get(k, a.get(k, set())) for k in {*a, *b}}
                if all(m.values()):  # an empty set: this branch cannot match
                    merged.append(m)
            acc = merged
        return acc
    return [{}]  # NOT, keywords: no constraint a superset could rely on


def operations(rule: SigmaRule) -> list[str]:
    """eventName values ({verb}-{resource}[-{subresource}]) when every way the condition can match names its
    verb and resource, else [] ('*'). A rule without a subresource condition is listed by its main operation."""
    alts: list[dict[str, set[str]]] = []
    for cond in copy.deepcopy(rule).detection.parsed_condition:
        got = _alternatives(cond.parsed)
        if got is None:
            return []
        alts += got
    if not alts or not all("verb" in a and "objectRef.resource" in a for a in alts):
        return []
    ops = {f"{v}-{r}" + (f"-{s}" if s else "")
           for a in alts for v in a["verb"] for r in a["objectRef.resource"]
           for s in a.get("objectRef.subresource", {""})}
    return sorted(ops)


def audit_level(rule: SigmaRule) -> str:
    """The audit level the rule's fields need: RequestResponse for responseObject paths, Request for the request
    body, else Metadata."""
    names = {ALIASES.get(f, f) for cond in copy.deepcopy(rule).detection.parsed_condition
             for f, _ in _leaves(cond.parsed) if f}
    if any(n.startswith("responseObject.") for n in names):
        return "RequestResponse"
    if any(n in BODY_FIELDS or n.startswith("requestObject.") for n in names):
        return "Request"
    return "Metadata"


def _url(ref: Any) -> str | None:
    text = _one_line(ref).replace(",", "%2C")  # the header's list is comma-separated
    return text if re.match(r"^https?://\S+$", text) else None


def rule_file(rule: SigmaRule, condition: str, rid: str | None = None) -> str:
    """A complete queries/ rule file around the converted condition."""
    techniques = re.compile(r"^t\d{4}(\.\d{3})?$", re.I)
    mitre = sorted({t.name.upper() for t in rule.tags if t.namespace == "attack" and techniques.match(t.name)})
    level = str(rule.level.name).lower() if rule.level else ""
    severity = level if level in _SEVERITY else "medium"
    ops = operations(rule)
    refs = [u for u in map(_url, rule.references) if u]
    source = f"Sigma rule {rule.id}" if rule.id else "a Sigma rule"
    author = f" by {_one_line(rule.author)}" if rule.author else ""
    notes = []
    if not mitre:
        tactics = sorted({t.name for t in rule.tags if t.namespace == "attack" and not techniques.match(t.name)})
        notes.append(f"the Sigma rule names no ATT&CK technique{' (tactics: ' + ', '.join(tactics) + ')' if tactics else ''}; "
                     f"mitre {MITRE_PLACEHOLDER} stands in because the rule format requires one")
    header = [
        f"-- id: {rid or rule_id(rule)}",
        f"-- title: {_one_line(rule.title)}",
        f"-- description: {_one_line(rule.description) or _one_line(rule.title)} (converted from {source}{author})",
        f"-- severity: {severity}",
        f"-- mitre: {', '.join(mitre) or MITRE_PLACEHOLDER}",
        f"-- operations: {', '.join(ops) or '*'}",
        "-- mode: event",
        f"-- level: {audit_level(rule)}",
        "-- window: 1h",
        f"-- false_positives: {_one_line('; '.join(map(str, rule.falsepositives))) or 'Unknown'}",
        *([f"-- references: {', '.join(refs)}"] if refs else []),
        *([f"-- note: {'; '.join(notes)}"] if notes else []),
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


# --- files ------------------------------------------------------------------------------------------------

@dataclass
class Converted:
    source: Path        # the Sigma file
    sigma_id: str       # the Sigma rule's id ('' when it has none)
    id: str             # the rule file's id
    tactic: str         # its folder: DIR/<tactic>/<id>.sql
    text: str           # the rule file


@dataclass
class Conversion:
    converted: list[Converted] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # "<file>: rule '<title>': <why>" (another logsource, ...)
    notes: list[str] = field(default_factory=list)     # what was adjusted (ERRATA)
    errors: list[str] = field(default_factory=list)    # "<file>: <why>": a kubernetes/audit rule that cannot convert


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


def _is_k8s_audit(logsource: Any) -> bool:
    return getattr(logsource, "product", None) == "kubernetes" and getattr(logsource, "service", None) == "audit"


def _logsource_text(ls: Any) -> str:
    parts = [f"{k}: {getattr(ls, k)}" for k in ("category", "product", "service") if getattr(ls, k, None)]
    return ", ".join(parts) or "none"


def _errata(doc: dict, f: Path, notes: list[str]) -> dict:
    fixes = ERRATA.get(str(doc.get("id", "")), [])
    if not fixes:
        return doc

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                for old_field, old_value, new_field, new_value, why in fixes:
                    if k == old_field and v == old_value:
                        notes.append(f"{f}: rule {_one_line(doc.get('title'))!r} ({doc.get('id')}): "
                                     f"{old_field}: {old_value!r} read as {new_field}: {new_value!r} ({why})")
                        k, v = new_field, new_value
                        break
                out[k] = fix(v)
            return out
        return [fix(x) for x in node] if isinstance(node, list) else node
    return {**doc, "detection": fix(doc.get("detection"))}


def _unique(rid: str, rule: SigmaRule, used: set[str]) -> str:
    if rid in used and rule.id:
        rid = f"{rid[:71]}-{str(rule.id)[:8]}"
    base, n = rid, 2
    while rid in used:
        rid, n = f"{base[:76]}-{n}", n + 1
    used.add(rid)
    return rid


def convert(path: Path) -> Conversion:
    """Every kubernetes/audit Sigma rule under path as a rule file. Rules of another logsource, correlations and
    filters are skipped with the reason; a kubernetes/audit rule (or a file) that cannot convert is an error
    naming the file, the rule and the field or value at fault."""
    result = Conversion()
    backend = ClickHouseK8sBackend()
    used: set[str] = set()
    for f in sigma_files(path):
        try:
            docs = _documents(f)
        except SigmaError as exc:
            result.errors.append(str(exc))
            continue
        if docs and not any("action" in d for d in docs):  # plain rules: skip other logsources before parsing
            keep = []
            for d in docs:
                ls: dict = d["logsource"] if isinstance(d.get("logsource"), dict) else {}
                if isinstance(d.get("detection"), dict) and (ls.get("product"), ls.get("service")) != ("kubernetes", "audit"):
                    shown = ", ".join(f"{k}: {ls[k]}" for k in ("category", "product", "service") if ls.get(k)) or "none"
                    result.skipped.append(f"{f}: rule {_one_line(d.get('title'))!r}: logsource {shown} is not "
                                          "product: kubernetes, service: audit")
                else:
                    keep.append(d)
            docs = keep
        docs = [_errata(d, f, result.notes) for d in docs]
        try:
            rules = SigmaCollection.from_dicts(docs).rules
        except SigmaError as exc:
            result.errors.append(f"{f}: {_one_line(exc)}")
            continue
        for r in rules:
            if not isinstance(r, SigmaRule):
                result.skipped.append(f"{f}: {_rule_name(r)}: {type(r).__name__}: only plain detection rules convert")
                continue
            if not _is_k8s_audit(r.logsource):
                result.skipped.append(f"{f}: {_rule_name(r)}: logsource {_logsource_text(r.logsource)} is not "
                                      "product: kubernetes, service: audit")
                continue
            original = copy.deepcopy(r)  # the backend's pipeline rewrites the rule's fields in place
            try:
                conditions = [str(q) for q in backend.convert_rule(r)]
            except (SigmaError, NotImplementedError) as exc:
                msg = _one_line(exc)
                result.errors.append(f"{f}: {msg}" + ("" if "rule '" in msg else f" ({_rule_name(r)})"))
                continue
            if not conditions:
                result.errors.append(f"{f}: {_rule_name(r)}: the condition converts to nothing")
                continue
            condition = conditions[0] if len(conditions) == 1 else " OR ".join(f"({c})" for c in conditions)
            rid = _unique(rule_id(original), original, used)
            result.converted.append(Converted(f, str(original.id or ""), rid, tactic(original),
                                              rule_file(original, condition, rid)))
    return result


__all__ = ["ClickHouseK8sBackend", "Conversion", "Converted", "SigmaError", "convert", "kubernetes_audit_pipeline",
           "like_pattern", "rule_file", "rule_id", "sql_string"]
