"""The CI roles (bootstrap/documents.py) under principalmapper: a preview — which runs a pull
request's own code — reaches the secondary accounts only through read-only roles, can assume no
deploy role and can write nowhere; the deploy role in a secondary account writes only the reader
role and policy, and can attach no other policy to it. And the program really uses the preview
role when it previews and the deploy role when it updates."""

from __future__ import annotations

import json

import pytest

from audit.access import Principal, github_claims, web_identity_may_assume
from audit.pmapper_compat import Policy, local_check_authorization_full
from audit.render import render
from bootstrap import documents as bootstrap
from model.parse import parse_settings
from policies.iam_actions import document_beyond_read_only

OWNER = "111122223333"
SECONDARY = "444455556666"
REPOSITORY = "acme/pypi-registry"
CI_PREVIEW = f"arn:aws:iam::{OWNER}:role/ci-preview"
CI_DEPLOY = f"arn:aws:iam::{OWNER}:role/ci-deploy"
OPERATOR = f"arn:aws:iam::{OWNER}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
SETTINGS = parse_settings({"ownerAccountId": OWNER, "domainName": "acme", "internalPrefixes": ["acme-"],
                           "secondaryAccountIds": [SECONDARY], "deployPrincipalArns": [OPERATOR]}, "eu-west-1")
DOCS = bootstrap.documents(SETTINGS, REPOSITORY, CI_PREVIEW, CI_DEPLOY)
READER_ROLE = SETTINGS.reader_role_arn(SECONDARY)
READER_POLICY = f"arn:aws:iam::{SECONDARY}:policy/codeartifact-pypi-reader-acme"
PREVIEW_ROLE = SETTINGS.preview_role_arn(SECONDARY)
DEPLOY_ROLE = SETTINGS.deploy_role_arn(SECONDARY)


def may(principal: Principal, action: str, resource: str, resource_policy: dict | None = None,
        context: dict | None = None) -> bool:
    """principalmapper's decision; `resource_policy` is a role's trust policy for sts:AssumeRole.
    Other IAM actions have no resource policy: only the caller's own policies decide."""
    if resource_policy is None:
        return bool(local_check_authorization_full(principal.node(), action, resource, context or {}))
    owner = resource.split(":")[4]
    return bool(local_check_authorization_full(principal.node(), action, resource, context or {},
                                               resource_policy, owner))


CI_PREVIEW_PRINCIPAL = Principal.role(CI_PREVIEW, {"inline:preview": DOCS[OWNER]["ci-preview"]["policy"]})
SECONDARY_PREVIEW = Principal.role(PREVIEW_ROLE, {
    "inline:preview": DOCS[SECONDARY][SETTINGS.preview_role_name]["policy"]})
SECONDARY_DEPLOY = Principal.role(DEPLOY_ROLE, {
    "inline:deploy": DOCS[SECONDARY][SETTINGS.deploy_role_name]["policy"]})


