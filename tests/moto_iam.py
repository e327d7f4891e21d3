"""moto as the AWS of the access tests: the IAM side a Rendering records is created in the
account each resource belongs to, then read back with boto3.

The access decisions then run on what moto returns, so a document moto rejects as malformed,
a policy attached across accounts or a role created in the wrong account fails the tests.
Credentials are dummies and every call is intercepted by moto: nothing reaches AWS.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from audit.access import Principal
from audit.render import RecordedResource, Rendering

OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
INLINE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# Creation order, so that every reference exists when it is used.
IAM_TYPES = (OIDC_PROVIDER, MANAGED_POLICY, ROLE, INLINE_POLICY, ATTACHMENT)

DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


class MotoAws:
    """boto3 clients per account: moto routes each call by the account of its credentials, which
    come from assuming the deploy role there, as the program's providers do."""

    def __init__(self, region: str, deploy_role_name: str) -> None:
        self.region = region
        self.deploy_role_name = deploy_role_name
        self._credentials: dict[str, dict[str, str]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}

    def client(self, account: str, service: str, region: str | None = None) -> Any:
        """A client for the account, in `region` (the stack's region unless another is given)."""
        region = region or self.region
        if account not in self._credentials:
            sts = boto3.client("sts", region_name=self.region)
            assumed = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{self.deploy_role_name}", RoleSessionName="access-tests"
            )["Credentials"]
            self._credentials[account] = {
                "aws_access_key_id": assumed["AccessKeyId"],
                "aws_secret_access_key": assumed["SecretAccessKey"],
                "aws_session_token": assumed["SessionToken"],
            }
            caller = self.client(account, "sts").get_caller_identity()["Account"]
            assert caller == account, f"moto answers for {caller}, not {account}"
        if (account, service, region) not in self._clients:
            self._clients[(account, service, region)] = boto3.client(
                service, region_name=region, **self._credentials[account]
            )
        return self._clients[(account, service, region)]

    def iam(self, account: str) -> Any:
        return self.client(account, "iam")


@contextmanager
def moto_aws(region: str, deploy_role_name: str = "pypi-registry-deploy") -> Iterator[MotoAws]:
    """moto for every AWS service, with dummy credentials and no profile in the environment."""
    environment = {**DUMMY_ENVIRONMENT, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    with mock.patch.dict(os.environ, environment), mock_aws():
        os.environ.pop("AWS_PROFILE", None)
        yield MotoAws(region, deploy_role_name)


def deploy_iam(aws: MotoAws, rendering: Rendering) -> None:
    """Create every IAM resource of the rendering in moto, in the account the program put it in."""
    for type_ in IAM_TYPES:
        for resource in rendering.of_type(type_):
            assert resource.account, f"{resource.name} has no account-pinned provider"
            iam = aws.iam(resource.account)
            inputs = resource.inputs
            if type_ == OIDC_PROVIDER:
                iam.create_open_id_connect_provider(
                    Url=inputs["url"],
                    ClientIDList=inputs.get("clientIdLists") or [],
                    ThumbprintList=inputs.get("thumbprintLists") or [],
                )
            elif type_ == MANAGED_POLICY:
                iam.create_policy(PolicyName=inputs["name"], PolicyDocument=inputs["policy"],
                                  Description=inputs.get("description", ""))
            elif type_ == ROLE:
                iam.create_role(
                    RoleName=inputs["name"],
                    AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
                    Description=inputs.get("description", ""),
                    MaxSessionDuration=int(inputs.get("maxSessionDuration", 3600)),
                )
            elif type_ == INLINE_POLICY:
                iam.put_role_policy(RoleName=inputs["role"], PolicyName=inputs["name"],
                                    PolicyDocument=inputs["policy"])
            else:
                iam.attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])


def add_role(aws: MotoAws, account: str, name: str, inline_policies: Mapping[str, dict[str, Any]]) -> str:
    """A role assumable by its own account's principals, with inline policies; returns its ARN."""
    iam = aws.iam(account)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                       "Action": "sts:AssumeRole"}],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for policy_name, document in inline_policies.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    return arn


def _document(value: Any) -> dict[str, Any]:
    """A policy document as boto3 returns it from moto: usually decoded; else the URL-encoded JSON IAM sends; else,
    for a role's inline `Policies` that moto 5's CloudFormation keeps unvalidated, the Python repr moto answers
    GetRolePolicy with (a literal is all it can hold)."""
    if isinstance(value, dict):
        return value
    try:
        decoded = json.loads(unquote(value))
    except json.JSONDecodeError:
        decoded = ast.literal_eval(value)
    assert isinstance(decoded, dict)
    return decoded


@dataclass(frozen=True)
class DeployedRole:
    """A role as moto returns it: trust policy and every policy in force, by source."""

    arn: str
    trust_policy: dict[str, Any]
    policies: dict[str, dict[str, Any]]  # managed policy ARN or "inline:NAME" -> document

    def principal(self, org_id: str | None = None) -> Principal:
        return Principal.role(self.arn, self.policies, org_id)


def read_roles(aws: MotoAws, account: str) -> dict[str, DeployedRole]:
    """Every role in the account, by ARN, with its trust policy and attached and inline policies."""
    iam = aws.iam(account)
    roles = {}
    for page in iam.get_paginator("list_roles").paginate():
        for listed in page["Roles"]:
            name = listed["RoleName"]
            role = iam.get_role(RoleName=name)["Role"]
            policies = {}
            for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                policy_arn = attached["PolicyArn"]
                version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
                document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]
                policies[policy_arn] = _document(document["Document"])
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                policies[f"inline:{policy_name}"] = _document(document)
            roles[role["Arn"]] = DeployedRole(role["Arn"], _document(role["AssumeRolePolicyDocument"]), policies)
    return roles


