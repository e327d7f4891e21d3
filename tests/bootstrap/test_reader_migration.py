"""Switching `readerDeployment` between `accounts` and `stackset`, both ways, applied to moto step by step.

Each step is one configuration, rendered by the real program under the mock engine, and applied to moto as
`pulumi up` applies a change: first every resource the new rendering adds (the per-account readers through
IAM in their own accounts, the StackSet and its instances through CloudFormation), then every resource it no
longer declares is deleted (Pulumi deletes removed resources last). After the creates and again after the
deletes, every account's roles are read back and each reader is decided by the access evaluator against the
resource policies of the step, so "every account can read" is shown at every moment, not only at the end.

The StackSet's reader is named `stackSetReaderRoleName`, never `readerRoleName`: for one step an account
holds both readers, and a consumer switches names in between (docs/operating.md, "Switching reader modes"). The
naive one-step switches, with the StackSet's role named like the per-account one (what the program used to
declare), fail in moto with EntityAlreadyExists.

As in tests/components/test_stackset_moto.py the owner account is the organization's management account
(`stackSetCallAs: SELF`): moto finds the members of an OU only then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audit.access import AccessEvaluator, Registry
from audit.render import RecordedResource, Rendering, render
from tests.audit.readers_support import Deployment, allowed_requests, read_path
from tests.expected import ORG_READER_ROLE_NAME, OWNER, READER_ROLE_NAME, REGION
from tests.moto_iam import (
    ATTACHMENT,
    MANAGED_POLICY,
    ROLE,
    STACK_SET,
    STACK_SET_INSTANCE,
    DeployedRole,
    MotoAws,
    create_organizational_units,
    create_stack_instance,
    create_stack_set,
    moto_aws,
    organization_of,
    read_roles,
)
from tests.stacks import ORGSCALE_STACK, orgscale_config

pytestmark = pytest.mark.moto

# What `pulumi up` creates first and deletes last, in this order (deletions in reverse).
APPLIED_TYPES = (MANAGED_POLICY, ROLE, ATTACHMENT, STACK_SET, STACK_SET_INSTANCE)
READER_NAMES = (READER_ROLE_NAME, ORG_READER_ROLE_NAME)


# --- the organization and the configurations --------------------------------------------------------------


@dataclass(frozen=True)
class Organization:
    id: str
    unit: str
    members: tuple[str, ...]  # the accounts of the OU: the ones that move between the modes
    outside: str  # in the root, outside the OU: a per-account reader in both modes

    @property
    def accounts(self) -> tuple[str, ...]:
        return (*self.members, self.outside)


def create_organization(aws: MotoAws) -> Organization:
    organizations = aws.client(OWNER, "organizations")
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    ((unit, members),) = create_organizational_units(aws, OWNER, {"workloads": 3}).items()
    outside = organizations.create_account(Email="outside@example.com", AccountName="outside")[
        "CreateAccountStatus"]["AccountId"]
    return Organization(organization_id, unit, tuple(members), outside)


def accounts_mode(org: Organization, secondaries: tuple[str, ...], organization: bool) -> dict[str, Any]:
    return orgscale_config(readerDeployment="accounts", organizationalUnitIds=None, managementAccountId=None,
                           stackSetCallAs=None, organizationId=org.id if organization else None,
                           secondaryAccountIds=list(secondaries))


def stack_set_mode(org: Organization, secondaries: tuple[str, ...]) -> dict[str, Any]:
    return orgscale_config(organizationId=org.id, organizationalUnitIds=[org.unit], stackSetCallAs="SELF",
                           managementAccountId=None, secondaryAccountIds=list(secondaries))


def start(org: Organization) -> dict[str, Any]:
    """Before the switch: every account listed, no organization (as the prod stack is)."""
    return accounts_mode(org, org.accounts, organization=False)


def forward(org: Organization) -> list[tuple[str, dict[str, Any]]]:
    """accounts -> stackset, as the steps of docs/operating.md say."""
    return [
        ("1. the StackSet beside the per-account readers", stack_set_mode(org, org.accounts)),
        ("2. the OU's accounts off secondaryAccountIds", stack_set_mode(org, (org.outside,))),
    ]


def reverse(org: Organization) -> list[tuple[str, dict[str, Any]]]:
    """stackset -> accounts, as the steps of docs/operating.md say."""
    return [
        ("1. per-account readers beside the StackSet", stack_set_mode(org, org.accounts)),
        ("2. readerDeployment back to accounts", accounts_mode(org, org.accounts, organization=True)),
    ]


# --- applying a step as pulumi up does -------------------------------------------------------------------


def applied(rendering: Rendering | None) -> dict[str, RecordedResource]:
    return {} if rendering is None else {r.urn: r for t in APPLIED_TYPES for r in rendering.of_type(t)}


def _create(aws: MotoAws, resource: RecordedResource) -> None:
    inputs = resource.inputs
    iam = aws.iam(resource.account)
    if resource.type == MANAGED_POLICY:
        iam.create_policy(PolicyName=inputs["name"], PolicyDocument=inputs["policy"],
                          Description=inputs.get("description", ""))
    elif resource.type == ROLE:
        iam.create_role(RoleName=inputs["name"], AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
                        Description=inputs.get("description", ""),
                        MaxSessionDuration=int(inputs.get("maxSessionDuration", 3600)))
    elif resource.type == ATTACHMENT:
        iam.attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
    elif resource.type == STACK_SET:
        create_stack_set(aws, resource)
    else:
        create_stack_instance(aws, resource)


def _unit_members(aws: MotoAws, units: list[str]) -> list[str]:
    organizations = aws.client(OWNER, "organizations")
    return [a["Id"] for unit in units for a in organizations.list_accounts_for_parent(ParentId=unit)["Accounts"]]


def _delete(aws: MotoAws, resource: RecordedResource) -> None:
    inputs = resource.inputs
    iam = aws.iam(resource.account)
    if resource.type == MANAGED_POLICY:
        iam.delete_policy(PolicyArn=f"arn:aws:iam::{resource.account}:policy/{inputs['name']}")
    elif resource.type == ROLE:
        iam.delete_role(RoleName=inputs["name"])
    elif resource.type == ATTACHMENT:
        iam.detach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
    elif resource.type == STACK_SET:
        aws.client(resource.account, "cloudformation").delete_stack_set(StackSetName=inputs["name"],
                                                                        CallAs=inputs["callAs"])
    else:
        # moto deletes instances by account only (it ignores DeploymentTargets): the OU's members, as AWS resolves them.
        members = _unit_members(aws, inputs["deploymentTargets"]["organizationalUnitIds"])
        cloudformation = aws.client(resource.account, "cloudformation")
        if not inputs["retainStack"]:
            template = json.loads(cloudformation.describe_stack_set(StackSetName=inputs["stackSetName"], CallAs=inputs[
                "callAs"])["StackSet"]["TemplateBody"])
            for account in members:
                _delete_template_policies(aws, account, template)
        cloudformation.delete_stack_instances(
            StackSetName=inputs["stackSetName"], Accounts=members, Regions=[inputs["stackSetInstanceRegion"]],
            RetainStacks=bool(inputs["retainStack"]), CallAs=inputs["callAs"])


def _delete_template_policies(aws: MotoAws, account: str, template: dict[str, Any]) -> None:
    """What CloudFormation does for each AWS::IAM::ManagedPolicy of a stack it deletes, before the roles they are
    attached to (they depend on the policy through `Roles`): detach it and delete it. moto's CloudFormation
    implements no deletion of a managed policy, so its stack deletion would stop at the still-attached role."""
    resources = template["Resources"]
    iam = aws.iam(account)
    for policy in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"):
        arn = f"arn:aws:iam::{account}:policy/{policy['ManagedPolicyName']}"
        for reference in policy["Roles"]:
            iam.detach_role_policy(RoleName=resources[reference["Ref"]]["Properties"]["RoleName"], PolicyArn=arn)
        iam.delete_policy(PolicyArn=arn)


Readers = dict[str, dict[str, bool]]  # account -> reader role name present -> it reads exactly the read path


@dataclass
class Step:
    name: str
    rendering: Rendering
    created: list[str] = field(default_factory=list)  # URNs
    deleted: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # URNs kept with other inputs: an update or a replacement
    during: Readers = field(default_factory=dict)  # after the creates, before the deletes
    after: Readers = field(default_factory=dict)
    error: str | None = None


def readers(aws: MotoAws, org: Organization, rendering: Rendering) -> Readers:
    """Each account's reader roles as moto holds them, and whether each is allowed exactly the read path by the
    resource policies this rendering sends."""
    deployment = Deployment(rendering, AccessEvaluator(Registry.from_rendering(rendering)),
                            {a: read_roles(aws, a) for a in org.accounts},
                            {a: organization_of(aws, a) for a in org.accounts})
    expected = read_path(deployment.registry)
    found: Readers = {}
    for account in org.accounts:
        roles: dict[str, DeployedRole] = {arn.rsplit("/", 1)[1]: r for arn, r in deployment.roles[account].items()}
        found[account] = {name: allowed_requests(deployment, deployment.principal(account, name)) == expected
                          for name in READER_NAMES if name in roles}
    return found


def apply(aws: MotoAws, org: Organization, before: Rendering | None, step: Step) -> Step:
    """Creates first, then deletes, as Pulumi orders an update without replacements; stops at the first error
    as `pulumi up` does (nothing after it runs, the deletes included)."""
    old, new = applied(before), applied(step.rendering)
    step.changed = [urn for urn in new if urn in old and new[urn].inputs != old[urn].inputs]
    try:
        for urn, resource in new.items():
            if urn not in old:
                _create(aws, resource)
                step.created.append(urn)
        step.during = readers(aws, org, step.rendering)
        for urn, resource in reversed(old.items()):
            if urn not in new:
                _delete(aws, resource)
                step.deleted.append(urn)
        step.after = readers(aws, org, step.rendering)
    except ClientError as error:
        step.error = f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
    return step


def walk(steps: list[tuple[str, dict[str, Any]]], org: Organization, aws: MotoAws, before: Rendering | None,
         change: Callable[[Rendering], Rendering] = lambda r: r) -> list[Step]:
    done = []
    for name, config in steps:
        step = apply(aws, org, before, Step(name, change(render(ORGSCALE_STACK, config=config))))
        done.append(step)
        if step.error:
            break
        before = step.rendering
    return done


@dataclass
class Migration:
    org: Organization
    start: Step
    forward: list[Step]
    reverse: list[Step]
    stack_sets_at_the_end: list[str]
    policies_at_the_end: dict[str, set[str]]  # account -> customer managed policy names


@pytest.fixture(scope="module")
def migration() -> Migration:
    with moto_aws(REGION) as aws:
        org = create_organization(aws)
        (begin,) = walk([("before: accounts mode", start(org))], org, aws, None)
        there = walk(forward(org), org, aws, begin.rendering)
        back = walk(reverse(org), org, aws, there[-1].rendering)
        stack_sets = [s["StackSetName"] for s in aws.client(OWNER, "cloudformation").list_stack_sets(
            CallAs="SELF")["Summaries"] if s["Status"] == "ACTIVE"]
        policies = {a: {p["PolicyName"] for p in aws.iam(a).list_policies(Scope="Local")["Policies"]}
                    for a in org.accounts}
    return Migration(org, begin, there, back, stack_sets, policies)


def steps_of(migration: Migration, direction: str) -> list[Step]:
    return migration.forward if direction == "forward" else migration.reverse


# --- both directions, every step ----------------------------------------------------------------------


def test_the_walk_starts_with_a_per_account_reader_everywhere(migration):
    assert migration.start.error is None
    assert migration.start.after == {a: {READER_ROLE_NAME: True} for a in migration.org.accounts}


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_every_step_applies_without_error(migration, direction):
    steps = steps_of(migration, direction)
    assert [(s.name, s.error) for s in steps] == [(s.name, None) for s in steps]
    assert len(steps) == 2


@pytest.mark.parametrize("moment", ["during", "after"])
@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_every_account_has_a_reader_that_reads_at_every_moment_of_every_step(migration, direction, moment):
    for step in steps_of(migration, direction):
        readers_now: Readers = getattr(step, moment)
        assert set(readers_now) == set(migration.org.accounts)
        for account, found in readers_now.items():
            assert found, f"{step.name}, {moment}: {account} has no reader"
            assert all(found.values()), f"{step.name}, {moment}: a reader of {account} cannot read: {found}"


def consumer_names(migration: Migration, steps: list[Step], target: str) -> list[dict[str, str]]:
    """The role name a consumer in each account uses going into each step: the one it used, until the step
    before has made the target mode's reader available there (then it switches, between two steps)."""
    using = {a: READER_ROLE_NAME if target == ORG_READER_ROLE_NAME else ORG_READER_ROLE_NAME
             for a in migration.org.members}
    using[migration.org.outside] = READER_ROLE_NAME
    names = []
    for step in steps:
        names.append(dict(using))
        using = {a: target if target in step.after[a] else name for a, name in using.items()}
    return names


