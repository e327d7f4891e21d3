"""The pack reads a StackSet's templateBody: its roles and policies pass the same trust, identity,
cross-account and document rules as any other, a role may trust only the member account itself,
a policy may only read, and what cannot be read offline is refused. The good template is the
program's own (ReaderArgs.cloudformation_template); each bad one weakens it one way."""

from __future__ import annotations

import copy
import json

import pytest
from pulumi_policy import ResourceValidationPolicy

from components.reader import ReaderArgs
from policies.guardrails import POLICIES
from policies.templates import read_template
from tests.expected import OWNER, STRANGER
from tests.policies.support import SETTINGS, violations

STACK_SET = "aws:cloudformation/stackSet:StackSet"
NATIVE_STACK_SET = "aws-native:cloudformation:StackSet"
TRUST_RULE = "role-trust-known-principals"
READ_ONLY_RULE = "cross-account-codeartifact-read-only"
DOCUMENTS_RULE = "policy-documents-within-aws-limits"
MEMBER_ROOT = {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}


def good_template() -> dict:
    return ReaderArgs.for_member_accounts(SETTINGS).cloudformation_template()


def stack_set(template: dict | str, resource_type: str = STACK_SET, **extra) -> tuple[str, dict]:
    body = template if isinstance(template, str) else json.dumps(template)
    return resource_type, {"name": "pypi-registry-reader-acme", "permissionModel": "SERVICE_MANAGED",
                           "templateBody": body, **extra}


def found(rule: str, template: dict | str, resource_type: str = STACK_SET, **extra) -> list[str]:
    kind, props = stack_set(template, resource_type, **extra)
    return violations(rule, kind, props)


def everything(template: dict | str, resource_type: str = STACK_SET) -> dict[str, list[str]]:
    kind, props = stack_set(template, resource_type)
    results = {policy.name: violations(policy.name, kind, props) for policy in POLICIES
               if isinstance(policy, ResourceValidationPolicy)}
    return {name: messages for name, messages in results.items() if messages}


def policy_statements(template: dict) -> list[dict]:
    return template["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"]


def trust_statement(template: dict) -> dict:
    return template["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]


# --- the program's template passes ------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", [STACK_SET, NATIVE_STACK_SET])
def test_the_programs_template_passes_every_rule(resource_type):
    assert everything(good_template(), resource_type) == {}


def test_the_pack_reads_the_templates_role_and_policy_as_any_member_account_receives_them():
    template = read_template(json.dumps(good_template()))
    assert template.problems == () and template.other_resources == ()
    (role,) = template.roles
    assert role.trust["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::${AWS::AccountId}:root"}
    (policy,) = template.policies
    assert policy.roles == ("ReaderRole",)
    assert policy.arn == "arn:aws:iam::${AWS::AccountId}:policy/codeartifact-pypi-org-reader-acme"
    assert role.name == "codeartifact-pypi-org-reader"
    in_an_account = read_template(json.dumps(good_template()), account="123456789012")
    assert in_an_account.roles[0].trust["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


# --- a template granting a write -----------------------------------------------------------------------


@pytest.mark.parametrize("action", [
    "codeartifact:PublishPackageVersion", "codeartifact:*", "codeartifact:Delete*", "iam:CreateUser", "s3:PutObject",
    "*", "sts:AssumeRole",
])
def test_a_template_policy_granting_a_write_is_refused(action):
    template = good_template()
    policy_statements(template)[0]["Action"].append(action)
    messages = found(READ_ONLY_RULE, template)
    assert any("template ManagedPolicy ReaderPolicy allows" in m and "may only read" in m for m in messages), messages


def test_not_action_in_a_template_policy_is_refused():
    template = good_template()
    statement = policy_statements(template)[0]
    statement["NotAction"] = statement.pop("Action")
    assert any("allows NotAction" in m for m in found(READ_ONLY_RULE, template))


def test_a_write_in_a_roles_inline_policy_or_an_iam_policy_resource_is_refused():
    template = good_template()
    write = {"Effect": "Allow", "Action": "codeartifact:PutPackageOriginConfiguration", "Resource": "*"}
    template["Resources"]["ReaderRole"]["Properties"]["Policies"] = [
        {"PolicyName": "extra", "PolicyDocument": {"Version": "2012-10-17", "Statement": [write]}}]
    template["Resources"]["Extra"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "extra", "Roles": [{"Ref": "ReaderRole"}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole",
                                                                   "Resource": "*"}]}}}
    messages = found(READ_ONLY_RULE, template)
    assert any(m.startswith("template Role ReaderRole inline policy extra allows") for m in messages), messages
    assert any(m.startswith("template Policy Extra allows iam:PassRole") for m in messages), messages
    # The wildcard codeartifact write is also the identity rule's to refuse.
    assert found("no-codeartifact-write-on-any-resource", template)


