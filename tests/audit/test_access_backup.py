"""The access report over the backup stack: the copier and the reconciler are read-only on CodeArtifact and
put-only on the bucket, the retention job changes statuses in internal only, S3's replication role and the
schedules hold their jobs, and each widening is found."""

from __future__ import annotations

import pytest

from audit.access import (
    BACKUP_COPIER,
    BACKUP_RECONCILER,
    BACKUP_REPLICATION,
    BACKUP_SCHEDULE,
    RETENTION_JOB,
    access_report,
)
from audit.render import Rendering
from tests.expected import OWNER, REGION
from tests.renderings import add_statement, changed, drop_statement
from tests.stacks import BACKUP_BUCKET, COPIER_POLICY, REPLICATION_POLICY, RETENTION_POLICY, backup

PREFIX = f"arn:aws:codeartifact:{REGION}:{OWNER}"
COPIER_ARN = f"arn:aws:iam::{OWNER}:role/pypi-registry-backup"
RETENTION_ARN = f"arn:aws:iam::{OWNER}:role/pypi-registry-retention"
STATUS = "codeartifact:UpdatePackageVersionsStatus"


@pytest.fixture(scope="module")
def pristine() -> Rendering:
    return backup()


def _decided(report, principal: str) -> dict[tuple[str, str], bool]:
    rows = {}
    for group in report.decisions.as_json()["groups"]:
        if principal in group["principals"]:
            rows.update({(c["action"], c["resource"]): c["allowed"] for c in group["checks"]})
    return rows


def test_the_backup_roles_do_their_jobs_and_nothing_more(pristine):
    report = access_report(pristine)
    assert report.violations == []
    kinds = {s.kind: dict(zip(report.plan.columns, cells, strict=True)) for s, cells in report.rows}
    for kind in (BACKUP_COPIER, BACKUP_RECONCILER, BACKUP_REPLICATION, BACKUP_SCHEDULE):
        assert not any(kinds[kind].values()), (kind, kinds[kind])
    assert kinds[RETENTION_JOB]["archive or unlist versions"]
    assert not kinds[RETENTION_JOB]["irreversible delete"] and not kinds[RETENTION_JOB]["read internal"]
    assert sum(s.kind == BACKUP_SCHEDULE for s, _ in report.rows) == 2
    copier = _decided(report, COPIER_ARN)
    internal_package = f"{PREFIX}:package/acme/internal/pypi//acme-unclaimed"
    store_package = f"{PREFIX}:package/acme/pypi-store/pypi//acme-unclaimed"
    assert copier[("codeartifact:GetPackageVersionAsset", internal_package)]
    assert copier[("codeartifact:ListPackageVersionAssets", internal_package)]
    assert not copier[("codeartifact:GetPackageVersionAsset", store_package)]
    assert not any(ok for (action, _), ok in copier.items() if action == STATUS)
    retention = _decided(report, RETENTION_ARN)
    assert retention[(STATUS, internal_package)]
    assert not retention[(STATUS, store_package)]
    assert not retention[("codeartifact:GetPackageVersionAsset", internal_package)]


def test_a_copier_that_could_publish_is_found(pristine):
    widened = changed(pristine, COPIER_POLICY, add_statement("policy", {
        "Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
        "Resource": f"{PREFIX}:package/acme/internal/*"}))
    found = access_report(widened).violations
    assert any("pypi-registry-backup " in v and "PublishPackageVersion" in v for v in found), found


@pytest.mark.parametrize(("policy", "action"), [
    (COPIER_POLICY, "s3:DeleteObjectVersion"),
    (COPIER_POLICY, "s3:BypassGovernanceRetention"),
    (RETENTION_POLICY, "s3:DeleteObject"),
    (REPLICATION_POLICY, "s3:ReplicateDelete"),
])
def test_a_backup_role_that_could_delete_from_the_bucket_is_found(pristine, policy, action):
    widened = changed(pristine, policy, add_statement("policy", {"Effect": "Allow", "Action": action,
                                                                 "Resource": f"arn:aws:s3:::{BACKUP_BUCKET}/*"}))
    found = access_report(widened).violations
    assert any(action in v and "beyond Read and List outside CodeArtifact" in v for v in found), found


def test_a_retention_job_that_could_archive_outside_internal_is_found(pristine):
    widened = changed(pristine, "registry-domain-policy",
                      drop_statement("policyDocument", "DenyRetentionOutsideInternal"))
    widened = changed(widened, RETENTION_POLICY, add_statement("policy", {
        "Effect": "Allow", "Action": STATUS, "Resource": f"{PREFIX}:package/acme/pypi-store/*"}))
    found = access_report(widened).violations
    assert any("pypi-registry-retention" in v and f"{STATUS} on {PREFIX}:package/acme/pypi-store" in v
               for v in found), found
