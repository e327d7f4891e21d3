"""How a statement reads, as the pack and the access proof rest on it, each pinned with its worst case and a
good case, the pack and the audit side by side: NotAction and NotResource, a condition that lists several
values, and resource and source keys (which narrow nothing to principals)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from audit.access import access_report, access_section, github_claims, web_identity_may_assume
from audit.grants import Role
from audit.render import Rendering, render
from audit.trust_entries import trusted_by
from model.documents.codeartifact import key_policy, repository_permissions_policy
from model.documents.readers import reader_identity_policy
from model.trust_policy import to_json
from tests.audit.semantics_support import (
    DENY_RULE,
    OWN_PACKAGE,
    PUBLISHER_ROW,
    violation_lines,
    with_document,
)
from tests.expected import (
    DOMAIN_ARN,
    GITHUB_OIDC_PROVIDER,
    INTERNAL_PACKAGES,
    KMS_KEY,
    MANAGED_POLICY,
    OWNER,
    OWNER_ADMIN,
    PACKAGE_ARN,
    REPOSITORY_POLICY,
    ROLE,
    ROLE_POLICY,
)
from tests.policies.support import (
    ORG_SETTINGS,
    ORGANIZATION,
    SECONDARY,
    SETTINGS,
    domain_with_policy,
    program_policy,
    stack_violations,
    violations,
)

KMS_RULE = "kms-key-policy-owner-only"


# --- helpers: one statement of a document rewritten ----------------------------------------------


def statement_of(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s.get("Sid") == sid)


def rewrite(sid: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    """A change to one statement: each key set, or removed when None; `NotAction=SAME` moves Action there."""

    def change(document: dict[str, Any]) -> None:
        statement = statement_of(document, sid)
        for key, value in changes.items():
            if value is SAME:
                value = statement.pop(key.removeprefix("Not"))
            if value is None:
                statement.pop(key, None)
            else:
                statement[key] = value

    return change


SAME = object()  # rewrite(..., NotAction=SAME): the statement's Action, now as NotAction


# --- NotAction and NotResource --------------------------------------------------------------

READ_PATTERNS = ["codeartifact:Get*", "codeartifact:List*", "codeartifact:Describe*", "codeartifact:ReadFromRepository"]


def changed_domain_policy(**changes: Any) -> dict[str, Any]:
    policy = copy.deepcopy(program_policy())
    rewrite("DenyIrreversibleDeletes", **changes)(policy)
    return policy


@pytest.mark.parametrize("changes", [
    {"Resource": None, "NotResource": DOMAIN_ARN},
    {"Resource": None, "NotResource": "arn:aws:codeartifact:*:*:domain/elsewhere"},
    {"Resource": None},
    {"NotAction": SAME},
], ids=["not-resource-domain", "not-resource-elsewhere", "no-resource", "not-action-the-deletes"])
def test_pack_a_deny_with_not_resource_or_the_deletes_in_not_action_is_no_deny_of_them(changes):
    found = stack_violations(DENY_RULE, domain_with_policy(changed_domain_policy(**changes)))
    assert any("could be deleted" in message for message, _ in found), found


def test_pack_a_deny_with_not_action_denies_every_action_it_does_not_list():
    assert stack_violations(DENY_RULE, domain_with_policy(program_policy())) == []
    excepting_reads = changed_domain_policy(Action=None, NotAction=READ_PATTERNS)
    assert stack_violations(DENY_RULE, domain_with_policy(excepting_reads)) == []


def test_pack_a_key_policy_deny_with_not_resource_leaves_the_key_loss_allowed():
    policy = json.loads(to_json(key_policy(SETTINGS)))
    assert violations(KMS_RULE, KMS_KEY, {"policy": json.dumps(policy)}) == []
    rewrite("DenyKeyLoss", Resource=None, NotResource="arn:aws:kms:*:*:key/other")(policy)
    found = violations(KMS_RULE, KMS_KEY, {"policy": json.dumps(policy)})
    assert any("allows kms:ScheduleKeyDeletion" in m for m in found), found


@pytest.mark.parametrize(("changes", "action", "resource"), [
    ({"Resource": None, "NotResource": DOMAIN_ARN}, "codeartifact:DeleteDomain", DOMAIN_ARN),
    ({"Resource": None, "NotResource": f"{PACKAGE_ARN}/*"}, "codeartifact:DeletePackageVersions", OWN_PACKAGE),
    ({"NotAction": SAME}, "codeartifact:DeleteRepository", f"{DOMAIN_ARN.replace(':domain/', ':repository/')}/"),
], ids=["not-resource-domain", "not-resource-packages", "not-action-the-deletes"])
def test_audit_a_deny_with_not_resource_or_not_action_denies_only_what_it_covers(prod, changes, action, resource):
    tampered = with_document(prod, "registry-domain-policy", "policyDocument",
                             rewrite("DenyIrreversibleDeletes", **changes))
    found = violation_lines(access_section(tampered), OWNER_ADMIN)
    assert any(f" may {action} on {resource}" in line for line in found), found


@pytest.mark.parametrize("changes", [
    {"Resource": None, "NotResource": "arn:aws:codeartifact:*:*:domain/elsewhere"},
    {"Action": None, "NotAction": READ_PATTERNS},
], ids=["not-resource-elsewhere", "not-action-reads"])
def test_audit_a_deny_whose_exclusions_miss_the_registry_still_denies_the_deletes(prod, changes):
    tampered = with_document(prod, "registry-domain-policy", "policyDocument",
                             rewrite("DenyIrreversibleDeletes", **changes))
    report = access_report(tampered)
    row = next(cells for subject, cells in report.rows if subject.label == OWNER_ADMIN)
    assert not dict(zip(report.plan.columns, row, strict=True))["irreversible delete"]
    assert not violation_lines(access_section(tampered), OWNER_ADMIN)


@pytest.mark.parametrize("changes", [
    {"Resource": None, "NotResource": OWN_PACKAGE},
    {"Action": None, "NotAction": ["codeartifact:Get*"], "Resource": "*"},
], ids=["not-resource", "not-action"])
def test_audit_an_allow_with_not_resource_or_not_action_grants_everything_else(prod, changes):
    tampered = with_document(prod, "publishers-acme-acme-core-publish", "policy",
                             rewrite("PublishOwnPackages", **changes))
    found = violation_lines(access_section(tampered), PUBLISHER_ROW)
    assert any(f"PublishPackageVersion on {INTERNAL_PACKAGES}/pypi//acme-data" in line for line in found), found
    assert not violation_lines(access_section(prod), PUBLISHER_ROW)


def test_pack_an_allow_with_not_resource_writes_on_every_resource():
    statement = {"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion", "Resource": OWN_PACKAGE}
    exact = {"policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}
    assert violations("no-codeartifact-write-on-any-resource", ROLE_POLICY, exact) == []
    statement = {**statement, "NotResource": statement.pop("Resource")}
    everywhere = {"policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}
    found = violations("no-codeartifact-write-on-any-resource", ROLE_POLICY, everywhere)
    assert found and "PublishPackageVersion on *" in found[0], found


def test_audit_a_trust_statement_with_not_action_lets_in_everything_it_does_not_list():
    subject = "repo:acme/acme-core:environment:pypi"
    statement = {"Effect": "Allow", "Principal": {"Federated": GITHUB_OIDC_PROVIDER}, "NotAction": "sts:AssumeRole",
                 "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                                "token.actions.githubusercontent.com:sub": subject}}}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    arn = f"arn:aws:iam::{OWNER}:role/r"
    (entry,) = trusted_by(Role(arn, OWNER, "r", "test", trust))
    assert "sts:AssumeRoleWithWebIdentity" in entry.actions and "sts:AssumeRole" not in entry.actions
    assert web_identity_may_assume(trust, GITHUB_OIDC_PROVIDER, github_claims(subject), arn)
    listed = {**statement, "NotAction": "sts:AssumeRole*"}
    assert trusted_by(Role(arn, OWNER, "r", "test", {"Statement": [listed]})) == []
    assert not web_identity_may_assume({"Statement": [listed]}, GITHUB_OIDC_PROVIDER, github_claims(subject), arn)


# --- a condition that lists several values allows each of them ---------------------------------

STRANGER_ACCOUNT = "999988887777"


def key_policy_with(condition: dict[str, Any]) -> dict[str, str]:
    policy = key_policy(SETTINGS)
    rewrite("CodeArtifactUsesKeyForOwnerAccount", Condition=condition)(policy)
    return {"policy": json.dumps(policy)}


@pytest.mark.parametrize("key", ["kms:CallerAccount", "aws:PrincipalAccount"])
def test_pack_a_star_key_grant_narrowed_to_the_owner_and_another_account_is_refused(key):
    assert violations(KMS_RULE, KMS_KEY, key_policy_with({"StringEquals": {key: OWNER}})) == []
    assert violations(KMS_RULE, KMS_KEY, key_policy_with({"StringEquals": {key: [OWNER]}})) == []
    found = violations(KMS_RULE, KMS_KEY, key_policy_with({"StringEquals": {key: [OWNER, STRANGER_ACCOUNT]}}))
    assert found and 'grants to "*" without StringEquals kms:CallerAccount' in found[0], found


def reader_policy_with(condition: dict[str, Any]) -> dict[str, str]:
    policy = reader_identity_policy(SETTINGS)
    bearer = next(s for s in policy["Statement"] if s["Action"] == "sts:GetServiceBearerToken")
    bearer["Condition"] = condition
    return {"policy": json.dumps(policy)}


@pytest.mark.parametrize("condition", [
    {"StringEquals": {"sts:AWSServiceName": ["codeartifact.amazonaws.com", "s3.amazonaws.com"]}},
    {"StringEquals": {"sts:AWSServiceName": ["s3.amazonaws.com", "codeartifact.amazonaws.com"]}},
    {"StringLike": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
    {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"},
     "StringLike": {"sts:AWSServiceName": "*"}},
], ids=["codeartifact-and-s3", "s3-first", "string-like", "and-another-operator"])
def test_pack_a_bearer_token_for_codeartifact_and_other_services_is_refused(condition):
    good = {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}
    assert violations("bearer-token-codeartifact-only", MANAGED_POLICY, reader_policy_with(good)) == []
    found = violations("bearer-token-codeartifact-only", MANAGED_POLICY, reader_policy_with(condition))
    assert found and "without the condition StringEquals sts:AWSServiceName" in found[0], found


def test_pack_a_principal_condition_naming_an_allowed_and_another_account_or_organization_is_refused():
    rule = "codeartifact-grants-only-to-allowed-accounts"
    document = repository_permissions_policy(ORG_SETTINGS, "internal")
    assert violations(rule, REPOSITORY_POLICY, {"policyDocument": json.dumps(document)}) == []
    for key, values in [("aws:PrincipalOrgID", [ORGANIZATION, "o-zzzzzzzzzz"]),
                        ("aws:PrincipalAccount", [SECONDARY, STRANGER_ACCOUNT])]:
        widened = copy.deepcopy(document)
        widened["Statement"][0]["Condition"] = {"StringEquals": {key: values}}
        found = violations(rule, REPOSITORY_POLICY, {"policyDocument": json.dumps(widened)})
        assert found and values[1] in found[0], (key, found)


# --- resource and source keys narrow nothing to principals -----------------------------------

RESOURCE_SIDE_CONDITIONS = [
    {"StringEquals": {"aws:ResourceOrgID": ORGANIZATION}},
    {"StringEquals": {"aws:ResourceAccount": OWNER}},
    {"StringEquals": {"aws:SourceOrgID": ORGANIZATION}},
    {"StringEquals": {"aws:SourceAccount": OWNER}},
]
RESOURCE_SIDE_IDS = ["resource-org", "resource-account", "source-org", "source-account"]


@pytest.mark.parametrize("condition", RESOURCE_SIDE_CONDITIONS, ids=RESOURCE_SIDE_IDS)
def test_pack_a_star_registry_grant_narrowed_by_a_resource_or_source_key_is_public(condition):
    document = repository_permissions_policy(ORG_SETTINGS, "internal")
    rule = "codeartifact-no-unconditioned-public-grant"
    assert violations(rule, REPOSITORY_POLICY, {"policyDocument": json.dumps(document)}) == []
    document["Statement"][0]["Condition"] = condition
    found = violations(rule, REPOSITORY_POLICY, {"policyDocument": json.dumps(document)})
    assert found and 'grants to "*" without a StringEquals aws:PrincipalOrgID' in found[0], found


@pytest.mark.parametrize("condition", RESOURCE_SIDE_CONDITIONS, ids=RESOURCE_SIDE_IDS)
def test_pack_a_star_key_or_trust_grant_narrowed_by_a_resource_or_source_key_is_public(condition):
    found = violations(KMS_RULE, KMS_KEY, key_policy_with(condition))
    assert found and 'grants to "*"' in found[0], found
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": condition}]}
    found = violations("role-trust-known-principals", ROLE, {"assumeRolePolicy": json.dumps(trust), "name": "r"})
    assert found and 'trusts "*"' in found[0], found


def with_public_publish(rendering: Rendering, condition: dict[str, Any]) -> Rendering:
    """prod with a `*` grant of PublishPackageVersion on internal's packages under `condition`."""

    def change(document: dict[str, Any]) -> None:
        document["Statement"].append({"Sid": "Public", "Effect": "Allow", "Principal": "*",
                                      "Action": "codeartifact:PublishPackageVersion",
                                      "Resource": f"{INTERNAL_PACKAGES}/*", "Condition": condition})

    return with_document(rendering, "registry-internal-policy", "policyDocument", change)


@pytest.fixture(scope="module")
def organization_prod() -> Rendering:
    return render("prod", overrides={"pypi-registry:organizationId": ORGANIZATION})


@pytest.mark.parametrize(("key", "value", "public"), [
    ("aws:ResourceAccount", OWNER, True),
    ("aws:ResourceOrgID", ORGANIZATION, True),
    ("aws:PrincipalAccount", OWNER, False),
    ("aws:PrincipalOrgID", ORGANIZATION, False),
], ids=["resource-account", "resource-org", "principal-account", "principal-org"])
def test_audit_a_star_grant_narrowed_by_the_registry_account_or_organization_reaches_every_principal(
        organization_prod, key, value, public):
    section = access_section(with_public_publish(organization_prod, {"StringEquals": {key: value}}))
    outsiders = [line for line in section.text.splitlines()
                 if line.startswith("VIOLATION: outsider") and "PublishPackageVersion" in line]
    # Every request to the registry carries the registry's account and organization, whoever asks.
    assert bool(outsiders) is public, section.text
