"""The nightly jobs, reconcile and retain, end to end.

The bucket (versioning, Object Lock in compliance mode), the topic (read through a subscribed SQS queue) and the
event queue with its dead-letter queue in moto; CodeArtifact through botocore's Stubber against botocore's own
model (moto has no CodeArtifact), so every call and its parameters are checked against the real API, and a call
nobody expected fails the test. The world they run in is the `world` fixture (tests/backup/conftest.py).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from backup.config import BackupConfig, render_config
from backup.copier import CopyError
from backup.handler import RunError, run_reconcile, run_retain
from tests.backup.handler_support import BUCKET, DEDUP, LIB_10, NOW, OWNER, REGION, World, event_body, wheel

pytestmark = pytest.mark.moto


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
