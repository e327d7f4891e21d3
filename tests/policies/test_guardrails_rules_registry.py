"""Each guardrail, called directly (tests/policies/support.py), on tokens, writes, repositories,
protection, prefixes and documents: (4) to (9) and the advisory key rule. A bad resource it must
report and a good one it must pass; good documents come from the same pure functions the program
uses, bad ones are those documents weakened one way at a time."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pulumi_policy import PolicyResource

from model.documents.github import publisher_permissions_policy, publisher_trust_policy
from model.documents.readers import reader_identity_policy, reader_trust_policy
from model.trust_policy import to_json
from tests.expected import (
    DOMAIN,
    DOMAIN_POLICY,
    KMS_KEY,
    MANAGED_POLICY,
    OWNER,
    PACKAGE_ARN,
    REGION,
    REPOSITORY,
    REPOSITORY_POLICY,
    ROLE,
    ROLE_POLICY,
)
from tests.policies.support import (
    PUBLISHER,
    SECONDARY,
    SETTINGS,
    domain_policy,
    group,
    read_statement,
    repository_policy,
    stack_resource,
    stack_violations,
    trust,
    violations,
    with_statement,
)

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
