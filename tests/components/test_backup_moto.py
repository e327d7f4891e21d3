"""The backup deployed into moto from what the program records for tests/fixtures/Pulumi.backup.yaml: the backup
keys, the backup bucket and its replica in the second region (Object Lock, versioning, SSE-KMS, public access block,
policy), replication between them with its role, the topic, the queue and its dead-letter queue with the queue's
policy, the EventBridge rule and its target, the three Lambda functions with the copier's SQS event source mapping,
and the two schedules. Every create call takes its arguments from the recorded inputs (a key's or a queue's ARN
as moto chose it); what moto then holds is compared with what the program declares."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audit.render import RecordedResource, Rendering
from tests.components.moto_deploy import (
    BUCKET,
    BUCKET_POLICY,
    ENCRYPTION,
    FUNCTION,
    LOG_GROUP,
    OBJECT_LOCK,
    PUBLIC_ACCESS,
    ROLE,
    ROLE_POLICY,
    SCHEDULE,
    TOPIC,
    VERSIONING,
    _tags,
    _whole,
    create_bucket,
    create_bucket_policy,
    create_encryption,
    create_function,
    create_log_group,
    create_object_lock,
    create_public_access_block,
    create_role,
    create_role_policy,
    create_schedule,
    create_topic,
    create_versioning,
)
from tests.moto_iam import MotoAws, moto_aws
from tests.stacks import BACKUP_BUCKET, BACKUP_REGION, BACKUP_REPLICA, backup

pytestmark = pytest.mark.moto

BACKUP_COMPONENTS = ("pypi-registry:index:BackupStore", "pypi-registry:index:BackupEvents",
                     "pypi-registry:index:BackupJobs")
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
# The backup's code is another part of the repository; until it is there, a stand-in package of the same name is
# zipped in its place (the declaration names the folder, not its contents).
STAND_IN_HANDLER = "def copy_version(event, context):\n    return {}\n\n\ndef reconcile(event, context):\n    " \
                   "return {}\n\n\ndef retain(event, context):\n    return {}\n"


def _client(aws: MotoAws, r: RecordedResource, service: str) -> Any:
    return aws.client(r.account, service, r.region)


def create_key(aws: MotoAws, r: RecordedResource, project_dir: Path) -> str:
    kms = _client(aws, r, "kms")
    key = kms.create_key(Policy=r.inputs["policy"], Description=r.inputs.get("description", ""),
                         Tags=[{"TagKey": k, "TagValue": v} for k, v in (r.inputs.get("tags") or {}).items()])
    key_id = key["KeyMetadata"]["KeyId"]
    if r.inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=key_id)
    return str(key["KeyMetadata"]["Arn"])


def create_alias(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    _client(aws, r, "kms").create_alias(AliasName=r.inputs["name"], TargetKeyId=r.inputs["targetKeyId"])


def create_queue(aws: MotoAws, r: RecordedResource, project_dir: Path) -> str:
    attributes = {"SqsManagedSseEnabled": str(r.inputs["sqsManagedSseEnabled"]).lower()}
    for key, attribute in (("visibilityTimeoutSeconds", "VisibilityTimeout"),
                           ("messageRetentionSeconds", "MessageRetentionPeriod")):
        if key in r.inputs:
            attributes[attribute] = str(_whole(r.inputs[key]))
    if "redrivePolicy" in r.inputs:
        attributes["RedrivePolicy"] = r.inputs["redrivePolicy"]
    sqs = _client(aws, r, "sqs")
    url = sqs.create_queue(QueueName=r.inputs["name"], Attributes=attributes, tags=dict(r.inputs.get("tags") or {}))
    return str(sqs.get_queue_attributes(QueueUrl=url["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"])


def create_queue_policy(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    sqs = _client(aws, r, "sqs")
    url = sqs.get_queue_url(QueueName=r.inputs["queueUrl"].rsplit("/", 1)[1])["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": r.inputs["policy"]})


def create_rule(aws: MotoAws, r: RecordedResource, project_dir: Path) -> str:
    found = _client(aws, r, "events").put_rule(
        Name=r.inputs["name"], EventPattern=r.inputs["eventPattern"], Description=r.inputs.get("description", ""),
        Tags=_tags(r.inputs))
    return str(found["RuleArn"])


def create_target(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    _client(aws, r, "events").put_targets(Rule=r.inputs["rule"], Targets=[
        {"Id": r.inputs.get("targetId") or r.name, "Arn": r.inputs["arn"]}])


def create_replication(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    rules = []
    for rule in r.inputs["rules"]:
        destination = rule["destination"]
        rules.append({
            "ID": rule["id"], "Status": rule["status"], "Priority": _whole(rule["priority"]), "Filter": rule["filter"],
            "DeleteMarkerReplication": {"Status": rule["deleteMarkerReplication"]["status"]},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {
                "Status": rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"]}},
            "Destination": {"Bucket": destination["bucket"], "EncryptionConfiguration": {
                "ReplicaKmsKeyID": destination["encryptionConfiguration"]["replicaKmsKeyId"]}},
        })
    _client(aws, r, "s3").put_bucket_replication(Bucket=r.inputs["bucket"], ReplicationConfiguration={
        "Role": r.inputs["role"], "Rules": rules})


def create_mapping(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    _client(aws, r, "lambda").create_event_source_mapping(
        EventSourceArn=r.inputs["eventSourceArn"], FunctionName=r.inputs["functionName"],
        BatchSize=_whole(r.inputs["batchSize"]), FunctionResponseTypes=list(r.inputs["functionResponseTypes"]),
        ScalingConfig={"MaximumConcurrency": _whole(r.inputs["scalingConfig"]["maximumConcurrency"])})


# In creation order: each resource exists before anything that names it. A creator that returns an ARN makes moto's
# ARN stand for the recorded one in whatever is created after it.
CREATORS: dict[str, Callable[[MotoAws, RecordedResource, Path], str | None]] = {
    KEY: create_key, ALIAS: create_alias, BUCKET: create_bucket, VERSIONING: create_versioning,
    OBJECT_LOCK: create_object_lock, ENCRYPTION: create_encryption, PUBLIC_ACCESS: create_public_access_block,
    BUCKET_POLICY: create_bucket_policy, TOPIC: create_topic, ROLE: create_role, ROLE_POLICY: create_role_policy,
    REPLICATION: create_replication, QUEUE: create_queue, QUEUE_POLICY: create_queue_policy, RULE: create_rule,
    TARGET: create_target, LOG_GROUP: create_log_group, FUNCTION: create_function, MAPPING: create_mapping,
    SCHEDULE: create_schedule,
}


def _substituted(value: Any, arns: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _substituted(v, arns) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, arns) for v in value]
    if isinstance(value, str):
        return arns.get(value, value)
    return value


def backup_resources(rendering: Rendering) -> list[RecordedResource]:
    parents = {c.urn for c in rendering.components if c.type in BACKUP_COMPONENTS}
    assert len(parents) == len(BACKUP_COMPONENTS), "the rendering has no backup: is backupRegion set?"
    return [r for r in rendering.resources if r.parent in parents]


def deploy_backup(aws: MotoAws, rendering: Rendering, project_dir: Path) -> tuple[list[RecordedResource],
                                                                                   dict[str, str]]:
    resources = backup_resources(rendering)
    unknown = sorted({r.type for r in resources} - set(CREATORS))
    assert not unknown, f"the backup declares types this deployment does not create: {unknown}"
    arns: dict[str, str] = {}
    for type_, create in CREATORS.items():
        for resource in resources:
            if resource.type != type_:
                continue
            assert resource.account and resource.region, f"{resource.name} has no account-pinned provider"
            inputs = _substituted(resource.inputs, arns)
            if type_ == ALIAS:
                inputs["targetKeyId"] = arns[_key_arn(rendering, resource)]
            created = create(aws, _with_inputs(resource, inputs), project_dir)
            if created is not None:
                arns[resource.outputs["arn"]] = created
    return resources, arns


def _key_arn(rendering: Rendering, alias: RecordedResource) -> str:
    """The recorded ARN of the key an alias targets (the alias names it by its ID, an output)."""
    (key,) = [r for r in rendering.of_type(KEY) if r.outputs["keyId"] == alias.inputs["targetKeyId"]]
    return str(key.outputs["arn"])


def _with_inputs(resource: RecordedResource, inputs: dict[str, Any]) -> RecordedResource:
    from dataclasses import replace

    return replace(resource, inputs=inputs)


@dataclass
class Deployed:
    aws: MotoAws
    rendering: Rendering
    resources: list[RecordedResource]
    arns: dict[str, str]  # recorded ARN -> moto's
    account: str

    def client(self, service: str, region: str | None = None) -> Any:
        return self.aws.client(self.account, service, region)

    def recorded(self, type_: str, name: str) -> RecordedResource:
        (found,) = [r for r in self.resources if r.type == type_ and r.name == name]
        return found


@pytest.fixture(scope="module")
def rendering() -> Rendering:
    return backup()


@pytest.fixture
def deployed(rendering: Rendering, tmp_path: Path) -> Iterator[Deployed]:
    project_dir = rendering.project_dir
    if not (project_dir / "backup" / "handler.py").is_file():
        (tmp_path / "backup").mkdir()
        (tmp_path / "backup" / "__init__.py").write_text("")
        (tmp_path / "backup" / "handler.py").write_text(STAND_IN_HANDLER)
        project_dir = tmp_path
    with moto_aws(rendering.settings.region) as aws:
        resources, arns = deploy_backup(aws, rendering, project_dir)
        yield Deployed(aws, rendering, resources, arns, rendering.settings.owner_account_id)


# --- what moto holds is what the program declared ------------------------------------------------------------


def test_every_backup_resource_is_created_in_the_owner_account_in_its_region(deployed: Deployed) -> None:
    assert {r.type for r in deployed.resources} == set(CREATORS)  # every creator ran: the deployment is whole
    assert {r.account for r in deployed.resources} == {deployed.account}
    replica_side = {r.name for r in deployed.resources if r.region == BACKUP_REGION}
    assert replica_side == {"backup-replica-key", "backup-replica-key-alias", "backup-replica-bucket",
                            "backup-replica-versioning", "backup-replica-object-lock", "backup-replica-encryption",
                            "backup-replica-public-access", "backup-replica-policy"}


@pytest.mark.parametrize(("bucket", "region", "key"), [(BACKUP_BUCKET, None, "backup-key"),
                                                       (BACKUP_REPLICA, BACKUP_REGION, "backup-replica-key")])
def test_both_buckets_are_locked_in_compliance_mode_versioned_kms_encrypted_and_private(
        deployed: Deployed, bucket: str, region: str | None, key: str) -> None:
    s3 = deployed.client("s3", region)
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    retention = lock["Rule"]["DefaultRetention"]
    assert (lock["ObjectLockEnabled"], retention["Mode"], retention["Days"]) == ("Enabled", "COMPLIANCE", 3650)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    key_arn = deployed.arns[deployed.recorded(KEY, key).outputs["arn"]]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is True
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    held = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    recorded = deployed.recorded(BUCKET_POLICY, "backup-policy" if region is None else "backup-replica-policy")
    assert held == recorded.policy("policy")
    kms = deployed.client("kms", region)
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    assert json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]) == deployed.recorded(
        KEY, key).policy("policy")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/pypi-registry-backup"] == key_arn.rsplit("/", 1)[1]


def test_every_version_replicates_into_the_locked_replica_and_no_delete_does(deployed: Deployed) -> None:
    held = deployed.client("s3").get_bucket_replication(Bucket=BACKUP_BUCKET)["ReplicationConfiguration"]
    recorded = deployed.recorded(REPLICATION, "backup-replication").inputs
    assert held["Role"] == recorded["role"] == deployed.rendering.settings.replication_role_arn
    (rule,) = held["Rules"]
    assert rule["Status"] == "Enabled" and rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{BACKUP_REPLICA}"
    replica_key = deployed.arns[deployed.recorded(KEY, "backup-replica-key").outputs["arn"]]
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": replica_key}
    role = deployed.client("iam").get_role(RoleName="pypi-registry-backup-replication")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}


def test_the_queue_is_encrypted_redrives_to_its_dead_letter_queue_and_takes_only_the_rule(deployed: Deployed) -> None:
    sqs = deployed.client("sqs")
    url = sqs.get_queue_url(QueueName="pypi-registry-backup")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    dead_letter = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName="pypi-registry-backup-dead-letter")["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])) == (dead_letter, 5)
    assert json.loads(attributes["Policy"]) == deployed.recorded(QUEUE_POLICY, "backup-events-queue-policy").policy(
        "policy")


def test_the_rule_sends_internals_version_changes_to_the_queue(deployed: Deployed) -> None:
    events = deployed.client("events")
    rule = events.describe_rule(Name="pypi-registry-backup-version-changes")
    assert json.loads(rule["EventPattern"]) == json.loads(
        deployed.recorded(RULE, "backup-events-rule").inputs["eventPattern"])
    (target,) = events.list_targets_by_rule(Rule="pypi-registry-backup-version-changes")["Targets"]
    assert target["Arn"] == deployed.rendering.settings.backup_queue_arn
    assert "RoleArn" not in target


def test_the_functions_and_the_copiers_event_source_are_as_declared(deployed: Deployed) -> None:
    lambda_ = deployed.client("lambda")
    for recorded in (r for r in deployed.resources if r.type == FUNCTION):
        held = lambda_.get_function_configuration(FunctionName=recorded.inputs["name"])
        assert (held["Handler"], held["Runtime"], held["Role"]) == (
            recorded.inputs["handler"], "python3.12", recorded.inputs["role"])
        assert held["Environment"]["Variables"] == recorded.inputs["environment"]["variables"]
    (mapping,) = lambda_.list_event_source_mappings()["EventSourceMappings"]
    assert mapping["FunctionArn"] == deployed.rendering.settings.function_arn("pypi-registry-backup")
    assert mapping["EventSourceArn"] == deployed.rendering.settings.backup_queue_arn
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10


def test_the_schedules_invoke_the_reconciler_and_the_retention_job(deployed: Deployed) -> None:
    scheduler = deployed.client("scheduler")
    for name in ("pypi-registry-backup-reconcile", "pypi-registry-retention"):
        held = scheduler.get_schedule(Name=name)
        assert held["Target"]["Arn"] == deployed.rendering.settings.function_arn(name)
        assert held["Target"]["RoleArn"] == deployed.rendering.settings.owner_role_arn(f"{name}-schedule")
