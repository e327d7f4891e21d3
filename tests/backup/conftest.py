"""Fixtures shared by tests/backup: the backup bucket the restore reads (`s3`), and the world the backup
functions run in (`world`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from backup.config import BackupConfig, render_config
from backup.handler import Services
from backup.layout import PUT_PREFIXES, READ_PREFIXES
from tests.backup import handler_support, restore_support
from tests.backup.handler_support import OWNER, REGION, RecordingBucket, World

# --- the backup bucket, as the backup writes it ---------------------------------------------------


@pytest.fixture
def s3() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3", region_name=restore_support.BACKUP_REGION)
        client.create_bucket(Bucket=restore_support.BUCKET,
                             CreateBucketConfiguration={"LocationConstraint": restore_support.BACKUP_REGION},
                             ObjectLockEnabledForBucket=True)
        client.put_object_lock_configuration(Bucket=restore_support.BUCKET, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
        yield client


# --- the backup functions' world ---------------------------------------------------------------------


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
            Bucket=handler_support.BUCKET,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
        s3.put_bucket_versioning(Bucket=handler_support.BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object_lock_configuration(
            Bucket=handler_support.BUCKET,
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
            bucket=handler_support.BUCKET,
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
