"""Each guardrail, called directly with ResourceValidationArgs/StackValidationArgs: a bad
resource it must report and a good one it must pass. Good documents come from the same
pure functions the program uses; bad ones are those documents weakened one way at a time."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from model.documents.codeartifact import domain_permissions_policy, repository_permissions_policy
from model.documents.github import publisher_permissions_policy, publisher_trust_policy
from model.documents.readers import reader_identity_policy, reader_trust_policy
from model.parse import parse_settings
from model.trust_policy import to_json
from policies.guardrails import CONFIG_PROPERTIES, POLICIES, policy_config
from tests.expected import (
    DOMAIN,
    DOMAIN_POLICY,
    KMS_KEY,
    MANAGED_POLICY,
    OWNER,
    PACKAGE_ARN,
    PACKAGE_GROUP,
    REGION,
    REPOSITORY,
    REPOSITORY_POLICY,
    ROLE,
    ROLE_POLICY,
    STRANGER,
)

SECONDARY = "444455556666"  # the one secondary account of SETTINGS
ORGANIZATION = "o-a1b2c3d4e5"

SETTINGS = parse_settings(
    {
        "ownerAccountId": OWNER,
        "domainName": "acme",
        "internalPrefixes": ["acme-", "acmecorp-"],
        "secondaryAccountIds": [SECONDARY],
        "publishers": [
            {"repository": "acme/acme-core", "packages": ["acme-core"]},
            {
                "repository": "acme/data-tools",
                "packages": ["acme-data-tools"],
                "subjects": [
                    "repo:acme/data-tools:ref:refs/tags/v1.0.0",
                    "repo:acme@1342004/data-tools@86712231:environment:pypi",
                ],
            },
        ],
    },
    REGION,
)
ORG_SETTINGS = replace(SETTINGS, organization_id=ORGANIZATION)
PUBLISHER = SETTINGS.publishers[1]

CONFIG = policy_config({
    "ownerAccountId": OWNER,
    "allowedAccountIds": [SECONDARY],
    "allowedOrganizationId": ORGANIZATION,
    "allowedExternalConnections": ["public:pypi"],
    "allowedGithubOwners": ["acme"],
    "internalPrefixes": ["acme-", "acmecorp-"],
    "publisherPackages": {p.repository: list(p.packages) for p in SETTINGS.publishers},
})


def policy_named(name: str):
    return next(p for p in POLICIES if p.name == name)


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def provider(account: str = OWNER) -> PolicyProviderResource:
    # The engine hands provider config over as strings, lists as JSON.
    props = {"allowedAccountIds": json.dumps([account]), "region": REGION}
    return PolicyProviderResource("pulumi:providers:aws", unknown_checking_proxy(props),
                                  f"urn:pulumi:test::p::pulumi:providers:aws::{account}", account)


def violations(name: str, resource_type: str, props: dict, *, account: str = OWNER,
               config: dict | None = None) -> list[str]:
    """What one resource policy reports for one resource, props wrapped as CrossGuard wraps them."""
    policy = policy_named(name)
    assert isinstance(policy, ResourceValidationPolicy)
    urn = f"urn:pulumi:test::p::{resource_type}::r"
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(copy.deepcopy(props)), urn, "r",
                                  options(), provider(account), CONFIG.get(name, {}) if config is None else config)
    found: list[str] = []
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def stack_resource(resource_type: str, name: str, props: dict, *, protect: bool = False,
                   dependencies: dict | None = None) -> PolicyResource:
    return PolicyResource(resource_type, unknown_checking_proxy(props), f"urn:pulumi:test::p::{resource_type}::{name}",
                          name, options(protect), provider(), None, [], dependencies or {})


def stack_violations(name: str, resources: list[PolicyResource], config: dict | None = None) -> list[tuple]:
    policy = policy_named(name)
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple] = []
    args = StackValidationArgs(resources, CONFIG.get(name, {}) if config is None else config)
    policy.validate(args, lambda message, urn=None: found.append((message, urn)))
    return found


def domain_policy(settings=SETTINGS) -> dict:
    return {"policyDocument": to_json(domain_permissions_policy(settings)), "domain": "acme"}


def repository_policy(settings=SETTINGS, repository: str = "internal", document: dict | None = None) -> dict:
    document = document or repository_permissions_policy(settings, repository)
    return {"policyDocument": to_json(document), "repository": repository, "domain": "acme"}


def with_statement(document: dict, **changes) -> dict:
    """The document with its first statement changed (None removes a key)."""
    document = copy.deepcopy(document)
    statement = document["Statement"][0]
    for key, value in changes.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return document


def read_statement(principal, actions, condition=None) -> dict:
    statement = {"Sid": "Grant", "Effect": "Allow", "Principal": principal, "Action": actions,
                 "Resource": f"{PACKAGE_ARN}/internal/*"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


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


def trust(subjects=None, conditions=None) -> dict:
    publisher = replace(PUBLISHER, subjects=tuple(subjects)) if subjects else PUBLISHER
    document = publisher_trust_policy(SETTINGS, publisher)
    if conditions is not None:
        document["Statement"][0]["Condition"] = conditions
    return {"assumeRolePolicy": to_json(document), "name": publisher.role_name}


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


# --- (4) bearer tokens: CodeArtifact only, identity policies only --------------------------------


def test_bearer_token_passes_reader_and_publisher_policies():
    reader = {"policy": to_json(reader_identity_policy(SETTINGS))}
    publisher = {"policy": to_json(publisher_permissions_policy(SETTINGS, PUBLISHER))}
    assert violations("bearer-token-codeartifact-only", MANAGED_POLICY, reader) == []
    assert violations("bearer-token-codeartifact-only", ROLE_POLICY, publisher) == []
    assert violations("bearer-token-codeartifact-only", DOMAIN_POLICY, domain_policy()) == []


def identity(action, condition=None) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    if condition is not None:
        statement["Condition"] = condition
    return {"policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


@pytest.mark.parametrize("props", [
    identity("sts:GetServiceBearerToken"),
    identity("sts:*"),
    identity("sts:GetServiceBearerToken", {"StringLike": {"sts:AWSServiceName": "*"}}),
    identity("sts:GetServiceBearerToken", {"StringEquals": {"sts:AWSServiceName": "codecatalyst.amazonaws.com"}}),
    identity("sts:GetServiceBearerToken", {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"},
                                           "StringEqualsIfExists": {"sts:AWSServiceName": "x"}}),
], ids=["no-condition", "sts-star", "string-like", "other-service", "extra-if-exists"])
def test_bearer_token_reports_identity_grants_without_the_service_condition(props):
    found = violations("bearer-token-codeartifact-only", ROLE_POLICY, props)
    assert len(found) == 1 and "sts:AWSServiceName" in found[0]


def test_bearer_token_reports_it_in_a_resource_policy():
    document = read_statement({"AWS": SECONDARY}, ["codeartifact:ReadFromRepository", "sts:GetServiceBearerToken"])
    found = violations("bearer-token-codeartifact-only", REPOSITORY_POLICY, repository_policy(document=document))
    assert len(found) == 1 and "no effect in a resource policy" in found[0]


# --- (5) no codeartifact write on every resource ----------------------------------------------------


def test_no_wildcard_write_passes_publisher_and_reader_policies():
    publisher = {"policy": to_json(publisher_permissions_policy(SETTINGS, PUBLISHER))}
    reader = {"policy": to_json(reader_identity_policy(SETTINGS))}
    assert violations("no-codeartifact-write-on-any-resource", ROLE_POLICY, publisher) == []
    assert violations("no-codeartifact-write-on-any-resource", MANAGED_POLICY, reader) == []
    # Read actions on "*" are not writes.
    assert violations("no-codeartifact-write-on-any-resource", ROLE_POLICY, identity("codeartifact:List*")) == []


@pytest.mark.parametrize(("resource_type", "props"), [
    (ROLE_POLICY, identity("codeartifact:PublishPackageVersion")),
    (ROLE_POLICY, identity("codeartifact:*")),
    (MANAGED_POLICY, identity("*")),
    (ROLE_POLICY, {"policy": json.dumps({"Statement": {"Effect": "Allow", "Action": "codeartifact:*",
                                                       "Resource": f"{PACKAGE_ARN}/internal/*"}})}),
    (ROLE_POLICY, {"policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Action": "codeartifact:DeleteRepository",
        "Resource": f"arn:aws:codeartifact:{REGION}:{OWNER}:*"}]})}),
    (ROLE, {"assumeRolePolicy": to_json(reader_trust_policy(OWNER)),
            "inlinePolicies": [{"name": "ci", "policy": identity("codeartifact:Put*")["policy"]}]}),
], ids=["publish-star", "all-star", "star-star", "all-on-packages", "account-wide-arn", "role-inline"])
def test_no_wildcard_write_reports_writes_on_every_resource(resource_type, props):
    assert violations("no-codeartifact-write-on-any-resource", resource_type, props)


# --- (6) external connections -----------------------------------------------------------------------


STORE = {"repository": "pypi-store", "domain": "acme", "externalConnections": {"externalConnectionName": "public:pypi"}}
INTERNAL = {"repository": "internal", "domain": "acme", "upstreams": [{"repositoryName": "pypi-store"}]}


@pytest.mark.parametrize("props", [STORE, INTERNAL], ids=["store", "internal"])
def test_external_connection_passes_the_store_and_the_internal_repository(props):
    assert violations("repository-external-connection-allowed", REPOSITORY, props) == []


@pytest.mark.parametrize(("resource_type", "props", "expected"), [
    (REPOSITORY, {**STORE, "externalConnections": {"externalConnectionName": "public:npmjs"}}, "'public:npmjs'"),
    ("aws-native:codeartifact:Repository",
     {"repositoryName": "mixed", "externalConnections": ["public:pypi", "public:maven-central"]}, "2 external"),
    (REPOSITORY, {**STORE, "upstreams": [{"repositoryName": "internal"}]}, "no other use"),
], ids=["not-allowed", "two-connections", "with-upstreams"])
def test_external_connection_reports_unexpected_connections(resource_type, props, expected):
    found = violations("repository-external-connection-allowed", resource_type, props)
    assert any(expected in message for message in found), found


def publisher_stack(extra: list[PolicyResource] = ()) -> list[PolicyResource]:
    publish = {"role": PUBLISHER.role_name,
               "policy": to_json(publisher_permissions_policy(SETTINGS, PUBLISHER))}
    return [
        stack_resource(REPOSITORY, "store", STORE),
        stack_resource(REPOSITORY, "internal", INTERNAL),
        stack_resource(ROLE_POLICY, "publish", publish),
        stack_resource(DOMAIN_POLICY, "domain-policy", domain_policy()),
        stack_resource(REPOSITORY_POLICY, "store-policy", repository_policy(repository="pypi-store")),
        *extra,
    ]


def publish_grant(resource: str) -> str:
    return json.dumps({"Statement": [{"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
                                      "Resource": resource}]})


def test_store_has_no_publishers_passes_publishers_of_internal():
    owner_grant = read_statement({"AWS": f"arn:aws:iam::{OWNER}:role/ci"}, "codeartifact:PublishPackageVersion")
    internal_policy = repository_policy(repository="internal", document=owner_grant)
    resources = publisher_stack([stack_resource(REPOSITORY_POLICY, "internal-policy", internal_policy)])
    assert stack_violations("external-connection-repository-has-no-publishers", resources) == []


@pytest.mark.parametrize("extra", [
    stack_resource(ROLE_POLICY, "bad", {"policy": publish_grant(f"{PACKAGE_ARN}/pypi-store/*")}),
    stack_resource(MANAGED_POLICY, "bad", {"policy": publish_grant("*")}),
    stack_resource(ROLE_POLICY, "bad", {"policy": publish_grant(f"{PACKAGE_ARN}/*/pypi//acme-core")}),
    stack_resource(REPOSITORY_POLICY, "bad", repository_policy(
        repository="pypi-store",
        document=with_statement(read_statement({"AWS": f"arn:aws:iam::{OWNER}:root"}, "codeartifact:Publish*"),
                                Resource="*"))),
], ids=["store-packages", "every-resource", "any-repository", "store-repository-policy"])
def test_store_has_no_publishers_reports_publish_grants_into_the_store(extra):
    found = stack_violations("external-connection-repository-has-no-publishers", publisher_stack([extra]))
    assert len(found) == 1
    message, urn = found[0]
    assert urn == extra.urn and "into pypi-store with external connection public:pypi" in message


# --- (7) protection ---------------------------------------------------------------------------------


def registry(protect_key: bool = True) -> list[PolicyResource]:
    return [
        stack_resource(KMS_KEY, "key", {"enableKeyRotation": True}, protect=protect_key),
        stack_resource(DOMAIN, "domain", {"domain": "acme"}, protect=True),
        stack_resource(REPOSITORY, "store", STORE, protect=True),
        stack_resource(REPOSITORY, "internal", INTERNAL, protect=True),
        stack_resource(ROLE_POLICY, "unprotected-is-fine", {"policy": "{}"}),
    ]


def test_registry_protected_passes_protected_domain_repositories_and_key():
    assert stack_violations("registry-resources-protected", registry()) == []


def test_registry_protected_reports_an_unprotected_key():
    resources = registry(protect_key=False)
    found = stack_violations("registry-resources-protected", resources)
    assert found == [(found[0][0], resources[0].urn)] and "key (aws:kms/key:Key) is not protected" in found[0][0]


# --- (8) internal prefixes blocked from public PyPI -------------------------------------------------


def group(pattern: str, external: str = "BLOCK") -> PolicyResource:
    return stack_resource(PACKAGE_GROUP, pattern, {"domainName": "acme", "pattern": pattern, "originConfiguration": {
        "restrictions": {"externalUpstream": {"restrictionMode": external},
                         "publish": {"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["internal"]}}}})


@pytest.mark.parametrize("groups", [
    [group("/pypi//acme-~"), group("/pypi//acmecorp-~")],
    [group("/pypi//acme~")],
    [group("/pypi//acme~"), group("/pypi//acme-tools~", "INHERIT"), group("/pypi//public-thing~", "ALLOW")],
], ids=["one-per-prefix", "one-broader-group", "narrower-inherit"])
def test_prefixes_block_external_passes_blocking_groups(groups):
    assert stack_violations("internal-prefixes-block-external-upstream", groups) == []


@pytest.mark.parametrize(("groups", "expected"), [
    ([group("/pypi//acme-~")], "'acmecorp-' has no package group"),
    ([group("/pypi//acme-~", "ALLOW"), group("/pypi//acmecorp-~")], "external upstream ALLOW, not BLOCK"),
    ([group("/pypi//acme~"), group("/pypi//acme-~", "ALLOW")], "/pypi//acme-~ for internal prefix 'acme-'"),
    ([group("/pypi//acme-~"), group("/pypi//acmecorp-~"), group("/pypi//acme-x$", "ALLOW")], "/pypi//acme-x$ under"),
    ([group("/pypi//acme-"), group("/pypi//acmecorp-~")], "'acme-' has no package group"),
], ids=["missing", "allow", "more-specific-allows", "exact-name-allows", "not-a-prefix-pattern"])
def test_prefixes_block_external_reports_unguarded_prefixes(groups, expected):
    found = stack_violations("internal-prefixes-block-external-upstream", groups)
    assert len(found) == 1 and expected in found[0][0], found


# --- (9) size limits and valid JSON ------------------------------------------------------------------


def test_document_limits_passes_every_document_the_program_builds():
    for resource_type, props in [
        (DOMAIN_POLICY, domain_policy()),
        (REPOSITORY_POLICY, repository_policy()),
        (ROLE, trust()),
        (MANAGED_POLICY, {"policy": to_json(reader_identity_policy(SETTINGS))}),
        (ROLE_POLICY, {"policy": to_json(publisher_permissions_policy(SETTINGS, PUBLISHER))}),
    ]:
        assert violations("policy-documents-within-aws-limits", resource_type, props) == []


# Built around parse_settings, which would refuse these: the pack must not rely on it.
MANY_ACCOUNTS = replace(SETTINGS, secondary_account_ids=tuple(f"{200000000000 + i:012d}" for i in range(200)))
MANY_SUBJECTS = replace(PUBLISHER, subjects=tuple(f"repo:acme/data-tools:environment:e{i}" for i in range(60)))


@pytest.mark.parametrize(("resource_type", "props", "expected"), [
    (DOMAIN_POLICY, domain_policy(MANY_ACCOUNTS), "over the AWS limit of 5120"),
    (REPOSITORY_POLICY, repository_policy(MANY_ACCOUNTS), "over the AWS limit of 5120"),
    (ROLE, {"assumeRolePolicy": to_json(publisher_trust_policy(SETTINGS, MANY_SUBJECTS))},
     "over the AWS limit of 2048"),
    (MANAGED_POLICY, {"policy": to_json(read_statement(
        {"AWS": OWNER}, [f"codeartifact:ReadFromRepository{i}" for i in range(200)]))},
     "over the AWS limit of 6144"),
    (ROLE_POLICY, {"policy": '{"Statement": [}'}, "not valid JSON"),
], ids=["domain-policy", "repository-policy", "trust-policy", "managed-policy", "invalid-json"])
def test_document_limits_reports_oversized_and_invalid_documents(resource_type, props, expected):
    found = violations("policy-documents-within-aws-limits", resource_type, props)
    assert len(found) == 1 and expected in found[0], found


# --- advisory: customer-managed key with rotation ---------------------------------------------------


KEY_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}, "Action": "kms:*", "Resource": "*"}]})


def domain_with_key(rotation: bool, linked: bool = True, policy: str | None = KEY_POLICY) -> list[PolicyResource]:
    key_props = {"enableKeyRotation": rotation, "arn": "arn:aws:kms:k", "keyId": "k"}
    if policy:
        key_props["policy"] = policy
    key = stack_resource(KMS_KEY, "key", key_props, protect=True)
    dependencies = {"encryptionKey": [key]} if linked else {}
    domain = stack_resource(DOMAIN, "domain", {"domain": "acme", "encryptionKey": "arn:aws:kms:k"},
                            protect=True, dependencies=dependencies)
    return [key, domain]


@pytest.mark.parametrize("linked", [True, False], ids=["property-dependency", "same-arn"])
def test_domain_key_passes_a_rotating_key_of_the_stack(linked):
    assert stack_violations("domain-key-customer-managed-with-rotation", domain_with_key(True, linked)) == []


def test_domain_key_policy_is_required_inline_or_as_its_own_resource():
    assert stack_violations("domain-key-has-explicit-policy", domain_with_key(True)) == []
    key, domain = domain_with_key(True, policy=None)
    found = stack_violations("domain-key-has-explicit-policy", [key, domain])
    assert len(found) == 1 and "has no key policy" in found[0][0] and found[0][1] == key.urn
    key_policy = stack_resource("aws:kms/keyPolicy:KeyPolicy", "key-policy", {"keyId": "k", "policy": KEY_POLICY},
                                dependencies={"keyId": [key]})
    assert stack_violations("domain-key-has-explicit-policy", [key, domain, key_policy]) == []


@pytest.mark.parametrize(("resources", "expected"), [
    (domain_with_key(False), "does not have enableKeyRotation"),
    ([stack_resource(DOMAIN, "domain", {"domain": "acme"})], "AWS managed key"),
    ([stack_resource(DOMAIN, "domain", {"domain": "acme", "encryptionKey": "arn:aws:kms:other"})],
     "does not manage"),
], ids=["no-rotation", "aws-managed", "external-key"])
def test_domain_key_reports_keys_without_rotation(resources, expected):
    found = stack_violations("domain-key-customer-managed-with-rotation", resources)
    assert len(found) == 1 and expected in found[0][0]
