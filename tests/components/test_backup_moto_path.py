"""The backup's event path end to end, on the backup deployed into moto from the recorded inputs
(tests/components/moto_deploy.py, as tests/components/test_backup_moto.py checks it): a CodeArtifact "Package Version
State Change" event goes onto the queue the rule targets, Lambda's SQS event source hands it to the copier, and the
copier's handler (the one the deployed function names, imported from the function's zip, with its recorded
environment and its role's credentials) copies the version into the locked bucket and announces it on the topic.

EventBridge's own delivery is not run: moto's put_events formats every target's input with jsonpath_ng, which is
not installed here, so it raises before delivering. The event is matched against the rule's pattern as moto holds
it (moto's own pattern matcher) and put on the rule's target queue as EventBridge delivers to SQS: the message
body is the event's JSON. CodeArtifact is botocore's Stubber (checked against botocore's model; moto has no
CodeArtifact); S3, SNS, SQS, KMS and STS are moto. moto's Lambda invoke needs Docker, so nothing is invoked
through moto.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto.events.models import EventPattern
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket

from audit.pmapper_compat import local_check_authorization_full
from tests.components.moto_deploy import (
    FUNCTION,
    KEY,
    OBJECT_LOCK,
    REPLICATION,
    DeployedBackup,
    LambdaContext,
    handler_from_archive,
    pulumi_zip,
)
from tests.moto_iam import read_roles
from tests.stacks import BACKUP_BUCKET, BACKUP_REGION, BACKUP_REPLICA

pytestmark = pytest.mark.moto

RULE_NAME = "pypi-registry-backup-version-changes"
PACKAGE, VERSION, REVISION = "acme-core", "1.2.0", "REVISION1SAMPLE1234567890="
# CodeArtifact's documented example eventDeduplicationId.
DEDUPLICATION_ID = "2mEO0A2Ke07rWUTBXk3CAiQhdTXF4N94LNaT/ffffff="
KEY_ALIAS = "alias/pypi-registry-backup"


def _wheel() -> tuple[str, bytes]:
    """A small but real wheel: a zip with the module and its dist-info."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr("acme_core/__init__.py", "VERSION = '1.2.0'\n")
        wheel.writestr("acme_core-1.2.0.dist-info/METADATA",
                       "Metadata-Version: 2.1\nName: acme-core\nVersion: 1.2.0\n")
        wheel.writestr("acme_core-1.2.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                                                         "Tag: py3-none-any\n")
        wheel.writestr("acme_core-1.2.0.dist-info/RECORD", "")
    return "acme_core-1.2.0-py3-none-any.whl", buffer.getvalue()


def _sdist() -> tuple[str, bytes]:
    """A small but real sdist: a gzipped tar with PKG-INFO and the module."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as sdist:
        for name, text in (("PKG-INFO", "Metadata-Version: 2.1\nName: acme-core\nVersion: 1.2.0\n"),
                           ("acme_core/__init__.py", "VERSION = '1.2.0'\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"acme_core-1.2.0/{name}")
            info.size = len(data)
            sdist.addfile(info, io.BytesIO(data))
    return "acme_core-1.2.0.tar.gz", buffer.getvalue()


FILES = [_wheel(), _sdist()]


def documented_event(account: str, region: str, domain: str) -> dict[str, Any]:
    """CodeArtifact's documented event (user guide, "CodeArtifact event format and example"): a new pypi version
    published into the stack's internal repository."""
    return {
        "version": "0",
        "id": "73f03fec-a137-971e-6ac6-07c8ffffffff",
        "detail-type": "CodeArtifact Package Version State Change",
        "source": "aws.codeartifact",
        "account": account,
        "time": "2026-06-01T02:59:00Z",
        "region": region,
        "resources": [f"arn:aws:codeartifact:{region}:{account}:package/{domain}/internal/pypi//{PACKAGE}"],
        "detail": {
            "domainName": domain,
            "domainOwner": account,
            "repositoryName": "internal",
            "packageFormat": "pypi",
            "packageNamespace": None,
            "packageName": PACKAGE,
            "packageVersion": VERSION,
            "packageVersionState": "Published",
            "packageVersionRevision": REVISION,
            "changes": {"assetsAdded": 2, "assetsRemoved": 0, "metadataUpdated": True, "assetsUpdated": 0,
                        "statusChanged": True},
            "operationType": "Created",
            "sequenceNumber": 1,
            "eventDeduplicationId": DEDUPLICATION_ID,
        },
    }


@dataclass
class Call:
    """One AWS call the handler made through a client it created, and the HTTP status it got."""

    service: str
    operation: str
    params: dict[str, Any]
    endpoint: str
    status: int | None = None


@dataclass
class PathRun:
    responses: list[dict[str, Any]]  # the handler's answer to each batch
    batches: list[list[dict[str, Any]]]  # the SQS records of each batch
    malformed_message_id: str
    calls: list[Call]
    function: dict[str, Any]
    config: dict[str, Any]
    reader_url: str


def _queue_url(sqs: Any, queue_arn: str) -> str:
    _, _, _, _, account, name = queue_arn.split(":")
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _receive_batch(sqs: Any, mapping: dict[str, Any], region: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What Lambda's SQS event source does: receive up to the mapping's batch size and hand the messages over as
    an SQS event's Records."""
    url = _queue_url(sqs, mapping["EventSourceArn"])
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=mapping["BatchSize"],
                                   AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
    records = [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m["Attributes"], "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": mapping["EventSourceArn"],
        "awsRegion": region,
    } for m in messages]
    return {"Records": records}, messages


def _settle(sqs: Any, mapping: dict[str, Any], messages: list[dict[str, Any]], response: dict[str, Any]) -> None:
    """Lambda deletes every message of the batch but the reported failures."""
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    url = _queue_url(sqs, mapping["EventSourceArn"])
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def run_event_path(deployed: DeployedBackup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PathRun:
    """The documented event delivered twice (EventBridge delivers at least once) and a malformed message, through
    the deployed rule's queue and the copier's event source, into the copier's handler run as Lambda runs it."""
    region, account = deployed.rendering.settings.region, deployed.account
    events, sqs, sns = deployed.client("events"), deployed.client("sqs"), deployed.client("sns")
    lambda_ = deployed.client("lambda")

    (mapping,) = lambda_.list_event_source_mappings()["EventSourceMappings"]
    function = lambda_.get_function_configuration(FunctionName=mapping["FunctionArn"])
    recorded_function = deployed.recorded(FUNCTION, "backup-jobs-pypi-registry-backup")
    assert function["FunctionName"] == recorded_function.inputs["name"]
    archive = tmp_path / "code.zip"
    archive.write_bytes(pulumi_zip(recorded_function.inputs["code"], deployed.rendering.project_dir))
    assert function["CodeSha256"] == base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()
    assert {"backup/handler.py", "backup/copier.py"} <= set(zipfile.ZipFile(archive).namelist())  # not a stand-in
    environment = dict(function["Environment"]["Variables"])
    config = json.loads(environment["BACKUP_CONFIG"])

    # The rule: its pattern (as moto holds it) takes the event, and its one target is the queue the copier reads.
    event = documented_event(account, region, config["domain"])
    pattern = EventPattern.load(events.describe_rule(Name=RULE_NAME)["EventPattern"])
    assert pattern.matches_event(event)
    assert not pattern.matches_event({**event, "detail": {**event["detail"], "repositoryName": "pypi-store"}})
    (target,) = events.list_targets_by_rule(Rule=RULE_NAME)["Targets"]
    assert target["Arn"] == mapping["EventSourceArn"]
    target_url = _queue_url(sqs, target["Arn"])
    body = json.dumps(event)  # EventBridge -> SQS: the message body is the event

    # The topic's reader: a queue subscribed as an operator would subscribe one.
    reader_url = sqs.create_queue(QueueName="backup-events-reader")["QueueUrl"]
    reader_arn = sqs.get_queue_attributes(QueueUrl=reader_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=config["topicArn"], Protocol="sqs", Endpoint=reader_arn,
                  Attributes={"RawMessageDelivery": "true"})

    # Lambda runs the handler with its execution role's credentials.
    credentials = deployed.client("sts").assume_role(RoleArn=function["Role"],
                                                     RoleSessionName=function["FunctionName"])["Credentials"]
    lambda_environment = {
        **environment, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"], "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"], "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
    codeartifact = boto3.client("codeartifact", region_name=region)
    stubber = Stubber(codeartifact)
    where = {"domain": config["domain"], "domainOwner": config["domainOwner"], "repository": "internal",
             "format": "pypi", "package": PACKAGE, "packageVersion": VERSION}
    # Only the first delivery reaches CodeArtifact: the redelivery finds its marker and the manifest.
    stubber.add_response("list_package_version_assets", {
        "format": "pypi", "package": PACKAGE, "version": VERSION, "versionRevision": REVISION,
        "assets": [{"name": name, "size": len(data), "hashes": {
            "SHA-256": hashlib.sha256(data).hexdigest(), "MD5": hashlib.md5(data, usedforsecurity=False).hexdigest()}}
            for name, data in FILES]}, where)
    for name, data in FILES:
        stubber.add_response("get_package_version_asset", {
            "asset": StreamingBody(io.BytesIO(data), len(data)), "assetName": name, "packageVersion": VERSION,
            "packageVersionRevision": REVISION}, {**where, "asset": name, "packageVersionRevision": REVISION})

    calls: list[Call] = []
    original_client = boto3.session.Session.client

    def client(session: boto3.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
        assert session.region_name == region
        if service_name == "codeartifact":
            return codeartifact
        made = original_client(session, service_name, *args, **kwargs)
        endpoint = made.meta.endpoint_url

        def before(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls.append(Call(service_name, model.name, dict(params), endpoint))

        def after(http_response: Any, **_: Any) -> None:
            calls[-1].status = http_response.status_code

        made.meta.events.register("provide-client-params", before)
        made.meta.events.register("after-call", after)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    # As in tests/components/test_airlock_moto.py: moto 5.2 reads a bucket-policy statement whose condition it
    # cannot check
    # as a denial, even on a Deny, so the bucket's conditional Denies would refuse every put. The bucket's policy
    # is evaluated with principalmapper instead (test_every_call_of_the_event_path_is_allowed_for_the_copier_role);
    # Object Lock stays moto's.
    original_permission = FakeBucket.get_permission

    def bucket_permission(bucket: FakeBucket, action: str, resource: str) -> Any:
        if bucket.name == config["bucket"]:
            return PermissionResult.NEUTRAL
        return original_permission(bucket, action, resource)

    monkeypatch.setattr(FakeBucket, "get_permission", bucket_permission)

    responses: list[dict[str, Any]] = []
    batches: list[list[dict[str, Any]]] = []
    context = LambdaContext(function["FunctionName"], function["Timeout"])
    with stubber, mock.patch.dict(os.environ, lambda_environment), \
            handler_from_archive(archive, function["Handler"]) as handler:
        sqs.send_message(QueueUrl=target_url, MessageBody=body)
        batch, messages = _receive_batch(sqs, mapping, region)
        responses.append(handler(batch, context))
        batches.append(batch["Records"])
        _settle(sqs, mapping, messages, responses[-1])
        stubber.assert_no_pending_responses()

        # The same event again, and a message that is no event at all, in one batch.
        sqs.send_message(QueueUrl=target_url, MessageBody=body)
        malformed = sqs.send_message(QueueUrl=target_url, MessageBody="{\"source\": \"aws.codeartifact\"")
        batch, messages = _receive_batch(sqs, mapping, region)
        responses.append(handler(batch, context))
        batches.append(batch["Records"])
        _settle(sqs, mapping, messages, responses[-1])
    return PathRun(responses, batches, malformed["MessageId"], calls, function, config, reader_url)


def _notifications(deployed: DeployedBackup, reader_url: str) -> list[dict[str, Any]]:
    sqs = deployed.client("sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=reader_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=reader_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_published_version_travels_from_the_event_to_the_locked_replicated_bucket_and_the_topic(
        deployed_backup: DeployedBackup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run = run_event_path(deployed_backup, monkeypatch, tmp_path)
    bucket = run.config["bucket"]
    assert bucket == BACKUP_BUCKET

    # First batch: the one event, copied; second batch: the redelivery is no failure, the malformed message is.
    assert [len(batch) for batch in run.batches] == [1, 2]
    assert run.responses[0] == {"batchItemFailures": []}
    assert run.responses[1] == {"batchItemFailures": [{"itemIdentifier": run.malformed_message_id}]}

    # The files and the manifest, byte for byte, in the deployed bucket.
    s3 = deployed_backup.client("s3")
    for name, data in FILES:
        assert s3.get_object(Bucket=bucket, Key=f"packages/{PACKAGE}/{VERSION}/{name}")["Body"].read() == data
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"manifests/{PACKAGE}/{VERSION}.json")["Body"].read())
    assert {k: v for k, v in manifest.items() if k != "copiedAt"} == {
        "package": PACKAGE, "version": VERSION, "revision": REVISION, "eventDeduplicationId": DEDUPLICATION_ID,
        "sequenceNumber": 1,
        "assets": [{"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in FILES]}
    marker = "events/" + DEDUPLICATION_ID.replace("/", "_")

    # Each object once: the redelivery copied nothing again (its marker put was refused, the manifest read).
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["Key"] for v in versions) == sorted(
        [f"packages/{PACKAGE}/{VERSION}/{n}" for n, _ in FILES] + [f"manifests/{PACKAGE}/{VERSION}.json", marker])
    puts = [c.params["Key"] for c in run.calls if c.operation == "PutObject"]
    assert puts.count(marker) == 2 and len(puts) == len(versions) + 1

    # Every object is locked in COMPLIANCE mode for the recorded retention, and moto refuses deleting a version.
    (lock,) = [r for r in deployed_backup.resources if r.type == OBJECT_LOCK and r.inputs["bucket"] == bucket]
    retention_days = int(lock.inputs["rule"]["defaultRetention"]["days"])
    assert retention_days == deployed_backup.rendering.settings.backup_retention_days
    key_arn = deployed_backup.arns[deployed_backup.recorded(KEY, "backup-key").outputs["arn"]]
    for version in versions:
        head = s3.head_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        assert head["ObjectLockMode"] == "COMPLIANCE"
        kept = head["ObjectLockRetainUntilDate"] - head["LastModified"]
        assert abs(kept - timedelta(days=retention_days)) < timedelta(minutes=5), kept
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"],
                             BypassGovernanceRetention=True)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == len(versions)

    # What is put replicates to the locked replica in the second region, through the recorded role.
    replication = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    assert replication["Role"] == deployed_backup.recorded(REPLICATION, "backup-replication").inputs["role"]
    (rule,) = replication["Rules"]
    assert rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": ""}
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{BACKUP_REPLICA}"
    replica_s3 = deployed_backup.client("s3", BACKUP_REGION)
    assert replica_s3.get_bucket_location(Bucket=BACKUP_REPLICA)["LocationConstraint"] == BACKUP_REGION
    replica_lock = replica_s3.get_object_lock_configuration(Bucket=BACKUP_REPLICA)["ObjectLockConfiguration"]
    assert replica_lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"

    # The topic announced the copy once: not the redelivery, not the malformed message.
    assert _notifications(deployed_backup, run.reader_url) == [{
        "event": "published", "repository": "internal", "package": PACKAGE, "version": VERSION,
        "revision": REVISION, "files": [n for n, _ in FILES]}]


# --- what the run did, as AWS would authorise it ----------------------------------------------------------------


def _s3_key_context(account: str, region: str) -> dict[str, Any]:
    """The context of the KMS request S3 makes for the caller on an SSE-KMS bucket."""
    return {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account,
            "kms:ResourceAliases": [KEY_ALIAS]}


def _requests(call: Call, account: str, region: str, key_arn: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The IAM actions, resources and request context each call needs; any other call is not understood."""
    secure = {"aws:SecureTransport": str(call.endpoint.startswith("https://")).lower()}
    if call.service == "s3":
        bucket, key = call.params["Bucket"], call.params["Key"]
        if call.operation == "PutObject":
            # SSE-KMS: S3 generates the data key as the caller.
            return [("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", secure),
                    ("kms:GenerateDataKey", key_arn, _s3_key_context(account, region))]
        if call.operation == "GetObject":
            if call.status == 404:
                # S3 answers 404 for a missing key only to a caller allowed s3:ListBucket; otherwise 403, which the
                # copier cannot tell from any other refusal. (The prefix is assumed to be the key.)
                return [("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", secure),
                        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {**secure, "s3:prefix": key})]
            return [("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", secure),
                    ("kms:Decrypt", key_arn, _s3_key_context(account, region))]
    if (call.service, call.operation) == ("sns", "Publish"):
        # The topic's key is AWS's aws/sns, whose key policy is not the stack's: not evaluated here.
        return [("sns:Publish", call.params["TopicArn"], secure)]
    raise AssertionError(f"no IAM mapping for {call.service} {call.operation}: add it before trusting this test")


def _principal_star_as_string(policy: dict[str, Any]) -> dict[str, Any]:
    """`"Principal": {"AWS": "*"}` is `"Principal": "*"` to IAM (IAM User Guide, "AWS JSON policy elements:
    Principal", anonymous principals: the two are equivalent); principalmapper 1.1.5 reads only the string form as
    naming the caller, so a same-account key policy statement in the other form would not grant on its own."""
    return {**policy, "Statement": [
        {**s, "Principal": "*"} if s.get("Principal") == {"AWS": "*"} else s for s in policy["Statement"]]}


@pytest.mark.parametrize("role_name", [
    pytest.param("pypi-registry-backup", id="the-copiers-own-role"),
    # The control: the reconciler's role holds the same puts plus the manifest reads, so the evaluation below is
    # seen to allow a run whose every call is granted.
    pytest.param("pypi-registry-backup-reconcile", id="the-reconcilers-role"),
])
def test_every_call_of_the_event_path_is_allowed_for_the_role(
        deployed_backup: DeployedBackup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, role_name: str) -> None:
    """What the run did, asked of principalmapper for the role as moto holds it, with the bucket's, the key's and
    the topic's own policies as moto holds them. (The boundary the roles name is not part of the stack and is not
    evaluated.)"""
    run = run_event_path(deployed_backup, monkeypatch, tmp_path)
    account, region = deployed_backup.account, deployed_backup.rendering.settings.region
    roles = read_roles(deployed_backup.aws, account)
    assert run.function["Role"] == deployed_backup.rendering.settings.owner_role_arn("pypi-registry-backup")
    role = roles[deployed_backup.rendering.settings.owner_role_arn(role_name)].principal()
    key_arn = deployed_backup.arns[deployed_backup.recorded(KEY, "backup-key").outputs["arn"]]
    s3, sns, kms = deployed_backup.client("s3"), deployed_backup.client("sns"), deployed_backup.client("kms")
    assert {(c.service, c.operation) for c in run.calls} == {("s3", "PutObject"), ("s3", "GetObject"),
                                                             ("sns", "Publish")}
    resource_policies = {
        key_arn: _principal_star_as_string(json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")[
            "Policy"])),
        run.config["topicArn"]: json.loads(
            sns.get_topic_attributes(TopicArn=run.config["topicArn"])["Attributes"]["Policy"]),
        run.config["bucket"]: json.loads(s3.get_bucket_policy(Bucket=run.config["bucket"])["Policy"]),
    }

    def policy_for(resource: str) -> dict[str, Any]:
        if resource.startswith("arn:aws:s3:::"):
            return resource_policies[resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]]
        return resource_policies[resource]

    checked: set[str] = set()
    denied = []
    for call in run.calls:
        for action, resource, context in _requests(call, account, region, key_arn):
            checked.add(action)
            # the bucket, the key and the topic are the owner account's (S3 ARNs name no account)
            if not local_check_authorization_full(role.node(), action, resource, context, policy_for(resource),
                                                  account):
                denied.append(f"{action} on {resource}")
    assert checked == {"s3:PutObject", "s3:GetObject", "s3:ListBucket", "kms:GenerateDataKey", "kms:Decrypt",
                       "sns:Publish"}
    assert sorted(set(denied)) == [], sorted(set(denied))
