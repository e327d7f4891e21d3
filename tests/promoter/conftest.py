"""Fixtures shared by tests/promoter: the stand-in host (`http`) and the world the promoter runs in (`world`)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from promoter.config import PromoterConfig, render_config
from promoter.handler import Services
from promoter.sources import OSVClient, PyPIClient
from tests.promoter.handler_support import BUCKET, REGION, World
from tests.promoter_stand_ins import OSV, StandIn, StoreEndpoint, serve


@pytest.fixture
def http() -> Iterator[StandIn]:
    yield from serve()


@pytest.fixture
def world(http: StandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
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
        s3.put_object_lock_configuration(
            Bucket=BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}},
            },
        )
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="airlock")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="airlock-reader")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        document = render_config(
            domain="acme",
            domain_owner="123456789012",
            region=REGION,
            store_repository="pypi-store",
            vetted_repository="pypi-vetted",
            internal_repository="internal",
            public_packages=["demo"],
            cooldown="3d",
            waivers=[{"package": "demo==2.1", "reason": "urgent fix, reviewed in PR 42"}],
            refuse_severity="HIGH",
            allowed_licenses=[],
            ledger_bucket=BUCKET,
            topic_arn=topic_arn,
            pypi_url=http.base_url,
            osv_url=http.base_url,
        )
        config = PromoterConfig.from_mapping(document)
        codeartifact = boto3.client("codeartifact", region_name=REGION)
        with Stubber(codeartifact) as stubber:
            services = Services(codeartifact, s3, sns, PyPIClient(http.base_url), OSVClient(http.base_url))
            yield World(http, config, services, stubber, queue_url, StoreEndpoint(), OSV())
            stubber.assert_no_pending_responses()
