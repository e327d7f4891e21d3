"""The pack over the backup stack (tests/fixtures/Pulumi.backup.yaml): clean as the program declares it, and each
backup rule, and each new type's place in the inventory, shown to bite with a bad case."""

from __future__ import annotations

import copy
import json

import pytest

from audit.guardrails import pack_config, rendering_violations
from audit.render import Rendering
from tests.expected import OWNER, REGION
from tests.policies.support import messages, setter
from tests.renderings import add_statement, changed, drop_statement, edit_document
from tests.stacks import (
    BACKUP_BUCKET,
    BACKUP_REPLICA,
    COPIER_POLICY,
    RECONCILE_POLICY,
    REPLICATION_POLICY,
    RETENTION_POLICY,
    backup,
)

PREFIX = f"arn:aws:codeartifact:{REGION}:{OWNER}"
BUCKETS = "backup-keeps-every-version"
ROLES = "backup-roles-hold-what-they-need"
EVENTS = "backup-events-reach-only-the-backup"
LOCKED = "airlock-ledger-keeps-every-decision"
QUEUE = f"arn:aws:sqs:{REGION}:{OWNER}:pypi-registry-backup"


@pytest.fixture(scope="module")
def pristine() -> Rendering:
    return backup()


def without(rendering: Rendering, name: str) -> Rendering:
    copied = copy.deepcopy(rendering)
    copied.resources = [r for r in copied.resources if r.name != name]
    return copied




def test_the_backup_stack_is_clean(pristine):
    assert rendering_violations(pristine) == []
    config = pack_config(pristine.settings)
    assert config[BUCKETS]["backupBucketName"] == BACKUP_BUCKET
    assert config[BUCKETS]["backupReplicaBucketName"] == BACKUP_REPLICA
    assert config["domain-denies-loss-and-reopening"]["retentionRoleArn"] == (
        f"arn:aws:iam::{OWNER}:role/pypi-registry-retention")


def test_without_retention_no_role_is_exempt_from_the_deny_of_status_changes():
    rendering = backup(retention=None)
    assert rendering_violations(rendering) == []
    assert "retentionRoleArn" not in pack_config(rendering.settings)["domain-denies-loss-and-reopening"]


