"""Every catalog rule carries investigation metadata: references (the ATT&CK technique among them) and a note
on what to check next when it fires (queries/README.md, keys `references` and `note`)."""

from __future__ import annotations

import re

import pytest

from loader.rules import load_rules

RULES = load_rules()
_ATTACK = re.compile(r"^https://attack\.mitre\.org/techniques/(T\d{4})/(?:(\d{3})/)?$")

def attack_techniques(rule) -> list[str]:
    """Technique ids (T1552.007 form) of the rule's attack.mitre.org references."""
    found = []
    for url in rule.references:
        if "attack.mitre.org" in url:
            m = _ATTACK.match(url)
            assert m, f"{rule.id}: ATT&CK reference is not a technique page: {url}"
            found.append(m.group(1) + (f".{m.group(2)}" if m.group(2) else ""))
    return found


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_references_and_note(rule):
    assert rule.references, f"{rule.id}: no '-- references:' line"
    assert all(re.match(r"^https?://\S+$", u) for u in rule.references), rule.references
    assert len(set(rule.references)) == len(rule.references), f"{rule.id}: a reference is listed twice"
    assert rule.note.strip(), f"{rule.id}: no '-- note:' entry"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_attack_references_match_the_rules_techniques(rule):
    techniques = attack_techniques(rule)
    assert set(techniques) <= set(rule.mitre), \
        f"{rule.id}: references ATT&CK {sorted(set(techniques) - set(rule.mitre))} but its mitre is {rule.mitre}"
    assert techniques, f"{rule.id}: no https://attack.mitre.org/techniques/... page among its references"

