"""The IAM semantics the pack and the access proof rest on, each pinned with its worst case and a good
case, the pack and the audit side by side: a one-line regression in how either reads a document
(NotAction, NotResource, a condition's values, an unknown account, a pull_request subject, an
inheriting package group, an unknown action, a document's size, a package group ARN, the CI roles'
exact ARNs) fails here."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pulumi_policy import PolicyProviderResource, PolicyResource, ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from audit.access import Principal, access_report, access_section, github_claims, web_identity_may_assume
from audit.grants import Role, trusted_by
from audit.pmapper_compat import local_check_authorization_full
from audit.render import Rendering, render
from bootstrap import documents as bootstrap
from model.documents.codeartifact import domain_permissions_policy, key_policy, repository_permissions_policy
from model.documents.github import publisher_permissions_policy, publisher_trust_policy
from model.documents.readers import reader_identity_policy
from model.trust_policy import to_json
from policies import iam_documents as iam
from tests.expected import (
    DOMAIN_ARN,
    GITHUB_OIDC_PROVIDER,
    INTERNAL_PACKAGES,
    OWNER,
    OWNER_ADMIN,
    PACKAGE_ARN,
    ROLE_POLICY,
)
from tests.policies.test_guardrails_grants import domain_with_policy, program_policy
from tests.policies.test_guardrails_rules import (
    DOMAIN,
    DOMAIN_POLICY,
    KMS_KEY,
    MANAGED_POLICY,
    ORG_SETTINGS,
    ORGANIZATION,
    REPOSITORY_POLICY,
    ROLE,
    SECONDARY,
    SETTINGS,
    group,
    options,
    policy_named,
    stack_resource,
    stack_violations,
    violations,
)

DENY_RULE = "domain-denies-loss-and-reopening"
KMS_RULE = "kms-key-policy-owner-only"
PUBLISHER_ROLE_NAME = "gh-publish-acme-acme-core"
PUBLISHER_ROW = "publisher acme/acme-core"
OWN_PACKAGE = f"{INTERNAL_PACKAGES}/pypi//acme-core"


# --- helpers: a prod rendering with one recorded document changed ---------------------------------


def with_document(rendering: Rendering, name: str, key: str, change: Callable[[dict[str, Any]], None]) -> Rendering:
    """The rendering with the JSON document `key` of resource `name` changed in place by `change`."""

    def changed(resource: Any) -> Any:
        document = json.loads(resource.inputs[key])
        change(document)
        text = json.dumps(document)
        return replace(resource, inputs={**resource.inputs, key: text}, outputs={**resource.outputs, key: text})

    assert any(r.name == name for r in rendering.resources), name
    return replace(rendering, resources=[changed(r) if r.name == name else r for r in rendering.resources])


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


def violation_lines(section: Any, who: str) -> list[str]:
    return [line for line in section.text.splitlines() if line.startswith(f"VIOLATION: {who} ")]


# --- (1) NotAction and NotResource --------------------------------------------------------------

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


# --- (2) a condition that lists several values allows each of them ---------------------------------

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


# --- (3) resource and source keys narrow nothing to principals -----------------------------------

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


# --- (4) an account that cannot be told is no other account ---------------------------------------

UNPINNED = {"no-provider": None, "two-accounts": [OWNER, SECONDARY]}


def provider_for(accounts: list[str] | None) -> PolicyProviderResource | None:
    """A provider pinned to `accounts` (one account pins it; None: the default provider)."""
    if accounts is None:
        return None
    props = {"allowedAccountIds": json.dumps(accounts), "region": "eu-west-1"}
    return PolicyProviderResource("pulumi:providers:aws", unknown_checking_proxy(props),
                                  f"urn:pulumi:test::p::pulumi:providers:aws::{'-'.join(accounts)}", "p")


def resource_in(accounts: list[str] | None, resource_type: str, name: str, props: dict[str, Any],
                dependencies: dict[str, Any] | None = None) -> PolicyResource:
    return PolicyResource(resource_type, unknown_checking_proxy(props), f"urn:pulumi:test::p::{resource_type}::{name}",
                          name, options(True), provider_for(accounts), None, [], dependencies or {})


def cross_account_violations(accounts: list[str] | None, config: dict[str, Any]) -> list[str]:
    publish = {"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion", "Resource": OWN_PACKAGE}
    props = {"policy": json.dumps({"Version": "2012-10-17", "Statement": [publish]})}
    args = ResourceValidationArgs(ROLE_POLICY, unknown_checking_proxy(props), "urn:x", "x", options(),
                                  provider_for(accounts), config)
    found: list[str] = []
    policy_named("cross-account-codeartifact-read-only").validate(args, lambda message, urn=None: found.append(message))
    return found


@pytest.mark.parametrize("accounts", UNPINNED.values(), ids=UNPINNED.keys())
def test_pack_an_identity_policy_in_an_unknown_account_is_held_read_only_without_an_owner_either(accounts):
    assert cross_account_violations([OWNER], {"ownerAccountId": OWNER}) == []
    for config in ({"ownerAccountId": OWNER}, {}):
        found = cross_account_violations(accounts, config)
        assert found and "provider not pinned to one account" in found[0], (config, found)


def test_pack_an_identity_policy_is_the_owners_only_when_the_owner_is_configured():
    # Without ownerAccountId, the account a provider is pinned to says nothing about the owner.
    found = cross_account_violations([SECONDARY], {})
    assert found and "(not the owner (unknown: set ownerAccountId))" in found[0], found
    assert cross_account_violations([SECONDARY], {"ownerAccountId": SECONDARY}) == []


def test_pack_a_trust_of_an_unreadable_principal_in_an_unknown_account_is_refused():
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "AROAEXAMPLEROLEID12345"}, "Action": "sts:AssumeRole"}]}
    args = ResourceValidationArgs(ROLE, unknown_checking_proxy({"assumeRolePolicy": json.dumps(trust)}), "urn:r",
                                  "r", options(), None, {})
    found: list[str] = []
    policy_named("role-trust-known-principals").validate(args, lambda message, urn=None: found.append(message))
    assert found and "trusts AROAEXAMPLEROLEID12345" in found[0], found


DENYING = {"domain": "acme", "policyDocument": json.dumps(program_policy())}
NOT_DENYING = {"domain": "acme", "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": []})}


def test_pack_a_deny_in_a_policy_named_alike_in_the_domains_account_is_the_domains():
    domain = resource_in([OWNER], DOMAIN, "domain", {"domain": "acme"})
    assert stack_violations(DENY_RULE, [domain, resource_in([OWNER], DOMAIN_POLICY, "named", DENYING)]) == []


@pytest.mark.parametrize(("domain_accounts", "policy_accounts"), [
    ([OWNER], [SECONDARY]),
    (None, None),
    ([OWNER, SECONDARY], [OWNER, SECONDARY]),
    ([OWNER], None),
], ids=["other-account", "both-default-provider", "both-unpinned", "policy-unpinned"])
def test_pack_a_deny_in_a_policy_named_alike_elsewhere_is_not_the_domains(domain_accounts, policy_accounts):
    domain = resource_in(domain_accounts, DOMAIN, "domain", {"domain": "acme"})
    own = resource_in(domain_accounts, DOMAIN_POLICY, "own", NOT_DENYING, {"domain": [domain]})
    elsewhere = resource_in(policy_accounts, DOMAIN_POLICY, "elsewhere", DENYING)
    found = stack_violations(DENY_RULE, [domain, own, elsewhere])
    assert any("could be deleted" in message for message, _ in found), found


@pytest.mark.parametrize(("domain_accounts", "policy_accounts"), [
    ([OWNER], [OWNER]), (None, [OWNER]), ([OWNER], None), (None, None),
], ids=["same-account", "domain-unpinned", "policy-unpinned", "both-unpinned"])
def test_pack_two_policies_for_a_domain_whose_accounts_may_be_one_are_refused(domain_accounts, policy_accounts):
    domain = resource_in(domain_accounts, DOMAIN, "domain", {"domain": "acme"})
    wired = resource_in(domain_accounts, DOMAIN_POLICY, "wired", NOT_DENYING, {"domain": [domain]})
    named = resource_in(policy_accounts, DOMAIN_POLICY, "named", NOT_DENYING)
    found = stack_violations("one-permissions-policy-per-domain-and-repository", [domain, wired, named])
    assert len(found) == 1 and "wired, named are 2 permissions policies" in found[0][0], found
    elsewhere = resource_in([SECONDARY], DOMAIN_POLICY, "named", NOT_DENYING)
    if domain_accounts is not None:
        assert stack_violations("one-permissions-policy-per-domain-and-repository", [domain, wired, elsewhere]) == []


def test_audit_a_resource_in_no_known_account_fails_the_audit(prod, monkeypatch, capsys):
    import audit.__main__ as audit_cli

    # The domain and its policy, both in whatever account the ambient credentials point at.
    moved = replace(prod, resources=[
        replace(r, account="") if r.name in ("registry-domain", "registry-domain-policy") else r
        for r in prod.resources])
    monkeypatch.setattr(audit_cli, "render", lambda *args, **kwargs: moved)
    assert audit_cli.main(["--stack", "prod"]) == 1
    out = capsys.readouterr().out
    assert "resources without an account-pinned provider: registry-domain, registry-domain-policy" in out


# --- (5) a role any pull request can assume may only read ---------------------------------------------

SCOPE_RULE = "github-roles-publish-only-own-packages"
PULL_REQUEST = "repo:acme/acme-core:pull_request"
AUDIENCE = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}


def github_statement(condition: dict[str, Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"Federated": GITHUB_OIDC_PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}


def sub(operator: str, *values: str) -> dict[str, Any]:
    return {operator: {"token.actions.githubusercontent.com:sub": list(values)}}


PUBLISHER_TRUST = publisher_trust_policy(SETTINGS, SETTINGS.publishers[0])
PULL_REQUEST_TRUSTS = {
    # A second statement for pull requests beside the publishing one.
    "second-statement": [*PUBLISHER_TRUST["Statement"],
                         github_statement({"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub":
                                                            PULL_REQUEST}})],
    "listed-beside": [github_statement({"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub": [
        "repo:acme/acme-core:environment:pypi", PULL_REQUEST]}})],
    "like-any-context": [github_statement({**sub("StringLike", "repo:acme/acme-core:*"),
                                           "StringEquals": AUDIENCE})],
    "like-any-repository": [github_statement({**sub("StringLike", "repo:acme/*"), "StringEquals": AUDIENCE})],
    "not-equals": [github_statement({**sub("StringNotEquals", "repo:acme/acme-core:environment:pypi"),
                                     "StringEquals": AUDIENCE})],
    "no-subject": [github_statement({"StringEquals": AUDIENCE})],
}


def publisher_role_resources(trust_statements: list[dict[str, Any]]) -> list[PolicyResource]:
    publisher = SETTINGS.publishers[0]
    role = stack_resource(ROLE, "gh", {"name": "gh", "assumeRolePolicy": json.dumps(
        {"Version": "2012-10-17", "Statement": trust_statements})})
    policy = stack_resource(ROLE_POLICY, "gh-publish", {"role": "gh", "policy": json.dumps(
        publisher_permissions_policy(SETTINGS, publisher))})
    return [role, policy]


@pytest.mark.parametrize("trust", PULL_REQUEST_TRUSTS.values(), ids=PULL_REQUEST_TRUSTS.keys())
def test_pack_a_publisher_any_trust_statement_opens_to_pull_requests_may_only_read(trust):
    assert stack_violations(SCOPE_RULE, publisher_role_resources(PUBLISHER_TRUST["Statement"])) == []
    found = stack_violations(SCOPE_RULE, publisher_role_resources(trust))
    assert found and "trusts pull_request subjects" in found[0][0], found


@pytest.mark.parametrize("condition", [
    sub("StringEquals", "repo:acme/acme-core:environment:pypi", "repo:acme/acme-core:ref:refs/tags/v1"),
    sub("StringLike", "repo:acme/acme-core:environment:pypi"),
    # A branch may be named after pull requests; only the `pull_request` context is a pull request job.
    sub("StringEquals", "repo:acme/acme-core:ref:refs/heads/pull_request"),
], ids=["exact", "like-without-wildcard", "branch-named-pull_request"])
def test_pack_a_publisher_whose_trust_keeps_pull_requests_out_may_publish(condition):
    statement = github_statement(condition)
    statement["Condition"].setdefault("StringEquals", {}).update(AUDIENCE)
    assert stack_violations(SCOPE_RULE, publisher_role_resources([statement])) == []


def test_pack_a_wildcard_subject_that_cannot_end_in_pull_request_keeps_pull_requests_out():
    # Refused for naming no one repository (so no package is its own), but not as a pull request role.
    statement = github_statement({**sub("StringLike", "repo:acme/*:environment:pypi"), "StringEquals": AUDIENCE})
    found = stack_violations(SCOPE_RULE, publisher_role_resources([statement]))
    assert found and not any("pull_request" in message for message, _ in found), found


def with_trust_statement(rendering: Rendering, statement: dict[str, Any]) -> Rendering:
    return with_document(rendering, "publishers-acme-acme-core", "assumeRolePolicy",
                         lambda document: document["Statement"].append(statement))


@pytest.mark.parametrize("condition", [
    {"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub": PULL_REQUEST}},
    {"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub": "repo:acme/other:pull_request"}},
    {**sub("StringLike", "repo:acme/*"), "StringEquals": AUDIENCE},
    {"StringEquals": AUDIENCE},
], ids=["own-pull-requests", "another-repositorys", "like-any-repository", "no-subject"])
def test_audit_a_publisher_a_pull_request_can_assume_is_held_to_read_and_list(prod, condition):
    tampered = with_trust_statement(prod, github_statement(condition))
    found = violation_lines(access_section(tampered), PUBLISHER_ROW)
    assert any(f"may codeartifact:PublishPackageVersion on {OWN_PACKAGE}" in line for line in found), found


def test_audit_a_publisher_trusted_by_its_environment_and_a_tag_publishes_its_own_packages(prod):
    tag = sub("StringEquals", "repo:acme/acme-core:ref:refs/tags/v1")
    tag["StringEquals"].update(AUDIENCE)
    tampered = with_trust_statement(prod, github_statement(tag))
    assert not violation_lines(access_section(tampered), PUBLISHER_ROW)
    report = access_report(tampered)
    row = next(cells for subject, cells in report.rows if subject.label == PUBLISHER_ROW)
    assert dict(zip(report.plan.columns, row, strict=True))["publish acme-core"]


@pytest.mark.parametrize("trust", [
    json.dumps({"Version": "2012-10-17", "Statement": [github_statement({"StringEquals": AUDIENCE})]}),
    "{not json",
], ids=["no-subject-anywhere", "unreadable"])
def test_audit_a_publisher_whose_trust_names_no_subject_or_cannot_be_read_is_held_to_read_and_list(prod, trust):
    tampered = replace(prod, resources=[
        replace(r, inputs={**r.inputs, "assumeRolePolicy": trust}) if r.name == "publishers-acme-acme-core" else r
        for r in prod.resources])
    found = violation_lines(access_section(tampered), PUBLISHER_ROW)
    assert any(f"may codeartifact:PublishPackageVersion on {OWN_PACKAGE}" in line for line in found), found


# --- (6) a package group in INHERIT mode is its parent's ------------------------------------------------

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


# --- (7) an unreadable AWS-managed policy or an undocumented action fails closed ----------------------

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


# --- (8) a document's size is measured on the text sent ----------------------------------------------

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


# --- (9) the access plan covers package groups --------------------------------------------------------

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


# --- (10) the secondary deploy role names the reader policy's exact ARN -----------------------------------


def test_bootstrap_the_secondary_deploy_role_manages_exactly_the_reader_policy_the_program_declares(prod):
    settings = prod.settings
    ci_deploy = f"arn:aws:iam::{OWNER}:role/ci-deploy"
    documents = bootstrap.documents(settings, "acme/pypi-registry", f"arn:aws:iam::{OWNER}:role/ci-preview", ci_deploy)
    for account in settings.secondary_account_ids:
        reader_policy = prod.one("aws:iam/policy:Policy", f"reader-{account}-read-policy").outputs["arn"]
        policy = documents[account][settings.deploy_role_name]["policy"]
        named = [str(value) for statement in policy["Statement"]
                 for value in [*iam.as_list(statement.get("Resource")),
                               *(v for _, _, values in iam.conditions(statement) for v in values)]]
        assert not [value for value in named if "*" in value or "?" in value], named
        boundary = settings.reader_boundary_arn(account)
        # The reader policy, and the boundary only in the condition that the reader role must carry it.
        assert {value for value in named if ":policy/" in value} == {reader_policy, boundary}
        deployer = Principal.role(settings.deploy_role_arn(account), {"inline:deploy": policy})
        node = deployer.node()
        for target, allowed in [(reader_policy, True), (f"{reader_policy}-other", False),
                                (f"arn:aws:iam::{account}:policy/other", False), (boundary, False)]:
            assert bool(local_check_authorization_full(node, "iam:CreatePolicyVersion", target, {})) is allowed
            attach = {"iam:PolicyARN": target}
            assert bool(local_check_authorization_full(node, "iam:AttachRolePolicy",
                                                       settings.reader_role_arn(account), attach)) is allowed
