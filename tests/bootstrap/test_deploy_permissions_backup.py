"""The bootstrap with a backup (backupRegion set): the deploy and preview CI roles cover every type the backup
declares (both regions), reach only the backup's resources, create its roles only inside the backup's boundary,
pass them only to their services, and stay deliverable as at most ten managed policies, even with the airlock
on as well."""

from __future__ import annotations

import pytest

from audit.access import Principal
from audit.pmapper_compat import local_check_authorization_full
from bootstrap import documents as bootstrap
from bootstrap.permissions import ARN_FORMAT, HANDLERS, RESOURCE_SCOPES, permissions, table
from model.documents.backup import backup_policy, reconcile_policy, replication_policy, retention_policy
from model.documents.jobs import invoke_policy
from model.names import MANAGED_POLICY_LIMIT
from model.trust_policy import to_json
from policies.iam_actions import document_beyond_read_only
from tests.stacks import BACKUP_REPLICA, backup

OWNER = "111122223333"
CI_DEPLOY = f"arn:aws:iam::{OWNER}:role/pypi-registry-ci-deploy"
AIRLOCK_TOO = {"publicIngest": "airlock", "publicPackages": ["requests"]}


@pytest.fixture(scope="module")
def rendering():
    return backup()


@pytest.fixture(scope="module")
def ci_deploy(rendering) -> Principal:
    return Principal.role(CI_DEPLOY, {"inline:deploy": bootstrap.ci_deploy_policy(rendering.settings)})


def may(principal: Principal, action: str, resource: str, **context: str) -> bool:
    return bool(local_check_authorization_full(principal.node(), action, resource, dict(context)))


def allowed_actions(policy: dict) -> set[str]:
    return {action for statement in policy["Statement"] if statement["Action"] != "sts:AssumeRole"
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}


@pytest.mark.parametrize("changes", [{}, AIRLOCK_TOO], ids=["backup", "backup-and-airlock"])
def test_the_ci_roles_cover_every_type_the_backup_declares_in_both_regions(changes):
    rendering = backup(**changes)
    settings = rendering.settings
    declared = {r.type for r in rendering.resources if r.account == OWNER and not r.type.startswith("pulumi:")}
    assert declared <= set(bootstrap.owner_types(settings)), declared - set(bootstrap.owner_types(settings))
    regions = {r.region for r in rendering.resources if r.account == OWNER and r.region}
    assert regions == {"eu-west-1", "eu-central-1"}
    missing = set(permissions(declared, HANDLERS)) - allowed_actions(bootstrap.ci_deploy_policy(settings))
    # Left out only where the action could act on nothing of the stack's (layers, S3 Tables, access points...).
    formats = table()["resources"]
    assert all(formats[action] and not any(RESOURCE_SCOPES[f.removeprefix(ARN_FORMAT)](settings)
                                           for f in formats[action]) for action in missing), sorted(missing)
    assert "s3:PutReplicationConfiguration" not in missing and "lambda:CreateEventSourceMapping" not in missing
    parts = bootstrap.ci_deploy_managed_policies(settings)
    assert 1 <= len(parts) <= 10, len(parts)
    assert all(len(to_json(part)) <= MANAGED_POLICY_LIMIT for part in parts.values())
    assert [s for part in parts.values() for s in part["Statement"]] == bootstrap.ci_deploy_policy(settings)[
        "Statement"]


def test_without_a_backup_no_backup_type_or_role_is_granted(prod):
    settings = prod.settings
    assert not set(bootstrap.owner_types(settings)) & {"aws:sqs/queue:Queue", "aws:cloudwatch/eventRule:EventRule"}
    text = to_json(bootstrap.ci_deploy_policy(settings))
    assert "backup" not in text and "sqs:" not in text


