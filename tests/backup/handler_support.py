"""The world the backup functions' tests run in (tests/backup/test_backup_handler.py,
tests/backup/test_backup_nightly_jobs.py; the `world` fixture in tests/backup/conftest.py builds it): the bucket,
topic and queues in moto, CodeArtifact through botocore's Stubber, and CodeArtifact's events."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.response import StreamingBody
from botocore.stub import Stubber

from backup.config import BackupConfig
from backup.copier import RateLimiter
from backup.handler import Services, run_copy_version

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


LIB_10 = [wheel("acme-lib", "1.0"), sdist("acme-lib", "1.0")]
DEDUP = "2mEO0A2Ke07rWUTBXk3CAiQhdTXF4N94LNaT/ffffff="
