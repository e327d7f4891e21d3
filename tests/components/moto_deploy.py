"""Deploying what the program records into moto, resource by resource, each create call taking its arguments
from the recorded inputs: the airlock (tests/components/test_airlock_moto.py) and the backup
(tests/components/test_backup_moto.py, test_backup_moto_path.py; the fixtures that deploy it are in
tests/components/conftest.py). Also the handler a function names, loaded from its zipped code as Lambda loads it."""

from __future__ import annotations

import importlib
import io
import sys
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from audit.render import RecordedResource, Rendering
from tests.moto_iam import MotoAws

UTC = timezone.utc
AIRLOCK_COMPONENTS = ("pypi-registry:index:Ledger", "pypi-registry:index:Promoter")

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TOPIC = "aws:sns/topic:Topic"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"


# --- the recorded archive, zipped as Pulumi zips it ------------------------------------------------------


def _archive_entries(archive: Mapping[str, Any], base: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) for a recorded archive, in Pulumi's order: an asset archive's members by sorted
    name, each under its name; a folder walked in lexical order, files only, `.pulumi` folders left out (Pulumi's
    sdk/go/common/resource/archive). Any other form is refused rather than guessed."""
    if set(archive) == {"assetArchive"}:
        for name in sorted(archive["assetArchive"]):
            member = archive["assetArchive"][name]
            if set(member) == {"fileAsset"}:
                yield prefix + name, base / member["fileAsset"]
            else:
                yield from _archive_entries(member, base, f"{prefix}{name}/")
    elif set(archive) == {"fileArchive"}:
        folder = base / archive["fileArchive"]
        assert folder.is_dir(), f"{folder} is not a folder: a zip or tar archive is not unpacked here"

        def walk(directory: Path, relative: str) -> Iterator[tuple[str, Path]]:
            for entry in sorted(directory.iterdir(), key=lambda p: p.name):
                if entry.name == ".pulumi":
                    continue
                if entry.is_dir():
                    yield from walk(entry, f"{relative}{entry.name}/")
                else:
                    yield f"{relative}{entry.name}", entry

        yield from walk(folder, prefix)
    else:
        raise AssertionError(f"an archive form this test does not build: {sorted(archive)}")


def pulumi_zip(archive: Mapping[str, Any], project_dir: Path) -> bytes:
    """The zip the AWS provider uploads for a recorded archive: deflated members, a fixed 1990-01-01 timestamp."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as written:
        seen: set[str] = set()
        for name, path in _archive_entries(archive, project_dir, ""):
            if name in seen:  # Pulumi keeps the first of two members with one name
                continue
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=(1990, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            written.writestr(info, path.read_bytes())
    return buffer.getvalue()


# --- deploying what the airlock declares -------------------------------------------------------------------


def airlock_resources(rendering: Rendering) -> list[RecordedResource]:
    parents = {c.urn for c in rendering.components if c.type in AIRLOCK_COMPONENTS}
    assert len(parents) == len(AIRLOCK_COMPONENTS), "the rendering has no airlock: is the fixture in airlock mode?"
    return [r for r in rendering.resources if r.parent in parents]


def _whole(value: Any) -> int:
    """A number the mock engine recorded (as a float) that AWS takes as an integer."""
    assert float(value).is_integer(), value
    return int(value)


def _tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (inputs.get("tags") or {}).items()]


def _s3(aws: MotoAws, r: RecordedResource) -> Any:
    return aws.client(r.account, "s3", r.region)


