"""The CI roles' permissions in the owner account are derived from the CloudFormation registry schemas'
handler permissions (cfn-lint), kept in bootstrap/handler_permissions.json: the table is the installed
cfn-lint's, it covers every type the program declares, the preview role only reads, and the deploy role
can do what each handler needs and nothing the Denies forbid."""

from __future__ import annotations

import copy
import json

import pytest

from audit.access import Principal
from audit.pmapper_compat import local_check_authorization_full
from audit.render import render
from bootstrap import documents as bootstrap
from bootstrap.permissions import (
    CLOUDFORMATION_TYPES,
    HANDLERS,
    TABLE_PATH,
    UNUSED,
    generate_table,
    permissions,
    render_table,
    table_differences,
)
from policies.iam_actions import access_level, document_beyond_read_only
from policies.inventory import EVALUATED_TYPES, INERT_TYPES
from tests.test_model_edges import STACKSET_OVERRIDES


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
        permissions(["aws:s3/bucket:Bucket"], HANDLERS)


@pytest.mark.parametrize("overrides", [{}, STACKSET_OVERRIDES], ids=["accounts", "stackset"])
def test_the_ci_roles_cover_every_type_the_program_declares_in_the_owner_account(overrides):
    rendering = render("prod", overrides=overrides)
    owner = rendering.settings.owner_account_id
    declared = {r.type for r in rendering.resources if r.account == owner and not r.type.startswith("pulumi:")}
    assert declared <= set(bootstrap.owner_types(rendering.settings)), declared - set(
        bootstrap.owner_types(rendering.settings))
    deploy = bootstrap.ci_deploy_policy(rendering.settings)["Statement"][0]["Action"]
    assert set(permissions(declared, HANDLERS)) <= set(deploy)


def test_the_preview_and_drift_role_reads_every_type_and_only_reads():
    settings = render("prod", overrides=STACKSET_OVERRIDES).settings
    policy = bootstrap.ci_preview_policy(settings)
    assert document_beyond_read_only(policy) == ["sts:AssumeRole"]  # of the secondary preview roles only
    reads = policy["Statement"][0]["Action"]
    # Refreshing the aws-native package groups goes through Cloud Control.
    assert {"cloudformation:GetResource", "codeartifact:DescribePackageGroup", "kms:GetKeyPolicy",
            "cloudformation:DescribeStackSet", "sts:GetCallerIdentity"} <= set(reads)


def test_the_deploy_role_leaves_out_what_the_program_never_uses():
    deploy = bootstrap.ci_deploy_policy(render("prod").settings)["Statement"][0]["Action"]
    assert not set(UNUSED) & set(deploy)
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

    def may(action: str) -> bool:
        return bool(local_check_authorization_full(principal.node(), action, domain_arn, {"aws:ResourceAccount":
                                                   settings.owner_account_id}, domain_policy,
                                                   settings.owner_account_id))

    assert may("codeartifact:DescribeDomain") and may("codeartifact:PutDomainPermissionsPolicy")
    assert may("codeartifact:DeletePackageGroup")  # reopening names: the deploy role's right
    assert not may("codeartifact:DeleteDomain") and not may("codeartifact:DeleteRepository")
