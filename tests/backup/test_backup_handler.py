"""copy_version, reconcile and retain end to end: the bucket (versioning, Object Lock in compliance mode), the topic
(read through a subscribed SQS queue) and the event queue with its dead-letter queue in moto; CodeArtifact through
botocore's Stubber against botocore's own model (moto has no CodeArtifact), so every call and its parameters are
checked against the real API, and a call nobody expected fails the test."""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws
from moto.events.models import EventPattern

from backup.config import BackupConfig, render_config
from backup.copier import CopyError, RateLimiter
from backup.events import event_pattern
from backup.handler import RunError, Services, copy_version, run_copy_version, run_reconcile, run_retain
from backup.layout import PUT_PREFIXES, READ_PREFIXES

pytestmark = pytest.mark.moto

UTC = timezone.utc
REGION = "eu-west-1"
NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
OWNER = "123456789012"
DOMAIN = {"domain": "acme", "domainOwner": OWNER}
BUCKET = "acme-package-backup"


def wheel(name: str, version: str) -> tuple[str, bytes]:
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl", f"wheel {name} {version}".encode()


def sdist(name: str, version: str) -> tuple[str, bytes]:
    return f"{name}-{version}.tar.gz", f"sdist {name} {version}".encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RecordingBucket:
    """The S3 client, with every call's operation and key recorded (the functions may only put and read)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs.get("Key", kwargs.get("Prefix", ""))))
            return method(**kwargs)

        return call


@dataclass
class World:
    config: BackupConfig
    services: Services
    stubber: Stubber
    bucket: RecordingBucket
    queue_url: str
    dead_letter_url: str
    topic_reader_url: str
    sleeps: list[float] = field(default_factory=list)

    def limiter(self) -> RateLimiter:
        return RateLimiter(per_second=10, clock=lambda: 0.0, sleep=self.sleeps.append)

    def expect(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.stubber.add_response(operation, response, {**DOMAIN, **params})

    def expect_assets(self, package: str, version: str, files: list[tuple[str, bytes]], revision: str) -> None:
        assets = [
            {
                "name": n,
                "size": len(d),
                "hashes": {"SHA-256": sha256(d), "MD5": hashlib.md5(d, usedforsecurity=False).hexdigest()},
            }
            for n, d in files
        ]
        self.expect(
            "list_package_version_assets",
            {"repository": "internal", "format": "pypi", "package": package, "packageVersion": version},
            {"format": "pypi", "package": package, "version": version, "versionRevision": revision, "assets": assets},
        )

    def expect_read(self, package: str, version: str, name: str, data: bytes, revision: str) -> None:
        self.expect(
            "get_package_version_asset",
            {
                "repository": "internal",
                "format": "pypi",
                "package": package,
                "packageVersion": version,
                "asset": name,
                "packageVersionRevision": revision,
            },
            {
                "asset": StreamingBody(io.BytesIO(data), len(data)),
                "assetName": name,
                "packageVersion": version,
                "packageVersionRevision": revision,
            },
        )

    def expect_copy(self, package: str, version: str, files: list[tuple[str, bytes]], revision: str) -> None:
        self.expect_assets(package, version, files, revision)
        for name, data in files:
            self.expect_read(package, version, name, data, revision)

    def expect_packages(self, *packages: str) -> None:
        self.expect(
            "list_packages",
            {"repository": "internal", "format": "pypi"},
            {"packages": [{"format": "pypi", "package": p} for p in packages]},
        )

    def expect_versions(self, package: str, versions: list[tuple[str, str, str]]) -> None:
        self.expect(
            "list_package_versions",
            {"repository": "internal", "format": "pypi", "package": package},
            {
                "format": "pypi",
                "package": package,
                "versions": [{"version": v, "revision": r, "status": s} for v, r, s in versions],
            },
        )

    def send(self, *bodies: str) -> None:
        sqs = boto3.client("sqs", region_name=REGION)
        for body in bodies:
            sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def deliver(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """What Lambda's SQS event source does: receive a batch and hand it over as Records."""
        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
        return {"Records": records}, messages

    def settle(self, messages: list[dict[str, Any]], response: dict[str, Any]) -> None:
        """Lambda deletes every message of the batch except the reported failures."""
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        sqs = boto3.client("sqs", region_name=REGION)
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def run(self, now: datetime = NOW) -> tuple[dict[str, Any], Any]:
        event, messages = self.deliver()
        summary = run_copy_version(event, self.config, self.services, now, self.limiter())
        response = summary.response()
        self.settle(messages, response)
        return response, summary

    def object(self, key: str) -> bytes:
        return boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def keys(self, prefix: str = "") -> list[str]:
        listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def manifest(self, package: str, version: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.object(f"manifests/{package}/{version}.json"))
        return loaded

    def notifications(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        found = []
        while batch := sqs.receive_message(QueueUrl=self.topic_reader_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.topic_reader_url, ReceiptHandle=message["ReceiptHandle"])
        return found


def event_body(
    package: str,
    version: str,
    revision: str,
    dedup: str,
    state: str = "Published",
    operation: str = "Created",
    repository: str = "internal",
    package_format: str = "pypi",
) -> str:
    """CodeArtifact's documented event (user guide, "CodeArtifact event format and example"), for pypi."""
    return json.dumps(
        {
            "version": "0",
            "id": "73f03fec-a137-971e-6ac6-07c8ffffffff",
            "detail-type": "CodeArtifact Package Version State Change",
            "source": "aws.codeartifact",
            "account": OWNER,
            "time": "2026-06-01T02:59:00Z",
            "region": REGION,
            "resources": [f"arn:aws:codeartifact:{REGION}:{OWNER}:package/acme/{repository}/pypi//{package}"],
            "detail": {
                "domainName": "acme",
                "domainOwner": OWNER,
                "repositoryName": repository,
                "packageFormat": package_format,
                "packageNamespace": None,
                "packageName": package,
                "packageVersion": version,
                "packageVersionState": state,
                "packageVersionRevision": revision,
                "changes": {
                    "assetsAdded": 2,
                    "assetsRemoved": 0,
                    "metadataUpdated": True,
                    "assetsUpdated": 0,
                    "statusChanged": True,
                },
                "operationType": operation,
                "sequenceNumber": 1,
                "eventDeduplicationId": dedup,
            },
        }
    )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}, ObjectLockEnabledForBucket=True
        )
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object_lock_configuration(
            Bucket=BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}},
            },
        )
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="package-events")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        reader_url = sqs.create_queue(QueueName="topic-reader")["QueueUrl"]
        reader_arn = sqs.get_queue_attributes(QueueUrl=reader_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=reader_arn, Attributes={"RawMessageDelivery": "true"}
        )
        dead_letter_url = sqs.create_queue(QueueName="backup-events-dlq")["QueueUrl"]
        dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName="backup-events",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": "2"})},
        )["QueueUrl"]
        document = render_config(
            domain="acme",
            domain_owner=OWNER,
            region=REGION,
            repository="internal",
            bucket=BUCKET,
            topic_arn=topic_arn,
            retention={"archiveAfterDays": 30, "keepNewest": 1, "keep": ["acme-lib==1.0rc1"], "dryRun": True},
        )
        config = BackupConfig.from_mapping(document)
        codeartifact = boto3.client("codeartifact", region_name=REGION)
        bucket = RecordingBucket(s3)
        with Stubber(codeartifact) as stubber:
            services = Services(codeartifact, bucket, sns)
            yield World(config, services, stubber, bucket, queue_url, dead_letter_url, reader_url)
            stubber.assert_no_pending_responses()
        # The functions only put and read: never a delete, never a write outside their prefixes.
        for operation, key in bucket.calls:
            assert operation in {"put_object", "get_object", "list_objects_v2"}, operation
            prefixes = PUT_PREFIXES if operation == "put_object" else READ_PREFIXES
            assert key.startswith(prefixes), (operation, key)