@pytest.mark.parametrize(("direction", "target"), [("forward", ORG_READER_ROLE_NAME), ("reverse", READER_ROLE_NAME)])
def test_a_consumer_that_switches_between_steps_never_loses_its_role(migration, direction, target):
    steps = steps_of(migration, direction)
    for step, using in zip(steps, consumer_names(migration, steps, target), strict=True):
        for account, name in using.items():
            assert step.during[account].get(name) and step.after[account].get(name), (step.name, account, name)
    # Step 1 gives every member account the target's reader beside the old one: the consumer's window.
    assert all(set(steps[0].after[a]) == set(READER_NAMES) for a in migration.org.members)


def test_forward_ends_in_stack_set_mode_with_only_the_stack_sets_reader_in_the_unit(migration):
    last = migration.forward[-1]
    assert last.rendering.settings.stack_set_mode
    assert all(last.after[a] == {ORG_READER_ROLE_NAME: True} for a in migration.org.members)
    assert last.after[migration.org.outside] == {READER_ROLE_NAME: True}
    assert last.rendering.outputs["readerStackSet"]["readerRoleName"] == ORG_READER_ROLE_NAME
    assert set(last.rendering.outputs["readerRoleArns"]) == {migration.org.outside}


def test_reverse_ends_in_accounts_mode_with_no_stack_set_left(migration):
    last = migration.reverse[-1]
    assert not last.rendering.settings.stack_set_mode
    assert all(last.after[a] == {READER_ROLE_NAME: True} for a in migration.org.accounts)
    assert migration.stack_sets_at_the_end == []
    # Nothing of the StackSet's reader is left behind: only the per-account reader's policy.
    assert migration.policies_at_the_end == {a: {f"{READER_ROLE_NAME}-acme"} for a in migration.org.accounts}
    assert set(last.rendering.outputs["readerRoleArns"]) == set(migration.org.accounts)


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_each_step_only_adds_or_only_removes_and_never_touches_an_existing_reader(migration, direction):
    steps = steps_of(migration, direction)
    for step in steps:
        assert step.changed == [], step.name  # no update, no replacement of anything kept
        assert not (step.created and step.deleted), step.name
    kinds = [("adds" if s.created else "") + ("removes" if s.deleted else "") for s in steps]
    assert kinds == ["adds", "removes"]


