"""The secondary accounts' CloudFormation template (`python -m bootstrap --output-dir`): cfn-lint passes it
against AWS's resource schemas, moto's CloudFormation creates it in each secondary account, the roles and the
boundary read back with boto3 are the bootstrap's documents for that account, and principalmapper over what moto
created lets whoever runs `pulumi up` assume both roles, the preview CI role the preview role only, and nobody
else either."""

from __future__ import annotations

import copy
import json

import pytest
from cfnlint.api import ManualArgs, lint

from audit.access import Principal
from audit.pmapper_compat import local_check_authorization_full
from bootstrap import documents as bootstrap
from model.documents.readers import MEMBER_ACCOUNT
from model.parse import parse_settings
from model.settings import Settings
from tests.moto_iam import DeployedRole, MotoAws, _document, moto_aws
from tests.stacks import orgscale_raw_settings

OWNER = "111122223333"
SECONDARIES = ("012345678901", "444455556666")
REGION = "eu-west-1"
REPOSITORY = "acme/pypi-registry"
CI_PREVIEW = f"arn:aws:iam::{OWNER}:role/ci-preview"
CI_DEPLOY = f"arn:aws:iam::{OWNER}:role/ci-deploy"
OPERATOR = f"arn:aws:iam::{OWNER}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
SETTINGS = parse_settings({"ownerAccountId": OWNER, "domainName": "acme", "internalPrefixes": ["acme-"],
                           "secondaryAccountIds": list(SECONDARIES), "deployPrincipalArns": [OPERATOR]}, REGION)
TEMPLATE = bootstrap.secondary_roles_template(SETTINGS, CI_PREVIEW, CI_DEPLOY)
DOCS = bootstrap.documents(SETTINGS, REPOSITORY, CI_PREVIEW, CI_DEPLOY)
BOUNDARY_NAME = "codeartifact-pypi-reader-permissions-boundary"


def lint_matches(template: dict) -> list[str]:
    return [f"{m.rule.id} {m.message}" for m in lint(json.dumps(template), config=ManualArgs(regions=[REGION]))]


def in_account(template: dict, account: str) -> dict:
    """The template as CloudFormation resolves it in `account` (its only substitution is the account ID)."""
    def resolve(value: object) -> object:
        if isinstance(value, dict):
            if set(value) == {"Fn::Sub"}:
                return value["Fn::Sub"].replace(MEMBER_ACCOUNT, account)
            return {key: resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [resolve(item) for item in value]
        return value
    resolved = resolve(template)
    assert isinstance(resolved, dict)
    return resolved


# --- the template ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [SETTINGS, parse_settings(orgscale_raw_settings(), REGION)],
                         ids=["accounts", "stackset"])
def test_the_template_passes_cfn_lint(settings: Settings):
    assert lint_matches(bootstrap.secondary_roles_template(settings, CI_PREVIEW, CI_DEPLOY)) == []


def test_cfn_lint_catches_a_wrong_property_or_a_bad_name():
    broken = copy.deepcopy(TEMPLATE)
    broken["Resources"]["PreviewRole"]["Properties"]["RoleName"] = "x" * 65
    broken["Resources"]["ReaderBoundary"]["Properties"]["PolicyDocumen"] = (
        broken["Resources"]["ReaderBoundary"]["Properties"].pop("PolicyDocument"))
    found = {match.split()[0] for match in lint_matches(broken)}
    assert {"E3002", "E3003"} <= found, found


def test_the_template_holds_the_two_roles_and_the_boundary_and_nothing_else():
    resources = TEMPLATE["Resources"]
    assert {name: r["Type"] for name, r in resources.items()} == {
        "PreviewRole": "AWS::IAM::Role", "DeployRole": "AWS::IAM::Role", "ReaderBoundary": "AWS::IAM::ManagedPolicy"}
    assert resources["PreviewRole"]["Properties"]["RoleName"] == SETTINGS.preview_role_name
    assert resources["DeployRole"]["Properties"]["RoleName"] == SETTINGS.deploy_role_name
    assert resources["ReaderBoundary"]["Properties"]["ManagedPolicyName"] == BOUNDARY_NAME
    assert SETTINGS.reader_boundary_arn("x").endswith(f"/{BOUNDARY_NAME}")
    assert "Parameters" not in TEMPLATE  # nothing to get wrong when deploying it


