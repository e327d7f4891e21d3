"""Unknowns fail closed. In a real preview some values are unknown; CrossGuard turns a rule that raises on
one into a single advisory note, which would silence every known violation beside it. So each rule that
meets an unknown document reports a mandatory violation naming it, and still reports what it knows.

A first preview of the prod stack is simulated from the recording: an input computed from another
resource's computed output (an ARN, an ID, the domain owner) is unknown, as the engine sends it before
anything exists; that preview must pass.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from pulumi_policy import StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from audit.guardrails import Violation, pack_config, run_pack
from audit.render import RecordedResource, Rendering, render
from policies.guardrails import POLICIES
from tests.stacks import STACKSET_OVERRIDES

DOCUMENT_KEYS = ("policyDocument", "policy", "assumeRolePolicy", "templateBody")
# Grants everything to everyone: any rule that reads the document objects to it.
EVERYTHING = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
STACK_RULES = [p for p in POLICIES if isinstance(p, StackValidationPolicy)]


def _contains(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value
    if isinstance(value, list):
        return any(_contains(v, needle) for v in value)
    if isinstance(value, dict):
        return any(_contains(v, needle) for v in value.values())
    return False


def first_preview(rendering: Rendering) -> tuple[list[RecordedResource], dict[str, set[str]]]:
    """The resources as a first preview sends them: computed outputs unknown, and every input made from one."""
    computed = {r.urn: [v for k, v in r.outputs.items() if k not in r.inputs and isinstance(v, str) and v]
                for r in rendering.resources}
    resources, unknown = [], {}
    for r in rendering.resources:
        keys = {key for key, dependencies in r.property_dependencies.items() if key in r.inputs and any(
            _contains(r.inputs[key], value) for d in dependencies for value in computed.get(d, []))}
        unknown[r.name] = keys
        inputs = {k: UNKNOWN_STRING_VALUE if k in keys else v for k, v in r.inputs.items()}
        outputs = {k: UNKNOWN_STRING_VALUE if k in keys or k not in r.inputs else v for k, v in r.outputs.items()}
        resources.append(replace(r, inputs=inputs, outputs=outputs))
    return resources, unknown


def with_value(resources: list[RecordedResource], index: int, key: str, value: str) -> list[RecordedResource]:
    changed = list(resources)
    r = changed[index]
    changed[index] = replace(r, inputs={**r.inputs, key: value}, outputs={**r.outputs, key: value})
    return changed


def run(rendering: Rendering, resources: list[RecordedResource], policy: Any) -> list[Violation]:
    return run_pack(resources, pack_config(rendering.settings), rendering.components, [policy])


@pytest.mark.parametrize("overrides", [{}, STACKSET_OVERRIDES], ids=["accounts", "stackset"])
def test_a_first_preview_of_prod_passes_every_rule(overrides):
    rendering = render("prod", overrides=overrides)
    resources, unknown = first_preview(rendering)
    # The simulation is not empty: attachments wait for policy ARNs, the domain for its key's ARN.
    assert any("policyArn" in keys for keys in unknown.values())
    assert unknown["registry-domain"] == {"encryptionKey"}
    assert run_pack(resources, pack_config(rendering.settings), rendering.components) == []


def _read_documents(rendering: Rendering, policy: Any) -> list[tuple[int, str]]:
    """(resource index, key) of every document the rule reads: one that grants everything changes its verdict."""
    resources = rendering.resources
    before = {(v.urn, v.message) for v in run(rendering, resources, policy)}
    found = []
    for index, r in enumerate(resources):
        for key in DOCUMENT_KEYS:
            if key in r.inputs:
                after = {(v.urn, v.message) for v in run(rendering, with_value(resources, index, key, EVERYTHING),
                                                         policy)}
                if after != before:
                    found.append((index, key))
    return found


@pytest.fixture(scope="module")
def read_by_rule(prod) -> dict[str, list[tuple[int, str]]]:
    return {policy.name: _read_documents(prod, policy) for policy in STACK_RULES}


def _names(violation: Violation, resource: RecordedResource) -> bool:
    return violation.urn == resource.urn or violation.message.startswith(f"{resource.name}:") \
        or f" {resource.name} " in f" {violation.message} "


@pytest.mark.parametrize("policy", STACK_RULES, ids=[p.name for p in STACK_RULES])
def test_an_unknown_document_is_a_mandatory_violation_naming_it(prod, read_by_rule, policy):
    read = read_by_rule[policy.name]
    for index, key in read:
        resource = prod.resources[index]
        found = run(prod, with_value(prod.resources, index, key, UNKNOWN_STRING_VALUE), policy)
        assert any(v.mandatory and _names(v, resource) and "unknown during preview" in v.message for v in found), (
            resource.name, key, found)


@pytest.mark.parametrize("policy", STACK_RULES, ids=[p.name for p in STACK_RULES])
def test_known_violations_are_still_reported_beside_an_unknown(prod, read_by_rule, policy):
    """One document grants everything (a known violation), another is unknown: both are reported."""
    read = read_by_rule[policy.name]
    pairs = [(a, b) for a in read for b in read if a[0] != b[0]][:6]
    for (bad, bad_key), (unknown, unknown_key) in pairs:
        known_only = run(prod, with_value(prod.resources, bad, bad_key, EVERYTHING), policy)
        both = with_value(with_value(prod.resources, bad, bad_key, EVERYTHING), unknown, unknown_key,
                          UNKNOWN_STRING_VALUE)
        found = run(prod, both, policy)
        expected = {(v.urn, v.message) for v in known_only if not _names(v, prod.resources[unknown])}
        assert expected <= {(v.urn, v.message) for v in found}, (prod.resources[bad].name,
                                                                 prod.resources[unknown].name)
        assert any(_names(v, prod.resources[unknown]) and "unknown during preview" in v.message for v in found)


def test_the_document_rules_read_the_documents_they_guard(read_by_rule, prod):
    """The mutation above finds what each rule reads; if it found nothing the two tests above would pass
    vacuously."""
    names = {rule: {prod.resources[i].name for i, _ in read} for rule, read in read_by_rule.items()}
    assert "registry-domain-policy" in names["domain-denies-loss-and-reopening"]
    assert {n for n in names["github-roles-publish-only-own-packages"] if n.startswith("publishers-acme-")}
    assert names["external-connection-repository-has-no-publishers"]


def test_a_resource_rule_that_meets_an_unknown_reports_a_mandatory_violation():
    from tests.policies.support import violations

    found = violations("codeartifact-no-unconditioned-public-grant",
                       "aws:codeartifact/domainPermissions:DomainPermissions",
                       {"domain": "acme", "policyDocument": UNKNOWN_STRING_VALUE})
    assert found and "unknown during preview" in found[0]


def test_an_unknown_key_policy_of_the_domain_key_is_reported(prod):
    policy = next(p for p in STACK_RULES if p.name == "domain-key-has-explicit-policy")
    index = next(i for i, r in enumerate(prod.resources) if r.name == "registry-key")
    assert run(prod, prod.resources, policy) == []
    found = run(prod, with_value(prod.resources, index, "policy", UNKNOWN_STRING_VALUE), policy)
    assert [v.mandatory and v.message.startswith("registry-key: its key policy is unknown") for v in found] == [True]
    # Absent is not unknown: the KMS default is reported as such.
    absent = [replace(r, inputs={k: v for k, v in r.inputs.items() if k != "policy"},
                      outputs={k: v for k, v in r.outputs.items() if k != "policy"}) if i == index else r
              for i, r in enumerate(prod.resources)]
    assert any("has no key policy" in v.message for v in run(prod, absent, policy))
