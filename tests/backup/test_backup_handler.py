"""copy_version end to end.

The bucket (versioning, Object Lock in compliance mode), the topic (read through a subscribed SQS queue) and the
event queue with its dead-letter queue in moto; CodeArtifact through botocore's Stubber against botocore's own
model (moto has no CodeArtifact), so every call and its parameters are checked against the real API, and a call
nobody expected fails the test. The world they run in is the `world` fixture (tests/backup/conftest.py).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto.events.models import EventPattern

from backup.config import render_config
from backup.copier import RateLimiter
from backup.events import event_pattern
from backup.handler import copy_version, run_copy_version
from tests.backup.handler_support import BUCKET, DEDUP, LIB_10, NOW, OWNER, REGION, World, event_body, sha256, wheel

pytestmark = pytest.mark.moto


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


# the backup's imports ----------------------------------------------------------------------------------------


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
