"""StackSet mode as the audit and the pack see it: a synthetic member per organizational unit, the template's
grants evaluated (and refused when unreadable), and the management account never counted as a member."""

from __future__ import annotations

import json

import pytest

from audit.access import READER, SECONDARY_ADMIN, access_report, access_section
from audit.grants import stack_set_target_problems
from audit.guardrails import rendering_violations
from audit.render import Rendering, render
from bootstrap import documents as bootstrap
from policies.iam_actions import access_level
from tests.expected import REGION, STACK_SET, STACK_SET_INSTANCE
from tests.stacks import MANAGEMENT_ACCOUNT, ORGANIZATIONAL_UNITS, orgscale, stack_set_template


@pytest.fixture(scope="module")
def stackset() -> Rendering:
    return orgscale()


# --- the audit and the pack know the mode ----------------------------------------------------------------


def test_the_pack_passes_the_stack_set_mode(stackset):
    assert rendering_violations(stackset) == []


def test_the_access_report_has_a_synthetic_member_per_unit_and_says_so(stackset):
    report = access_report(stackset)
    assert report.violations == []
    readers = [s.label for s, _ in report.rows if s.kind == READER]
    # One synthetic member per OU, numbered in the order of the instances' URNs.
    assert readers == [f"reader {MANAGEMENT_ACCOUNT}",
                       f"reader in {ORGANIZATIONAL_UNITS[1]} (synthetic member 700000000001)",
                       f"reader in {ORGANIZATIONAL_UNITS[0]} (synthetic member 700000000002)"]
    admins = [s.label for s, _ in report.rows if s.kind == SECONDARY_ADMIN]
    assert f"admin in {ORGANIZATIONAL_UNITS[1]} (synthetic member 700000000001)" in admins
    for subject, cells in report.rows:
        if subject.kind == READER:
            assert cells[:2] == [True, True] and not any(cells[2:]), subject.label
    section = access_section(stackset)
    assert not section.failed
    assert "synthetic ID (700000000001 for ou-a1b2-sandbox01, 700000000002 for ou-a1b2-workload1)" in section.text
    assert "only the organization knows" in section.text
    trusted = [line for line in section.text.splitlines() if "synthetic member 700000000001) [reader role]:" in line]
    assert trusted == [f"  reader in {ORGANIZATIONAL_UNITS[1]} (synthetic member 700000000001) [reader role]: "
                       "principals of its own account"]


def test_the_access_report_evaluates_what_the_template_grants(stackset):
    # Without the bearer token statement, the StackSet's readers cannot read: the cells come from the template.
    (stack_set,) = stackset.of_type(STACK_SET)
    template = stack_set_template(stackset)
    statements = template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"] = [
        s for s in statements if s["Sid"] != "BearerTokenForCodeArtifactOnly"]
    rows = {s.label: cells for s, cells in access_report(_with_template(stackset, stack_set, template)).rows}
    assert rows[f"reader in {ORGANIZATIONAL_UNITS[0]} (synthetic member 700000000002)"][:2] == [False, False]
    assert rows[f"reader {MANAGEMENT_ACCOUNT}"][:2] == [True, True]


def test_a_template_granting_a_write_still_cannot_write_through_the_resource_policies(stackset):
    # The pack refuses such a template (tests/policies/test_guardrails_stackset.py); the proof shows the second line.
    (stack_set,) = stackset.of_type(STACK_SET)
    template = stack_set_template(stackset)
    template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"})
    report = access_report(_with_template(stackset, stack_set, template))
    sources = {s.label: s.principal.policies for s, _ in report.rows}
    assert '"codeartifact:*"' in sources[f"reader in {ORGANIZATIONAL_UNITS[0]} (synthetic member 700000000002)"][0][1]
    assert report.violations == []


def test_the_access_report_fails_closed_on_a_template_it_cannot_read(stackset):
    (stack_set,) = stackset.of_type(STACK_SET)
    template = stack_set_template(stackset)
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


def test_the_audit_reads_an_aws_native_stack_set_too(stackset):
    from dataclasses import replace

    from audit.grants import stack_set_members

    (stack_set,) = stackset.of_type(STACK_SET)
    native = replace(stack_set, type="aws-native:cloudformation:StackSet", inputs={
        **stack_set.inputs, "stackInstancesGroup": [
            {"deploymentTargets": {"organizationalUnitIds": ORGANIZATIONAL_UNITS}, "regions": [REGION]}]})
    rendering = replace(stackset, resources=[native if r is stack_set else r for r in stackset.resources
                                             if r.type != STACK_SET_INSTANCE])
    assert [(m.target, m.account) for m in stack_set_members(rendering)] == [
        (ORGANIZATIONAL_UNITS[0], "700000000001"), (ORGANIZATIONAL_UNITS[1], "700000000002")]
    readers = [s.label for s, _ in access_report(rendering).rows if s.kind == READER]
    assert f"reader in {ORGANIZATIONAL_UNITS[0]} (synthetic member 700000000001)" in readers


def test_the_bench_models_stack_set_members_as_a_count_the_configuration_never_holds():
    from bench.scale import STACKSET_OUS, config_for

    assert config_for(10, 1, "stackset") == config_for(10000, 1, "stackset")
    stack_set_mode = render("bench", config=config_for(10000, 1, "stackset"))
    organization_mode = render("bench", config=config_for(0, 1, "organization"))
    assert len(stack_set_mode.resources) == len(organization_mode.resources) + 1 + STACKSET_OUS


def test_the_audit_never_counts_the_management_account_as_a_stack_set_member(stackset):
    from dataclasses import replace

    from audit.grants import stack_set_members

    # A service-managed StackSet that names the management account: AWS deploys nothing there.
    (instance, *_) = stackset.of_type(STACK_SET_INSTANCE)
    aimed = replace(instance, inputs={**instance.inputs, "deploymentTargets": {
        "organizationalUnitIds": instance.inputs["deploymentTargets"]["organizationalUnitIds"],
        "accounts": [MANAGEMENT_ACCOUNT]}})
    rendering = replace(stackset, resources=[aimed if r is instance else r for r in stackset.resources])
    members = stack_set_members(rendering)
    assert MANAGEMENT_ACCOUNT not in {m.account for m in members}
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
    assert MANAGEMENT_ACCOUNT in {m.account for m in stack_set_members(rendering)}
    assert stack_set_target_problems(rendering) == []


def test_no_synthetic_member_takes_the_management_accounts_id():
    from audit.grants import SYNTHETIC_MEMBER_BASE, stack_set_members

    first = f"{SYNTHETIC_MEMBER_BASE:012d}"
    rendering = orgscale(managementAccountId=first, secondaryAccountIds=[first])
    assert first not in {m.account for m in stack_set_members(rendering)}
    assert access_report(rendering).violations == []
