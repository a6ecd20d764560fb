"""Rules: parse and validate the header of every queries/<tactic>/<id>.sql file (format: queries/README.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from .warehouse import package_dir

SEVERITIES = ("informational", "low", "medium", "high", "critical")
MODES = ("event", "aggregate", "baseline")
LEVELS = ("Metadata", "Request", "RequestResponse")
REQUIRED = ("id", "title", "description", "severity", "mitre", "operations", "mode", "level", "window",
            "false_positives")
OPTIONAL = ("enabled", "references", "note", "threshold", "dedup")
WINDOW_PARAMS = {"start": "DateTime64(6)", "end": "DateTime64(6)"}

_HEADER = re.compile(r"^--\s*(param\s+\w+|\w+)\s*:\s*(.*)$")
_CONTINUATION = re.compile(r"^--\s{2,}(\S.*)$")
_PLACEHOLDER = re.compile(r"\{(\w+)\s*:\s*([^}]+)\}")
_PARAM = re.compile(r"^(?P<type>.+?)\s*=\s*(?P<default>.*)$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_MITRE = re.compile(r"^T\d{4}(\.\d{3})?$")
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class RuleError(ValueError):
    """A rule file does not follow queries/README.md."""


def parse_duration(text: str) -> timedelta:
    """'15m', '1h', '7d' -> timedelta."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"not a duration (<n>s|m|h|d|w): {text!r}")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str


@dataclass
class Rule:
    id: str
    title: str
    description: str
    severity: str
    mitre: list[str]
    operations: list[str]
    mode: str
    level: str
    window: str
    false_positives: str
    sql: str
    path: Path
    tactic: str
    params: dict[str, Param] = field(default_factory=dict)
    enabled: bool = True
    references: list[str] = field(default_factory=list)
    note: str = ""                    # what to check next, for whoever investigates a finding
    threshold: int = 1                # detect alerts a finding once it holds at least this many events
    dedup: str = ""                   # detect alerts one finding per rule and user/object within this window

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)

    @property
    def lookback(self) -> timedelta:
        return parse_duration(self.window)

    def meta(self) -> dict:
        """The metadata object `hunt list --format json` prints."""
        return {"id": self.id, "title": self.title, "description": self.description, "severity": self.severity,
                "tactic": self.tactic, "mitre": self.mitre, "operations": self.operations, "mode": self.mode,
                "level": self.level, "window": self.window, "false_positives": self.false_positives,
                "params": {p.name: {"type": p.type, "default": p.default} for p in self.params.values()},
                "enabled": self.enabled, "references": self.references, "note": self.note,
                "threshold": self.threshold, "dedup": self.dedup, "path": str(self.path)}


def _split(text: str) -> tuple[list[tuple[str, str]], str]:
    """Header (key, value) pairs and the SQL after the leading comment block."""
    lines = text.splitlines()
    pairs: list[tuple[str, str]] = []
    in_header = True
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            in_header = in_header and not pairs  # a blank line ends the header once it started
            continue
        if not s.startswith("--"):
            return pairs, "\n".join(lines[i:]).strip().rstrip(";").strip()
        if not in_header:
            continue
        if (c := _CONTINUATION.match(line.rstrip())) and pairs:
            pairs[-1] = (pairs[-1][0], f"{pairs[-1][1]} {c.group(1).strip()}")
        elif m := _HEADER.match(s):
            pairs.append((re.sub(r"\s+", " ", m.group(1)), m.group(2).strip()))
        elif pairs:
            in_header = False  # a free comment line after the header
    return pairs, ""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_rule(path: Path, tactic: str = "") -> Rule:
    """Parse and validate one rule file; RuleError names the file and every problem found."""
    pairs, sql = _split(path.read_text())
    problems: list[str] = []
    header: dict[str, str] = {}
    params: dict[str, Param] = {}
    for key, value in pairs:
        if key.startswith("param "):
            name = key.split(" ", 1)[1]
            m = _PARAM.match(value)
            if not m or not m.group("type"):
                problems.append(f"param {name}: want 'Type = default', got {value!r}")
            elif name in WINDOW_PARAMS or name in params:
                problems.append(f"param {name}: reserved or declared twice")
            else:
                params[name] = Param(name, m.group("type").strip(), m.group("default").strip())
        elif key not in REQUIRED + OPTIONAL:
            problems.append(f"unknown header key {key!r}")
        elif key in header:
            problems.append(f"header key {key!r} given twice")
        else:
            header[key] = value
    problems += [f"missing header key {k!r}" for k in REQUIRED if not header.get(k)]
    rid = header.get("id", "")
    if rid and not _ID.match(rid):
        problems.append(f"id {rid!r}: lowercase letters, digits and '-' only")
    if rid and rid != path.stem:
        problems.append(f"id {rid!r} differs from the file name {path.stem!r}")
    if header.get("severity") and header["severity"] not in SEVERITIES:
        problems.append(f"severity {header['severity']!r} not one of {', '.join(SEVERITIES)}")
    if header.get("mode") and header["mode"] not in MODES:
        problems.append(f"mode {header['mode']!r} not one of {', '.join(MODES)}")
    if header.get("level") and header["level"] not in LEVELS:
        problems.append(f"level {header['level']!r} not one of {', '.join(LEVELS)}")
    if bad := [t for t in _csv(header.get("mitre", "")) if not _MITRE.match(t)]:
        problems.append(f"mitre: not technique ids: {', '.join(bad)}")
    for key in ("window", "dedup"):
        if header.get(key):
            try:
                parse_duration(header[key])
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    if not re.match(r"^[1-9]\d*$", header.get("threshold", "1")):
        problems.append(f"threshold {header['threshold']!r}: a whole number of events, at least 1")
    if bad := [u for u in _csv(header.get("references", "")) if not re.match(r"^https?://\S+$", u)]:
        problems.append(f"references: not URLs: {', '.join(bad)}")
    enabled = header.get("enabled", "true").lower()
    if enabled not in ("true", "false"):
        problems.append(f"enabled {enabled!r}: true or false")
    if not re.match(r"^(WITH|SELECT)\b", sql, re.I):
        problems.append("the SQL after the header must be one SELECT (or WITH ... SELECT)")
    if re.search(r"\bFORMAT\s+\w+\s*$", sql, re.I):
        problems.append("no FORMAT clause: the runner chooses the output format")
    used: dict[str, str] = {}
    for name, typ in _PLACEHOLDER.findall(sql):
        typ = typ.strip()
        if used.setdefault(name, typ) != typ:
            problems.append(f"{{{name}}} used with two types")
    for name, typ in WINDOW_PARAMS.items():
        if used.get(name) != typ:
            problems.append(f"the SQL must filter eventTime with {{{name}:{typ}}}")
    for name, typ in used.items():
        if name in WINDOW_PARAMS:
            continue
        if name not in params:
            problems.append(f"{{{name}:{typ}}} is not declared as '-- param {name}: {typ} = default'")
        elif params[name].type != typ:
            problems.append(f"param {name}: declared {params[name].type}, used as {typ}")
    problems += [f"param {n} is declared but not used" for n in params if n not in used]
    if problems:
        raise RuleError(f"{path}: " + "; ".join(problems))
    return Rule(id=rid, title=header["title"], description=header["description"], severity=header["severity"],
                mitre=_csv(header["mitre"]), operations=_csv(header["operations"]), mode=header["mode"],
                level=header["level"], window=header["window"], false_positives=header["false_positives"],
                sql=sql, path=path, tactic=tactic or path.parent.name, params=params, enabled=enabled == "true",
                references=_csv(header.get("references", "")), note=header.get("note", ""),
                threshold=int(header.get("threshold", "1")),  # checked above
                dedup=header.get("dedup", ""))