@dataclass(frozen=True)
class OidcProvider:
    arn: str
    url: str
    client_ids: tuple[str, ...]


def read_oidc_providers(aws: MotoAws, account: str) -> dict[str, OidcProvider]:
    iam = aws.iam(account)
    providers = {}
    for listed in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=listed["Arn"])
        providers[listed["Arn"]] = OidcProvider(listed["Arn"], provider["Url"], tuple(provider["ClientIDList"]))
    return providers


@dataclass(frozen=True)
class Organization:
    id: str
    management_account: str
    members: frozenset[str]  # every active account, the management account included


def create_organization(aws: MotoAws, management_account: str, new_accounts: int) -> Organization:
    """An organization managed from `management_account`, with `new_accounts` member accounts."""
    organizations = aws.client(management_account, "organizations")
    organizations.create_organization(FeatureSet="ALL")
    for index in range(new_accounts):
        status = organizations.create_account(Email=f"member-{index}@example.com", AccountName=f"member-{index}")
        assert status["CreateAccountStatus"]["State"] == "SUCCEEDED"
    return read_organization(aws, management_account)


def read_organization(aws: MotoAws, management_account: str) -> Organization:
    """The organization and its active members, as Organizations reports them to its management account."""
    organizations = aws.client(management_account, "organizations")
    described = organizations.describe_organization()["Organization"]
    members = set()
    for page in organizations.get_paginator("list_accounts").paginate():
        members |= {a["Id"] for a in page["Accounts"] if a["Status"] == "ACTIVE"}
    return Organization(described["Id"], described["MasterAccountId"], frozenset(members))


def organization_of(aws: MotoAws, account: str) -> str | None:
    """The aws:PrincipalOrgID of principals in `account`, as Organizations answers that account."""
    try:
        return aws.client(account, "organizations").describe_organization()["Organization"]["Id"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "AWSOrganizationsNotInUseException":
            return None
        raise


# --- CloudFormation StackSets ------------------------------------------------------------------

STACK_SET = "aws:cloudformation/stackSet:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"


def deploy_stack_sets(aws: MotoAws, rendering: Rendering) -> None:
    """Create every StackSet of the rendering, and its instances, in the account of its provider, with
    the arguments the program declares (moto ignores CallAs, AutoDeployment and OperationPreferences)."""
    for stack_set in rendering.of_type(STACK_SET):
        create_stack_set(aws, stack_set)
        for instance in rendering.of_type(STACK_SET_INSTANCE):
            if instance.inputs["stackSetName"] == stack_set.inputs["name"] and instance.account == stack_set.account:
                create_stack_instance(aws, instance)


def create_stack_set(aws: MotoAws, stack_set: RecordedResource) -> None:
    inputs = stack_set.inputs
    auto = inputs.get("autoDeployment") or {}
    aws.client(stack_set.account, "cloudformation").create_stack_set(
        StackSetName=inputs["name"],
        Description=inputs.get("description", ""),
        TemplateBody=inputs["templateBody"],
        Capabilities=inputs.get("capabilities") or [],
        PermissionModel=inputs["permissionModel"],
        AutoDeployment={"Enabled": auto.get("enabled", False),
                        "RetainStacksOnAccountRemoval": auto.get("retainStacksOnAccountRemoval", False)},
        ManagedExecution={"Active": (inputs.get("managedExecution") or {}).get("active", False)},
        CallAs=inputs["callAs"],
    )


def create_stack_instance(aws: MotoAws, instance: RecordedResource) -> None:
    """One StackSetInstance resource: the stacks of every account of its OUs (moto deploys them at once)."""
    inputs = instance.inputs
    preferences = inputs.get("operationPreferences") or {}
    aws.client(instance.account, "cloudformation").create_stack_instances(
        StackSetName=inputs["stackSetName"],
        DeploymentTargets={"OrganizationalUnitIds": inputs["deploymentTargets"]["organizationalUnitIds"]},
        Regions=[inputs["stackSetInstanceRegion"]],
        OperationPreferences={
            "MaxConcurrentPercentage": int(preferences["maxConcurrentPercentage"]),
            "FailureTolerancePercentage": int(preferences["failureTolerancePercentage"]),
            "ConcurrencyMode": preferences["concurrencyMode"],
        },
        CallAs=inputs["callAs"],
    )


def create_organizational_units(aws: MotoAws, management_account: str, accounts_per_unit: Mapping[str, int]
                                ) -> dict[str, list[str]]:
    """Organizational units under the root of the management account's organization, each with new
    member accounts moved into it: {OU ID: [account IDs]}."""
    organizations = aws.client(management_account, "organizations")
    root = organizations.list_roots()["Roots"][0]["Id"]
    units = {}
    for name, count in accounts_per_unit.items():
        unit = organizations.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"]
        members = []
        for index in range(count):
            status = organizations.create_account(Email=f"{name}-{index}@example.com", AccountName=f"{name}-{index}")
            account = status["CreateAccountStatus"]["AccountId"]
            organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=unit)
            members.append(account)
        units[unit] = members
    return units