@pytest.mark.parametrize("account", SECONDARIES)
def test_the_template_in_an_account_is_the_bootstrap_documents_for_it(account):
    """One source: resolved for an account, every document in the template is the one --json prints for it."""
    resources = in_account(TEMPLATE, account)["Resources"]
    expected = DOCS[account]
    for resource, name in (("PreviewRole", SETTINGS.preview_role_name), ("DeployRole", SETTINGS.deploy_role_name)):
        properties = resources[resource]["Properties"]
        assert properties["AssumeRolePolicyDocument"] == expected[name]["trust"]
        assert [p["PolicyDocument"] for p in properties["Policies"]] == [expected[name]["policy"]]
    assert resources["ReaderBoundary"]["Properties"]["PolicyDocument"] == expected[BOUNDARY_NAME]["boundary"]
    assert f"arn:aws:iam::{account}:policy/{BOUNDARY_NAME}" in json.dumps(resources["DeployRole"])


def test_nothing_but_the_account_is_substituted():
    substituted = [value for value in json.dumps(TEMPLATE).split('"Fn::Sub": ')[1:]]
    assert substituted and all(value.startswith('"arn:aws:iam::${AWS::AccountId}:') for value in substituted)


# --- deployed into moto ------------------------------------------------------------------------------------


def read_bootstrap_roles(aws: MotoAws, account: str) -> dict[str, DeployedRole]:
    iam = aws.iam(account)
    roles = {}
    for name in (SETTINGS.preview_role_name, SETTINGS.deploy_role_name):
        role = iam.get_role(RoleName=name)["Role"]
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
        policies = {
            f"inline:{policy}": _document(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]}
        roles[role["Arn"]] = DeployedRole(role["Arn"], _document(role["AssumeRolePolicyDocument"]), policies)
    return roles


@pytest.fixture(scope="module")
def deployed() -> dict[str, dict[str, DeployedRole]]:
    """Create the template as a stack in every secondary account; read back every role, and the boundary."""
    found: dict[str, dict[str, DeployedRole]] = {}
    with moto_aws(REGION) as aws:
        for account in SECONDARIES:
            cloudformation = aws.client(account, "cloudformation")
            cloudformation.create_stack(StackName=bootstrap.SECONDARY_STACK_NAME, TemplateBody=json.dumps(TEMPLATE),
                                        Capabilities=["CAPABILITY_NAMED_IAM"])
            status = cloudformation.describe_stacks(StackName=bootstrap.SECONDARY_STACK_NAME)["Stacks"][0]
            assert status["StackStatus"] == "CREATE_COMPLETE", status
            found[account] = read_bootstrap_roles(aws, account)
            iam = aws.iam(account)
            boundary_arn = SETTINGS.reader_boundary_arn(account)
            version = iam.get_policy(PolicyArn=boundary_arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=boundary_arn, VersionId=version)["PolicyVersion"]["Document"]
            found[account][boundary_arn] = DeployedRole(boundary_arn, {}, {"boundary": document})
    return found


@pytest.mark.moto
@pytest.mark.parametrize("account", SECONDARIES)
def test_moto_creates_the_roles_whose_documents_are_the_bootstraps(deployed, account):
    roles = deployed[account]
    preview, deploy = roles[SETTINGS.preview_role_arn(account)], roles[SETTINGS.deploy_role_arn(account)]
    expected = DOCS[account]
    assert preview.trust_policy == expected[SETTINGS.preview_role_name]["trust"]
    assert preview.policies == {f"inline:{SETTINGS.preview_role_name}": expected[SETTINGS.preview_role_name]["policy"]}
    assert deploy.trust_policy == expected[SETTINGS.deploy_role_name]["trust"]
    assert deploy.policies == {f"inline:{SETTINGS.deploy_role_name}": expected[SETTINGS.deploy_role_name]["policy"]}
    boundary = roles[SETTINGS.reader_boundary_arn(account)]
    assert boundary.policies["boundary"] == expected[BOUNDARY_NAME]["boundary"]