LIB_10 = [wheel("acme-lib", "1.0"), sdist("acme-lib", "1.0")]
DEDUP = "2mEO0A2Ke07rWUTBXk3CAiQhdTXF4N94LNaT/ffffff="


# copy_version ----------------------------------------------------------------------------------------------------


def test_a_published_version_is_copied_file_by_file_then_its_manifest_and_announced(world: World) -> None:
    world.send(event_body("acme-lib", "1.0", "rev-1", DEDUP))
    world.expect_copy("acme-lib", "1.0", LIB_10, "rev-1")

    response, summary = world.run()

    assert response == {"batchItemFailures": []}
    assert summary.copied == ["acme-lib==1.0"]
    s3 = boto3.client("s3", region_name=REGION)
    for name, data in LIB_10:
        key = f"packages/acme-lib/1.0/{name}"
        assert world.object(key) == data
        head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert head["ObjectLockMode"] == "COMPLIANCE"
    assert world.manifest("acme-lib", "1.0") == {
        "package": "acme-lib",
        "version": "1.0",
        "revision": "rev-1",
        "assets": [{"name": n, "sha256": sha256(d), "size": len(d)} for n, d in LIB_10],
        "eventDeduplicationId": DEDUP,
        "copiedAt": "2026-06-01T03:00:00Z",
        "sequenceNumber": 1,  # the event's: the version's order of changes
    }
    # the marker, with the id's base64 in its URL-safe alphabet (one key segment)
    assert world.keys("events/") == ["events/2mEO0A2Ke07rWUTBXk3CAiQhdTXF4N94LNaT_ffffff="]
    # the manifest is the last object written
    puts = [key for operation, key in world.bucket.calls if operation == "put_object"]
    assert puts[-1] == "manifests/acme-lib/1.0.json"
    assert [n["event"] for n in world.notifications()] == ["published"]
    # all requests to CodeArtifact went through the rate limiter (a burst of 3 needs no pause at 10 a second)
    assert world.sleeps == []


