"""The floor: a bare Pulumi program declaring the same custom resources as `__main__.py`.

For N secondary accounts, M publishers and a mode (explicit, organization, stackset), it declares
under Pulumi's mock engine exactly the resource types and counts the real program declares (one
`aws.Provider` and a reader policy, role and attachment per secondary account; a role and inline
policy per publisher; the registry's fixed resources; in StackSet mode the StackSet and one
instance per organizational unit instead of anything per account), with the typed pulumi_aws and
pulumi_aws_native classes and plain literal inputs of about the real size. It has no settings
validation, no components, no policy generation and records nothing: what it costs is what any
program declaring these resources under the mock engine costs. tests/bench/test_bench.py checks that it
declares the same multiset of resource types as the real rendering, so the two cannot drift apart.

It imports nothing from components/ or audit/. `python -m bench.scale --floor N M MODE` runs it
in a process of its own and prints its time and peak memory as JSON.
"""

from __future__ import annotations

import gc
import json
import resource
import time
from typing import Any

import pulumi

MODES = ("explicit", "organization", "stackset")
# What bench.scale's configuration holds besides N and M (kept equal by tests/bench/test_bench.py).
STACKSET_OUS = 4
INTERNAL_PREFIXES = ("acme-",)
REGION = "eu-west-1"
OWNER = "111122223333"
DOMAIN = "acme"
REPOSITORIES = ("pypi-store", "internal")

_ARN = f"arn:aws:codeartifact:{REGION}:{OWNER}"
_READ_ACTIONS = [
    "codeartifact:ReadFromRepository", "codeartifact:GetRepositoryEndpoint", "codeartifact:DescribeRepository",
    "codeartifact:ListPackages", "codeartifact:DescribePackage", "codeartifact:ListPackageVersions",
    "codeartifact:DescribePackageVersion", "codeartifact:ListPackageVersionAssets",
    "codeartifact:GetPackageVersionAsset", "codeartifact:GetPackageVersionReadme",
    "codeartifact:ListPackageVersionDependencies",
]
# Fixed documents of about the size the program sends (they do not grow with N or M here).
READ_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "CodeArtifactDomainRead", "Effect": "Allow", "Resource": f"{_ARN}:domain/{DOMAIN}",
     "Action": ["codeartifact:GetAuthorizationToken", "codeartifact:DescribeDomain",
                "codeartifact:ListRepositoriesInDomain"]},
    {"Sid": "CodeArtifactRepositoryRead", "Effect": "Allow", "Action": _READ_ACTIONS,
     "Resource": [f"{_ARN}:repository/{DOMAIN}/{r}" for r in REPOSITORIES]
     + [f"{_ARN}:package/{DOMAIN}/{r}/*" for r in REPOSITORIES]},
    {"Sid": "BearerToken", "Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
     "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
]})
RESOURCE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "SecondaryAccountsRead", "Effect": "Allow", "Principal": "*", "Action": _READ_ACTIONS,
     "Resource": [f"{_ARN}:repository/{DOMAIN}/internal", f"{_ARN}:package/{DOMAIN}/internal/*"],
     "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}},
]})
KEY_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "OwnerAccount", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
     "Action": "kms:*", "Resource": "*"},
    {"Sid": "CodeArtifactUse", "Effect": "Allow", "Principal": {"AWS": "*"},
     "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncrypt*"],
     "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": f"codeartifact.{REGION}.amazonaws.com",
                                                     "kms:CallerAccount": OWNER}}},
]})
PUBLISH_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Token", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
     "Resource": f"{_ARN}:domain/{DOMAIN}"},
    {"Sid": "PublishOwnPackages", "Effect": "Allow",
     "Action": ["codeartifact:PublishPackageVersion", "codeartifact:PutPackageMetadata"],
     "Resource": f"{_ARN}:package/{DOMAIN}/internal/pypi//acme-lib"},
    {"Sid": "BearerToken", "Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*"},
]})
GITHUB_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
     "Principal": {"Federated": f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"},
     "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                    "token.actions.githubusercontent.com:sub": "repo:acme/lib:environment:pypi"}}},
]})
READER_TRUST = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
                '"Principal":{"AWS":"arn:aws:iam::%s:root"}}]}')