def admin(arn: str) -> Principal:
    return Principal.role(arn, {"inline:admin": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}})


def may_assume(principal: Principal, role: DeployedRole) -> bool:
    return bool(local_check_authorization_full(principal.node(), "sts:AssumeRole", role.arn, {}, role.trust_policy,
                                               role.arn.split(":")[4]))


@pytest.mark.moto
@pytest.mark.parametrize("account", SECONDARIES)
@pytest.mark.parametrize(("caller", "may_preview", "may_deploy"), [
    (CI_DEPLOY, True, True),
    (OPERATOR, True, True),
    (CI_PREVIEW, True, False),
    (f"arn:aws:iam::{OWNER}:role/AdministratorAccess", False, False),  # an owner account admin, not listed
    (f"arn:aws:iam::{SECONDARIES[0]}:role/admin", False, False),  # an admin of a secondary account itself
    ("arn:aws:iam::999988887777:role/ci-deploy", False, False),  # the deploy CI role's name elsewhere
], ids=["ci-deploy", "operator", "ci-preview", "owner-admin", "secondary-admin", "other-account"])
def test_principalmapper_over_what_moto_created(deployed, account, caller, may_preview, may_deploy):
    roles = deployed[account]
    # Each caller at its most powerful: only the trust policies moto holds decide.
    assert may_assume(admin(caller), roles[SETTINGS.preview_role_arn(account)]) is may_preview
    assert may_assume(admin(caller), roles[SETTINGS.deploy_role_arn(account)]) is may_deploy


@pytest.mark.moto
def test_the_deployed_deploy_role_creates_the_reader_only_inside_the_deployed_boundary(deployed):
    account = SECONDARIES[1]
    deploy = deployed[account][SETTINGS.deploy_role_arn(account)].principal().node()
    reader = SETTINGS.reader_role_arn(account)

    def may_create(boundary: str | None) -> bool:
        context = {"iam:PermissionsBoundary": boundary} if boundary else {}
        return bool(local_check_authorization_full(deploy, "iam:CreateRole", reader, context))

    assert may_create(SETTINGS.reader_boundary_arn(account))
    assert not may_create(None)
    assert not may_create("arn:aws:iam::aws:policy/AdministratorAccess")
    assert not may_create(SETTINGS.reader_boundary_arn(SECONDARIES[0]))  # another account's boundary


@pytest.mark.moto
def test_moto_validates_every_document():
    """moto's validators, which its IAM API runs on every document (its CloudFormation skips them for inline
    policies): a malformed one fails here."""
    from moto.iam.exceptions import MalformedPolicyDocument
    from moto.iam.policy_validation import IAMPolicyDocumentValidator, IAMTrustPolicyDocumentValidator

    resources = in_account(TEMPLATE, SECONDARIES[0])["Resources"]
    for role in ("PreviewRole", "DeployRole"):
        properties = resources[role]["Properties"]
        IAMTrustPolicyDocumentValidator(json.dumps(properties["AssumeRolePolicyDocument"])).validate()
        for policy in properties["Policies"]:
            IAMPolicyDocumentValidator(json.dumps(policy["PolicyDocument"])).validate()
    IAMPolicyDocumentValidator(json.dumps(resources["ReaderBoundary"]["Properties"]["PolicyDocument"])).validate()
    broken = copy.deepcopy(resources["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"])
    broken["Statement"][0]["Effect"] = "Permit"
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors"):
        IAMPolicyDocumentValidator(json.dumps(broken)).validate()
