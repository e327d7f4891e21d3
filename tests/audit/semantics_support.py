"""What the IAM-semantics tests share (test_semantics_*.py): the prod rendering with one recorded document
changed, the access section's violation lines for one principal, and a publisher role's resources under a
given trust for the pack's rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pulumi_policy import PolicyResource

from audit.render import Rendering
from model.documents.github import publisher_permissions_policy, publisher_trust_policy
from tests.expected import INTERNAL_PACKAGES, ROLE, ROLE_POLICY
from tests.policies.support import SETTINGS, stack_resource

DENY_RULE = "domain-denies-loss-and-reopening"
SCOPE_RULE = "github-roles-publish-only-own-packages"
PUBLISHER_ROW = "publisher acme/acme-core"
OWN_PACKAGE = f"{INTERNAL_PACKAGES}/pypi//acme-core"


def with_document(rendering: Rendering, name: str, key: str, change: Callable[[dict[str, Any]], None]) -> Rendering:
    """The rendering with the JSON document `key` of resource `name` changed in place by `change`."""

    def changed(resource: Any) -> Any:
        document = json.loads(resource.inputs[key])
        change(document)
        text = json.dumps(document)
        return replace(resource, inputs={**resource.inputs, key: text}, outputs={**resource.outputs, key: text})

    assert any(r.name == name for r in rendering.resources), name
    return replace(rendering, resources=[changed(r) if r.name == name else r for r in rendering.resources])


def violation_lines(section: Any, who: str) -> list[str]:
    return [line for line in section.text.splitlines() if line.startswith(f"VIOLATION: {who} ")]


PUBLISHER_TRUST = publisher_trust_policy(SETTINGS, SETTINGS.publishers[0])


def publisher_role_resources(trust_statements: list[dict[str, Any]]) -> list[PolicyResource]:
    publisher = SETTINGS.publishers[0]
    role = stack_resource(ROLE, "gh", {"name": "gh", "assumeRolePolicy": json.dumps(
        {"Version": "2012-10-17", "Statement": trust_statements})})
    policy = stack_resource(ROLE_POLICY, "gh-publish", {"role": "gh", "policy": json.dumps(
        publisher_permissions_policy(SETTINGS, publisher))})
    return [role, policy]