@pytest.mark.parametrize(("arn", "expected"), [
    ("arn:aws:iam::aws:policy/AdministratorAccess", "which allows"),
    ("arn:aws:iam::aws:policy/PowerUserAccess", "which allows"),
    (f"arn:aws:iam::{OWNER}:policy/anything", "which the template does not declare"),
    ({"Fn::ImportValue": "policy"}, "cannot be resolved"),
])
def test_a_template_role_may_not_attach_anything_but_its_own_or_read_only_aws_managed_policies(arn, expected):
    template = good_template()
    template["Resources"]["ReaderRole"]["Properties"]["ManagedPolicyArns"] = [arn]
    assert any(expected in m for m in found(READ_ONLY_RULE, template))


def test_a_template_role_may_attach_its_own_managed_policy_by_ref():
    template = good_template()
    template["Resources"]["ReaderPolicy"]["Properties"].pop("Roles")
    template["Resources"]["ReaderRole"]["Properties"]["ManagedPolicyArns"] = [{"Ref": "ReaderPolicy"}]
    assert everything(template) == {}


def test_a_policy_put_on_a_role_the_template_does_not_declare_is_refused():
    template = good_template()
    template["Resources"]["ReaderPolicy"]["Properties"]["Roles"].append("OrganizationAccountAccessRole")
    assert any("is put on OrganizationAccountAccessRole, a role the template does not declare" in m
               for m in found(READ_ONLY_RULE, template))


def test_a_bearer_token_without_the_codeartifact_condition_is_refused_in_a_template():
    template = good_template()
    bearer = next(s for s in policy_statements(template) if s["Sid"] == "BearerTokenForCodeArtifactOnly")
    bearer.pop("Condition")
    assert found("bearer-token-codeartifact-only", template)


# --- a trust naming another account, or "*" ----------------------------------------------------------------