TEMPLATE = json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
    "ReaderPolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
        "ManagedPolicyName": "codeartifact-pypi-reader-acme", "PolicyDocument": json.loads(READ_POLICY),
        "Roles": [{"Ref": "ReaderRole"}]}},
    "ReaderRole": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "codeartifact-pypi-reader", "MaxSessionDuration": 43200,
        "AssumeRolePolicyDocument": json.loads(READER_TRUST % "${AWS::AccountId}")}},
}})


class FloorMocks(pulumi.runtime.Mocks):
    """Returns each resource's inputs as its outputs; nothing else."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []


def has_readers(accounts: int, mode: str) -> bool:
    """Whether anyone reads cross-account, hence whether the repositories get permissions policies."""
    return mode != "explicit" or accounts > 0


def declare(accounts: int, publishers: int, mode: str, ous: int = STACKSET_OUS) -> None:
    """Declare the resources; must run inside a Pulumi program (see `run`)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    # Imported here, as the real program imports them when it runs: both timings include it.
    import pulumi_aws as aws
    import pulumi_aws_native as aws_native

    owner = aws.Provider("owner", region=REGION, allowed_account_ids=[OWNER])
    native = aws_native.Provider("owner-native", region=REGION, allowed_account_ids=[OWNER])
    on_owner = pulumi.ResourceOptions(provider=owner)
    key_arn = f"arn:aws:kms:{REGION}:{OWNER}:key/mrk-000000000000"

    aws.kms.Key("registry-key", description=f"Encrypts the CodeArtifact domain {DOMAIN}", enable_key_rotation=True,
                deletion_window_in_days=30, policy=KEY_POLICY, opts=on_owner)
    aws.kms.Alias("registry-key-alias", name=f"alias/codeartifact-{DOMAIN}", target_key_id="mrk-000000000000",
                  opts=on_owner)
    aws.codeartifact.Domain("registry-domain", domain=DOMAIN, encryption_key=key_arn, opts=on_owner)
    aws.codeartifact.Repository("registry-pypi-store", repository="pypi-store", domain=DOMAIN, domain_owner=OWNER,
                                description="Cache of public PyPI",
                                external_connections={"external_connection_name": "public:pypi"}, opts=on_owner)
    aws.codeartifact.Repository("registry-internal", repository="internal", domain=DOMAIN, domain_owner=OWNER,
                                description="Internal packages", upstreams=[{"repository_name": "pypi-store"}],
                                opts=on_owner)
    aws.codeartifact.DomainPermissions("registry-domain-policy", domain=DOMAIN, domain_owner=OWNER,
                                       policy_document=RESOURCE_POLICY, opts=on_owner)
    if has_readers(accounts, mode):
        for repository in REPOSITORIES:
            aws.codeartifact.RepositoryPermissionsPolicy(
                f"registry-{repository}-policy", domain=DOMAIN, domain_owner=OWNER, repository=repository,
                policy_document=RESOURCE_POLICY, opts=on_owner)
    restriction = aws_native.codeartifact.PackageGroupRestrictionTypeRestrictionMode
    for prefix in INTERNAL_PREFIXES:
        aws_native.codeartifact.PackageGroup(
            f"registry-group-{prefix}", domain_name=DOMAIN, domain_owner=OWNER, pattern=f"/pypi//{prefix}~",
            description=f"Internal packages named {prefix}*",
            origin_configuration={"restrictions": {
                "external_upstream": {"restriction_mode": restriction.BLOCK},
                "internal_upstream": {"restriction_mode": restriction.ALLOW},
                "publish": {"restriction_mode": restriction.ALLOW_SPECIFIC_REPOSITORIES, "repositories": ["internal"]},
            }},
            opts=pulumi.ResourceOptions(provider=native))

    if publishers:
        aws.iam.OpenIdConnectProvider("publishers-github-oidc", url="https://token.actions.githubusercontent.com",
                                      client_id_lists=["sts.amazonaws.com"], opts=on_owner)
    for i in range(publishers):
        role_name = f"gh-publish-acme-lib-{i}"
        aws.iam.Role(f"publishers-acme-lib-{i}", name=role_name, description=f"GitHub Actions in acme/lib-{i} publish",
                     assume_role_policy=GITHUB_TRUST, max_session_duration=3600, opts=on_owner)
        aws.iam.RolePolicy(f"publishers-acme-lib-{i}-publish", role=role_name, name="publish-own-packages",
                           policy=PUBLISH_POLICY, opts=on_owner)

    if mode == "stackset":
        aws.cloudformation.StackSet(
            "reader-stackset", name="pypi-registry-reader-acme", permission_model="SERVICE_MANAGED",
            auto_deployment={"enabled": True, "retain_stacks_on_account_removal": False},
            call_as="DELEGATED_ADMIN", capabilities=["CAPABILITY_NAMED_IAM"], managed_execution={"active": True},
            operation_preferences={"max_concurrent_percentage": 25, "failure_tolerance_percentage": 10},
            template_body=TEMPLATE, opts=on_owner)
        for unit in range(ous):
            aws.cloudformation.StackSetInstance(
                f"reader-stackset-ou-a1b2-{unit:08d}", stack_set_name="pypi-registry-reader-acme",
                call_as="DELEGATED_ADMIN", deployment_targets={"organizational_unit_ids": [f"ou-a1b2-{unit:08d}"]},
                stack_set_instance_region=REGION, retain_stack=False,
                operation_preferences={"max_concurrent_percentage": 25, "failure_tolerance_percentage": 10,
                                       "concurrency_mode": "SOFT_FAILURE_TOLERANCE"},
                opts=on_owner)
        return

    for i in range(accounts):
        account = f"{200000000000 + i:012d}"
        name = f"reader-{account}"
        provider = aws.Provider(
            f"{name}-provider", region=REGION, allowed_account_ids=[account],
            assume_roles=[aws.ProviderAssumeRoleArgs(role_arn=f"arn:aws:iam::{account}:role/pypi-registry-deploy",
                                                     session_name="pypi-registry-deploy")])
        on_account = pulumi.ResourceOptions(provider=provider)
        aws.iam.Policy(f"{name}-read-policy", name="codeartifact-pypi-reader-acme",
                       description=f"Read-only access to CodeArtifact domain {DOMAIN} in {OWNER}",
                       policy=READ_POLICY, opts=on_account)
        aws.iam.Role(f"{name}-reader-role", name="codeartifact-pypi-reader",
                     description=f"Installs Python packages from {DOMAIN} (read-only)",
                     assume_role_policy=READER_TRUST % account, max_session_duration=43200, opts=on_account)
        aws.iam.RolePolicyAttachment(
            f"{name}-read-policy-attachment", role="codeartifact-pypi-reader",
            policy_arn=f"arn:aws:iam::{account}:policy/codeartifact-pypi-reader-acme", opts=on_account)


def run(accounts: int, publishers: int, mode: str, mocks: pulumi.runtime.Mocks | None = None) -> None:
    """Run `declare` under a fresh mock engine (as `pulumi up` would, not a preview)."""
    pulumi.runtime.set_mocks(mocks or FloorMocks(), project="floor", stack="floor", preview=False)

    def program() -> None:
        declare(accounts, publishers, mode)

    # As audit/render.py runs the program: the cyclic garbage collector off while the engine runs
    # (copied, not imported: the floor imports nothing of the program it is measured against).
    enabled = gc.isenabled()
    gc.disable()
    try:
        # pulumi's mocks.test is unannotated; it waits for every registration to finish.
        pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    finally:
        if enabled:
            gc.enable()


def run_floor(accounts: int, publishers: int, mode: str) -> dict[str, Any]:
    """Run the floor once in this process: process CPU and wall seconds, and peak RSS in MiB."""
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    run(accounts, publishers, mode)
    return {
        "accounts": accounts,
        "publishers": publishers,
        "mode": mode,
        "floor_s": time.process_time() - started_cpu,
        "floor_wall_s": time.perf_counter() - started_wall,
        "floor_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
    }