def create_bucket(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    _s3(aws, r).create_bucket(
        Bucket=r.inputs["bucket"], CreateBucketConfiguration={"LocationConstraint": r.region},
        ObjectLockEnabledForBucket=bool(r.inputs.get("objectLockEnabled", False)))
    if r.inputs.get("tags"):
        _s3(aws, r).put_bucket_tagging(Bucket=r.inputs["bucket"], Tagging={"TagSet": _tags(r.inputs)})


def create_versioning(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    _s3(aws, r).put_bucket_versioning(
        Bucket=r.inputs["bucket"], VersioningConfiguration={"Status": r.inputs["versioningConfiguration"]["status"]})


def create_object_lock(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    retention = r.inputs["rule"]["defaultRetention"]
    period = "days" if "days" in retention else "years"
    default = {"Mode": retention["mode"], period.capitalize(): _whole(retention[period])}
    _s3(aws, r).put_object_lock_configuration(Bucket=r.inputs["bucket"], ObjectLockConfiguration={
        "ObjectLockEnabled": r.inputs["objectLockEnabled"], "Rule": {"DefaultRetention": default}})


def create_encryption(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    rules = [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"],
        **({"KMSMasterKeyID": rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]}
           if "kmsMasterKeyId" in rule["applyServerSideEncryptionByDefault"] else {})},
        **({"BucketKeyEnabled": bool(rule["bucketKeyEnabled"])} if "bucketKeyEnabled" in rule else {})}
        for rule in r.inputs["rules"]]
    _s3(aws, r).put_bucket_encryption(Bucket=r.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})