# --- the naive one-step switches ---------------------------------------------------------------------------


def named_like_the_per_account_reader(rendering: Rendering) -> Rendering:
    """The StackSet as the program declared it before stackSetReaderRoleName: its role and policy named like the
    per-account reader's (a configuration the settings now refuse)."""
    def renamed(resource: RecordedResource) -> RecordedResource:
        if resource.type != STACK_SET:
            return resource
        template = json.loads(resource.inputs["templateBody"])
        template["Resources"]["ReaderRole"]["Properties"]["RoleName"] = READER_ROLE_NAME
        template["Resources"]["ReaderPolicy"]["Properties"]["ManagedPolicyName"] = f"{READER_ROLE_NAME}-acme"
        return replace(resource, inputs={**resource.inputs, "templateBody": json.dumps(template)})

    return replace(rendering, resources=[renamed(r) for r in rendering.resources])


@dataclass
class NaiveSwitch:
    org: Organization
    step: Step
    roles: dict[str, set[str]]  # account -> reader role names moto holds after the failed update


def naive_switch(to_stack_set: bool) -> NaiveSwitch:
    with moto_aws(REGION) as aws:
        org = create_organization(aws)
        if to_stack_set:
            before = render(ORGSCALE_STACK, config=start(org))
            after = stack_set_mode(org, (org.outside,))
        else:
            before = named_like_the_per_account_reader(
                render(ORGSCALE_STACK, config=stack_set_mode(org, (org.outside,))))
            after = accounts_mode(org, org.accounts, organization=True)
        for resource in applied(before).values():
            _create(aws, resource)
        step = apply(aws, org, before, Step("one step", named_like_the_per_account_reader(
            render(ORGSCALE_STACK, config=after))))
        roles = {a: {arn.rsplit("/", 1)[1] for arn in read_roles(aws, a)} & set(READER_NAMES) for a in org.accounts}
    return NaiveSwitch(org, step, roles)


