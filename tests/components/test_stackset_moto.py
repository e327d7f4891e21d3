"""StackSet mode deployed into moto: an organization with two organizational units of three
accounts each, the StackSet and its instances created from what the program declares.

moto's CloudFormation deploys the instances of a service-managed StackSet into the member accounts
of the targeted OUs (it parses the template into each account's IAM), so each member account's role
and policy are read back with boto3 and decided by the access evaluator, as for the per-account
readers in tests/audit/test_access_readers.py. moto finds the OUs' members only when the StackSet is
created from the organization's management account, so here the owner account is the management
account (`stackSetCallAs: SELF`) and reads as the owner; moto ignores CallAs, AutoDeployment and
OperationPreferences (tests/components/test_stackset.py checks what the program sends for them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from audit.access import (
    BEARER_TOKEN_ACTION,
    SERVICE_NAME_KEY,
    AccessEvaluator,
    Principal,
    Registry,
    access_report,
)
from audit.grants import role_grants
from audit.render import Rendering, render
from tests.audit.readers_support import Deployment, allowed_requests, non_read_actions, read_path
from tests.expected import ORG_READER_ROLE_NAME, OWNER, READER_ROLE_NAME, REGION
from tests.moto_iam import (
    DeployedRole,
    create_organizational_units,
    deploy_iam,
    deploy_stack_sets,
    moto_aws,
    organization_of,
    read_roles,
)
from tests.stacks import ORGSCALE_STACK, orgscale_config

pytestmark = pytest.mark.moto

OTHER_REGION = "us-east-1"
MEMBERS = range(6)  # two OUs of three accounts


@dataclass
class Organization:
    deployment: Deployment
    units: dict[str, list[str]]  # OU ID -> its member accounts
    outside: str  # a member account in the root, outside every targeted OU, with a per-account reader
    instances: list[tuple[str, str]]  # (account, region) of every stack instance, as moto lists them
    second_region_error: str

    @property
    def members(self) -> list[str]:
        return [account for accounts in self.units.values() for account in accounts]

    def reader(self, account: str) -> DeployedRole:
        """The account's reader: the StackSet's in a member, the per-account one elsewhere."""
        name = ORG_READER_ROLE_NAME if account in self.members else READER_ROLE_NAME
        return self.deployment.roles[account][f"arn:aws:iam::{account}:role/{name}"]


@pytest.fixture(scope="module")
def organization() -> Organization:
    with moto_aws(REGION) as aws:
        organizations = aws.client(OWNER, "organizations")
        organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        units = create_organizational_units(aws, OWNER, {"workloads": 3, "sandboxes": 3})
        outside = organizations.create_account(Email="outside@example.com", AccountName="outside")[
            "CreateAccountStatus"]["AccountId"]
        rendering = render(ORGSCALE_STACK, config=orgscale_config(
            organizationId=organization_id, organizationalUnitIds=list(units), stackSetCallAs="SELF",
            managementAccountId=None, secondaryAccountIds=[outside]))
        deploy_iam(aws, rendering)  # the per-account reader of the account outside the OUs
        deploy_stack_sets(aws, rendering)
        cloudformation = aws.client(OWNER, "cloudformation")
        name = rendering.settings.reader_stack_set_name
        instances = [(s["Account"], s["Region"]) for s in
                     cloudformation.list_stack_instances(StackSetName=name, CallAs="SELF")["Summaries"]]
        # The same instances in a second region: IAM is global, the role already exists.
        try:
            cloudformation.create_stack_instances(StackSetName=name, Regions=[OTHER_REGION], CallAs="SELF",
                                                  DeploymentTargets={"OrganizationalUnitIds": list(units)[:1]})
            second_region_error = "created"
        except ClientError as error:
            second_region_error = f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
        accounts = [OWNER, outside, *(a for members in units.values() for a in members)]
        roles = {account: read_roles(aws, account) for account in accounts}
        org_ids = {account: organization_of(aws, account) for account in accounts}
    deployment = Deployment(rendering, AccessEvaluator(Registry.from_rendering(rendering)), roles, org_ids)
    return Organization(deployment, units, outside, instances, second_region_error)


def test_the_organization_has_two_units_of_three_accounts(organization):
    assert [len(accounts) for accounts in organization.units.values()] == [3, 3]
    assert all(organization.deployment.org_ids[a] == organization.deployment.rendering.settings.organization_id
               for a in organization.members)


def test_one_stack_instance_per_member_account_all_in_the_stacks_region(organization):
    assert sorted(organization.instances) == sorted((account, REGION) for account in organization.members)


def test_a_second_region_fails_because_iam_is_global(organization):
    assert organization.second_region_error.startswith("EntityAlreadyExists")
    assert ORG_READER_ROLE_NAME in organization.second_region_error


@pytest.mark.parametrize("index", MEMBERS)
def test_every_member_account_has_the_reader_role_and_its_policy_in_its_own_account(organization, index):
    account = organization.members[index]
    role = organization.reader(account)
    assert [s["Principal"] for s in role.trust_policy["Statement"]] == [{"AWS": f"arn:aws:iam::{account}:root"}]
    assert list(role.policies) == [f"arn:aws:iam::{account}:policy/{ORG_READER_ROLE_NAME}-acme"]


@pytest.mark.parametrize("index", MEMBERS)
def test_every_member_reader_is_allowed_exactly_the_read_path(organization, index):
    deployment = organization.deployment
    principal = deployment.principal(organization.members[index], ORG_READER_ROLE_NAME)
    assert principal.org_id is not None
    allowed = allowed_requests(deployment, principal)
    assert allowed == read_path(deployment.registry)
    assert {a for a, _ in allowed} & set(non_read_actions()) == set()
    evaluator = deployment.evaluator
    assert evaluator.allowed(principal, BEARER_TOKEN_ACTION, context={SERVICE_NAME_KEY: "codeartifact.amazonaws.com"})
    assert not evaluator.allowed(principal, BEARER_TOKEN_ACTION, context={SERVICE_NAME_KEY: "ecr-public.amazonaws.com"})


def test_the_stack_set_reader_grants_exactly_what_the_per_account_reader_grants(organization):
    member = organization.reader(organization.members[0])
    per_account = organization.reader(organization.outside)
    assert list(member.policies.values()) == list(per_account.policies.values())
    assert json.dumps(member.trust_policy).replace(organization.members[0], "ACCOUNT") == json.dumps(
        per_account.trust_policy).replace(organization.outside, "ACCOUNT")
    deployment = organization.deployment
    assert allowed_requests(deployment, member.principal(deployment.org_ids[organization.members[0]])) == \
        allowed_requests(deployment, per_account.principal(deployment.org_ids[organization.outside]))


def test_accounts_outside_the_units_get_no_stack_set_reader(organization):
    assert organization.outside not in {account for account, _ in organization.instances}
    assert OWNER not in {account for account, _ in organization.instances}
    # The owner is the management account: no reader there, it reads as the owner.
    assert not any(arn.endswith((f":role/{READER_ROLE_NAME}", f":role/{ORG_READER_ROLE_NAME}"))
                   for arn in organization.deployment.roles[OWNER])


def test_the_audits_synthetic_member_holds_what_a_real_member_holds(organization):
    """The access report stands one synthetic account in for each OU: its policies are what moto
    deployed into the real members, up to the account ID."""
    rendering: Rendering = organization.deployment.rendering
    grants = role_grants(rendering)
    report = access_report(rendering)
    assert report.violations == []
    for member in report.members:
        synthetic = grants.policies[f"arn:aws:iam::{member.account}:role/{ORG_READER_ROLE_NAME}"]
        for account in organization.units[member.target]:
            real = organization.reader(account).policies
            assert {source.replace(member.account, account): document for source, document in synthetic.items()} \
                == real
    rows = {subject.label: cells for subject, cells in report.rows}
    for member in report.members:
        assert rows[f"reader in {member.label}"][:2] == [True, True]
        assert not any(rows[f"reader in {member.label}"][2:])


def test_a_member_that_left_the_organization_reads_nothing(organization):
    deployment = organization.deployment
    member = deployment.principal(organization.members[0], ORG_READER_ROLE_NAME)
    assert allowed_requests(deployment, Principal(member.arn, member.policies, org_id=None)) == set()
