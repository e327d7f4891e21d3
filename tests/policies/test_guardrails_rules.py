"""Each guardrail, called directly with ResourceValidationArgs/StackValidationArgs: a bad
resource it must report and a good one it must pass. Good documents come from the same
pure functions the program uses; bad ones are those documents weakened one way at a time.

Here the pack itself and the rules on who may be granted what: (1) to (3). The rules on tokens,
writes, repositories, protection, prefixes and documents: test_guardrails_rules_registry.py.
The calling helpers: tests/policies/support.py."""

from __future__ import annotations

import pytest
from pulumi_policy import EnforcementLevel

from model.documents.codeartifact import repository_permissions_policy
from model.documents.github import publisher_permissions_policy
from model.documents.readers import reader_identity_policy, reader_trust_policy
from model.trust_policy import to_json
from policies.guardrails import CONFIG_PROPERTIES, POLICIES, policy_config
from tests.expected import DOMAIN_POLICY, MANAGED_POLICY, OWNER, REPOSITORY_POLICY, ROLE, ROLE_POLICY, STRANGER
from tests.policies.support import (
    CONFIG,
    ORG_SETTINGS,
    ORGANIZATION,
    PUBLISHER,
    SECONDARY,
    SETTINGS,
    domain_policy,
    read_statement,
    repository_policy,
    trust,
    violations,
    with_statement,
)

# --- the pack itself -------------------------------------------------------------------------


def test_pack_names_are_unique_and_only_the_key_rotation_rule_is_advisory():
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names)) == 28
    advisory = {p.name for p in POLICIES if p.enforcement_level == EnforcementLevel.ADVISORY}
    assert advisory == {"domain-key-customer-managed-with-rotation"}
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in POLICIES if p.name not in advisory)


def test_policy_config_spreads_values_over_the_policies_that_declare_them():
    assert CONFIG["github-oidc-trust-pinned"] == {"allowedGithubOwners": ["acme"]}
    assert set(CONFIG["codeartifact-grants-only-to-allowed-accounts"]) == {
        "ownerAccountId", "allowedAccountIds", "allowedOrganizationId"}
    declared = {key for p in POLICIES if p.config_schema for key in p.config_schema.properties}
    assert declared == set(CONFIG_PROPERTIES)
    with pytest.raises(KeyError, match="allowedOwners"):
        policy_config({"allowedOwners": ["acme"]})


# --- (1) no "*" without an organization or account condition -------------------------------------


@pytest.mark.parametrize("props", [
    domain_policy(),
    domain_policy(ORG_SETTINGS),
    repository_policy(ORG_SETTINGS, "pypi-store"),
], ids=["explicit-accounts", "organization-domain", "organization-repository"])
def test_no_public_grant_passes_explicit_accounts_and_organization_condition(props):
    resource_type = DOMAIN_POLICY if "repository" not in props else REPOSITORY_POLICY
    assert violations("codeartifact-no-unconditioned-public-grant", resource_type, props) == []


ORG_DOCUMENT = repository_permissions_policy(ORG_SETTINGS, "internal")