# --- the buckets ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "change", "policy", "expected"), [
    ("backup-bucket", setter(("objectLockEnabled",), False), BUCKETS, "Object Lock is not enabled"),
    ("backup-replica-bucket", setter(("objectLockEnabled",), False), BUCKETS, "Object Lock is not enabled"),
    ("backup-object-lock", setter(("rule", "defaultRetention", "mode"), "GOVERNANCE"), BUCKETS, "COMPLIANCE"),
    ("backup-replica-object-lock", setter(("rule", "defaultRetention", "mode"), "GOVERNANCE"), BUCKETS,
     "COMPLIANCE"),
    ("backup-versioning", setter(("versioningConfiguration", "status"), "Suspended"), BUCKETS, "versioning"),
    ("backup-replica-versioning", setter(("versioningConfiguration", "status"), "Suspended"), LOCKED, "versioning"),
    ("backup-encryption", setter(("rules",), [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]),
     BUCKETS, "not encrypted with a KMS key"),
    ("backup-policy", add_statement("policy", {"Sid": "Cleanup", "Effect": "Allow",
                                               "Action": "s3:DeleteObjectVersion",
                                               "Resource": f"arn:aws:s3:::{BACKUP_BUCKET}/*",
                                               "Principal": {"AWS": f"arn:aws:iam::{OWNER}:role/ops"}}),
     BUCKETS, "the bucket policy allows s3:DeleteObjectVersion"),
    ("backup-replica-policy", add_statement("policy", {"Sid": "Relock", "Effect": "Allow",
                                                       "Action": "s3:PutBucketObjectLockConfiguration",
                                                       "Resource": f"arn:aws:s3:::{BACKUP_REPLICA}",
                                                       "Principal": {"AWS": f"arn:aws:iam::{OWNER}:role/ops"}}),
     BUCKETS, "the bucket policy allows s3:PutBucketObjectLockConfiguration"),
    ("backup-policy", add_statement("policy", {"Sid": "Bypass", "Effect": "Allow",
                                               "Action": "s3:BypassGovernanceRetention",
                                               "Resource": f"arn:aws:s3:::{BACKUP_BUCKET}/*",
                                               "Principal": {"AWS": f"arn:aws:iam::{OWNER}:role/ops"}}),
     LOCKED, "the bucket policy allows s3:BypassGovernanceRetention"),
    ("backup-policy", drop_statement("policy", "DenyDeletingBackups"), BUCKETS, "does not deny s3:DeleteObject"),
    ("backup-policy", drop_statement("policy", "DenyWritesButTheBackup"), BUCKETS,
     "does not deny s3:PutObject to every principal but the backup's roles"),
    ("backup-replication", setter(("rules",), [{
        "id": "x", "status": "Enabled", "filter": {}, "deleteMarkerReplication": {"status": "Enabled"},
        "destination": {"bucket": f"arn:aws:s3:::{BACKUP_REPLICA}"}}]), BUCKETS, "deleteMarkerReplication Disabled"),
    ("backup-replication", setter(("rules",), [{
        "id": "x", "status": "Enabled", "filter": {}, "deleteMarkerReplication": {"status": "Disabled"},
        "destination": {"bucket": "arn:aws:s3:::somebody-elses-bucket"}}]), BUCKETS,
     "writes into arn:aws:s3:::somebody-elses-bucket, which this stack does not declare"),
    ("backup-replication", lambda props: props["rules"][0].update(status="Disabled"), BUCKETS,
     f"no enabled replication rule copies it into the replica {BACKUP_REPLICA}"),
    ("backup-replication", setter(("role",), f"arn:aws:iam::{OWNER}:role/someone"), BUCKETS,
     f"it replicates as arn:aws:iam::{OWNER}:role/someone, which this stack does not declare"),
    ("backup-topic", setter(("kmsMasterKeyId",), ""), LOCKED, "not KMS-encrypted"),
])
def test_each_bucket_rule_bites(pristine, name, change, policy, expected):
    found = messages(changed(pristine, name, change), policy)
    assert any(expected in m for m in found), found


def test_a_missing_replica_or_replication_is_refused(pristine):
    assert any(f"backupReplicaBucketName {BACKUP_REPLICA} is not a bucket this stack declares" in m
               for m in messages(without(pristine, "backup-replica-bucket"), BUCKETS))
    assert any("no enabled replication rule" in m for m in messages(without(pristine, "backup-replication"), BUCKETS))


# --- the roles ------------------------------------------------------------------------------------------------


