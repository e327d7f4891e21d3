"""StackSet mode: a reader role in every account of chosen organizational units, deployed by one
service-managed CloudFormation StackSet.

The real program is rendered under Pulumi's mock engine from tests/fixtures/Pulumi.orgscale.yaml
(render(config=...)); every pitfall that can be checked offline is checked here, the template is
linted with cfn-lint, and the reader it deploys is shown to be the per-account reader, document for
document. What the audit and the pack make of the mode is in tests/components/test_stackset_access.py, the
StackSet keys' validation in tests/components/test_stackset_settings.py, the moto deployment in
tests/components/test_stackset_moto.py, the pack's bad cases in tests/policies/test_guardrails_stackset.py.
"""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from audit.render import Rendering
from model.documents.readers import MEMBER_ACCOUNT, cloudformation_sub, reader_identity_policy, reader_trust_policy
from tests.expected import ORG_READER_ROLE_NAME, OWNER, READER_ROLE_NAME, REGION, STACK_SET, STACK_SET_INSTANCE
from tests.stacks import MANAGEMENT_ACCOUNT, ORGANIZATIONAL_UNITS, orgscale, stack_set_template

PROVIDER = "pulumi:providers:aws"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"


@pytest.fixture(scope="module")
def stackset() -> Rendering:
    return orgscale()


# --- the resources ------------------------------------------------------------------------------


