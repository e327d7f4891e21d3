"""The real program, run afresh under Pulumi's mock engine for each test: resources,
wiring, protection, exact policy documents and outputs of the prod stack."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from audit.render import Rendering, render
from tests.expected import (
    DEPLOY_PRINCIPALS,
    DOMAIN_ARN,
    DOMAIN_READ,
    GITHUB_OIDC_PROVIDER,
    OWNER,
    PACKAGE_ARN,
    REGION,
    REPOSITORY_ARN,
    REPOSITORY_READ,
    SECONDARIES,
    STACK_CREATES_OIDC_PROVIDER,
)

SECONDARY_ROOTS = [f"arn:aws:iam::{a}:root" for a in SECONDARIES]

DENY_DELETES = {
    "Sid": "DenyIrreversibleDeletes",
    "Effect": "Deny",
    "Principal": "*",
    "Action": [
        "codeartifact:DeleteDomain",
        "codeartifact:DeleteRepository",
        "codeartifact:DeletePackage",
        "codeartifact:DeletePackageVersions",
        "codeartifact:DisposePackageVersions",
    ],
    "Resource": "*",
}
DENY_OVERWRITE = {
    "Sid": "DenyOverwritingVersions",
    "Effect": "Deny",
    "Principal": "*",
    "Action": ["codeartifact:CopyPackageVersions"],
    "Resource": "*",
}
DENY_REOPEN = {
    "Sid": "DenyReopeningInternalNames",
    "Effect": "Deny",
    "Principal": "*",
    "Action": [
        "codeartifact:CreatePackageGroup",
        "codeartifact:UpdatePackageGroup",
        "codeartifact:UpdatePackageGroupOriginConfiguration",
        "codeartifact:DeletePackageGroup",
        "codeartifact:PutPackageOriginConfiguration",
        "codeartifact:AssociateExternalConnection",
        "codeartifact:DisassociateExternalConnection",
        "codeartifact:UpdateRepository",
        "codeartifact:AssociateWithDownstreamRepository",
        "codeartifact:PutRepositoryPermissionsPolicy",
        "codeartifact:DeleteRepositoryPermissionsPolicy",
        "codeartifact:DeleteDomainPermissionsPolicy",
    ],
    "Resource": "*",
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": DEPLOY_PRINCIPALS}},
}
DENY_STATUS = {
    "Sid": "DenyChangingVersionStatus",
    "Effect": "Deny",
    "Principal": "*",
    "Action": ["codeartifact:UpdatePackageVersionsStatus"],
    "Resource": "*",
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": DEPLOY_PRINCIPALS}},
}
DENIES = [DENY_DELETES, DENY_OVERWRITE, DENY_REOPEN, DENY_STATUS]
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OwnerAccountAdministersThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
            "Action": [
                "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
                "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
            ],
            "Resource": "*",
        },
        {
            "Sid": "CodeArtifactUsesKeyForOwnerAccount",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
                       "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": OWNER,
                                           "kms:ViaService": f"codeartifact.{REGION}.amazonaws.com"}},
        },
        {
            "Sid": "DenyKeyLoss",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey"],
            "Resource": "*",
        },
    ],
}
BEARER = {
    "Sid": "BearerTokenForCodeArtifactOnly",
    "Effect": "Allow",
    "Action": "sts:GetServiceBearerToken",
    "Resource": "*",
    "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
}


@pytest.fixture
def prod(fresh_prod: Rendering) -> Rendering:
    """Here `prod` is the program run afresh for each test (tests/conftest.py shares one otherwise)."""
    return fresh_prod


def test_declares_every_resource_of_the_registry(prod):
    counts = Counter(r.type for r in prod.resources)
    assert counts == {
        "pulumi:providers:aws": 1 + len(SECONDARIES),
        "pulumi:providers:aws-native": 1,
        "aws:kms/key:Key": 1,
        "aws:kms/alias:Alias": 1,
        "aws:codeartifact/domain:Domain": 1,
        "aws:codeartifact/repository:Repository": 2,
        "aws:codeartifact/domainPermissions:DomainPermissions": 1,
        "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy": 2,
        "aws-native:codeartifact:PackageGroup": 2,
        "aws:iam/policy:Policy": len(SECONDARIES),
        "aws:iam/role:Role": len(SECONDARIES) + 2,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": len(SECONDARIES),
        "aws:iam/rolePolicy:RolePolicy": 2,
    }
    assert Counter(c.type for c in prod.components) == {
        "pypi-registry:index:Registry": 1,
        "pypi-registry:index:SecondaryAccountReader": len(SECONDARIES),
        "pypi-registry:index:GithubPublishers": 1,
    }


def test_every_child_is_parented_to_its_component_and_providers_are_top_level(prod):
    components = {c.urn for c in prod.components}
    for resource in prod.resources:
        if resource.type.startswith("pulumi:providers:"):
            # Built in one place (components/accounts.py), where the program is composed.
            assert resource.parent not in components, resource.name
        else:
            assert resource.parent in components, resource.name


def test_kms_key_rotates_and_encrypts_the_domain(prod):
    key = prod.one("aws:kms/key:Key", "registry-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.policy("policy") == KEY_POLICY
    domain = prod.one("aws:codeartifact/domain:Domain", "registry-domain")
    assert domain.inputs["domain"] == "acme"
    assert domain.inputs["encryptionKey"] == key.outputs["arn"]
    assert key.urn in domain.property_dependencies["encryptionKey"]


def test_store_has_only_the_public_pypi_connection(prod):
    store = prod.one("aws:codeartifact/repository:Repository", "registry-pypi-store")
    assert store.inputs["repository"] == "pypi-store"
    assert store.inputs["externalConnections"] == {"externalConnectionName": "public:pypi"}
    assert "upstreams" not in store.inputs


def test_internal_has_the_store_as_upstream_by_reference(prod):
    store = prod.one("aws:codeartifact/repository:Repository", "registry-pypi-store")
    internal = prod.one("aws:codeartifact/repository:Repository", "registry-internal")
    assert internal.inputs["upstreams"] == [{"repositoryName": "pypi-store"}]
    assert "externalConnections" not in internal.inputs
    # Wired to the store's output, so it is created after the store exists.
    assert internal.property_dependencies["upstreams"] == [store.urn]


def test_package_group_per_prefix_blocks_public_pypi_and_publishes_only_to_internal(prod):
    internal = prod.one("aws:codeartifact/repository:Repository", "registry-internal")
    groups = {g.inputs["pattern"]: g for g in prod.of_type("aws-native:codeartifact:PackageGroup")}
    assert set(groups) == {"/pypi//acme-~", "/pypi//acmecorp-~"}
    for group in groups.values():
        assert group.inputs["domainName"] == "acme"
        assert group.inputs["domainOwner"] == OWNER
        assert group.inputs["originConfiguration"] == {
            "restrictions": {
                "externalUpstream": {"restrictionMode": "BLOCK"},
                "internalUpstream": {"restrictionMode": "ALLOW"},
                "publish": {"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["internal"]},
            }
        }
        assert group.property_dependencies["originConfiguration"] == [internal.urn]
        assert group.provider.endswith("pulumi:providers:aws-native::owner-native")


def test_domain_repositories_and_key_are_protected_and_retained(prod):
    kept = {r.name for r in prod.resources if r.protect}
    assert kept == {"registry-key", "registry-domain", "registry-pypi-store", "registry-internal"}
    assert all(r.retain_on_delete for r in prod.resources if r.protect)
    assert not any(r.retain_on_delete for r in prod.resources if not r.protect)
    # Unprotected but kept when removed: the GitHub OIDC provider, which the CI roles outside the stack trust.
    creating = render("prod", overrides=STACK_CREATES_OIDC_PROVIDER)
    assert {r.name for r in creating.resources if r.retain_on_delete and not r.protect} == {"publishers-github-oidc"}


def test_owner_resources_use_a_provider_pinned_to_the_owner_account(prod):
    owner = prod.one("pulumi:providers:aws", "owner")
    assert json.loads(owner.inputs["allowedAccountIds"]) == [OWNER]
    assert owner.inputs["region"] == REGION
    native = prod.one("pulumi:providers:aws-native", "owner-native")
    assert json.loads(native.inputs["allowedAccountIds"]) == [OWNER]
    for resource in prod.resources:
        if resource.type.startswith(("aws:codeartifact", "aws:kms", "aws-native:")):
            assert resource.account == OWNER, resource.name


@pytest.mark.parametrize("account", SECONDARIES)
def test_reader_resources_live_in_their_secondary_account(prod, account):
    provider = prod.one("pulumi:providers:aws", f"reader-{account}-provider")
    assert json.loads(provider.inputs["allowedAccountIds"]) == [account]
    assert json.loads(provider.inputs["assumeRoles"]) == [
        {"roleArn": f"arn:aws:iam::{account}:role/pypi-registry-deploy", "sessionName": "pypi-registry-deploy"}
    ]
    names = {f"reader-{account}-read-policy", f"reader-{account}-reader-role",
             f"reader-{account}-read-policy-attachment"}
    in_account = {r.name for r in prod.resources if r.provider == provider.urn}
    assert in_account == names
    assert all(r.account == account for r in prod.resources if r.name in names)

    role = prod.one("aws:iam/role:Role", f"reader-{account}-reader-role")
    assert role.inputs["name"] == "codeartifact-pypi-reader"
    assert role.policy("assumeRolePolicy") == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SameAccountPrincipals",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "sts:AssumeRole",
        }],
    }
    attachment = prod.one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"reader-{account}-read-policy-attachment"
    )
    policy = prod.one("aws:iam/policy:Policy", f"reader-{account}-read-policy")
    assert attachment.inputs["policyArn"] == f"arn:aws:iam::{account}:policy/codeartifact-pypi-reader-acme"
    assert attachment.inputs["policyArn"] == policy.outputs["arn"]
    assert attachment.inputs["role"] == "codeartifact-pypi-reader"


def test_reader_policy_reads_the_owner_registry_and_gets_bearer_tokens_only_for_codeartifact(prod):
    policy = prod.one("aws:iam/policy:Policy", f"reader-{SECONDARIES[0]}-read-policy")
    assert policy.policy("policy") == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "CodeArtifactDomainRead", "Effect": "Allow", "Action": DOMAIN_READ, "Resource": DOMAIN_ARN},
            {
                "Sid": "CodeArtifactRepositoryRead",
                "Effect": "Allow",
                "Action": REPOSITORY_READ,
                "Resource": [
                    f"{REPOSITORY_ARN}/pypi-store", f"{PACKAGE_ARN}/pypi-store/*",
                    f"{REPOSITORY_ARN}/internal", f"{PACKAGE_ARN}/internal/*",
                ],
            },
            BEARER,
        ],
    }


def test_domain_policy_grants_token_to_secondaries_and_denies_irreversible_deletes(prod):
    policy = prod.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    assert policy.policy("policyDocument") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SecondaryAccountsGetToken",
                "Effect": "Allow",
                "Principal": {"AWS": SECONDARY_ROOTS},
                "Action": DOMAIN_READ,
                "Resource": DOMAIN_ARN,
            },
            *DENIES,
        ],
    }


@pytest.mark.parametrize("repository", ["pypi-store", "internal"])
def test_repository_policies_grant_read_only_to_secondaries(prod, repository):
    policy = prod.one(
        "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy", f"registry-{repository}-policy"
    )
    repo = prod.one("aws:codeartifact/repository:Repository", f"registry-{repository}")
    assert policy.inputs["repository"] == repository
    assert policy.property_dependencies["repository"] == [repo.urn]
    assert policy.policy("policyDocument") == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SecondaryAccountsRead",
            "Effect": "Allow",
            "Principal": {"AWS": SECONDARY_ROOTS},
            "Action": REPOSITORY_READ,
            "Resource": [f"{REPOSITORY_ARN}/{repository}", f"{PACKAGE_ARN}/{repository}/*"],
        }],
    }


def test_github_oidc_provider_is_created_for_sts_audience():
    rendering = render("prod", overrides=STACK_CREATES_OIDC_PROVIDER)
    provider = rendering.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "publishers-github-oidc")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider.outputs["arn"] == GITHUB_OIDC_PROVIDER


@pytest.mark.parametrize(
    ("repository", "role_name", "subjects", "packages"),
    [
        ("acme/acme-core", "gh-publish-acme-acme-core", "repo:acme/acme-core:environment:pypi",
         ["acme-core", "acme-core-testing"]),
        ("acme/data-tools", "gh-publish-acme-data-tools",
         ["repo:acme/data-tools:environment:pypi", "repo:acme@1342004/data-tools@86712231:environment:pypi"],
         ["acme-data-tools"]),
    ],
)
def test_publisher_role_trust_and_permissions(prod, repository, role_name, subjects, packages):
    slug = repository.replace("/", "-")
    role = prod.one("aws:iam/role:Role", f"publishers-{slug}")
    assert role.inputs["name"] == role_name
    assert role.account == OWNER
    assert role.policy("assumeRolePolicy") == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActionsOidc",
            "Effect": "Allow",
            "Principal": {"Federated": GITHUB_OIDC_PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": subjects,
            }},
        }],
    }
    inline = prod.one("aws:iam/rolePolicy:RolePolicy", f"publishers-{slug}-publish")
    assert inline.inputs["role"] == role_name
    package_arns = [f"{PACKAGE_ARN}/internal/pypi//{name}" for name in packages]
    assert inline.policy("policy") == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
             "Resource": DOMAIN_ARN},
            BEARER,
            {"Sid": "InternalRepositoryEndpoint", "Effect": "Allow",
             "Action": ["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"],
             "Resource": f"{REPOSITORY_ARN}/internal"},
            {"Sid": "PublishOwnPackages", "Effect": "Allow",
             "Action": ["codeartifact:PublishPackageVersion", "codeartifact:DescribePackageVersion",
                        "codeartifact:ListPackageVersions", "codeartifact:ListPackageVersionAssets"],
             "Resource": package_arns[0] if len(package_arns) == 1 else package_arns},
        ],
    }


def test_outputs(prod):
    endpoint = f"https://acme-{OWNER}.d.codeartifact.{REGION}.amazonaws.com/pypi/internal/"
    login = f"--domain acme --domain-owner {OWNER} --repository internal --region {REGION}"
    assert prod.outputs == {
        "domainName": "acme",
        "domainOwner": OWNER,
        "region": REGION,
        "repositoryEndpoint": endpoint,
        "indexUrl": endpoint + "simple/",
        "pipLoginCommand": f"aws codeartifact login --tool pip {login}",
        "twineLoginCommand": f"aws codeartifact login --tool twine {login}",
        "readerRoleArns": {a: f"arn:aws:iam::{a}:role/codeartifact-pypi-reader" for a in SECONDARIES},
        "publisherRoleArns": {
            "acme/acme-core": f"arn:aws:iam::{OWNER}:role/gh-publish-acme-acme-core",
            "acme/data-tools": f"arn:aws:iam::{OWNER}:role/gh-publish-acme-data-tools",
        },
    }


def test_organization_mode_grants_through_principal_org_id():
    rendering = render("prod", overrides={"pypi-registry:organizationId": "o-a1b2c3d4e5"})
    org = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    domain = rendering.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    grant = domain.policy("policyDocument")["Statement"][0]
    assert (grant["Principal"], grant["Condition"]) == ("*", org)
    for policy in rendering.of_type("aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy"):
        statement = policy.policy("policyDocument")["Statement"][0]
        assert (statement["Principal"], statement["Condition"]) == ("*", org)
    # Readers are still deployed into the listed accounts.
    assert len(rendering.of_type("aws:iam/policy:Policy")) == len(SECONDARIES)


def test_break_glass_role_is_exempt_from_every_deny_only_when_configured(prod):
    role = f"arn:aws:iam::{OWNER}:role/registry-break-glass"
    rendering = render("prod", overrides={"pypi-registry:breakGlassRoleArn": role})
    policy = rendering.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    conditions = {s["Sid"]: s.get("Condition") for s in policy.policy("policyDocument")["Statement"]}
    assert conditions["DenyIrreversibleDeletes"] == conditions["DenyOverwritingVersions"] == {
        "ArnNotEquals": {"aws:PrincipalArn": role}
    }
    reopen = conditions["DenyReopeningInternalNames"]
    assert reopen == {"ArnNotEquals": {"aws:PrincipalArn": [*DEPLOY_PRINCIPALS, role]}}
    key = rendering.one("aws:kms/key:Key", "registry-key")
    assert key.policy("policy")["Statement"][-1]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role}}
    default = prod.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    conditions = {s["Sid"]: s.get("Condition") for s in default.policy("policyDocument")["Statement"]}
    assert conditions["DenyIrreversibleDeletes"] is None and conditions["DenyOverwritingVersions"] is None


def test_existing_github_oidc_provider_is_reused_by_arn():
    rendering = render("prod", overrides={"pypi-registry:createGithubOidcProvider": False})
    assert rendering.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    for role in rendering.of_type("aws:iam/role:Role"):
        if role.name.startswith("publishers-"):
            assert role.policy("assumeRolePolicy")["Statement"][0]["Principal"] == {"Federated": GITHUB_OIDC_PROVIDER}


def test_without_readers_no_repository_policy_and_domain_policy_only_denies():
    rendering = render("prod", overrides={"pypi-registry:secondaryAccountIds": []})
    assert rendering.of_type("aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy") == []
    domain = rendering.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    assert domain.policy("policyDocument")["Statement"] == DENIES
    assert rendering.outputs["readerRoleArns"] == {}


def test_no_output_carries_a_token(prod):
    text = json.dumps(prod.outputs).lower()
    assert "token" not in text.replace("get-authorization-token", "")
    assert "aws:" not in prod.outputs["indexUrl"]  # no basic-auth credentials in the URL


def test_publisher_sessions_last_at_most_an_hour_and_reader_sessions_are_bounded(prod):
    publishers = [r for r in prod.of_type("aws:iam/role:Role") if r.name.startswith("publishers-")]
    assert publishers and all(r.inputs["maxSessionDuration"] <= 3600 for r in publishers)
    readers = [r for r in prod.of_type("aws:iam/role:Role") if r.name.startswith("reader-")]
    # A reader's session may last as long as a CodeArtifact token can (12 hours), no longer.
    assert readers and all(r.inputs["maxSessionDuration"] <= 43200 for r in readers)