def test_the_same_event_delivered_twice_is_copied_once(world: World) -> None:
    world.send(event_body("acme-lib", "1.0", "rev-1", DEDUP))
    world.expect_copy("acme-lib", "1.0", LIB_10, "rev-1")
    world.run()
    # EventBridge delivers the same event again (same eventDeduplicationId): no CodeArtifact call at all
    # (the Stubber has no response left and would fail one), nothing written, nothing announced
    world.notifications()
    puts_before = len([c for c in world.bucket.calls if c[0] == "put_object"])
    world.send(event_body("acme-lib", "1.0", "rev-1", DEDUP))
    response, summary = world.run()
    assert response == {"batchItemFailures": []}
    assert summary.duplicates == ["acme-lib==1.0"]
    assert summary.copied == []
    assert [c for c in world.bucket.calls if c[0] == "put_object"][puts_before:] == [
        ("put_object", "events/2mEO0A2Ke07rWUTBXk3CAiQhdTXF4N94LNaT_ffffff=")  # refused by If-None-Match
    ]
    assert world.notifications() == []
    versions = boto3.client("s3", region_name=REGION).list_object_versions(Bucket=BUCKET, Prefix="packages/")
    assert len(versions["Versions"]) == 2  # each file once


def test_only_failed_records_are_retried_and_a_poison_message_ends_in_the_dead_letter_queue(world: World) -> None:
    tool = [wheel("acme-tool", "0.3")]
    world.send(
        event_body("acme-lib", "1.0", "rev-1", "aaaa"),
        "this is not an event",
        event_body("acme-tool", "0.3", "rev-7", "bbbb"),
    )
    world.expect_copy("acme-lib", "1.0", LIB_10, "rev-1")
    world.expect_assets("acme-tool", "0.3", tool, "rev-7")
    world.stubber.add_client_error("get_package_version_asset", "ThrottlingException", http_status_code=429)

    response, summary = world.run()

    assert len(response["batchItemFailures"]) == 2
    assert summary.copied == ["acme-lib==1.0"]
    assert any("not JSON" in error for error in summary.errors)
    assert any("ThrottlingException" in error for error in summary.errors)
    assert world.keys("manifests/") == ["manifests/acme-lib/1.0.json"]  # no manifest for what failed

    # the queue hands back the two failures only; the tool's copy now succeeds, although its marker was put
    world.expect_copy("acme-tool", "0.3", tool, "rev-7")
    response, summary = world.run()
    assert summary.copied == ["acme-tool==0.3"]
    assert len(response["batchItemFailures"]) == 1
    assert world.manifest("acme-tool", "0.3")["eventDeduplicationId"] == "bbbb"

    # after maxReceiveCount receives the poison message moves to the dead-letter queue
    event, _ = world.deliver()
    assert event == {"Records": []}
    dead = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=world.dead_letter_url)["Messages"]
    assert [m["Body"] for m in dead] == ["this is not an event"]


