"""Package groups, actions and sizes, as the pack and the access proof rest on them, each pinned with its
worst case and a good case, the pack and the audit side by side: a package group in INHERIT mode is its
parent's, an unreadable AWS-managed policy or an undocumented action fails closed, a document's size is
measured on the text sent, and the access plan covers package groups."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from audit.access import access_report, access_section
from audit.render import Rendering
from model.documents.codeartifact import domain_permissions_policy
from model.documents.github import publisher_trust_policy
from model.trust_policy import to_json
from tests.audit.semantics_support import (
    OWN_PACKAGE,
    PUBLISHER_ROW,
    PUBLISHER_TRUST,
    SCOPE_RULE,
    publisher_role_resources,
    violation_lines,
    with_document,
)
from tests.expected import DOMAIN_ARN, DOMAIN_POLICY, INTERNAL_PACKAGES, MANAGED_POLICY, OWNER, ROLE, ROLE_POLICY
from tests.policies.support import SECONDARY, SETTINGS, group, stack_resource, stack_violations, violations

PUBLISHER_ROLE_NAME = "gh-publish-acme-acme-core"


# --- a package group in INHERIT mode is its parent's ------------------------------------------------

PREFIX_RULE = "internal-prefixes-block-external-upstream"
ACMECORP = group("/pypi//acmecorp-~")


@pytest.mark.parametrize(("groups", "expected"), [
    ([group("/pypi//acme-~", "ALLOW"), group("/pypi//acme-x~", "INHERIT")],
     ["/pypi//acme-~ for internal prefix 'acme-' has external upstream ALLOW",
      "/pypi//acme-x~ under internal prefix 'acme-' has external upstream INHERIT (ALLOW from /pypi//acme-~)"]),
    ([group("/pypi//acme-~"), group("/pypi//acme-data~", "ALLOW"), group("/pypi//acme-data-tools~", "INHERIT")],
     ["/pypi//acme-data~ under internal prefix 'acme-' has external upstream ALLOW",
      "/pypi//acme-data-tools~ under internal prefix 'acme-' has external upstream INHERIT (ALLOW from "
      "/pypi//acme-data~)"]),
    ([group("/pypi//acme-~", "INHERIT")],
     ["/pypi//acme-~ for internal prefix 'acme-' has external upstream INHERIT (ALLOW from /* (the root group))"]),
    ([group("/pypi//*", "ALLOW"), group("/pypi//acme-~", "INHERIT")],
     ["/pypi//acme-~ for internal prefix 'acme-' has external upstream INHERIT (ALLOW from /pypi//*)"]),
], ids=["under-an-allowing-prefix-group", "under-an-allowing-narrower-group", "under-the-root", "under-every-pypi"])
def test_pack_an_inheriting_group_under_an_allowing_one_is_refused(groups, expected):
    found = [message for message, _ in stack_violations(PREFIX_RULE, [*groups, ACMECORP])]
    assert [m.split("package group ", 1)[1].split(", not BLOCK")[0] for m in found] == expected, found


@pytest.mark.parametrize("groups", [
    [group("/pypi//acme-~"), group("/pypi//acme-x~", "INHERIT"), group("/pypi//acme-x-y~", "INHERIT")],
    [group("/pypi//acm~"), group("/pypi//acme-~", "INHERIT")],
    [group("/*"), group("/pypi//acme-~", "INHERIT")],
    [group("/pypi//*", "ALLOW"), group("/pypi//acme-~"), group("/pypi//acme-x$", "INHERIT")],
], ids=["chain-under-block", "covering-inherits-block", "under-a-blocking-root", "exact-name-under-block"])
def test_pack_an_inheriting_group_under_a_blocking_one_blocks(groups):
    assert stack_violations(PREFIX_RULE, [*groups, ACMECORP]) == []


# --- an unreadable AWS-managed policy or an undocumented action fails closed ----------------------

UNDOCUMENTED = "codeartifact:PublishPackageVersions"  # one letter off PublishPackageVersion
NO_SUCH_POLICY = "arn:aws:iam::aws:policy/NoSuchPolicy"


def identity_policy(*actions: str, resource: str = "*") -> dict[str, str]:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    return {"policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def test_pack_an_undocumented_codeartifact_action_counts_as_a_write():
    rule = "no-codeartifact-write-on-any-resource"
    assert violations(rule, ROLE_POLICY, identity_policy("codeartifact:ReadFromRepository")) == []
    found = violations(rule, ROLE_POLICY, identity_policy(UNDOCUMENTED))
    assert found and f"allows {UNDOCUMENTED} on *" in found[0], found
    rule = "cross-account-codeartifact-read-only"
    read = identity_policy("codeartifact:ReadFromRepository")
    assert violations(rule, MANAGED_POLICY, read, account=SECONDARY) == []
    found = violations(rule, MANAGED_POLICY, identity_policy(UNDOCUMENTED), account=SECONDARY)
    assert found and f"{UNDOCUMENTED} (not a known codeartifact action)" in found[0], found


def test_pack_a_github_role_allowed_an_undocumented_action_may_not_keep_it():
    resources = publisher_role_resources(PUBLISHER_TRUST["Statement"])
    extra = stack_resource(ROLE_POLICY, "gh-extra",
                           {"role": "gh", **identity_policy(UNDOCUMENTED, resource=OWN_PACKAGE)})
    found = stack_violations(SCOPE_RULE, [*resources, extra])
    assert found and f"allows {UNDOCUMENTED}" in found[0][0], found
    read = stack_resource(ROLE_POLICY, "gh-extra", {"role": "gh", **identity_policy("codeartifact:DescribePackage",
                                                                                     resource=OWN_PACKAGE)})
    assert stack_violations(SCOPE_RULE, [*resources, read]) == []


@pytest.mark.parametrize(("policy_arn", "problem"), [
    (NO_SUCH_POLICY, "whose document cannot be read here: it is treated as allowing everything"),
    ("arn:aws:iam::aws:policy/ReadOnlyAccess", "which grants write or admin access"),
    ("arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess", None),
], ids=["unknown", "names-undocumented-actions", "read-only"])
def test_pack_an_aws_managed_policy_is_attached_only_when_its_document_proves_it_read_only(policy_arn, problem):
    attachment = stack_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a",
                                {"role": "r", "policyArn": policy_arn})
    found = [message for message, _ in stack_violations("managed-policy-attachments-checked", [attachment])]
    assert (found == []) if problem is None else (found and problem in found[0]), found


def with_publisher_statement(rendering: Rendering, *actions: str) -> Rendering:
    statement = {"Sid": "Extra", "Effect": "Allow", "Action": list(actions), "Resource": OWN_PACKAGE}
    return with_document(rendering, "publishers-acme-acme-core-publish", "policy",
                         lambda document: document["Statement"].append(statement))


def test_audit_an_identity_policy_allowing_an_undocumented_action_counts_as_allowing_everything(prod):
    section = access_section(with_publisher_statement(prod, UNDOCUMENTED))
    assert ("UNREADABLE (taken to allow everything): aws:iam/rolePolicy:RolePolicy "
            "publishers-acme-acme-core-publish: ") in section.text
    assert f"it allows {UNDOCUMENTED}, which names no action" in section.text
    assert any("may codeartifact:PutDomainPermissionsPolicy" in line
               for line in violation_lines(section, PUBLISHER_ROW)), section.text
    documented = access_section(with_publisher_statement(prod, "codeartifact:DescribePackage"))
    assert "UNREADABLE" not in documented.text and not documented.failed


def test_audit_a_registry_policy_allowing_an_undocumented_action_fails(prod):
    def change(document: dict[str, Any]) -> None:
        document["Statement"].append({"Sid": "Extra", "Effect": "Allow", "Action": [UNDOCUMENTED], "Resource": "*",
                                      "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}})

    section = access_section(with_document(prod, "registry-domain-policy", "policyDocument", change))
    assert section.failed
    assert f"VIOLATION: the registry's resource policies allow {UNDOCUMENTED}, which names no action" in section.text
    assert not access_section(prod).failed


def test_audit_an_unknown_aws_managed_policy_counts_as_allowing_everything(prod):
    attachment = replace(next(r for r in prod.resources if r.name == "reader-444455556666-read-policy-attachment"),
                         name="mystery", account=OWNER,
                         inputs={"role": PUBLISHER_ROLE_NAME, "policyArn": NO_SUCH_POLICY})
    section = access_section(replace(prod, resources=[*prod.resources, attachment]))
    assert f"mystery: {NO_SUCH_POLICY} on arn:aws:iam::{OWNER}:role/{PUBLISHER_ROLE_NAME}" in section.text
    assert violation_lines(section, PUBLISHER_ROW)


# --- a document's size is measured on the text sent ----------------------------------------------

SIZE_RULE = "policy-documents-within-aws-limits"


def sized(length: int, resource_prefix: str) -> dict[str, Any]:
    """A compact document of exactly `length` characters: one Allow, its Resource padded."""
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "codeartifact:ReadFromRepository", "Resource": resource_prefix}]}
    document["Statement"][0]["Resource"] += "a" * (length - len(to_json(document)))
    assert len(to_json(document)) == length
    return document


def size_violations(resource_type: str, key: str, text: str, **props: str) -> list[str]:
    return violations(SIZE_RULE, resource_type, {key: text, **props})


def test_pack_an_iam_document_counts_its_non_whitespace_characters_as_sent():
    document = sized(6144, f"{INTERNAL_PACKAGES}/pypi//")
    compact = to_json(document)
    assert size_violations(MANAGED_POLICY, "policy", compact) == []
    # IAM does not count whitespace...
    assert size_violations(MANAGED_POLICY, "policy", json.dumps(document, indent=4)) == []
    # ...but counts every other character it receives: an escaped slash is two, whatever it decodes to.
    escaped = compact.replace("/", "\\/")
    assert json.loads(escaped) == document
    found = size_violations(MANAGED_POLICY, "policy", escaped)
    assert len(found) == 1 and found[0].endswith(f" is {len(escaped)} characters, over the AWS limit of 6144"), found
    found = size_violations(MANAGED_POLICY, "policy", to_json(sized(6145, f"{INTERNAL_PACKAGES}/pypi//")))
    assert len(found) == 1 and found[0].endswith(" is 6145 characters, over the AWS limit of 6144"), found


def test_pack_a_codeartifact_document_counts_every_character_sent_whitespace_too():
    document = sized(5120, f"{INTERNAL_PACKAGES}/pypi//")
    assert size_violations(DOMAIN_POLICY, "policyDocument", to_json(document), domain="acme") == []
    pretty = json.dumps(document, indent=1)
    found = size_violations(DOMAIN_POLICY, "policyDocument", pretty, domain="acme")
    assert found and f"is {len(pretty)} characters, over the AWS limit of 5120" in found[0], found


def test_pack_measures_the_programs_documents_exactly_as_the_program_sends_them():
    many = replace(SETTINGS, secondary_account_ids=tuple(f"{200000000000 + i:012d}" for i in range(200)))
    sent = to_json(domain_permissions_policy(many))
    found = size_violations(DOMAIN_POLICY, "policyDocument", sent, domain="acme")
    assert len(found) == 1 and found[0].endswith(f" is {len(sent)} characters, over the AWS limit of 5120"), found
    subjects = tuple(f"repo:acme/data-tools:environment:e{i}" for i in range(60))
    trust = to_json(publisher_trust_policy(SETTINGS, replace(SETTINGS.publishers[1], subjects=subjects)))
    found = size_violations(ROLE, "assumeRolePolicy", trust)
    assert len(found) == 1 and found[0].endswith(f" is {len(trust)} characters, over the AWS limit of 2048"), found


# --- the access plan covers package groups --------------------------------------------------------

PACKAGE_GROUP_ARN = DOMAIN_ARN.replace(":domain/acme", ":package-group/acme/pypi//acme-~")


def test_audit_a_grant_on_a_package_group_arn_only_is_decided(prod):
    assert PACKAGE_GROUP_ARN in access_report(prod).plan.registry.package_group_arns
    statement = {"Sid": "TagGroup", "Effect": "Allow", "Action": "codeartifact:TagResource",
                 "Resource": PACKAGE_GROUP_ARN}
    tampered = with_document(prod, "publishers-acme-acme-core-publish", "policy",
                             lambda document: document["Statement"].append(statement))
    found = violation_lines(access_section(tampered), PUBLISHER_ROW)
    assert [line.split(" may ", 1)[1] for line in found] == [f"codeartifact:TagResource on {PACKAGE_GROUP_ARN}"]
    assert not violation_lines(access_section(prod), PUBLISHER_ROW)