def rule_files(root: Path | None = None) -> list[Path]:
    root = root or package_dir("queries")
    return sorted(root.rglob("*.sql"))


def load_rules(root: Path | None = None) -> list[Rule]:
    """Every rule under queries/ (or root), sorted by id; raises RuleError listing all broken files."""
    rules, problems = [], []
    for f in rule_files(root):
        try:
            rules.append(parse_rule(f))
        except RuleError as exc:
            problems.append(str(exc))
    if problems := problems + _reused_ids(rules):
        raise RuleError("\n".join(problems))
    return sorted(rules, key=lambda r: r.id)


def _reused_ids(rules: list[Rule]) -> list[str]:
    seen: dict[str, Path] = {}
    problems = []
    for r in rules:
        if r.id in seen:
            problems.append(f"{r.path}: id {r.id!r} also used by {seen[r.id]}")
        seen[r.id] = r.path
    return problems


def load_catalog(packs: list[Path] | None = None) -> list[Rule]:
    """The catalog plus the rules of each pack folder (a user's rules in the same format); an id used twice,
    across packs or with the catalog, is an error."""
    rules, problems = load_rules(), []
    for pack in packs or []:
        if not pack.is_dir():
            raise RuleError(f"--rules {pack}: not a folder")
        if not rule_files(pack):
            raise RuleError(f"--rules {pack}: no .sql rule file in it")
        try:
            rules += load_rules(pack)
        except RuleError as exc:
            problems.append(str(exc))
    if problems := problems + _reused_ids(rules):
        raise RuleError("\n".join(problems))
    return sorted(rules, key=lambda r: r.id)


def select(rules: list[Rule], ids: list[str] | None = None, min_severity: str | None = None,
           disabled: list[str] | None = None, include_disabled: bool = False) -> list[Rule]:
    """Rules by id (unknown ids are an error), minimum severity, and enabled flags / a disable list."""
    by_id = {r.id: r for r in rules}
    if unknown := [i for i in disabled or [] if i not in by_id]:  # a typo would run the rule it meant to skip
        raise RuleError(f"--disable: unknown rule id(s): {', '.join(unknown)} (see loader hunt list)")
    if ids:
        if missing := [i for i in ids if i not in by_id]:
            raise RuleError(f"unknown rule id(s): {', '.join(missing)} (see loader hunt list)")
        chosen = [by_id[i] for i in ids]
    else:
        chosen = [r for r in rules if include_disabled or r.enabled]
    if min_severity:
        if min_severity not in SEVERITIES:
            raise RuleError(f"severity {min_severity!r} not one of {', '.join(SEVERITIES)}")
        chosen = [r for r in chosen if r.rank >= SEVERITIES.index(min_severity)]
    return [r for r in chosen if r.id not in set(disabled or [])]