def test_the_naive_switch_to_the_stack_set_fails_with_entity_already_exists():
    """accounts -> stackset in one step with one role name: Pulumi creates the StackSet's instances before it
    deletes the per-account readers, so CloudFormation meets the existing role."""
    naive = naive_switch(to_stack_set=True)
    assert naive.step.error is not None and naive.step.error.startswith("EntityAlreadyExists"), naive.step.error
    assert READER_ROLE_NAME in naive.step.error
    assert naive.step.deleted == []  # the update stopped before its deletes: the old readers are still there
    assert all(naive.roles[a] == {READER_ROLE_NAME} for a in naive.org.accounts)


def test_the_naive_switch_back_to_the_accounts_fails_with_entity_already_exists():
    """stackset -> accounts in one step with one role name: the per-account readers are created while the
    StackSet's roles of that name still exist."""
    naive = naive_switch(to_stack_set=False)
    assert naive.step.error is not None and naive.step.error.startswith("EntityAlreadyExists"), naive.step.error
    assert READER_ROLE_NAME in naive.step.error
    assert naive.step.deleted == []


def test_one_step_with_the_two_names_reads_everywhere_but_pulls_the_role_from_under_the_consumers():
    """Why two steps: the same switch in one step no longer collides, but the name consumers assume is gone at
    the end of the very update that first offers the new one."""
    with moto_aws(REGION) as aws:
        org = create_organization(aws)
        (begin,) = walk([("before", start(org))], org, aws, None)
        (step,) = walk([("one step", stack_set_mode(org, (org.outside,)))], org, aws, begin.rendering)
    assert step.error is None
    assert all(found and all(found.values()) for found in (*step.during.values(), *step.after.values()))
    assert all(READER_ROLE_NAME not in step.after[a] for a in org.members)