def test_one_service_managed_stack_set_with_automatic_deployment(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    inputs = stack_set.inputs
    assert inputs["name"] == "pypi-registry-reader-acme"
    assert inputs["permissionModel"] == "SERVICE_MANAGED"
    assert inputs["autoDeployment"] == {"enabled": True, "retainStacksOnAccountRemoval": False}
    assert inputs["capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert inputs["managedExecution"] == {"active": True}
    assert "administrationRoleArn" not in inputs and "executionRoleName" not in inputs  # self-managed only
    assert stack_set.account == OWNER and stack_set.region == REGION


def test_one_instance_per_organizational_unit_and_no_account_targets(stackset):
    instances = stackset.of_type(STACK_SET_INSTANCE)
    assert [i.inputs["deploymentTargets"] for i in instances] == [
        {"organizationalUnitIds": [unit]} for unit in sorted(ORGANIZATIONAL_UNITS)]
    assert all(i.inputs["stackSetName"] == "pypi-registry-reader-acme" for i in instances)
    # A service-managed StackSet targets OUs, never accounts (the management account least of all).
    assert not any("accountId" in i.inputs or "accounts" in i.inputs["deploymentTargets"] for i in instances)


@pytest.mark.parametrize("call_as", ["SELF", "DELEGATED_ADMIN"])
def test_call_as_is_the_same_on_the_stack_set_and_every_instance(call_as):
    # With SELF the owner account is the management account: the fixture's other one no longer is.
    rendering = orgscale(stackSetCallAs=call_as, managementAccountId=None if call_as == "SELF" else MANAGEMENT_ACCOUNT)
    stack_sets = rendering.of_type(STACK_SET) + rendering.of_type(STACK_SET_INSTANCE)
    assert {r.inputs["callAs"] for r in stack_sets} == {call_as}


def test_call_as_defaults_to_delegated_administrator():
    rendering = orgscale(stackSetCallAs=None)
    assert {r.inputs["callAs"] for r in rendering.of_type(STACK_SET) + rendering.of_type(STACK_SET_INSTANCE)} == {
        "DELEGATED_ADMIN"}


def test_iam_is_global_so_every_instance_deploys_in_the_stacks_region_only(stackset):
    instances = stackset.of_type(STACK_SET_INSTANCE)
    assert {i.inputs["stackSetInstanceRegion"] for i in instances} == {REGION}
    assert not any("region" in i.inputs for i in instances)  # the deprecated alias of stackSetInstanceRegion
    # One instance per OU: no OU is deployed into a second region (the role exists once per account).
    targets = [unit for i in instances for unit in i.inputs["deploymentTargets"]["organizationalUnitIds"]]
    assert len(targets) == len(set(targets)) == len(ORGANIZATIONAL_UNITS)


def test_operation_preferences_have_sensible_defaults_on_instances_and_template_updates(stackset):
    for instance in stackset.of_type(STACK_SET_INSTANCE):
        assert instance.inputs["operationPreferences"] == {
            "maxConcurrentPercentage": 25, "failureTolerancePercentage": 10,
            "concurrencyMode": "SOFT_FAILURE_TOLERANCE"}
    (stack_set,) = stackset.of_type(STACK_SET)
    assert stack_set.inputs["operationPreferences"] == {"maxConcurrentPercentage": 25, "failureTolerancePercentage": 10}


def test_operation_preferences_come_from_the_config():
    rendering = orgscale(stackSetMaxConcurrentPercentage=100, stackSetFailureTolerancePercentage=0)
    for resource in rendering.of_type(STACK_SET_INSTANCE) + rendering.of_type(STACK_SET):
        preferences = resource.inputs["operationPreferences"]
        assert (preferences["maxConcurrentPercentage"], preferences["failureTolerancePercentage"]) == (100, 0)


def test_an_account_leaving_the_units_loses_its_reader_by_default(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    assert stack_set.inputs["autoDeployment"]["retainStacksOnAccountRemoval"] is False
    assert {i.inputs["retainStack"] for i in stackset.of_type(STACK_SET_INSTANCE)} == {False}


def test_retaining_readers_is_one_switch_for_departing_accounts_and_removed_units():
    rendering = orgscale(retainStacksOnAccountRemoval=True)
    (stack_set,) = rendering.of_type(STACK_SET)
    assert stack_set.inputs["autoDeployment"]["retainStacksOnAccountRemoval"] is True
    assert {i.inputs["retainStack"] for i in rendering.of_type(STACK_SET_INSTANCE)} == {True}


def test_no_provider_per_member_account_and_resources_grow_only_with_the_units(stackset):
    providers = sorted(r.name for r in stackset.of_type(PROVIDER))
    # The owner's, and the per-account path's for the management account: none for OU members.
    assert providers == ["owner", f"reader-{MANAGEMENT_ACCOUNT}-provider"]
    three_units = orgscale(organizationalUnitIds=[*ORGANIZATIONAL_UNITS, "ou-a1b2-platform1"])
    assert len(three_units.resources) == len(stackset.resources) + 1
    assert len(orgscale(organizationalUnitIds=["r-a1b2"]).resources) == len(stackset.resources) - 1


def test_the_management_account_gets_its_reader_through_the_per_account_path(stackset):
    role = stackset.one(ROLE, f"reader-{MANAGEMENT_ACCOUNT}-reader-role")
    assert role.account == MANAGEMENT_ACCOUNT
    assert stackset.outputs["readerRoleArns"] == {
        MANAGEMENT_ACCOUNT: f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/codeartifact-pypi-reader"}
    assert stackset.outputs["readerStackSet"] == {
        "stackSetName": "pypi-registry-reader-acme", "organizationalUnitIds": ORGANIZATIONAL_UNITS,
        "readerRoleName": ORG_READER_ROLE_NAME}


def test_the_default_mode_declares_no_stack_set(prod):
    assert prod.of_type(STACK_SET) == prod.of_type(STACK_SET_INSTANCE) == []
    assert "readerStackSet" not in prod.outputs


def test_the_resource_policies_grant_the_organization(stackset):
    domain_policy = json.loads(stackset.one("aws:codeartifact/domainPermissions:DomainPermissions",
                                            "registry-domain-policy").inputs["policyDocument"])
    grant = domain_policy["Statement"][0]
    assert grant["Principal"] == "*"
    assert grant["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}


# --- one source for both modes ---------------------------------------------------------------------


def test_the_stack_set_readers_policy_is_the_per_account_readers_policy(stackset):
    template = stack_set_template(stackset)
    managed = template["Resources"]["ReaderPolicy"]
    per_account = stackset.one(POLICY, f"reader-{MANAGEMENT_ACCOUNT}-read-policy")
    assert managed["Properties"]["PolicyDocument"] == json.loads(per_account.inputs["policy"])
    assert managed["Properties"]["PolicyDocument"] == reader_identity_policy(stackset.settings)
    # Named after each mode's own role name, so that one account can hold both.
    assert per_account.inputs["name"] == f"{READER_ROLE_NAME}-acme"
    assert managed["Properties"]["ManagedPolicyName"] == f"{ORG_READER_ROLE_NAME}-acme"
    assert managed["Properties"]["Description"] == per_account.inputs["description"]


def test_the_stack_set_readers_role_is_the_per_account_readers_role(stackset):
    role = stack_set_template(stackset)["Resources"]["ReaderRole"]["Properties"]
    per_account = stackset.one(ROLE, f"reader-{MANAGEMENT_ACCOUNT}-reader-role").inputs
    assert (role["Description"], role["MaxSessionDuration"]) == (
        per_account["description"], per_account["maxSessionDuration"])
    assert (role["RoleName"], per_account["name"]) == (ORG_READER_ROLE_NAME, READER_ROLE_NAME)
    # The trust names the member account itself: CloudFormation substitutes it in each account.
    assert role["AssumeRolePolicyDocument"] == cloudformation_sub(reader_trust_policy(MEMBER_ACCOUNT))
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}}
    as_deployed = json.loads(json.dumps(role["AssumeRolePolicyDocument"]).replace(
        '{"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}', f'"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"'))
    assert as_deployed == json.loads(per_account["assumeRolePolicy"])


def test_the_template_attaches_its_policy_to_its_role_and_holds_nothing_else(stackset):
    template = stack_set_template(stackset)
    assert {name: r["Type"] for name, r in template["Resources"].items()} == {
        "ReaderPolicy": "AWS::IAM::ManagedPolicy", "ReaderRole": "AWS::IAM::Role"}
    assert template["Resources"]["ReaderPolicy"]["Properties"]["Roles"] == [{"Ref": "ReaderRole"}]
    assert "Parameters" not in template


def test_cloudformation_sub_wraps_only_strings_naming_a_pseudo_parameter():
    document = {"a": ["arn:aws:iam::${AWS::AccountId}:root", "plain", 3], "b": {"c": "${aws:username}"}}
    assert cloudformation_sub(document) == {
        "a": [{"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}, "plain", 3], "b": {"c": "${aws:username}"}}


# --- linted against AWS's resource schemas ------------------------------------------------------------


def test_the_template_passes_cfn_lint(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    matches = lint(stack_set.inputs["templateBody"], config=ManualArgs(regions=[REGION]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_cfn_lint_catches_a_wrong_property_or_value(stackset):
    template = stack_set_template(stackset)
    role = template["Resources"]["ReaderRole"]["Properties"]
    role["RoleNam"] = role.pop("RoleName")
    role["MaxSessionDuration"] = 86400
    found = {m.rule.id for m in lint(json.dumps(template), config=ManualArgs(regions=[REGION]))}
    assert {"E3002", "E3034"} <= found


def test_the_template_and_descriptions_are_within_cloudformations_limits(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    assert len(stack_set.inputs["templateBody"].encode()) < 51200
    assert len(stack_set_template(stackset)["Description"].encode()) <= 1024
    assert len(stack_set.inputs["description"]) <= 1024