@pytest.mark.parametrize("principal", [
    {"AWS": "*"},
    "*",
    {"AWS": f"arn:aws:iam::{OWNER}:root"},
    {"AWS": STRANGER},
    {"AWS": {"Fn::Sub": f"arn:aws:iam::{STRANGER}:root"}},
    {"AWS": [MEMBER_ROOT, f"arn:aws:iam::{STRANGER}:role/admin"]},
    {"Service": "ec2.amazonaws.com"},
    {"Federated": f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"},
])
def test_a_template_role_trusting_anyone_but_the_member_account_is_refused(principal):
    template = good_template()
    trust_statement(template)["Principal"] = principal
    messages = found(TRUST_RULE, template)
    assert any("template Role ReaderRole trust policy" in m and "may be assumed only by that account's own "
               "principals" in m for m in messages), messages


def test_not_principal_in_a_template_trust_is_refused():
    template = good_template()
    statement = trust_statement(template)
    statement["NotPrincipal"] = statement.pop("Principal")
    assert any("trusts everyone outside NotPrincipal" in m for m in found(TRUST_RULE, template))


def test_a_role_of_the_member_account_itself_may_be_trusted():
    template = good_template()
    trust_statement(template)["Principal"] = {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/ci"}}
    assert found(TRUST_RULE, template) == []


def test_a_literal_member_account_outside_fn_sub_is_unreadable_not_trusted():
    template = good_template()
    trust_statement(template)["Principal"] = {"AWS": "arn:aws:iam::${AWS::AccountId}:root"}
    assert any("names a pseudo parameter outside Fn::Sub" in m for m in found(DOCUMENTS_RULE, template))
    assert found(TRUST_RULE, template) == []  # nothing readable left to trust: the documents rule refuses it


def test_a_github_trust_in_a_template_is_refused_by_both_trust_rules():
    template = good_template()
    statement = trust_statement(template)
    statement["Principal"] = {"Federated": f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"}
    statement["Action"] = "sts:AssumeRoleWithWebIdentity"
    assert found(TRUST_RULE, template)
    assert any("has no token.actions.githubusercontent.com:sub condition" in m
               for m in found("github-oidc-trust-pinned", template))


# --- what cannot be read offline is refused -------------------------------------------------------------------


def _with(change) -> dict:
    template = good_template()
    change(template)
    return template


@pytest.mark.parametrize(("template", "expected"), [
    (_with(lambda t: t.__setitem__("Parameters", {"Principal": {"Type": "String"}})), "declares Parameters"),
    (_with(lambda t: trust_statement(t).__setitem__("Principal", {"AWS": {"Fn::Join": [":", ["a", "b"]]}})),
     "trust policy cannot be read: Fn::Join cannot be resolved offline"),
    (_with(lambda t: trust_statement(t).__setitem__("Principal", {"AWS": {"Ref": "Principal"}})),
     "trust policy cannot be read: Principal is not a pseudo parameter"),
    (_with(lambda t: t["Resources"]["ReaderPolicy"]["Properties"].__setitem__(
        "PolicyDocument", {"Fn::ImportValue": "shared"})), "template ManagedPolicy ReaderPolicy cannot be read"),
    (_with(lambda t: trust_statement(t).__setitem__("Principal", {"AWS": {"Fn::Sub": "arn:aws:iam::${Other}:root"}})),
     "Other is not a pseudo parameter"),
    (_with(lambda t: t["Resources"].__setitem__("Bucket", {"Type": "AWS::S3::Bucket", "Properties": {}})),
     "template resource Bucket is AWS::S3::Bucket"),
    (_with(lambda t: t["Resources"].__setitem__("User", {"Type": "AWS::IAM::User", "Properties": {}})),
     "template resource User is AWS::IAM::User"),
    (_with(lambda t: t["Resources"]["ReaderPolicy"]["Properties"].__setitem__("Users", ["someone"])),
     "is put on IAM users or groups"),
    (_with(lambda t: t.pop("Resources")), "the template has no Resources object"),
    ("Resources:\n  ReaderRole:\n    Type: AWS::IAM::Role\n", "templateBody is not valid JSON"),
    ('{"Resources": {}, "Resources": {}}', "duplicate JSON keys"),
])
def test_what_cannot_be_read_offline_is_refused(template, expected):
    messages = found(DOCUMENTS_RULE, template)
    assert any(expected in m for m in messages), messages


def test_a_template_in_s3_is_refused():
    messages = found(DOCUMENTS_RULE, good_template(), templateUrl="https://example.com/t.json")
    assert any("templateUrl names a template in S3" in m for m in messages)


def test_an_oversized_template_is_refused():
    template = good_template()
    template["Description"] = "x" * 52000
    assert any("over CloudFormation's limit of 51200" in m for m in found(DOCUMENTS_RULE, template))


def test_an_oversized_trust_policy_in_a_template_is_refused():
    template = good_template()
    trust_statement(template)["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": ["t" * 40] * 60}}
    assert any("template Role ReaderRole trust policy is" in m and "over the AWS limit of 2048" in m
               for m in found(DOCUMENTS_RULE, template))


# --- the whole pack over the rendered stack ------------------------------------------------------------------


def test_the_pack_over_the_rendered_stack_set_mode_bites_on_a_bad_template():
    from dataclasses import replace

    from audit.guardrails import rendering_violations
    from tests.stacks import orgscale

    rendering = orgscale()
    (resource,) = rendering.of_type(STACK_SET)
    template = json.loads(resource.inputs["templateBody"])
    policy_statements(template)[0]["Action"].append("codeartifact:CopyPackageVersions")
    trust_statement(template)["Principal"] = {"AWS": "*"}
    bad = replace(resource, inputs={**resource.inputs, "templateBody": json.dumps(template)})
    found_violations = rendering_violations(replace(rendering, resources=[
        bad if r is resource else r for r in rendering.resources]))
    assert {(v.policy, v.mandatory) for v in found_violations} >= {(READ_ONLY_RULE, True), (TRUST_RULE, True)}
    assert all(v.urn == resource.urn for v in found_violations)


def test_the_good_template_is_unchanged_by_the_checks():
    template = good_template()
    before = copy.deepcopy(template)
    everything(template)
    assert template == before


def test_an_aws_native_stack_set_is_held_to_the_same_rules():
    template = good_template()
    policy_statements(template)[0]["Action"].append("codeartifact:PublishPackageVersion")
    trust_statement(template)["Principal"] = {"AWS": "*"}
    assert set(everything(template, NATIVE_STACK_SET)) == {READ_ONLY_RULE, TRUST_RULE}
