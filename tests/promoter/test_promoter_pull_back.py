"""pull_back end to end: S3 (Object Lock) and SNS in moto, the topic read through a subscribed SQS
queue; CodeArtifact through botocore's Stubber against botocore's own model (moto has no CodeArtifact), so
every call and its parameters are checked against the real API; PyPI, OSV and the store repository's
endpoint are local stand-ins on 127.0.0.1. The world they run in is the `world` fixture
(tests/promoter/conftest.py)."""

from __future__ import annotations

import json

import pytest

from promoter.handler import run_pull_back
from tests.promoter.handler_support import NOW, World
from tests.promoter_stand_ins import osv_record

pytestmark = pytest.mark.moto


def test_pull_back_archives_in_every_repository_that_holds_the_version(world: World) -> None:
    world.osv.add(osv_record("MAL-2026-9", "demo"), ("demo", "1.0"))
    world.osv.add(osv_record("GHSA-cccc-cccc-cccc", "demo", severity="CRITICAL"), ("demo", "1.3"))
    world.osv.add(osv_record("GHSA-hhhh-hhhh-hhhh", "demo", severity="HIGH"), ("demo", "2.1"))  # waived
    world.osv.add(osv_record("GHSA-mmmm-mmmm-mmmm", "demo", severity="MODERATE"), ("demo", "1.1"))
    world.osv.install(world.http)
    world.expect(
        "list_packages",
        {"repository": "pypi-vetted", "format": "pypi"},
        {"packages": [{"format": "pypi", "package": "demo"}]},
    )
    world.expect_versions(
        "pypi-vetted",
        "demo",
        {"1.0": "Published", "1.1": "Published", "1.3": "Published", "2.1": "Published", "0.9": "Archived"},
    )
    world.expect_versions("internal", "demo", {"1.0": "Published"})
    archive = {"format": "pypi", "package": "demo", "expectedStatus": "Published", "targetStatus": "Archived"}
    world.expect(
        "update_package_versions_status",
        {**archive, "repository": "pypi-vetted", "versions": ["1.0", "1.3"]},
        {
            "successfulVersions": {v: {"revision": "r", "status": "Archived"} for v in ["1.0", "1.3"]},
            "failedVersions": {},
        },
    )
    world.expect(
        "update_package_versions_status",
        {**archive, "repository": "internal", "versions": ["1.0"]},
        {"successfulVersions": {"1.0": {"revision": "r", "status": "Archived"}}, "failedVersions": {}},
    )

    summary = run_pull_back(world.config, world.services, NOW)

    assert summary["decisions"] == {"archived": ["demo==1.0", "demo==1.3"]}
    ledger = {r["version"]: r for r in world.ledger()}
    assert ledger["1.0"]["repositories"] == ["pypi-vetted", "internal"]
    assert ledger["1.0"]["kind"] == "pull_back"
    assert ledger["1.0"]["reasons"] == ["MAL-2026-9: OSV malicious-package advisory"]
    assert ledger["1.3"]["repositories"] == ["pypi-vetted"]
    assert sorted(m["version"] for m in world.messages()) == ["1.0", "1.3"]
    # OSV was asked only about Published versions
    queried = [
        q["version"] for s in world.http.seen if s.path == "/v1/querybatch" for q in json.loads(s.body)["queries"]
    ]
    assert sorted(queried) == ["1.0", "1.1", "1.3", "2.1"]


def test_pull_back_finishes_a_version_archived_in_vetted_but_not_yet_in_internal(world: World) -> None:
    world.osv.add(osv_record("MAL-2026-9", "demo"), ("demo", "1.0"))
    world.osv.install(world.http)
    world.expect(
        "list_packages",
        {"repository": "pypi-vetted", "format": "pypi"},
        {"packages": [{"format": "pypi", "package": "demo"}]},
    )
    world.expect_versions("pypi-vetted", "demo", {"1.0": "Archived"})
    world.expect_versions("internal", "demo", {"1.0": "Published"})
    world.expect(
        "update_package_versions_status",
        {
            "format": "pypi",
            "package": "demo",
            "expectedStatus": "Published",
            "targetStatus": "Archived",
            "repository": "internal",
            "versions": ["1.0"],
        },
        {"successfulVersions": {"1.0": {"revision": "r", "status": "Archived"}}, "failedVersions": {}},
    )
    run_pull_back(world.config, world.services, NOW)
    assert [r["repositories"] for r in world.ledger()] == [["internal"]]