def test_a_file_whose_bytes_differ_from_codeartifacts_listing_is_never_recorded(world: World) -> None:
    world.send(event_body("acme-lib", "1.0", "rev-1", DEDUP))
    world.expect_assets("acme-lib", "1.0", LIB_10, "rev-1")
    world.expect_read("acme-lib", "1.0", LIB_10[0][0], b"tampered", "rev-1")
    response, summary = world.run()
    assert len(response["batchItemFailures"]) == 1
    assert "SHA-256" in summary.errors[0]
    assert world.keys("packages/") == []
    assert world.keys("manifests/") == []


def test_events_with_nothing_to_copy_are_ignored_and_formats_not_backed_up_fail(world: World) -> None:
    world.send(
        event_body("acme-lib", "1.0", "rev-2", "c1", state="Archived", operation="Updated"),
        event_body("acme-lib", "1.0", "rev-2", "c2", state="Disposed", operation="Deleted"),
        event_body("requests", "2.32.4", "rev-1", "c3", repository="pypi-store"),
        event_body("acme-js", "1.0.0", "rev-1", "c4", package_format="npm"),
    )
    response, summary = world.run()
    assert len(summary.ignored) == 3
    assert len(response["batchItemFailures"]) == 1
    assert "only pypi versions are backed up" in summary.errors[0]
    assert world.keys() == []


def test_a_changed_version_is_copied_again_reading_only_the_new_file(world: World) -> None:
    world.send(event_body("acme-lib", "1.0", "rev-1", "d1"))
    world.expect_copy("acme-lib", "1.0", LIB_10[:1], "rev-1")
    world.run()
    # twine uploads the sdist second: a new revision; the wheel is not read again
    world.send(event_body("acme-lib", "1.0", "rev-2", "d2", operation="Updated"))
    world.expect_assets("acme-lib", "1.0", LIB_10, "rev-2")
    world.expect_read("acme-lib", "1.0", LIB_10[1][0], LIB_10[1][1], "rev-2")
    world.run()
    manifest = world.manifest("acme-lib", "1.0")
    assert manifest["revision"] == "rev-2"
    assert [a["name"] for a in manifest["assets"]] == [n for n, _ in LIB_10]
    versions = boto3.client("s3", region_name=REGION).list_object_versions(Bucket=BUCKET, Prefix="manifests/")
    assert len(versions["Versions"]) == 2  # the first manifest is kept as an older object version


def test_a_batch_that_is_not_sqs_fails_whole(world: World) -> None:
    with pytest.raises(ValueError, match="not an SQS batch"):
        run_copy_version({"detail": {}}, world.config, world.services, NOW)