def test_the_deploy_role_reaches_the_backups_resources_only(rendering, ci_deploy):
    settings = rendering.settings
    assert may(ci_deploy, "s3:PutReplicationConfiguration", settings.backup_bucket_arn)
    assert may(ci_deploy, "s3:PutBucketPolicy", f"arn:aws:s3:::{BACKUP_REPLICA}")
    assert not may(ci_deploy, "s3:PutBucketPolicy", "arn:aws:s3:::another-bucket")
    assert may(ci_deploy, "sqs:SetQueueAttributes", settings.backup_queue_arn)
    assert not may(ci_deploy, "sqs:SetQueueAttributes", f"arn:aws:sqs:eu-west-1:{OWNER}:another-queue")
    assert may(ci_deploy, "events:PutRule", settings.backup_rule_arn)
    assert not may(ci_deploy, "events:PutRule", f"arn:aws:events:eu-west-1:{OWNER}:rule/another-rule")
    assert may(ci_deploy, "kms:PutKeyPolicy", f"arn:aws:kms:eu-central-1:{OWNER}:key/1234abcd")
    assert not may(ci_deploy, "kms:PutKeyPolicy", f"arn:aws:kms:us-east-1:{OWNER}:key/1234abcd")
    assert may(ci_deploy, "kms:CreateAlias", f"arn:aws:kms:eu-central-1:{OWNER}:alias/pypi-registry-backup")
    function = settings.function_arn("pypi-registry-backup")
    assert may(ci_deploy, "lambda:UpdateFunctionCode", function)
    assert not may(ci_deploy, "lambda:UpdateFunctionCode", function.replace("backup", "other"))
    assert may(ci_deploy, "lambda:CreateEventSourceMapping",
               f"arn:aws:lambda:eu-west-1:{OWNER}:event-source-mapping:6f1c1f7e-0000-0000-0000-000000000000")


def test_the_backups_roles_only_inside_their_boundary_and_passed_only_to_their_services(rendering, ci_deploy):
    settings = rendering.settings
    backup_boundary, github_boundary = settings.backup_roles_boundary_arn, settings.github_roles_boundary_arn
    copier, replication = settings.backup_role_arn, settings.replication_role_arn
    assert may(ci_deploy, "iam:CreateRole", copier, **{"iam:PermissionsBoundary": backup_boundary})
    assert not may(ci_deploy, "iam:CreateRole", copier, **{"iam:PermissionsBoundary": github_boundary})
    publisher = settings.publisher_role_arn(settings.publishers[0])
    assert not may(ci_deploy, "iam:CreateRole", publisher, **{"iam:PermissionsBoundary": backup_boundary})
    assert may(ci_deploy, "iam:PassRole", copier, **{"iam:PassedToService": "lambda.amazonaws.com"})
    assert not may(ci_deploy, "iam:PassRole", copier, **{"iam:PassedToService": "s3.amazonaws.com"})
    assert may(ci_deploy, "iam:PassRole", replication, **{"iam:PassedToService": "s3.amazonaws.com"})
    assert not may(ci_deploy, "iam:PassRole", replication, **{"iam:PassedToService": "lambda.amazonaws.com"})
    assert not may(ci_deploy, "iam:PassRole", publisher, **{"iam:PassedToService": "s3.amazonaws.com"})


def test_the_backup_boundary_is_exactly_the_union_of_the_backups_grants(rendering):
    settings = rendering.settings
    boundary = bootstrap.backup_roles_boundary_policy(settings)
    unnamed = [{k: v for k, v in s.items() if k != "Sid"} for s in boundary["Statement"]]
    grants = [backup_policy(settings, "pypi-registry-backup"),
              reconcile_policy(settings, "pypi-registry-backup-reconcile"),
              retention_policy(settings, "pypi-registry-retention"), replication_policy(settings),
              invoke_policy(settings, "pypi-registry-retention")]
    for grant in grants:
        assert all({k: v for k, v in s.items() if k != "Sid"} in unnamed for s in grant["Statement"])
    granted = [{k: v for k, v in s.items() if k != "Sid"} for g in grants for s in g["Statement"]]
    granted.append({k: v for k, v in invoke_policy(settings, "pypi-registry-backup-reconcile")["Statement"][0]
                    .items() if k != "Sid"})
    assert all(s in granted for s in unnamed)
    assert document_beyond_read_only(boundary)
    assert "Delete" not in to_json(boundary).replace("sqs:DeleteMessage", "")
    documents = bootstrap.documents(settings, "acme/registry", "preview", "deploy")[OWNER]
    assert documents["pypi-registry-backup-roles-boundary"] == {"boundary": boundary}
