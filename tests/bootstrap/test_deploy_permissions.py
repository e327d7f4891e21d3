"""The CI roles' permissions in the owner account are derived from the CloudFormation registry schemas'
handler permissions (cfn-lint), kept in bootstrap/handler_permissions.json: the table is the installed
cfn-lint's, it covers every type the program declares, the preview role only reads, and the deploy role
can do what each handler needs and nothing the Denies forbid."""

from __future__ import annotations

import copy
import json

import pytest

from audit.access import Principal
from audit.pmapper_compat import Policy, local_check_authorization_full
from audit.render import render
from bootstrap import documents as bootstrap
from bootstrap.permissions import (
    CLOUDFORMATION_TYPES,
    HANDLERS,
    RESOURCE_SCOPES,
    TABLE_PATH,
    UNUSED,
    generate_table,
    permissions,
    render_table,
    scoped_statements,
    table_differences,
)
from policies.iam_actions import access_level, document_beyond_read_only
from policies.inventory import EVALUATED_TYPES, INERT_TYPES
from tests.stacks import STACKSET_OVERRIDES


def allowed_actions(policy: dict) -> set[str]:
    """Every action the policy's statements allow, but assuming the secondary roles."""
    return {action for statement in policy["Statement"] if statement["Action"] != "sts:AssumeRole"
            for action in statement["Action"]}


@pytest.fixture(scope="module")
def regenerated() -> dict:
    return generate_table()


def test_the_checked_in_table_is_the_installed_cfn_lints(regenerated):
    checked_in = json.loads(TABLE_PATH.read_text())
    assert table_differences(checked_in, regenerated) == [], "run `make deploy-permissions`"
    assert TABLE_PATH.read_text() == render_table(regenerated)


def test_a_changed_permission_is_detected(regenerated):
    altered = copy.deepcopy(regenerated)
    altered["types"]["AWS::CodeArtifact::Domain"]["create"].remove("codeartifact:CreateDomain")
    assert table_differences(altered, regenerated) == [
        "AWS::CodeArtifact::Domain create: the table and cfn-lint's schema differ"]


def test_every_type_the_checks_evaluate_has_an_entry():
    """A type added to the inventory without saying how it is deployed fails here (fail closed)."""
    missing = {t for t in EVALUATED_TYPES | INERT_TYPES if t not in CLOUDFORMATION_TYPES}
    assert missing == set()
    with pytest.raises(KeyError):
        permissions(["aws:ec2/instance:Instance"], HANDLERS)


@pytest.mark.parametrize("overrides", [{}, STACKSET_OVERRIDES], ids=["accounts", "stackset"])
def test_the_ci_roles_cover_every_type_the_program_declares_in_the_owner_account(overrides):
    rendering = render("prod", overrides=overrides)
    owner = rendering.settings.owner_account_id
    declared = {r.type for r in rendering.resources if r.account == owner and not r.type.startswith("pulumi:")}
    assert declared <= set(bootstrap.owner_types(rendering.settings)), declared - set(
        bootstrap.owner_types(rendering.settings))
    deploy = allowed_actions(bootstrap.ci_deploy_policy(rendering.settings))
    assert set(permissions(declared, HANDLERS)) <= deploy
    # And nothing for a type the program does not declare there.
    assert set(bootstrap.owner_types(rendering.settings)) <= declared | {"aws:kms/alias:Alias"}


def test_the_preview_and_drift_role_reads_every_type_and_only_reads():
    settings = render("prod", overrides=STACKSET_OVERRIDES).settings
    policy = bootstrap.ci_preview_policy(settings)
    assert document_beyond_read_only(policy) == ["sts:AssumeRole"]  # of the secondary preview roles only
    reads = allowed_actions(policy)
    # Refreshing the aws-native package groups goes through Cloud Control.
    assert {"cloudformation:GetResource", "codeartifact:DescribePackageGroup", "kms:GetKeyPolicy",
            "cloudformation:DescribeStackSet", "sts:GetCallerIdentity"} <= set(reads)


def test_the_deploy_role_leaves_out_what_the_program_never_uses():
    deploy = allowed_actions(bootstrap.ci_deploy_policy(render("prod").settings))
    assert not set(UNUSED) & deploy
    assert "iam:AttachRolePolicy" in deploy
    assert all(access_level(action) is not None for action in deploy), [a for a in deploy if not access_level(a)]