def test_the_lambda_entry_point_reads_its_configuration_and_answers_only_the_failures(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = render_config(
        domain="acme",
        domain_owner=OWNER,
        region=REGION,
        repository="internal",
        bucket=BUCKET,
        topic_arn=world.config.topic_arn,
    )
    monkeypatch.setenv("BACKUP_CONFIG", json.dumps(document))
    batch = {
        "Records": [
            {"messageId": "m1", "body": event_body("x", "1.0", "r", "e1", repository="other")},
            {"messageId": "m2", "body": "{}"},
        ]
    }
    assert copy_version(batch, None) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    monkeypatch.setenv("BACKUP_CONFIG", "{}")
    with pytest.raises(ValueError, match="domain: missing"):
        copy_version(batch, None)


def test_the_rule_pattern_routes_only_the_repositorys_events() -> None:
    pattern = EventPattern.load(json.dumps(event_pattern(domain="acme", domain_owner=OWNER, repository="internal")))
    assert pattern.matches_event(json.loads(event_body("acme-lib", "1.0", "r", "e")))
    assert not pattern.matches_event(json.loads(event_body("acme-lib", "1.0", "r", "e", repository="pypi-store")))


def test_the_rate_limiter_paces_requests() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(per_second=10, clock=lambda: clock[0], sleep=sleep)
    for _ in range(30):
        limiter.wait()
    # a burst of 10, then one request every 0.1 s: 20 more take 2 s
    assert len(slept) == 20
    assert sum(slept) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(per_second=0)


# reconcile -------------------------------------------------------------------------------------------------------


def test_reconcile_copies_what_events_missed_and_nothing_twice(world: World) -> None:
    world.send(event_body("acme-lib", "1.0", "rev-1", DEDUP))
    world.expect_copy("acme-lib", "1.0", LIB_10, "rev-1")
    world.run()
    world.notifications()

    lib_11 = [wheel("acme-lib", "1.1")]
    tool_20 = [wheel("acme-tool", "2.0rc1")]
    world.expect_packages("acme-lib", "acme-tool")
    world.expect_versions("acme-lib", [("1.0", "rev-1", "Published"), ("1.1", "rev-3", "Published")])
    world.expect_versions("acme-tool", [("2.0rc1", "rev-9", "Archived"), ("1.9", "rev-8", "Disposed")])
    world.expect_copy("acme-lib", "1.1", lib_11, "rev-3")
    world.expect_copy("acme-tool", "2.0rc1", tool_20, "rev-9")

    summary = run_reconcile(world.config, world.services, NOW, limiter=world.limiter())

    assert summary == {"copied": ["acme-lib==1.1", "acme-tool==2.0rc1"], "upToDate": 1, "deferred": [], "errors": []}
    assert world.manifest("acme-tool", "2.0rc1")["eventDeduplicationId"] is None
    assert world.object("packages/acme-lib/1.1/" + lib_11[0][0]) == lib_11[0][1]
    assert [(n["event"], n["version"]) for n in world.notifications()] == [
        ("backed up", "1.1"),
        ("backed up", "2.0rc1"),
    ]

    # the next night finds everything manifested: no asset is listed or read
    world.expect_packages("acme-lib", "acme-tool")
    world.expect_versions("acme-lib", [("1.0", "rev-1", "Published"), ("1.1", "rev-3", "Published")])
    world.expect_versions("acme-tool", [("2.0rc1", "rev-9", "Archived"), ("1.9", "rev-8", "Disposed")])
    again = run_reconcile(world.config, world.services, NOW + timedelta(days=1), limiter=world.limiter())
    assert again == {"copied": [], "upToDate": 3, "deferred": [], "errors": []}


def test_reconcile_reports_a_status_it_does_not_know_and_fails_the_run(world: World) -> None:
    world.expect_packages("acme-lib")
    world.expect_versions("acme-lib", [("1.0", "rev-1", "Quarantined")])
    with pytest.raises(RunError, match="status 'Quarantined' is not understood"):
        run_reconcile(world.config, world.services, NOW, limiter=world.limiter())


def test_reconcile_refuses_a_manifest_it_cannot_read(world: World) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET, Key="manifests/acme-lib/1.0.json", Body=b'{"package": "acme-lib"}', ChecksumAlgorithm="SHA256"
    )
    with pytest.raises(CopyError, match="is not a manifest"):
        run_reconcile(world.config, world.services, NOW, limiter=world.limiter())


def test_reconcile_defers_copies_when_the_run_is_out_of_time(world: World) -> None:
    world.expect_packages("acme-lib")
    world.expect_versions("acme-lib", [("1.1", "rev-3", "Published")])

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 5_000

    summary = run_reconcile(world.config, world.services, NOW, Context(), limiter=world.limiter())
    assert summary["deferred"] == ["acme-lib==1.1"]
    assert world.keys() == []


# retain ----------------------------------------------------------------------------------------------------------


def expect_retention_listing(world: World) -> None:
    world.expect_packages("acme-lib")
    world.expect_versions(
        "acme-lib",
        [
            ("1.0.dev1", "r", "Published"),
            ("1.0rc1", "r", "Published"),  # in the keep-list
            ("1.0rc2", "r", "Published"),
            ("1.0rc3", "r", "Published"),  # the newest of 1.0's pre-releases
            ("1.0", "r", "Published"),  # final: never described, never archived
            ("0.9.dev1", "r", "Disposed"),  # no files: not described
        ],
    )
    for version, days in [("1.0.dev1", 200), ("1.0rc1", 150), ("1.0rc2", 100), ("1.0rc3", 90)]:
        world.expect(
            "describe_package_version",
            {"repository": "internal", "format": "pypi", "package": "acme-lib", "packageVersion": version},
            {
                "packageVersion": {
                    "format": "pypi",
                    "packageName": "acme-lib",
                    "version": version,
                    "status": "Published",
                    "publishedTime": NOW - timedelta(days=days),
                }
            },
        )