def _statement(action: object, resource: object, **extra: object) -> dict:
    return {"Sid": "Widened", "Effect": "Allow", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(("name", "statement", "expected"), [
    (COPIER_POLICY, _statement("codeartifact:UpdatePackageVersionsStatus", f"{PREFIX}:package/acme/internal/*"),
     "codeartifact:UpdatePackageVersionsStatus (not an action the backup's copier"),
    (COPIER_POLICY, _statement("codeartifact:PublishPackageVersion", f"{PREFIX}:package/acme/internal/*"),
     "codeartifact:PublishPackageVersion (not an action"),
    (COPIER_POLICY, _statement("codeartifact:GetPackageVersionAsset", f"{PREFIX}:package/acme/pypi-store/*"),
     f"codeartifact:GetPackageVersionAsset on {PREFIX}:package/acme/pypi-store/*"),
    (COPIER_POLICY, _statement("s3:DeleteObjectVersion", f"arn:aws:s3:::{BACKUP_BUCKET}/*"),
     "s3:DeleteObjectVersion (not an action"),
    (COPIER_POLICY, _statement("s3:BypassGovernanceRetention", f"arn:aws:s3:::{BACKUP_BUCKET}/*"),
     "s3:BypassGovernanceRetention (not an action"),
    (COPIER_POLICY, _statement("s3:PutObject", f"arn:aws:s3:::{BACKUP_BUCKET}/*"),
     f"s3:PutObject on arn:aws:s3:::{BACKUP_BUCKET}/*"),
    (COPIER_POLICY, _statement("s3:PutObject", "arn:aws:s3:::other-bucket/packages/*"),
     "s3:PutObject on arn:aws:s3:::other-bucket/packages/*"),
    (COPIER_POLICY, _statement("kms:ScheduleKeyDeletion", f"arn:aws:kms:{REGION}:{OWNER}:key/*"),
     "kms:ScheduleKeyDeletion (not an action"),
    (COPIER_POLICY, _statement("kms:Decrypt", f"arn:aws:kms:{REGION}:{OWNER}:key/*"),
     "without StringEquals kms:ViaService s3"),
    (COPIER_POLICY, _statement("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{OWNER}:key/*"),
     "without StringEquals kms:ViaService s3"),
    (COPIER_POLICY, {"Sid": "Not", "Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "*"},
     "NotAction or NotResource"),
    (RECONCILE_POLICY, _statement("s3:GetObject", f"arn:aws:s3:::{BACKUP_BUCKET}/*"),
     f"s3:GetObject on arn:aws:s3:::{BACKUP_BUCKET}/*"),
    (RETENTION_POLICY, _statement("codeartifact:UpdatePackageVersionsStatus", f"{PREFIX}:package/acme/pypi-store/*"),
     f"codeartifact:UpdatePackageVersionsStatus on {PREFIX}:package/acme/pypi-store/*"),
    (RETENTION_POLICY, _statement("codeartifact:DeletePackageVersions", f"{PREFIX}:package/acme/internal/*"),
     "codeartifact:DeletePackageVersions (not an action the retention job"),
    (RETENTION_POLICY, _statement("s3:PutObject", f"arn:aws:s3:::{BACKUP_BUCKET}/manifests/*"),
     f"s3:PutObject on arn:aws:s3:::{BACKUP_BUCKET}/manifests/*"),
    (REPLICATION_POLICY, _statement("s3:ReplicateDelete", f"arn:aws:s3:::{BACKUP_REPLICA}/*"),
     "s3:ReplicateDelete (not an action S3 replication"),
    (REPLICATION_POLICY, _statement("s3:ReplicateObject", "arn:aws:s3:::somewhere-else/*"),
     "s3:ReplicateObject on arn:aws:s3:::somewhere-else/*"),
])
def test_each_role_rule_bites(pristine, name, statement, expected):
    found = messages(changed(pristine, name, add_statement("policy", statement)), ROLES)
    assert any(expected in m for m in found), found


def test_a_backup_role_another_service_may_assume_is_refused(pristine):
    def trust_ec2(props: dict) -> None:
        document = json.loads(props["assumeRolePolicy"])
        document["Statement"][0]["Principal"] = {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}
        props["assumeRolePolicy"] = json.dumps(document)

    found = messages(changed(pristine, "backup-jobs-pypi-registry-backup-role", trust_ec2), ROLES)
    assert any("runs in AWS Lambda, trusted by lambda.amazonaws.com only" in m for m in found), found


def test_a_second_role_s3_may_assume_is_refused(pristine):
    def rename(props: dict) -> None:
        props["arn"] = f"arn:aws:iam::{OWNER}:role/another-replicator"

    found = messages(changed(pristine, "backup-replication-role", rename), ROLES)
    assert any("is not the replicationRoleArn" in m for m in found), found


def test_a_named_backup_role_the_stack_does_not_declare_is_refused(pristine):
    found = messages(without(pristine, "backup-jobs-pypi-registry-backup-role"), ROLES)
    assert any(f"backupRoleArn arn:aws:iam::{OWNER}:role/pypi-registry-backup" in m and "not a role this stack "
               "declares" in m for m in found), found


def test_without_the_pack_config_the_backup_roles_fail_the_airlock_rule(pristine):
    """Fail closed: a role Lambda assumes that the config does not name as a backup job is held to the airlock's
    grants, which have none of the backup's actions."""
    config = pack_config(pristine.settings)
    for properties in config.values():
        for key in ("backupRoleArn", "reconcileRoleArn", "retentionRoleArn"):
            properties.pop(key, None)
    found = [v.message for v in rendering_violations(pristine, config)
             if v.policy == "airlock-roles-hold-what-they-need"]
    assert any("codeartifact:GetPackageVersionAsset" in m for m in found), found


def test_the_retention_exemption_must_be_confined_to_internal(pristine):
    unconfined = changed(pristine, "registry-domain-policy",
                         drop_statement("policyDocument", "DenyRetentionOutsideInternal"))
    found = messages(unconfined, "domain-denies-loss-and-reopening")
    assert any(f"is not denied UpdatePackageVersionsStatus on {PREFIX}:package/acme/pypi-store/pypi//example" in m
               for m in found), found


def test_in_a_stack_without_retention_nobody_else_may_be_exempt_from_status_changes(prod):
    def exempt(props: dict) -> None:
        document = json.loads(props["policyDocument"])
        for statement in document["Statement"]:
            if statement["Sid"] == "DenyChangingVersionStatus":
                statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = [
                    *statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
                    f"arn:aws:iam::{OWNER}:role/pypi-registry-retention"]
        props["policyDocument"] = json.dumps(document)

    copied = copy.deepcopy(prod)
    resource = next(r for r in copied.resources if r.name == "registry-domain-policy")
    exempt(resource.inputs)
    exempt(resource.outputs)
    found = messages(copied, "domain-denies-loss-and-reopening")
    assert any("every version could be archived or unlisted" in m for m in found), found


# --- the event path -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "change", "expected"), [
    ("backup-events-queue", setter(("sqsManagedSseEnabled",), False), "it is not encrypted"),
    ("backup-events-queue", setter(("redrivePolicy",), json.dumps({
        "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:999999999999:elsewhere", "maxReceiveCount": 5})),
     "sends to arn:aws:sqs:eu-west-1:999999999999:elsewhere, which is not a queue this stack declares"),
    ("backup-events-queue-policy", add_statement("policy", {"Sid": "Anyone", "Effect": "Allow", "Principal": "*",
                                                            "Action": "sqs:ReceiveMessage", "Resource": QUEUE}),
     "only EventBridge (events.amazonaws.com) may send"),
    ("backup-events-queue-policy", edit_document("policy", lambda d: d["Statement"][0].pop("Condition")),
     "is not conditioned on aws:SourceArn"),
    ("backup-events-queue-policy", edit_document("policy", lambda d: d["Statement"][0].update(
        Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:events:eu-west-1:999999999999:rule/other"}})),
     "is not conditioned on aws:SourceArn"),
    ("backup-events-target", setter(("arn",), "arn:aws:sqs:eu-west-1:999999999999:elsewhere"),
     "is not a queue this stack declares"),
    ("backup-jobs-pypi-registry-backup-queue", setter(("eventSourceArn",), "arn:aws:sqs:eu-west-1:999999999999:x"),
     "its event source arn:aws:sqs:eu-west-1:999999999999:x is not a queue this stack declares"),
    ("backup-jobs-pypi-registry-backup-queue", setter(("functionName",), "somebody-elses-function"),
     "it invokes somebody-elses-function, which is not a function this stack declares"),
])
def test_each_event_rule_bites(pristine, name, change, expected):
    found = messages(changed(pristine, name, change), EVENTS)
    assert any(expected in m for m in found), found


def test_a_queue_without_a_dead_letter_queue_is_refused(pristine):
    found = messages(without(pristine, "backup-events-dead-letter"), EVENTS)
    assert any("is not a queue this stack declares" in m for m in found), found
    found = messages(changed(pristine, "backup-events-queue", lambda props: props.pop("redrivePolicy")), EVENTS)
    assert any("it has no redrive policy" in m for m in found), found


@pytest.mark.parametrize(("name", "key", "value"), [
    ("backup-events-queue", "policy", "{}"),
    ("backup-events-rule", "roleArn", f"arn:aws:iam::{OWNER}:role/x"),
    ("backup-events-rule", "eventBusName", "arn:aws:events:eu-west-1:999999999999:event-bus/default"),
    ("backup-events-target", "roleArn", f"arn:aws:iam::{OWNER}:role/x"),
    ("backup-events-target", "httpTarget", {"pathParameterValues": ["x"]}),
])
def test_properties_no_rule_reads_are_refused(pristine, name, key, value):
    found = messages(changed(pristine, name, setter((key,), value)), "resource-types-evaluated")
    assert any(f"it sets {key}, which no rule evaluates" in m for m in found), found