def test_the_deploy_role_is_still_denied_every_loss_by_the_domain_policy(prod):
    """Its permissions include the delete handlers' calls; the domain policy's Denies stop them (the deploy
    role may reopen names and change version status, nothing more)."""
    settings = prod.settings
    deploy_arn = settings.deploy_principal_arns[0]
    principal = Principal.role(deploy_arn, {"inline:deploy": bootstrap.ci_deploy_policy(settings)})
    domain_policy = json.loads(next(r for r in prod.resources if r.name == "registry-domain-policy")
                               .inputs["policyDocument"])
    domain_arn = next(r for r in prod.resources if r.name == "registry-domain").outputs["arn"]

    def may(action: str, resource: str = domain_arn) -> bool:
        return bool(local_check_authorization_full(principal.node(), action, resource, {"aws:ResourceAccount":
                                                   settings.owner_account_id}, domain_policy,
                                                   settings.owner_account_id))

    group = f"{settings.codeartifact_arn_prefix}:package-group/acme{settings.package_group_pattern('acme-')}"
    assert may("codeartifact:DescribeDomain") and may("codeartifact:PutDomainPermissionsPolicy")
    assert may("codeartifact:DeletePackageGroup", group)  # reopening names: the deploy role's right
    assert not may("codeartifact:DeleteDomain")
    assert not may("codeartifact:DeleteRepository", settings.repository_arn("internal"))


# --- every action on this stack's resources only -------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{}, STACKSET_OVERRIDES], ids=["accounts", "stackset"])
def test_only_an_action_that_names_no_resource_type_is_allowed_on_every_resource(overrides):
    settings = render("prod", overrides=overrides).settings
    formats = json.loads(TABLE_PATH.read_text())["resources"]
    for policy in (bootstrap.ci_deploy_policy(settings), bootstrap.ci_preview_policy(settings)):
        for statement in policy["Statement"]:
            if statement["Resource"] == "*":
                assert [a for a in statement["Action"] if formats[a]] == [], statement["Sid"]


def test_an_unmapped_resource_type_fails_the_derivation(monkeypatch):
    """Fail closed: an action whose resource type the scopes do not place is an error, not Resource "*"."""
    settings = render("prod").settings
    monkeypatch.delitem(RESOURCE_SCOPES, "kms:${Region}:${Account}:key/${KeyId}")
    with pytest.raises(KeyError, match="key"):
        bootstrap.ci_deploy_policy(settings)
    with pytest.raises(KeyError, match="no resource types"):
        scoped_statements(settings, ["sqs:SendMessage"], "Sid")


OWNER = "111122223333"
CI_DEPLOY = f"arn:aws:iam::{OWNER}:role/pypi-registry-ci-deploy"


@pytest.fixture(scope="module")
def ci_deploy(prod) -> Principal:
    return Principal.role(CI_DEPLOY, {"inline:deploy": bootstrap.ci_deploy_policy(prod.settings)})


def may(principal: Principal, action: str, resource: str, **context: str) -> bool:
    return bool(local_check_authorization_full(principal.node(), action, resource, dict(context)))


def test_the_deploy_role_reaches_only_this_stacks_resources(prod, ci_deploy):
    settings = prod.settings
    boundary = settings.github_roles_boundary_arn
    publisher = settings.publisher_role_arn(settings.publishers[0])
    assert may(ci_deploy, "iam:CreateRole", publisher, **{"iam:PermissionsBoundary": boundary})
    assert may(ci_deploy, "iam:PutRolePolicy", publisher)
    assert may(ci_deploy, "codeartifact:CreateRepository", settings.repository_arn("internal"))
    assert may(ci_deploy, "kms:PutKeyPolicy", f"arn:aws:kms:eu-west-1:{OWNER}:key/1234abcd")
    # Not without the boundary, not another role (its own included), not another domain, alias or StackSet.
    assert not may(ci_deploy, "iam:CreateRole", publisher)
    assert not may(ci_deploy, "iam:CreateRole", publisher, **{"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/"
                                                                                          "AdministratorAccess"})
    assert not may(ci_deploy, "iam:DeleteRolePermissionsBoundary", publisher)
    for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:CreateRole"):
        assert not may(ci_deploy, action, CI_DEPLOY, **{"iam:PermissionsBoundary": boundary}), action
        assert not may(ci_deploy, action, f"arn:aws:iam::{OWNER}:role/admin", **{"iam:PermissionsBoundary": boundary})
    assert not may(ci_deploy, "iam:CreateUser", f"arn:aws:iam::{OWNER}:user/x")
    assert not may(ci_deploy, "iam:PassRole", publisher)
    assert not may(ci_deploy, "codeartifact:DeleteRepository", f"arn:aws:codeartifact:eu-west-1:{OWNER}:"
                                                               "repository/other/internal")
    assert not may(ci_deploy, "kms:DeleteAlias", f"arn:aws:kms:eu-west-1:{OWNER}:alias/other")
    assert not may(ci_deploy, "cloudformation:DeleteStackSet", f"arn:aws:cloudformation:eu-west-1:{OWNER}:"
                                                               "stackset/other:1")