@pytest.mark.parametrize("document", [
    with_statement(ORG_DOCUMENT, Condition=None),
    with_statement(ORG_DOCUMENT, Principal={"AWS": "*"}, Condition=None),
    with_statement(ORG_DOCUMENT, Condition={"StringLike": {"aws:PrincipalOrgID": ORGANIZATION}}),
    with_statement(ORG_DOCUMENT, Condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": ORGANIZATION}}),
    with_statement(ORG_DOCUMENT, Condition={"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}}),
    with_statement(ORG_DOCUMENT, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-*"}}),
    with_statement(ORG_DOCUMENT, Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}}),
    with_statement(ORG_DOCUMENT, Principal=None, NotPrincipal={"AWS": f"arn:aws:iam::{OWNER}:root"}),
], ids=["star", "aws-star", "string-like", "if-exists", "for-any-value", "wildcard-org", "other-key",
        "not-principal"])
def test_no_public_grant_reports_star_without_account_condition(document):
    found = violations("codeartifact-no-unconditioned-public-grant", REPOSITORY_POLICY,
                       repository_policy(document=document))
    assert len(found) == 1
    assert "statement 'SecondaryAccountsRead'" in found[0]


def test_no_public_grant_reads_aws_native_documents_given_as_objects():
    document = with_statement(ORG_DOCUMENT, Condition=None)
    found = violations("codeartifact-no-unconditioned-public-grant", "aws-native:codeartifact:Repository",
                       {"repositoryName": "internal", "permissionsPolicyDocument": document})
    assert found and 'grants to "*"' in found[0]


# --- (1b) only allowed accounts or organization ----------------------------------------------------


@pytest.mark.parametrize("props", [domain_policy(), domain_policy(ORG_SETTINGS), repository_policy()],
                         ids=["explicit", "organization", "repository"])
def test_allowed_principals_passes_the_configured_accounts_and_organization(props):
    assert violations("codeartifact-grants-only-to-allowed-accounts", DOMAIN_POLICY, props) == []


@pytest.mark.parametrize(("document", "expected"), [
    (read_statement({"AWS": f"arn:aws:iam::{STRANGER}:root"}, "codeartifact:ReadFromRepository"), STRANGER),
    (read_statement({"AWS": STRANGER}, "codeartifact:ReadFromRepository"), STRANGER),
    (read_statement("*", "codeartifact:ReadFromRepository",
                    {"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}}), "o-zzzzzzzzzz"),
    (read_statement("*", "codeartifact:ReadFromRepository",
                    {"StringEquals": {"aws:PrincipalAccount": [SECONDARY, STRANGER]}}), STRANGER),
    (read_statement({"Service": "ec2.amazonaws.com"}, "codeartifact:ReadFromRepository"), "Service"),
], ids=["stranger-root", "stranger-id", "other-organization", "principal-account", "service"])
def test_allowed_principals_reports_accounts_outside_the_config(document, expected):
    found = violations("codeartifact-grants-only-to-allowed-accounts", REPOSITORY_POLICY,
                       repository_policy(document=document))
    assert len(found) == 1 and expected in found[0]


def test_allowed_principals_reports_an_organization_when_none_is_configured():
    config = {**CONFIG["codeartifact-grants-only-to-allowed-accounts"], "allowedOrganizationId": ""}
    found = violations("codeartifact-grants-only-to-allowed-accounts", DOMAIN_POLICY, domain_policy(ORG_SETTINGS),
                       config=config)
    assert found and "set allowedOrganizationId" in found[0]


# --- (2) cross-account principals: Read and List only ----------------------------------------------


def test_cross_account_read_only_passes_the_read_grants_and_the_reader_policy():
    for props in (domain_policy(), domain_policy(ORG_SETTINGS), repository_policy(),
                  repository_policy(ORG_SETTINGS, "pypi-store")):
        assert violations("cross-account-codeartifact-read-only", DOMAIN_POLICY, props) == []
    reader = {"policy": to_json(reader_identity_policy(SETTINGS))}
    assert violations("cross-account-codeartifact-read-only", MANAGED_POLICY, reader, account=SECONDARY) == []


def test_cross_account_read_only_lets_the_owner_account_publish():
    publisher = {"policy": to_json(publisher_permissions_policy(SETTINGS, PUBLISHER))}
    assert violations("cross-account-codeartifact-read-only", ROLE_POLICY, publisher, account=OWNER) == []
    owner_grant = read_statement({"AWS": f"arn:aws:iam::{OWNER}:role/ci"}, "codeartifact:PublishPackageVersion")
    assert violations("cross-account-codeartifact-read-only", REPOSITORY_POLICY,
                      repository_policy(document=owner_grant)) == []


@pytest.mark.parametrize(("principal", "actions", "expected"), [
    ({"AWS": f"arn:aws:iam::{SECONDARY}:root"}, ["codeartifact:ReadFromRepository",
                                                  "codeartifact:PublishPackageVersion"], "PublishPackageVersion"),
    ({"AWS": SECONDARY}, "codeartifact:Put*", "PutDomainPermissionsPolicy"),
    ("*", "codeartifact:*", "codeartifact:*"),
    ({"AWS": f"arn:aws:iam::{SECONDARY}:role/ci"}, "codeartifact:ReadEverything", "not a known codeartifact action"),
    ({"AWS": [f"arn:aws:iam::{OWNER}:root", SECONDARY]}, "codeartifact:DeletePackageVersions", "Delete"),
], ids=["publish", "put-wildcard", "all-to-organization", "unknown-action", "mixed-principals"])
def test_cross_account_read_only_reports_writes_to_other_accounts(principal, actions, expected):
    condition = {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}} if principal == "*" else None
    document = read_statement(principal, actions, condition)
    found = violations("cross-account-codeartifact-read-only", REPOSITORY_POLICY, repository_policy(document=document))
    assert len(found) == 1 and expected in found[0]


def test_cross_account_read_only_reports_not_action():
    document = with_statement(read_statement({"AWS": SECONDARY}, "x"), Action=None,
                              NotAction="codeartifact:Delete*")
    found = violations("cross-account-codeartifact-read-only", REPOSITORY_POLICY, repository_policy(document=document))
    assert found and "NotAction" in found[0]


def test_cross_account_read_only_reports_write_policies_deployed_into_secondary_accounts():
    publisher = {"policy": to_json(publisher_permissions_policy(SETTINGS, PUBLISHER))}
    found = violations("cross-account-codeartifact-read-only", MANAGED_POLICY, publisher, account=SECONDARY)
    assert len(found) == 1
    assert f"in account {SECONDARY} (not the owner {OWNER})" in found[0] and "PublishPackageVersion" in found[0]


def test_cross_account_read_only_falls_back_to_the_provider_account_as_owner():
    document = read_statement({"AWS": SECONDARY}, "codeartifact:PublishPackageVersion")
    found = violations("cross-account-codeartifact-read-only", REPOSITORY_POLICY, repository_policy(document=document),
                       config={})
    assert found and f"outside owner account {OWNER}" in found[0]


# --- (3) GitHub OIDC trust pinned to exact repositories ----------------------------------------------


AUD = "token.actions.githubusercontent.com:aud"
SUB = "token.actions.githubusercontent.com:sub"
EXACT_SUB = "repo:acme/data-tools:environment:pypi"


@pytest.mark.parametrize("props", [
    trust(),
    trust(["repo:acme/data-tools:environment:pypi"]),
    trust(["repo:ACME@1342004/data-tools@86712231:ref:refs/heads/main"]),
    trust(["repo:acme/data-tools:ref:refs/heads/fix-pull_request-parsing"]),
    trust(["repo:acme/data-tools:ref:refs/tags/v1.2.0"]),
], ids=["both-forms", "classic", "immutable-owner-case", "branch-named-pull_request", "tag"])
def test_github_trust_passes_exact_subjects_of_allowed_owners(props):
    assert violations("github-oidc-trust-pinned", ROLE, props) == []


@pytest.mark.parametrize(("props", "expected"), [
    (trust(["repo:*/data-tools:environment:pypi"]), "has a wildcard"),
    (trust(["repo:acme/*:environment:pypi"]), "has a wildcard"),
    (trust(["repo:acme/data-tool?:environment:pypi"]), "has a wildcard"),
    (trust(["repo:acme@*/data-tools@86712231:environment:pypi"]), "has a wildcard"),
    (trust(["repo:*"]), "has a wildcard"),
    (trust(["repo:acme"]), "is not repo:OWNER/REPO:CONTEXT"),
    (trust(["repo:evil/data-tools:environment:pypi"]), "names owner 'evil'"),
    (trust(["repo:evil@1/data-tools@2:environment:pypi"]), "names owner 'evil'"),
    (trust(["repo:acme/data-tools:environment:pull_request"]), "pull_request"),
    (trust(["repo:acme/data-tools:*"]), "has a wildcard"),
    (trust(conditions={"StringEquals": {AUD: "sts.amazonaws.com"},
                       "StringLike": {SUB: "repo:acme/lib:environment:*"}}), "has a wildcard"),
    (trust(conditions={"StringEquals": {AUD: "sts.amazonaws.com"},
                       "StringLike": {SUB: "repo:acme/lib:ref:refs/heads/*"}}), "has a wildcard"),
    (trust(conditions={"StringEquals": {AUD: "sts.amazonaws.com"},
                       "StringLike": {SUB: "repo:acme/lib:ref:refs/tags/v?"}}), "has a wildcard"),
    (trust(["repo:acme/data-tools:environment:pypi:extra"]), "must end in"),
    (trust(["repo:acme/data-tools:workflow_dispatch"]), "must end in"),
    (trust(conditions={"StringEquals": {AUD: "sts.amazonaws.com"}}), "no token.actions.githubusercontent.com:sub"),
    (trust(conditions={"StringEquals": {SUB: EXACT_SUB}}), "does not pin token.actions.githubusercontent.com:aud"),
    (trust(conditions={"StringEquals": {SUB: EXACT_SUB}, "StringLike": {AUD: "sts.*"}}), "does not pin"),
    (trust(conditions={"StringEquals": {SUB: EXACT_SUB, AUD: ["sts.amazonaws.com", "other"]}}), "accepts audiences"),
    (trust(conditions={"StringEquals": {SUB: EXACT_SUB},
                       "ForAllValues:StringEquals": {AUD: "sts.amazonaws.com"}}), "ForAllValues"),
    (trust(conditions={"StringEquals": {AUD: "sts.amazonaws.com"},
                       "StringEqualsIfExists": {SUB: EXACT_SUB}}), "IfExists"),
    (trust(conditions={"StringEquals": {AUD: "sts.amazonaws.com"}, "StringNotEquals": {SUB: "x"}}), "StringNotEquals"),
], ids=["owner-star", "repo-star", "repo-question", "owner-id-star", "bare-star", "no-context", "other-owner",
        "other-owner-immutable", "environment-pull-request", "any-context", "like-environment",
        "like-branch", "like-tag",
        "context-with-colon", "other-context", "no-sub", "no-aud", "aud-like",
        "extra-audience", "for-all-values", "if-exists", "not-equals"])
def test_github_trust_reports_loose_subjects_and_audiences(props, expected):
    found = violations("github-oidc-trust-pinned", ROLE, props)
    assert found, "expected a violation"
    assert any(expected in message for message in found), found


def test_github_trust_ignores_roles_that_do_not_trust_github():
    reader = {"assumeRolePolicy": to_json(reader_trust_policy(SECONDARY))}
    assert violations("github-oidc-trust-pinned", ROLE, reader, config={}) == []


def test_github_trust_rejects_every_owner_when_none_is_configured():
    found = violations("github-oidc-trust-pinned", ROLE, trust(), config={})
    assert len(found) == 2 and all("allowedGithubOwners []" in m for m in found)
