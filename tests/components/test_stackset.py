"""StackSet mode: a reader role in every account of chosen organizational units, deployed by one
service-managed CloudFormation StackSet.

The real program is rendered under Pulumi's mock engine from tests/fixtures/Pulumi.orgscale.yaml
(render(config=...)); every pitfall that can be checked offline is checked here, the template is
linted with cfn-lint, and the reader it deploys is shown to be the per-account reader, document for
document. The moto deployment is in tests/components/test_stackset_moto.py, the pack's bad cases in
tests/policies/test_guardrails_stackset.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

from audit.access import READER, SECONDARY_ADMIN, access_report, access_section
from audit.grants import stack_set_target_problems
from audit.guardrails import rendering_violations
from audit.render import Rendering, render
from bootstrap import documents as bootstrap
from model.documents.readers import MEMBER_ACCOUNT, cloudformation_sub, reader_identity_policy, reader_trust_policy
from model.parse import parse_settings
from model.settings import ConfigError
from model.stack_file import read_yaml
from policies.iam_actions import access_level
from tests.expected import ORG_READER_ROLE_NAME, OWNER, READER_ROLE_NAME, REGION

FIXTURE = Path(__file__).parents[1] / "fixtures" / "Pulumi.orgscale.yaml"
STACK = "orgscale"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
PROVIDER = "pulumi:providers:aws"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
UNITS = ["ou-a1b2-workload1", "ou-a1b2-sandbox01"]
MANAGEMENT = "012345678901"


def orgscale_config(**changes) -> dict:
    config = copy.deepcopy(read_yaml(FIXTURE).data["config"])
    for key, value in changes.items():
        full = f"pypi-registry:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    return config


def orgscale(**changes) -> Rendering:
    return render(STACK, config=orgscale_config(**changes))


@pytest.fixture(scope="module")
def stackset() -> Rendering:
    return orgscale()


def template_of(rendering: Rendering) -> dict:
    (stack_set,) = rendering.of_type(STACK_SET)
    return json.loads(stack_set.inputs["templateBody"])


def raw_settings(**changes):
    raw = {k.split(":", 1)[1]: v for k, v in orgscale_config().items() if k.startswith("pypi-registry:")}
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def problems(**changes) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw_settings(**changes), REGION)
    return raised.value.problems


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
    instances = stackset.of_type(INSTANCE)
    assert [i.inputs["deploymentTargets"] for i in instances] == [
        {"organizationalUnitIds": [unit]} for unit in sorted(UNITS)]
    assert all(i.inputs["stackSetName"] == "pypi-registry-reader-acme" for i in instances)
    # A service-managed StackSet targets OUs, never accounts (the management account least of all).
    assert not any("accountId" in i.inputs or "accounts" in i.inputs["deploymentTargets"] for i in instances)


@pytest.mark.parametrize("call_as", ["SELF", "DELEGATED_ADMIN"])
def test_call_as_is_the_same_on_the_stack_set_and_every_instance(call_as):
    # With SELF the owner account is the management account: the fixture's other one no longer is.
    rendering = orgscale(stackSetCallAs=call_as, managementAccountId=None if call_as == "SELF" else MANAGEMENT)
    assert {r.inputs["callAs"] for r in rendering.of_type(STACK_SET) + rendering.of_type(INSTANCE)} == {call_as}


def test_call_as_defaults_to_delegated_administrator():
    rendering = orgscale(stackSetCallAs=None)
    assert {r.inputs["callAs"] for r in rendering.of_type(STACK_SET) + rendering.of_type(INSTANCE)} == {
        "DELEGATED_ADMIN"}


def test_iam_is_global_so_every_instance_deploys_in_the_stacks_region_only(stackset):
    instances = stackset.of_type(INSTANCE)
    assert {i.inputs["stackSetInstanceRegion"] for i in instances} == {REGION}
    assert not any("region" in i.inputs for i in instances)  # the deprecated alias of stackSetInstanceRegion
    # One instance per OU: no OU is deployed into a second region (the role exists once per account).
    targets = [unit for i in instances for unit in i.inputs["deploymentTargets"]["organizationalUnitIds"]]
    assert len(targets) == len(set(targets)) == len(UNITS)


def test_operation_preferences_have_sensible_defaults_on_instances_and_template_updates(stackset):
    for instance in stackset.of_type(INSTANCE):
        assert instance.inputs["operationPreferences"] == {
            "maxConcurrentPercentage": 25, "failureTolerancePercentage": 10,
            "concurrencyMode": "SOFT_FAILURE_TOLERANCE"}
    (stack_set,) = stackset.of_type(STACK_SET)
    assert stack_set.inputs["operationPreferences"] == {"maxConcurrentPercentage": 25, "failureTolerancePercentage": 10}


def test_operation_preferences_come_from_the_config():
    rendering = orgscale(stackSetMaxConcurrentPercentage=100, stackSetFailureTolerancePercentage=0)
    for resource in rendering.of_type(INSTANCE) + rendering.of_type(STACK_SET):
        preferences = resource.inputs["operationPreferences"]
        assert (preferences["maxConcurrentPercentage"], preferences["failureTolerancePercentage"]) == (100, 0)


def test_an_account_leaving_the_units_loses_its_reader_by_default(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    assert stack_set.inputs["autoDeployment"]["retainStacksOnAccountRemoval"] is False
    assert {i.inputs["retainStack"] for i in stackset.of_type(INSTANCE)} == {False}


def test_retaining_readers_is_one_switch_for_departing_accounts_and_removed_units():
    rendering = orgscale(retainStacksOnAccountRemoval=True)
    (stack_set,) = rendering.of_type(STACK_SET)
    assert stack_set.inputs["autoDeployment"]["retainStacksOnAccountRemoval"] is True
    assert {i.inputs["retainStack"] for i in rendering.of_type(INSTANCE)} == {True}


def test_no_provider_per_member_account_and_resources_grow_only_with_the_units(stackset):
    providers = sorted(r.name for r in stackset.of_type(PROVIDER))
    # The owner's, and the per-account path's for the management account: none for OU members.
    assert providers == ["owner", f"reader-{MANAGEMENT}-provider"]
    three_units = orgscale(organizationalUnitIds=[*UNITS, "ou-a1b2-platform1"])
    assert len(three_units.resources) == len(stackset.resources) + 1
    assert len(orgscale(organizationalUnitIds=["r-a1b2"]).resources) == len(stackset.resources) - 1


def test_the_management_account_gets_its_reader_through_the_per_account_path(stackset):
    role = stackset.one(ROLE, f"reader-{MANAGEMENT}-reader-role")
    assert role.account == MANAGEMENT
    assert stackset.outputs["readerRoleArns"] == {
        MANAGEMENT: f"arn:aws:iam::{MANAGEMENT}:role/codeartifact-pypi-reader"}
    assert stackset.outputs["readerStackSet"] == {
        "stackSetName": "pypi-registry-reader-acme", "organizationalUnitIds": UNITS,
        "readerRoleName": ORG_READER_ROLE_NAME}


def test_the_default_mode_declares_no_stack_set(prod):
    assert prod.of_type(STACK_SET) == prod.of_type(INSTANCE) == []
    assert "readerStackSet" not in prod.outputs


def test_the_resource_policies_grant_the_organization(stackset):
    domain_policy = json.loads(stackset.one("aws:codeartifact/domainPermissions:DomainPermissions",
                                            "registry-domain-policy").inputs["policyDocument"])
    grant = domain_policy["Statement"][0]
    assert grant["Principal"] == "*"
    assert grant["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}


# --- one source for both modes ---------------------------------------------------------------------


def test_the_stack_set_readers_policy_is_the_per_account_readers_policy(stackset):
    template = template_of(stackset)
    managed = template["Resources"]["ReaderPolicy"]
    per_account = stackset.one(POLICY, f"reader-{MANAGEMENT}-read-policy")
    assert managed["Properties"]["PolicyDocument"] == json.loads(per_account.inputs["policy"])
    assert managed["Properties"]["PolicyDocument"] == reader_identity_policy(stackset.settings)
    # Named after each mode's own role name, so that one account can hold both.
    assert per_account.inputs["name"] == f"{READER_ROLE_NAME}-acme"
    assert managed["Properties"]["ManagedPolicyName"] == f"{ORG_READER_ROLE_NAME}-acme"
    assert managed["Properties"]["Description"] == per_account.inputs["description"]


def test_the_stack_set_readers_role_is_the_per_account_readers_role(stackset):
    role = template_of(stackset)["Resources"]["ReaderRole"]["Properties"]
    per_account = stackset.one(ROLE, f"reader-{MANAGEMENT}-reader-role").inputs
    assert (role["Description"], role["MaxSessionDuration"]) == (
        per_account["description"], per_account["maxSessionDuration"])
    assert (role["RoleName"], per_account["name"]) == (ORG_READER_ROLE_NAME, READER_ROLE_NAME)
    # The trust names the member account itself: CloudFormation substitutes it in each account.
    assert role["AssumeRolePolicyDocument"] == cloudformation_sub(reader_trust_policy(MEMBER_ACCOUNT))
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}}
    as_deployed = json.loads(json.dumps(role["AssumeRolePolicyDocument"]).replace(
        '{"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}', f'"arn:aws:iam::{MANAGEMENT}:root"'))
    assert as_deployed == json.loads(per_account["assumeRolePolicy"])


def test_the_template_attaches_its_policy_to_its_role_and_holds_nothing_else(stackset):
    template = template_of(stackset)
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
    template = template_of(stackset)
    role = template["Resources"]["ReaderRole"]["Properties"]
    role["RoleNam"] = role.pop("RoleName")
    role["MaxSessionDuration"] = 86400
    found = {m.rule.id for m in lint(json.dumps(template), config=ManualArgs(regions=[REGION]))}
    assert {"E3002", "E3034"} <= found


def test_the_template_and_descriptions_are_within_cloudformations_limits(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    assert len(stack_set.inputs["templateBody"].encode()) < 51200
    assert len(template_of(stackset)["Description"].encode()) <= 1024
    assert len(stack_set.inputs["description"]) <= 1024


# --- the audit and the pack know the mode ----------------------------------------------------------------


def test_the_pack_passes_the_stack_set_mode(stackset):
    assert rendering_violations(stackset) == []


def test_the_access_report_has_a_synthetic_member_per_unit_and_says_so(stackset):
    report = access_report(stackset)
    assert report.violations == []
    readers = [s.label for s, _ in report.rows if s.kind == READER]
    # One synthetic member per OU, numbered in the order of the instances' URNs.
    assert readers == [f"reader {MANAGEMENT}", f"reader in {UNITS[1]} (synthetic member 700000000001)",
                       f"reader in {UNITS[0]} (synthetic member 700000000002)"]
    admins = [s.label for s, _ in report.rows if s.kind == SECONDARY_ADMIN]
    assert f"admin in {UNITS[1]} (synthetic member 700000000001)" in admins
    for subject, cells in report.rows:
        if subject.kind == READER:
            assert cells[:2] == [True, True] and not any(cells[2:]), subject.label
    section = access_section(stackset)
    assert not section.failed
    assert "synthetic ID (700000000001 for ou-a1b2-sandbox01, 700000000002 for ou-a1b2-workload1)" in section.text
    assert "only the organization knows" in section.text
    trusted = [line for line in section.text.splitlines() if "synthetic member 700000000001) [reader role]:" in line]
    assert trusted == [f"  reader in {UNITS[1]} (synthetic member 700000000001) [reader role]: principals of its "
                       "own account"]


def test_the_access_report_evaluates_what_the_template_grants(stackset):
    # Without the bearer token statement, the StackSet's readers cannot read: the cells come from the template.
    (stack_set,) = stackset.of_type(STACK_SET)
    template = template_of(stackset)
    statements = template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"] = [
        s for s in statements if s["Sid"] != "BearerTokenForCodeArtifactOnly"]
    rows = {s.label: cells for s, cells in access_report(_with_template(stackset, stack_set, template)).rows}
    assert rows[f"reader in {UNITS[0]} (synthetic member 700000000002)"][:2] == [False, False]
    assert rows[f"reader {MANAGEMENT}"][:2] == [True, True]


def test_a_template_granting_a_write_still_cannot_write_through_the_resource_policies(stackset):
    # The pack refuses such a template (tests/policies/test_guardrails_stackset.py); the proof shows the second line.
    (stack_set,) = stackset.of_type(STACK_SET)
    template = template_of(stackset)
    template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"})
    report = access_report(_with_template(stackset, stack_set, template))
    sources = {s.label: s.principal.policies for s, _ in report.rows}
    assert '"codeartifact:*"' in sources[f"reader in {UNITS[0]} (synthetic member 700000000002)"][0][1]
    assert report.violations == []


def test_the_access_report_fails_closed_on_a_template_it_cannot_read(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    template = template_of(stackset)
    template["Parameters"] = {"Extra": {"Type": "String"}}
    template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"] = {"Fn::ImportValue": "shared-policy"}
    template["Resources"]["Bucket"] = {"Type": "AWS::S3::Bucket", "Properties": {}}
    report = access_report(_with_template(stackset, stack_set, template))
    assert any("declares Parameters" in v and "the proof cannot tell" in v for v in report.violations)
    unreadable = [u for u in report.grants.unreadable if u.policy == "template ManagedPolicy ReaderPolicy"]
    assert unreadable and "Fn::ImportValue cannot be resolved offline" in unreadable[0].reason
    assert any("template resource Bucket (AWS::S3::Bucket)" in n for n in report.grants.not_evaluated)
    assert access_section(_with_template(stackset, stack_set, template)).failed


def _with_template(rendering: Rendering, stack_set, template: dict) -> Rendering:
    from dataclasses import replace

    changed = replace(stack_set, inputs={**stack_set.inputs, "templateBody": json.dumps(template)})
    return replace(rendering, resources=[changed if r is stack_set else r for r in rendering.resources])


def test_the_preview_ci_role_may_read_the_stack_set_and_nothing_more(stackset, prod):
    def reads(settings) -> list[str]:
        policy = bootstrap.ci_preview_policy(settings)
        return [action for s in policy["Statement"] if s["Sid"].startswith("ReadTheRegistry") for action in s["Action"]]

    stack_set_reads = set(reads(stackset.settings)) - set(reads(prod.settings))
    assert "cloudformation:DescribeStackSet" in stack_set_reads
    assert {access_level(a) for a in reads(stackset.settings)} <= {"Read", "List"}


# --- validation ---------------------------------------------------------------------------------------------


def test_the_fixture_is_valid_and_in_stack_set_mode():
    settings = parse_settings(raw_settings(), REGION)
    assert settings.stack_set_mode and settings.organizational_unit_ids == tuple(UNITS)
    assert (settings.stack_set_max_concurrent_percentage, settings.stack_set_failure_tolerance_percentage) == (25, 10)
    assert settings.retain_stacks_on_account_removal is False


def test_the_engine_passes_numbers_and_booleans_as_text():
    settings = parse_settings(raw_settings(stackSetMaxConcurrentPercentage="40", stackSetFailureTolerancePercentage="5",
                                           retainStacksOnAccountRemoval="true"), REGION)
    assert (settings.stack_set_max_concurrent_percentage, settings.stack_set_failure_tolerance_percentage,
            settings.retain_stacks_on_account_removal) == (40, 5, True)


@pytest.mark.parametrize("unit", [
    "ou-a1b2", "ou-A1B2-workload1", "ou-a1b-workload1", "ou-a1b2-work", "ou-a1b2-workload1\n", "o-a1b2c3d4e5",
    "r-a1b", "R-a1b2", "111122223333", "", 12,
])
def test_organizational_unit_ids_must_be_ou_or_root_ids(unit):
    found = problems(organizationalUnitIds=[unit])
    assert any(p.startswith("pypi-registry:organizationalUnitIds[0]: ") and "organizational unit ID" in p
               for p in found), found


def test_the_root_is_listed_alone():
    found = problems(organizationalUnitIds=["r-a1b2", UNITS[0]])
    assert any("is the organization's root, which already targets every account" in p for p in found)
    assert parse_settings(raw_settings(organizationalUnitIds=["r-a1b2"]), REGION).organizational_unit_ids == (
        "r-a1b2",)


def test_a_unit_is_listed_once():
    assert any("ou-a1b2-workload1 is listed twice" in p for p in problems(organizationalUnitIds=[UNITS[0], UNITS[0]]))


def test_stack_set_mode_needs_units_and_the_organization():
    found = problems(organizationalUnitIds=[], organizationId=None)
    assert any(p.startswith("pypi-registry:organizationalUnitIds: must list at least one") for p in found)
    assert any(p.startswith("pypi-registry:organizationId: is required when readerDeployment is stackset")
               for p in found)


def test_units_and_the_management_account_are_refused_in_the_accounts_mode():
    found = problems(readerDeployment="accounts")
    assert found == ["pypi-registry:organizationalUnitIds: applies only with readerDeployment: stackset (the "
                     "accounts mode deploys a reader into each of secondaryAccountIds); set readerDeployment or "
                     "remove the list",
                     "pypi-registry:managementAccountId: applies only with readerDeployment: stackset (no StackSet, "
                     "no account it skips); set readerDeployment or remove the key"]


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("readerDeployment", "StackSet", "must be one of accounts, stackset"),
    ("readerDeployment", "organization", "must be one of accounts, stackset"),
    ("stackSetCallAs", "self", "must be SELF"),
    ("stackSetCallAs", "DELEGATED_ADMINISTRATOR", "must be SELF"),
    ("stackSetMaxConcurrentPercentage", 0, "must be a whole number from 1 to 100"),
    ("stackSetMaxConcurrentPercentage", 101, "must be a whole number from 1 to 100"),
    ("stackSetMaxConcurrentPercentage", 12.5, "must be a whole number from 1 to 100"),
    ("stackSetMaxConcurrentPercentage", True, "must be a whole number from 1 to 100"),
    ("stackSetFailureTolerancePercentage", -1, "must be a whole number from 0 to 100"),
    ("stackSetFailureTolerancePercentage", "ten", "must be a whole number from 0 to 100"),
    ("retainStacksOnAccountRemoval", "yes", "must be true or false"),
])
def test_each_stack_set_key_is_validated(key, value, expected):
    found = problems(**{key: value})
    assert any(p.startswith(f"pypi-registry:{key}: ") and expected in p for p in found), found


def test_a_bad_stack_set_config_declares_nothing():
    with pytest.raises(ConfigError):
        render(STACK, config=orgscale_config(stackSetCallAs="ME"))


def test_the_audit_reads_an_aws_native_stack_set_too(stackset):
    from dataclasses import replace

    from audit.grants import stack_set_members

    (stack_set,) = stackset.of_type(STACK_SET)
    native = replace(stack_set, type="aws-native:cloudformation:StackSet", inputs={
        **stack_set.inputs, "stackInstancesGroup": [
            {"deploymentTargets": {"organizationalUnitIds": UNITS}, "regions": [REGION]}]})
    rendering = replace(stackset, resources=[native if r is stack_set else r for r in stackset.resources
                                             if r.type != INSTANCE])
    assert [(m.target, m.account) for m in stack_set_members(rendering)] == [
        (UNITS[0], "700000000001"), (UNITS[1], "700000000002")]
    readers = [s.label for s, _ in access_report(rendering).rows if s.kind == READER]
    assert f"reader in {UNITS[0]} (synthetic member 700000000001)" in readers


def test_the_bench_models_stack_set_members_as_a_count_the_configuration_never_holds():
    from bench.scale import STACKSET_OUS, config_for

    assert config_for(10, 1, "stackset") == config_for(10000, 1, "stackset")
    stack_set_mode = render("bench", config=config_for(10000, 1, "stackset"))
    organization_mode = render("bench", config=config_for(0, 1, "organization"))
    assert len(stack_set_mode.resources) == len(organization_mode.resources) + 1 + STACKSET_OUS


# --- the StackSet's reader role name, and the management account ------------------------------------------


def test_the_stack_set_reader_has_a_name_of_its_own_by_default():
    settings = parse_settings(raw_settings(), REGION)
    assert (settings.reader_role_name, settings.stack_set_reader_role_name) == (READER_ROLE_NAME, ORG_READER_ROLE_NAME)


@pytest.mark.parametrize(("other_key", "name"), [
    ("readerRoleName", ORG_READER_ROLE_NAME), ("readerRoleName", ORG_READER_ROLE_NAME.upper()),
    ("deployRoleName", "Codeartifact-Pypi-Org-Reader"), ("previewRoleName", ORG_READER_ROLE_NAME),
])
def test_the_stack_set_reader_name_never_meets_a_role_a_secondary_account_holds(other_key, name):
    found = problems(**{other_key: name})
    assert any(p.startswith(f"pypi-registry:stackSetReaderRoleName: must differ from {other_key}, ignoring case")
               and "EntityAlreadyExists" in p for p in found), found


def test_the_stack_set_reader_name_may_equal_another_role_only_without_a_stack_set():
    settings = parse_settings(raw_settings(readerDeployment="accounts", organizationalUnitIds=None,
                                           managementAccountId=None, readerRoleName=ORG_READER_ROLE_NAME), REGION)
    assert not settings.stack_set_mode


def test_the_stack_set_policy_name_never_meets_the_per_account_policy_names():
    # reader "a" with domain "acme": per-account policy "a-acme", boundary "a-permissions-boundary".
    found = problems(readerRoleName="a", stackSetReaderRoleName="a-permissions", domainName="boundary")
    assert any("its policy a-permissions-boundary would have the name of the per-account reader's permissions "
               "boundary" in p for p in found), found
    assert parse_settings(raw_settings(readerRoleName="a", stackSetReaderRoleName="b"), REGION)


@pytest.mark.parametrize(("name", "expected"), [
    ("", "must not be empty"), ("bad name", "is not a valid IAM role name"), ("x" * 65, "is not a valid IAM role name"),
    ("OrganizationAccountAccessRole", "AWS Organizations administrator role"), (7, "must be a string"),
])
def test_the_stack_set_reader_name_is_validated(name, expected):
    found = problems(stackSetReaderRoleName=name)
    assert any(p.startswith("pypi-registry:stackSetReaderRoleName: ") and expected in p for p in found), found


def test_the_management_account_is_the_owner_with_self_and_given_with_a_delegated_administrator():
    assert parse_settings(raw_settings(), REGION).management_account_id == MANAGEMENT
    assert parse_settings(raw_settings(stackSetCallAs="SELF", managementAccountId=None),
                          REGION).management_account_id == OWNER
    assert parse_settings(raw_settings(stackSetCallAs="SELF", managementAccountId=OWNER),
                          REGION).management_account_id == OWNER
    assert parse_settings(raw_settings(managementAccountId=None), REGION).management_account_id is None


@pytest.mark.parametrize(("changes", "expected"), [
    ({"stackSetCallAs": "SELF"}, f"{MANAGEMENT} is not ownerAccountId {OWNER}: with stackSetCallAs SELF"),
    ({"managementAccountId": OWNER}, f"{OWNER} is ownerAccountId: the management account creates StackSets as SELF"),
    ({"managementAccountId": "12345678901"}, "must be exactly 12 digits"),
    ({"managementAccountId": 12345678901}, "must be a string (quote it in YAML)"),
])
def test_the_management_account_must_match_who_creates_the_stack_set(changes, expected):
    found = problems(**changes)
    assert any(p.startswith("pypi-registry:managementAccountId: ") and expected in p for p in found), found


def test_the_root_promises_every_account_so_the_management_account_must_read_the_per_account_way():
    # The root holds the management account, which AWS leaves out of every service-managed StackSet.
    found = problems(organizationalUnitIds=["r-a1b2"], secondaryAccountIds=[])
    assert any(p.startswith(f"pypi-registry:managementAccountId: {MANAGEMENT} is not in secondaryAccountIds: the "
                            "root r-a1b2 holds every account") for p in found), found
    found = problems(organizationalUnitIds=["r-a1b2"], managementAccountId=None)
    assert any(p.startswith("pypi-registry:managementAccountId: is required when organizationalUnitIds targets the "
                            "root r-a1b2") for p in found), found
    # Listed, it gets its reader through its own provider; with OUs it reads only if listed; with SELF it is the owner.
    assert parse_settings(raw_settings(organizationalUnitIds=["r-a1b2"]), REGION)
    assert parse_settings(raw_settings(secondaryAccountIds=[]), REGION).management_account_id == MANAGEMENT
    assert parse_settings(raw_settings(organizationalUnitIds=["r-a1b2"], secondaryAccountIds=[], stackSetCallAs="SELF",
                                       managementAccountId=None), REGION)


def test_every_problem_of_the_new_keys_is_reported_at_once():
    found = problems(stackSetReaderRoleName=READER_ROLE_NAME, managementAccountId=OWNER)
    assert [p.split(":")[1] for p in found] == ["stackSetReaderRoleName", "managementAccountId"]


def test_the_audit_never_counts_the_management_account_as_a_stack_set_member(stackset):
    from dataclasses import replace

    from audit.grants import stack_set_members

    # A service-managed StackSet that names the management account: AWS deploys nothing there.
    (instance, *_) = stackset.of_type(INSTANCE)
    aimed = replace(instance, inputs={**instance.inputs, "deploymentTargets": {
        "organizationalUnitIds": instance.inputs["deploymentTargets"]["organizationalUnitIds"],
        "accounts": [MANAGEMENT]}})
    rendering = replace(stackset, resources=[aimed if r is instance else r for r in stackset.resources])
    members = stack_set_members(rendering)
    assert MANAGEMENT not in {m.account for m in members}
    assert len(members) == len(stack_set_members(stackset))
    report = access_report(rendering)
    assert report.violations == [
        "aws:cloudformation/stackSet:StackSet reader-stackset targets 012345678901, the organization's management "
        "account: AWS never deploys a service-managed StackSet there, so it gets no reader from it; list it in "
        "secondaryAccountIds instead"]
    assert access_section(rendering).failed
    # A self-managed StackSet may deploy there: then it is a member like any other account.
    (stack_set,) = rendering.of_type(STACK_SET)
    self_managed = replace(stack_set, inputs={**stack_set.inputs, "permissionModel": "SELF_MANAGED"})
    rendering = replace(rendering, resources=[self_managed if r is stack_set else r for r in rendering.resources])
    assert MANAGEMENT in {m.account for m in stack_set_members(rendering)}
    assert stack_set_target_problems(rendering) == []


def test_no_synthetic_member_takes_the_management_accounts_id():
    from audit.grants import SYNTHETIC_MEMBER_BASE, stack_set_members

    first = f"{SYNTHETIC_MEMBER_BASE:012d}"
    rendering = orgscale(managementAccountId=first, secondaryAccountIds=[first])
    assert first not in {m.account for m in stack_set_members(rendering)}
    assert access_report(rendering).violations == []