def test_every_preview_policy_grants_only_read_and_list_actions():
    assert document_beyond_read_only(DOCS[SECONDARY][SETTINGS.preview_role_name]["policy"]) == []
    owner_policy = DOCS[OWNER]["ci-preview"]["policy"]
    beyond = document_beyond_read_only(owner_policy)
    # The one non-read action: assuming the (read-only) preview roles of the secondary accounts.
    assert beyond == ["sts:AssumeRole"]
    (assume,) = [s for s in owner_policy["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == [PREVIEW_ROLE]


def test_the_preview_ci_role_may_assume_the_preview_role_and_never_the_deploy_role():
    preview_trust = DOCS[SECONDARY][SETTINGS.preview_role_name]["trust"]
    deploy_trust = DOCS[SECONDARY][SETTINGS.deploy_role_name]["trust"]
    assert may(CI_PREVIEW_PRINCIPAL, "sts:AssumeRole", PREVIEW_ROLE, preview_trust)
    assert not may(CI_PREVIEW_PRINCIPAL, "sts:AssumeRole", DEPLOY_ROLE, deploy_trust)



def admin(arn: str) -> Principal:
    return Principal.role(arn, {"inline:admin": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}})


@pytest.mark.parametrize("runner", [CI_DEPLOY, OPERATOR], ids=["ci-deploy", "operator"])
def test_whoever_runs_pulumi_up_may_preview_and_update_in_every_secondary_account(runner):
    """`pulumi up` previews first (the dry run assumes the preview roles), then updates (the deploy roles):
    the deploy CI role and an operator listed in deployPrincipalArns, from a laptop, may assume both."""
    for role, trust in [(PREVIEW_ROLE, DOCS[SECONDARY][SETTINGS.preview_role_name]["trust"]),
                        (DEPLOY_ROLE, DOCS[SECONDARY][SETTINGS.deploy_role_name]["trust"])]:
        assert may(admin(runner), "sts:AssumeRole", role, trust), (runner, role)


@pytest.mark.parametrize("stranger", [
    f"arn:aws:iam::{OWNER}:role/AdministratorAccess",  # an administrator of the owner account, not listed
    f"arn:aws:iam::{SECONDARY}:role/admin",  # an administrator of the secondary account itself
    "arn:aws:iam::999988887777:role/ci-deploy",  # the deploy CI role's name in another account
])
def test_a_role_that_is_neither_an_operator_nor_a_ci_role_may_assume_neither(stranger):
    for role, trust in [(PREVIEW_ROLE, DOCS[SECONDARY][SETTINGS.preview_role_name]["trust"]),
                        (DEPLOY_ROLE, DOCS[SECONDARY][SETTINGS.deploy_role_name]["trust"])]:
        assert not may(admin(stranger), "sts:AssumeRole", role, trust), (stranger, role)


def test_an_operator_listed_twice_or_as_the_ci_role_is_trusted_once():
    twice = bootstrap.documents(parse_settings({
        "ownerAccountId": OWNER, "domainName": "acme", "internalPrefixes": ["acme-"],
        "secondaryAccountIds": [SECONDARY], "deployPrincipalArns": [CI_DEPLOY]}, "eu-west-1"),
        REPOSITORY, CI_PREVIEW, CI_DEPLOY)
    (statement,) = twice[SECONDARY][SETTINGS.deploy_role_name]["trust"]["Statement"]
    assert statement["Principal"] == {"AWS": CI_DEPLOY}


@pytest.mark.parametrize("action", bootstrap.READER_WRITE_ACTIONS + bootstrap.ATTACH_ACTIONS)
def test_the_secondary_preview_role_writes_nothing(action):
    for resource in (READER_ROLE, READER_POLICY):
        assert not may(SECONDARY_PREVIEW, action, resource,
                       context={"iam:PolicyARN": READER_POLICY}), (action, resource)
    assert may(SECONDARY_PREVIEW, "iam:GetRole", READER_ROLE)


def test_the_secondary_deploy_role_writes_only_the_reader_and_attaches_only_its_policy():
    assert may(SECONDARY_DEPLOY, "iam:UpdateAssumeRolePolicy", READER_ROLE)
    assert may(SECONDARY_DEPLOY, "iam:CreatePolicyVersion", READER_POLICY)
    assert not may(SECONDARY_DEPLOY, "iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{SECONDARY}:role/other")
    assert not may(SECONDARY_DEPLOY, "iam:CreateUser", f"arn:aws:iam::{SECONDARY}:user/x")
    attach = {"iam:PolicyARN": READER_POLICY}
    assert may(SECONDARY_DEPLOY, "iam:AttachRolePolicy", READER_ROLE, context=attach)
    admin = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert not may(SECONDARY_DEPLOY, "iam:AttachRolePolicy", READER_ROLE, context=admin)


def test_the_owner_ci_roles_trust_only_their_own_environment():
    provider = SETTINGS.github_oidc_provider_arn
    preview_trust = DOCS[OWNER]["ci-preview"]["trust"]
    deploy_trust = DOCS[OWNER]["ci-deploy"]["trust"]
    for subject, trust, expected in [
        (f"repo:{REPOSITORY}:environment:preview", preview_trust, True),
        (f"repo:{REPOSITORY}:environment:production", preview_trust, False),
        (f"repo:{REPOSITORY}:environment:production", deploy_trust, True),
        (f"repo:{REPOSITORY}:pull_request", deploy_trust, False),
        (f"repo:{REPOSITORY}:ref:refs/heads/feature", deploy_trust, False),
        ("repo:evil/pypi-registry:environment:production", deploy_trust, False),
    ]:
        assert web_identity_may_assume(trust, provider, github_claims(subject), CI_PREVIEW) is expected, subject


@pytest.mark.parametrize(("preview", "role"), [(True, "pypi-registry-preview"), (False, "pypi-registry-deploy")],
                         ids=["preview", "update"])
def test_the_program_assumes_the_preview_role_when_previewing_and_the_deploy_role_when_updating(preview, role):
    rendering = render("prod", preview=preview)
    for account in rendering.settings.secondary_account_ids:
        provider = rendering.one("pulumi:providers:aws", f"reader-{account}-provider")
        (assumed,) = json.loads(provider.inputs["assumeRoles"])
        assert assumed["roleArn"] == f"arn:aws:iam::{account}:role/{role}"
        assert json.loads(provider.inputs["allowedAccountIds"]) == [account]
    # The resources themselves are declared the same way in both modes.
    reader = rendering.one("aws:iam/role:Role", f"reader-{rendering.settings.secondary_account_ids[0]}-reader-role")
    assert reader.inputs["name"] == "codeartifact-pypi-reader"


BOUNDARY = SETTINGS.reader_boundary_arn(SECONDARY)


def test_the_secondary_deploy_role_may_create_the_reader_only_inside_its_boundary():
    assert may(SECONDARY_DEPLOY, "iam:CreateRole", READER_ROLE, context={"iam:PermissionsBoundary": BOUNDARY})
    assert not may(SECONDARY_DEPLOY, "iam:CreateRole", READER_ROLE)
    assert not may(SECONDARY_DEPLOY, "iam:CreateRole", READER_ROLE,
                   context={"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"})
    assert may(SECONDARY_DEPLOY, "iam:PutRolePermissionsBoundary", READER_ROLE,
               context={"iam:PermissionsBoundary": BOUNDARY})
    # It can neither take the boundary off nor rewrite it.
    assert not may(SECONDARY_DEPLOY, "iam:DeleteRolePermissionsBoundary", READER_ROLE)
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not may(SECONDARY_DEPLOY, action, BOUNDARY), action


def test_the_boundary_holds_the_reader_to_codeartifact_reads_whatever_its_policy_says():
    boundary = DOCS[SECONDARY]["codeartifact-pypi-reader-permissions-boundary"]["boundary"]
    assert document_beyond_read_only(boundary) == []
    # A reader whose own policy the deploy role rewrote to allow everything, inside the boundary.
    everything = Principal.role(READER_ROLE, {"inline:everything": {"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}).node()
    everything.permissions_boundary = Policy(BOUNDARY, "boundary", boundary)

    def reader_may(action: str, resource: str) -> bool:
        return bool(local_check_authorization_full(everything, action, resource, {}))

    assert not reader_may("iam:CreateUser", f"arn:aws:iam::{SECONDARY}:user/x")
    assert not reader_may("iam:AttachRolePolicy", READER_ROLE)
    assert reader_may("codeartifact:DescribeDomain", f"arn:aws:codeartifact:eu-west-1:{OWNER}:domain/acme")
    # Without the boundary the same reader could do anything in its account.
    everything.permissions_boundary = None
    assert reader_may("iam:CreateUser", f"arn:aws:iam::{SECONDARY}:user/x")


def test_the_program_puts_the_boundary_on_every_secondary_reader_role():
    rendering = render("prod")
    for account in rendering.settings.secondary_account_ids:
        role = rendering.one("aws:iam/role:Role", f"reader-{account}-reader-role")
        assert role.inputs["permissionsBoundary"] == rendering.settings.reader_boundary_arn(account)