def test_retain_dry_run_writes_its_plan_and_changes_nothing(world: World) -> None:
    expect_retention_listing(world)  # and no update_package_versions_status: the Stubber would fail on one

    summary = run_retain(world.config, world.services, NOW, limiter=world.limiter())

    assert summary == {
        "plan": "plans/retention/20260601T030000000000Z.json",
        "dryRun": True,
        "planned": 2,
        "errors": [],
    }
    plan = json.loads(world.object(str(summary["plan"])))
    assert plan["dryRun"] is True
    assert plan["keep"] == ["acme-lib==1.0rc1"]
    assert [(a["version"], a["series"]) for a in plan["archive"]] == [("1.0.dev1", "1"), ("1.0rc2", "1")]
    assert plan["archive"][0]["publishedTime"] == "2025-11-13T03:00:00Z"
    assert world.keys("packages/") == []
    assert [(n["event"], n["versions"]) for n in world.notifications()] == [("retention planned", 2)]


def test_retain_archives_expecting_published_and_never_deletes(world: World) -> None:
    config = BackupConfig.from_mapping(
        {**render_document(world), "retention": {"archiveAfterDays": 30, "keepNewest": 1, "keep": [], "dryRun": False}}
    )
    expect_retention_listing(world)
    world.expect(
        "update_package_versions_status",
        {
            "repository": "internal",
            "format": "pypi",
            "package": "acme-lib",
            "versions": ["1.0.dev1", "1.0rc1", "1.0rc2"],
            "expectedStatus": "Published",
            "targetStatus": "Archived",
        },
        {
            "successfulVersions": {v: {"revision": "r", "status": "Archived"} for v in ["1.0.dev1", "1.0rc1"]},
            "failedVersions": {"1.0rc2": {"errorCode": "MISMATCHED_STATUS", "errorMessage": "now Unlisted"}},
        },
    )
    with pytest.raises(RunError) as caught:
        run_retain(config, world.services, NOW, limiter=world.limiter())
    assert caught.value.summary["archived"] == ["acme-lib==1.0.dev1", "acme-lib==1.0rc1"]
    assert caught.value.summary["errors"] == ["acme-lib==1.0rc2: not archived, MISMATCHED_STATUS: now Unlisted"]
    assert world.keys("plans/retention/") == ["plans/retention/20260601T030000000000Z.json"]
    assert [(n["event"], n["versions"]) for n in world.notifications()] == [("archived", ["1.0.dev1", "1.0rc1"])]


def test_retain_without_retention_settings_refuses_to_run(world: World) -> None:
    config = BackupConfig.from_mapping({**render_document(world), "retention": None})
    with pytest.raises(RunError, match="retention is not configured"):
        run_retain(config, world.services, NOW)


def render_document(world: World) -> dict[str, Any]:
    return render_config(
        domain="acme",
        domain_owner=OWNER,
        region=REGION,
        repository="internal",
        bucket=BUCKET,
        topic_arn=world.config.topic_arn,
    )


BACKUP = Path(__file__).resolve().parents[2] / "backup"
ALLOWED_TOP_LEVEL = {"boto3", "botocore", "backup"}


def test_the_backup_imports_only_the_standard_library_boto3_and_itself() -> None:
    """Lambda's Python runtime ships the standard library and boto3; nothing else may be imported at run time
    (not `packaging`, not the promoter: each function ships its own folder; typing-only imports are not run)."""
    for path in sorted(BACKUP.glob("*.py")):
        tree = ast.parse(path.read_text())
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
            for node in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED_TOP_LEVEL, f"{path.name} imports {module}"

    probe = (
        "import sys, boto3, botocore.stub\n"
        "before = set(sys.modules)\n"
        "import backup.handler\n"
        "new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names)\n"
        "print(' '.join(new))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=BACKUP.parent
    )
    loaded = result.stdout.split()
    assert "backup.handler" in loaded, "the probe saw no backup module: it measured nothing"
    assert all(module.split(".")[0] == "backup" for module in loaded), loaded