def create_public_access_block(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    keys = {"blockPublicAcls": "BlockPublicAcls", "blockPublicPolicy": "BlockPublicPolicy",
            "ignorePublicAcls": "IgnorePublicAcls", "restrictPublicBuckets": "RestrictPublicBuckets"}
    _s3(aws, r).put_public_access_block(
        Bucket=r.inputs["bucket"],
        PublicAccessBlockConfiguration={aws_key: bool(r.inputs.get(key, False)) for key, aws_key in keys.items()})


def create_bucket_policy(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    _s3(aws, r).put_bucket_policy(Bucket=r.inputs["bucket"], Policy=r.inputs["policy"])


def create_topic(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    attributes = {"KmsMasterKeyId": r.inputs["kmsMasterKeyId"]} if "kmsMasterKeyId" in r.inputs else {}
    aws.client(r.account, "sns").create_topic(Name=r.inputs["name"], Attributes=attributes, Tags=_tags(r.inputs))


def create_role(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    boundary = {"PermissionsBoundary": r.inputs["permissionsBoundary"]} if "permissionsBoundary" in r.inputs else {}
    aws.iam(r.account).create_role(
        RoleName=r.inputs["name"], AssumeRolePolicyDocument=r.inputs["assumeRolePolicy"],
        Description=r.inputs.get("description", ""),
        MaxSessionDuration=_whole(r.inputs.get("maxSessionDuration", 3600)), Tags=_tags(r.inputs), **boundary)


def create_role_policy(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    aws.iam(r.account).put_role_policy(RoleName=r.inputs["role"], PolicyName=r.inputs["name"],
                                       PolicyDocument=r.inputs["policy"])


def create_log_group(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    logs = aws.client(r.account, "logs")
    logs.create_log_group(logGroupName=r.inputs["name"], tags=dict(r.inputs.get("tags") or {}))
    logs.put_retention_policy(logGroupName=r.inputs["name"], retentionInDays=_whole(r.inputs["retentionInDays"]))


def create_function(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    aws.client(r.account, "lambda").create_function(
        FunctionName=r.inputs["name"], Role=r.inputs["role"], Runtime=r.inputs["runtime"],
        Handler=r.inputs["handler"], Code={"ZipFile": pulumi_zip(r.inputs["code"], project_dir)},
        Timeout=_whole(r.inputs["timeout"]), MemorySize=_whole(r.inputs["memorySize"]),
        Environment={"Variables": dict(r.inputs["environment"]["variables"])},
        Tags=dict(r.inputs.get("tags") or {}))


def create_schedule(aws: MotoAws, r: RecordedResource, project_dir: Path) -> None:
    target = r.inputs["target"]
    retry = target.get("retryPolicy") or {}
    aws.client(r.account, "scheduler").create_schedule(
        Name=r.inputs["name"], ScheduleExpression=r.inputs["scheduleExpression"],
        FlexibleTimeWindow={"Mode": r.inputs["flexibleTimeWindow"]["mode"]},
        Target={"Arn": target["arn"], "RoleArn": target["roleArn"],
                "RetryPolicy": {"MaximumRetryAttempts": _whole(retry["maximumRetryAttempts"])}}
        if retry else {"Arn": target["arn"], "RoleArn": target["roleArn"]})


# In creation order: each resource exists before anything that names it.
AIRLOCK_CREATORS: dict[str, Callable[[MotoAws, RecordedResource, Path], None]] = {
    BUCKET: create_bucket, VERSIONING: create_versioning, OBJECT_LOCK: create_object_lock,
    ENCRYPTION: create_encryption, PUBLIC_ACCESS: create_public_access_block, BUCKET_POLICY: create_bucket_policy,
    TOPIC: create_topic, ROLE: create_role, ROLE_POLICY: create_role_policy, LOG_GROUP: create_log_group,
    FUNCTION: create_function, SCHEDULE: create_schedule,
}


def deploy_airlock(aws: MotoAws, rendering: Rendering) -> list[RecordedResource]:
    resources = airlock_resources(rendering)
    unknown = sorted({r.type for r in resources} - set(AIRLOCK_CREATORS))
    assert not unknown, f"the airlock declares types this deployment does not create: {unknown}"
    for type_, create in AIRLOCK_CREATORS.items():
        for resource in resources:
            if resource.type == type_:
                assert resource.account and resource.region, f"{resource.name} has no account-pinned provider"
                create(aws, resource, rendering.project_dir)
    return resources


@dataclass
class DeployedAirlock:
    aws: MotoAws
    rendering: Rendering
    resources: list[RecordedResource]
    account: str
    region: str

    def client(self, service: str) -> Any:
        return self.aws.client(self.account, service)

    def recorded(self, type_: str, name: str) -> RecordedResource:
        (found,) = [r for r in self.resources if r.type == type_ and r.inputs.get("name") == name]
        return found

    def recorded_bucket(self) -> RecordedResource:
        (found,) = [r for r in self.resources if r.type == BUCKET]
        return found


# --- deploying what the backup declares --------------------------------------------------------------------

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
BACKUP_CREATORS: dict[str, Callable[[MotoAws, RecordedResource, Path], str | None]] = {
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
    unknown = sorted({r.type for r in resources} - set(BACKUP_CREATORS))
    assert not unknown, f"the backup declares types this deployment does not create: {unknown}"
    arns: dict[str, str] = {}
    for type_, create in BACKUP_CREATORS.items():
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
    return replace(resource, inputs=inputs)


@dataclass
class DeployedBackup:
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


# --- a function's handler, as Lambda runs it ------------------------------------------------------------


@contextmanager
def handler_from_archive(archive: Path, handler: str) -> Iterator[Callable[[object, object], Any]]:
    """The handler as Lambda imports it: from the function's code (the zip on sys.path), not from this checkout's
    already imported `promoter`, which is put back afterwards."""
    module_name, function_name = handler.rsplit(".", 1)
    top = module_name.split(".")[0]
    saved = {name: module for name, module in sys.modules.items() if name == top or name.startswith(f"{top}.")}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(archive))
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
        assert module.__file__ is not None and module.__file__.startswith(str(archive)), module.__file__
        yield getattr(module, function_name)
    finally:
        sys.path.remove(str(archive))
        for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
            del sys.modules[name]
        sys.modules.update(saved)


@dataclass
class LambdaContext:
    function_name: str
    timeout_seconds: int
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def get_remaining_time_in_millis(self) -> int:
        elapsed = datetime.now(UTC) - self.started
        return max(0, self.timeout_seconds * 1000 - int(elapsed.total_seconds() * 1000))
