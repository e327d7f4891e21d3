"""The backup deployed into moto from what the program records for tests/fixtures/Pulumi.backup.yaml: the backup
keys, the backup bucket and its replica in the second region (Object Lock, versioning, SSE-KMS, public access block,
policy), replication between them with its role, the topic, the queue and its dead-letter queue with the queue's
policy, the EventBridge rule and its target, the three Lambda functions with the copier's SQS event source mapping,
and the two schedules. Every create call takes its arguments from the recorded inputs (a key's or a queue's ARN
as moto chose it); what moto then holds is compared with what the program declares."""

from __future__ import annotations

import json

import pytest

from tests.components.moto_deploy import (
    BACKUP_CREATORS,
    BUCKET_POLICY,
    FUNCTION,
    KEY,
    QUEUE_POLICY,
    REPLICATION,
    RULE,
    DeployedBackup,
)
from tests.stacks import BACKUP_BUCKET, BACKUP_REGION, BACKUP_REPLICA

pytestmark = pytest.mark.moto

# --- what moto holds is what the program declared ------------------------------------------------------------


def test_every_backup_resource_is_created_in_the_owner_account_in_its_region(deployed_backup: DeployedBackup) -> None:
    # Every creator ran: the deployment is whole.
    assert {r.type for r in deployed_backup.resources} == set(BACKUP_CREATORS)
    assert {r.account for r in deployed_backup.resources} == {deployed_backup.account}
    replica_side = {r.name for r in deployed_backup.resources if r.region == BACKUP_REGION}
    assert replica_side == {"backup-replica-key", "backup-replica-key-alias", "backup-replica-bucket",
                            "backup-replica-versioning", "backup-replica-object-lock", "backup-replica-encryption",
                            "backup-replica-public-access", "backup-replica-policy"}


@pytest.mark.parametrize(("bucket", "region", "key"), [(BACKUP_BUCKET, None, "backup-key"),
                                                       (BACKUP_REPLICA, BACKUP_REGION, "backup-replica-key")])
def test_both_buckets_are_locked_in_compliance_mode_versioned_kms_encrypted_and_private(
        deployed_backup: DeployedBackup, bucket: str, region: str | None, key: str) -> None:
    s3 = deployed_backup.client("s3", region)
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    retention = lock["Rule"]["DefaultRetention"]
    assert (lock["ObjectLockEnabled"], retention["Mode"], retention["Days"]) == ("Enabled", "COMPLIANCE", 3650)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    key_arn = deployed_backup.arns[deployed_backup.recorded(KEY, key).outputs["arn"]]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is True
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    held = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    recorded = deployed_backup.recorded(BUCKET_POLICY, "backup-policy" if region is None else "backup-replica-policy")
    assert held == recorded.policy("policy")
    kms = deployed_backup.client("kms", region)
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    assert json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]) == deployed_backup.recorded(
        KEY, key).policy("policy")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/pypi-registry-backup"] == key_arn.rsplit("/", 1)[1]


def test_every_version_replicates_into_the_locked_replica_and_no_delete_does(deployed_backup: DeployedBackup) -> None:
    held = deployed_backup.client("s3").get_bucket_replication(Bucket=BACKUP_BUCKET)["ReplicationConfiguration"]
    recorded = deployed_backup.recorded(REPLICATION, "backup-replication").inputs
    assert held["Role"] == recorded["role"] == deployed_backup.rendering.settings.replication_role_arn
    (rule,) = held["Rules"]
    assert rule["Status"] == "Enabled" and rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{BACKUP_REPLICA}"
    replica_key = deployed_backup.arns[deployed_backup.recorded(KEY, "backup-replica-key").outputs["arn"]]
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": replica_key}
    role = deployed_backup.client("iam").get_role(RoleName="pypi-registry-backup-replication")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}


def test_the_queue_is_encrypted_redrives_to_its_dead_letter_queue_and_takes_only_the_rule(
        deployed_backup: DeployedBackup) -> None:
    sqs = deployed_backup.client("sqs")
    url = sqs.get_queue_url(QueueName="pypi-registry-backup")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    dead_letter = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName="pypi-registry-backup-dead-letter")["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])) == (dead_letter, 5)
    assert json.loads(attributes["Policy"]) == deployed_backup.recorded(
        QUEUE_POLICY, "backup-events-queue-policy").policy("policy")


def test_the_rule_sends_internals_version_changes_to_the_queue(deployed_backup: DeployedBackup) -> None:
    events = deployed_backup.client("events")
    rule = events.describe_rule(Name="pypi-registry-backup-version-changes")
    assert json.loads(rule["EventPattern"]) == json.loads(
        deployed_backup.recorded(RULE, "backup-events-rule").inputs["eventPattern"])
    (target,) = events.list_targets_by_rule(Rule="pypi-registry-backup-version-changes")["Targets"]
    assert target["Arn"] == deployed_backup.rendering.settings.backup_queue_arn
    assert "RoleArn" not in target


def test_the_functions_and_the_copiers_event_source_are_as_declared(deployed_backup: DeployedBackup) -> None:
    lambda_ = deployed_backup.client("lambda")
    for recorded in (r for r in deployed_backup.resources if r.type == FUNCTION):
        held = lambda_.get_function_configuration(FunctionName=recorded.inputs["name"])
        assert (held["Handler"], held["Runtime"], held["Role"]) == (
            recorded.inputs["handler"], "python3.12", recorded.inputs["role"])
        assert held["Environment"]["Variables"] == recorded.inputs["environment"]["variables"]
    (mapping,) = lambda_.list_event_source_mappings()["EventSourceMappings"]
    assert mapping["FunctionArn"] == deployed_backup.rendering.settings.function_arn("pypi-registry-backup")
    assert mapping["EventSourceArn"] == deployed_backup.rendering.settings.backup_queue_arn
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10


def test_the_schedules_invoke_the_reconciler_and_the_retention_job(deployed_backup: DeployedBackup) -> None:
    scheduler = deployed_backup.client("scheduler")
    for name in ("pypi-registry-backup-reconcile", "pypi-registry-retention"):
        held = scheduler.get_schedule(Name=name)
        assert held["Target"]["Arn"] == deployed_backup.rendering.settings.function_arn(name)
        assert held["Target"]["RoleArn"] == deployed_backup.rendering.settings.owner_role_arn(f"{name}-schedule")