def test_the_boundary_holds_every_owner_role_to_reading_and_publishing_whatever_its_policy_says(prod):
    settings = prod.settings
    boundary = bootstrap.github_roles_boundary_policy(settings)
    publisher = settings.publishers[0]
    # The program puts it on every role it declares in the owner account.
    roles = [r for r in prod.resources if r.type == "aws:iam/role:Role" and r.account == settings.owner_account_id]
    assert roles and {r.inputs.get("permissionsBoundary") for r in roles} == {settings.github_roles_boundary_arn}
    everything = Principal.role(settings.publisher_role_arn(publisher), {"inline:everything": {"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}).node()
    everything.permissions_boundary = Policy(settings.github_roles_boundary_arn, "boundary", boundary)

    def bounded_may(action: str, resource: str) -> bool:
        return bool(local_check_authorization_full(everything, action, resource, {}))

    # Every grant of a publisher and a reader fits inside it ...
    from model.documents.github import publisher_permissions_policy
    from model.documents.readers import reader_identity_policy
    for document in (publisher_permissions_policy(settings, publisher), reader_identity_policy(settings)):
        for statement in document["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            for action in actions:
                for resource in resources:
                    concrete = resource.replace("*", "x")
                    assert bounded_may(action, concrete) or action == "sts:GetServiceBearerToken", (action, resource)
    # ... and nothing beyond the registry does.
    assert not bounded_may("iam:CreateUser", f"arn:aws:iam::{OWNER}:user/x")
    assert not bounded_may("codeartifact:PublishPackageVersion", settings.package_arn("pypi-store", "requests"))
    assert not bounded_may("codeartifact:DeletePackageVersions", settings.package_arn("internal", "acme-core"))
    assert not bounded_may("codeartifact:ReadFromRepository", f"arn:aws:codeartifact:eu-west-1:{OWNER}:"
                                                              "repository/other/internal")


def test_in_airlock_mode_the_deploy_role_manages_the_airlock_only_inside_its_boundary_and_names():
    from tests.stacks import airlock

    settings = airlock().settings
    ci_deploy = Principal.role(CI_DEPLOY, {"inline:deploy": bootstrap.ci_deploy_policy(settings)})
    promoter = settings.promoter_role_arn
    airlock_boundary, github_boundary = settings.airlock_roles_boundary_arn, settings.github_roles_boundary_arn
    assert may(ci_deploy, "iam:CreateRole", promoter, **{"iam:PermissionsBoundary": airlock_boundary})
    # Each kind of role only inside its own boundary.
    assert not may(ci_deploy, "iam:CreateRole", promoter, **{"iam:PermissionsBoundary": github_boundary})
    publisher = settings.publisher_role_arn(settings.publishers[0])
    assert not may(ci_deploy, "iam:CreateRole", publisher, **{"iam:PermissionsBoundary": airlock_boundary})
    # Its roles passed to Lambda and Scheduler only; no other role passed at all.
    assert may(ci_deploy, "iam:PassRole", promoter, **{"iam:PassedToService": "lambda.amazonaws.com"})
    assert not may(ci_deploy, "iam:PassRole", promoter, **{"iam:PassedToService": "ec2.amazonaws.com"})
    assert not may(ci_deploy, "iam:PassRole", publisher, **{"iam:PassedToService": "lambda.amazonaws.com"})
    function = settings.airlock_function_arns[0]
    assert may(ci_deploy, "lambda:UpdateFunctionCode", function)
    assert not may(ci_deploy, "lambda:UpdateFunctionCode", function.replace("promoter", "other"))
    assert may(ci_deploy, "s3:PutBucketPolicy", settings.ledger_bucket_arn)
    assert not may(ci_deploy, "s3:PutBucketPolicy", "arn:aws:s3:::another-bucket")
    assert not may(ci_deploy, "s3:GetObject", "arn:aws:s3:::another-bucket/key")


def test_the_airlock_boundary_is_exactly_the_union_of_the_airlocks_grants():
    from model.documents.airlock import promoter_policy
    from model.names import PROMOTER_FUNCTION_NAME
    from tests.stacks import airlock

    settings = airlock().settings
    boundary = bootstrap.airlock_roles_boundary_policy(settings)
    granted = promoter_policy(settings, PROMOTER_FUNCTION_NAME)
    unnamed = [{k: v for k, v in s.items() if k != "Sid"} for s in boundary["Statement"]]
    assert all({k: v for k, v in s.items() if k != "Sid"} in unnamed for s in granted["Statement"])
    assert document_beyond_read_only(boundary)  # it writes (copies, archives, the ledger) ...
    assert not any(s["Resource"] == "*" and "codeartifact" in str(s["Action"]) for s in boundary["Statement"])
