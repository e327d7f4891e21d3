"""The world the promoter's tests run in (tests/promoter/test_promoter_handler.py,
tests/promoter/test_promoter_pull_back.py; the `world` fixture in tests/promoter/conftest.py builds it), and
the releases of `demo` they publish."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from botocore.stub import Stubber

from promoter.config import PromoterConfig
from promoter.handler import Services
from tests.promoter_stand_ins import OSV, TOKEN, File, StandIn, StoreEndpoint, osv_record, publish_pypi

UTC = timezone.utc
REGION = "eu-west-1"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DOMAIN = {"domain": "acme", "domainOwner": "123456789012"}
BUCKET = "acme-airlock-ledger"


@dataclass
class World:
    http: StandIn
    config: PromoterConfig
    services: Services
    stubber: Stubber
    queue_url: str
    store: StoreEndpoint
    osv: OSV

    def expect(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.stubber.add_response(operation, response, {**DOMAIN, **params})

    def expect_versions(self, repository: str, package: str, versions: dict[str, str]) -> None:
        listed = [{"version": v, "revision": f"rev-{v}", "status": s} for v, s in versions.items()]
        params = {"repository": repository, "format": "pypi", "package": package}
        if versions:
            self.expect("list_package_versions", params, {"versions": listed, "format": "pypi", "package": package})
        else:
            self.stubber.add_client_error(
                "list_package_versions",
                "ResourceNotFoundException",
                http_status_code=404,
                expected_params={**DOMAIN, **params},
            )

    def expect_store_packages(self, packages: tuple[str, ...] = ()) -> None:
        """The store's packages, listed last in a promote run (what consumers held before the airlock)."""
        self.expect("list_packages", {"repository": "pypi-store", "format": "pypi"},
                    {"packages": [{"format": "pypi", "package": p} for p in packages]})

    def expect_access(self) -> None:
        self.expect(
            "get_repository_endpoint",
            {"repository": "pypi-store", "format": "pypi"},
            {"repositoryEndpoint": self.store.endpoint(self.http)},
        )
        self.expect("get_authorization_token", {"durationSeconds": 900}, {"authorizationToken": TOKEN})

    def expect_copy(self, package: str, version: str, failure: str | None = None) -> None:
        params = {
            "sourceRepository": "pypi-store",
            "destinationRepository": "pypi-vetted",
            "format": "pypi",
            "package": package,
            "versions": [version],
            "allowOverwrite": False,
        }
        if failure is None:
            response = {
                "successfulVersions": {version: {"revision": "r1", "status": "Published"}},
                "failedVersions": {},
            }
        else:
            response = {
                "successfulVersions": {},
                "failedVersions": {version: {"errorCode": failure, "errorMessage": failure}},
            }
        self.expect("copy_package_versions", params, response)

    def ledger(self) -> list[dict[str, Any]]:
        s3 = boto3.client("s3", region_name=REGION)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="decisions/").get("Contents", [])]
        return [json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) | {"_key": key} for key in keys]

    def messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        found = []
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found


def demo_release(version: str, age: timedelta) -> list[File]:
    uploaded = NOW - age
    return [
        File(f"demo-{version}-py3-none-any.whl", f"wheel {version}".encode(), uploaded),
        File(f"demo-{version}.tar.gz", f"sdist {version}".encode(), uploaded + timedelta(minutes=5)),
    ]


RELEASES = {
    "0.9": demo_release("0.9", timedelta(days=400)),
    "1.0": demo_release("1.0", timedelta(days=10)),
    "1.1": demo_release("1.1", timedelta(days=9)),
    "1.2": demo_release("1.2", timedelta(days=8)),
    "2.0": demo_release("2.0", timedelta(hours=2)),
    "2.1": demo_release("2.1", timedelta(hours=1)),
}


def publish_demo(world: World) -> None:
    publish_pypi(world.http, "demo", RELEASES)
    world.osv.add(osv_record("GHSA-hhhh-hhhh-hhhh", "demo", severity="HIGH"), ("demo", "1.1"))
    world.osv.add(osv_record("MAL-2026-7", "demo"), ("demo", "1.2"))
    world.osv.add(osv_record("GHSA-llll-llll-llll", "demo", severity="LOW"), ("demo", "1.0"))
    world.osv.install(world.http)
    world.store.files["demo"] = {f.filename: f for files in RELEASES.values() for f in files}
    world.store.install(world.http)
