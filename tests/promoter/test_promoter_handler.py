"""promote end to end: S3 (Object Lock) and SNS in moto, the topic read through a subscribed SQS
queue; CodeArtifact through botocore's Stubber against botocore's own model (moto has no CodeArtifact), so
every call and its parameters are checked against the real API; PyPI, OSV and the store repository's
endpoint are local stand-ins on 127.0.0.1. The world they run in is the `world` fixture
(tests/promoter/conftest.py)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from promoter.config import PromoterConfig
from promoter.handler import RunError, promote, run_promote
from tests.promoter.handler_support import NOW, RELEASES, World, demo_release, publish_demo
from tests.promoter_stand_ins import File, StandIn, publish_pypi, serve

pytestmark = pytest.mark.moto


def test_promote_decides_ingests_copies_and_records_every_decision(world: World) -> None:
    publish_demo(world)
    world.expect_versions("pypi-vetted", "demo", {"0.9": "Published"})
    world.expect_access()
    world.expect_copy("demo", "2.1")  # newest first: the waived one
    world.expect_copy("demo", "1.0")

    world.expect_store_packages()
    summary = run_promote(world.config, world.services, NOW)

    assert summary["decisions"] == {
        "waived": ["demo==2.1"],
        "waiting": ["demo==2.0"],
        "refused": ["demo==1.2", "demo==1.1"],
        "admitted": ["demo==1.0"],
    }
    assert summary["recorded"] == 5
    # every file of both admitted versions was requested through the store endpoint, with the token
    fetched = [p for p in world.http.paths() if p.startswith("/pypi/pypi-store/")]
    assert sorted(fetched) == sorted(
        ["/pypi/pypi-store/simple/demo/"] * 2
        + [f"/pypi/pypi-store/simple/demo/{f.filename}" for v in ("1.0", "2.1") for f in RELEASES[v]]
    )
    ledger = {(r["version"], r["outcome"]): r for r in world.ledger()}
    assert set(ledger) == {
        ("2.1", "waived"),
        ("2.0", "waiting"),
        ("1.2", "refused"),
        ("1.1", "refused"),
        ("1.0", "admitted"),
    }
    admitted = ledger[("1.0", "admitted")]
    assert admitted["_key"].startswith("decisions/2026/03/10/demo/1.0/20260310T120000")
    assert admitted["action"] == "copied"
    assert admitted["repositories"] == ["pypi-vetted"]
    assert admitted["uploadTime"] == "2026-02-28T12:00:00Z"  # the earliest file, not the later sdist
    assert admitted["advisories"] == [{"id": "GHSA-llll-llll-llll", "severity": "LOW"}]
    assert ledger[("2.1", "waived")]["waiver"] == {"version": "2.1", "reason": "urgent fix, reviewed in PR 42"}
    assert ledger[("1.2", "refused")]["reasons"] == ["MAL-2026-7: OSV malicious-package advisory"]
    assert ledger[("1.1", "refused")]["action"] == "none"
    # the same JSON went to the topic
    messages = world.messages()
    assert sorted((m["version"], m["outcome"]) for m in messages) == sorted(ledger)
    assert {json.dumps(m, sort_keys=True) for m in messages} == {
        json.dumps({k: v for k, v in r.items() if k != "_key"}, sort_keys=True) for r in ledger.values()
    }


def test_a_second_run_copies_nothing_again_and_records_nothing_new(world: World) -> None:
    publish_demo(world)
    world.expect_versions("pypi-vetted", "demo", {"0.9": "Published"})
    world.expect_access()
    world.expect_copy("demo", "2.1")
    world.expect_copy("demo", "1.0")
    world.expect_store_packages()
    run_promote(world.config, world.services, NOW)
    world.messages()

    # the vetted repository now holds what was copied; nothing else is admissible yet
    world.expect_versions("pypi-vetted", "demo", {"0.9": "Published", "1.0": "Published", "2.1": "Published"})
    world.expect_store_packages()
    again = run_promote(world.config, world.services, NOW + timedelta(minutes=15))
    assert again["recorded"] == 0
    assert again["decisions"] == {"waiting": ["demo==2.0"], "refused": ["demo==1.2", "demo==1.1"]}
    assert world.messages() == []
    assert len(world.ledger()) == 5

    # three days on, 2.0 has served its cooldown
    world.expect_versions("pypi-vetted", "demo", {"0.9": "Published", "1.0": "Published", "2.1": "Published"})
    world.expect_access()
    world.expect_copy("demo", "2.0")
    world.expect_store_packages()
    later = run_promote(world.config, world.services, NOW + timedelta(days=3))
    assert later["decisions"]["admitted"] == ["demo==2.0"]
    assert [(m["version"], m["outcome"]) for m in world.messages()] == [("2.0", "admitted")]


def test_a_version_already_copied_by_a_concurrent_run_is_not_an_error(world: World) -> None:
    publish_pypi(world.http, "demo", {"1.0": RELEASES["1.0"]})
    world.osv.install(world.http)
    world.store.files["demo"] = {f.filename: f for f in RELEASES["1.0"]}
    world.store.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {})
    world.expect_access()
    world.expect_copy("demo", "1.0", failure="ALREADY_EXISTS")
    world.expect_store_packages()
    run_promote(world.config, world.services, NOW)
    assert [r["action"] for r in world.ledger()] == ["already present"]


def test_a_failed_copy_fails_the_run_and_records_nothing(world: World) -> None:
    publish_pypi(world.http, "demo", {"1.0": RELEASES["1.0"]})
    world.osv.install(world.http)
    world.store.files["demo"] = {f.filename: f for f in RELEASES["1.0"]}
    world.store.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {})
    world.expect_access()
    world.expect_copy("demo", "1.0", failure="NOT_FOUND")
    with pytest.raises(RunError, match=r"copying demo 1\.0 into pypi-vetted failed"):
        world.expect_store_packages()
        run_promote(world.config, world.services, NOW)
    assert world.ledger() == []


def test_a_file_whose_digest_differs_from_pypi_is_never_copied(world: World) -> None:
    publish_pypi(world.http, "demo", {"1.0": RELEASES["1.0"]})
    world.osv.install(world.http)
    tampered = File(RELEASES["1.0"][1].filename, b"something else", RELEASES["1.0"][1].uploaded)
    world.store.files["demo"] = {RELEASES["1.0"][0].filename: RELEASES["1.0"][0], tampered.filename: tampered}
    world.store.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {})
    world.expect_access()  # and no copy_package_versions: the Stubber would fail on one
    with pytest.raises(RunError, match=r"demo-1.0.tar.gz through .* has SHA-256"):
        world.expect_store_packages()
        run_promote(world.config, world.services, NOW)
    assert world.ledger() == []


def test_the_token_never_follows_a_redirect_to_another_host(world: World, http: StandIn) -> None:
    with contextlib_serve() as blobs:
        publish_pypi(world.http, "demo", {"1.0": RELEASES["1.0"]})
        world.osv.install(world.http)
        world.store.files["demo"] = {f.filename: f for f in RELEASES["1.0"]}
        world.store.redirect_to = blobs
        world.store.install(world.http)
        world.expect_versions("pypi-vetted", "demo", {})
        world.expect_access()
        world.expect_copy("demo", "1.0")
        world.expect_store_packages()
        run_promote(world.config, world.services, NOW)
        assert len(blobs.seen) == 2
        assert all("Authorization" not in seen.headers for seen in blobs.seen)


def test_a_wrong_token_is_reported_with_a_hint(world: World) -> None:
    publish_pypi(world.http, "demo", {"1.0": RELEASES["1.0"]})
    world.osv.install(world.http)
    world.store.files["demo"] = {f.filename: f for f in RELEASES["1.0"]}
    world.store.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {})
    world.expect(
        "get_repository_endpoint",
        {"repository": "pypi-store", "format": "pypi"},
        {"repositoryEndpoint": world.store.endpoint(world.http)},
    )
    world.expect("get_authorization_token", {"durationSeconds": 900}, {"authorizationToken": "expired"})
    with pytest.raises(RunError, match=r"HTTP 401 .*check the token"):
        world.expect_store_packages()
        run_promote(world.config, world.services, NOW)


def test_what_the_store_held_when_the_airlock_was_switched_on_is_decided_too(world: World) -> None:
    """Consumers depended on it through the store before; left out, it would vanish from their index."""
    publish_demo(world)
    publish_pypi(world.http, "legacy-lib", {"3.0": demo_release("3.0", timedelta(days=30))})
    world.store.files["legacy-lib"] = {f.filename: f for f in demo_release("3.0", timedelta(days=30))}
    world.store.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {v: "Published" for v in RELEASES})
    world.expect_store_packages(("demo", "Legacy_Lib"))
    world.expect_versions("pypi-vetted", "legacy-lib", {})
    world.expect_access()
    world.expect_copy("legacy-lib", "3.0")
    summary = run_promote(world.config, world.services, NOW)
    assert summary["decisions"] == {"admitted": ["legacy-lib==3.0"]}


def test_a_cold_start_admits_nothing_younger_than_the_cooldown(world: World) -> None:
    publish_pypi(world.http, "demo", {"2.0": RELEASES["2.0"]})
    world.osv.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {})  # the vetted repository has never held demo
    world.expect_store_packages()
    summary = run_promote(world.config, world.services, NOW)
    assert summary["decisions"] == {"waiting": ["demo==2.0"]}
    assert [r["reasons"] for r in world.ledger()] == [
        ["uploaded 2026-03-10T10:00:00Z, in cooldown until 2026-03-13T10:00:00Z"]
    ]


def test_one_failing_package_does_not_stop_the_others_but_fails_the_run(world: World) -> None:
    config = PromoterConfig.from_mapping(
        {**render_config_document(world), "publicPackages": ["broken", "demo"], "waivers": []}
    )
    publish_pypi(world.http, "demo", {"2.0": RELEASES["2.0"]})
    world.http.routes[("GET", "/pypi/broken/json")] = (500, {}, b"")
    world.osv.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {})
    with pytest.raises(RunError) as caught:
        world.expect_store_packages()
        run_promote(config, world.services, NOW)
    assert caught.value.summary["errors"] == [f"broken: GET {world.http.base_url}/pypi/broken/json: HTTP 500"]
    assert caught.value.summary["decisions"] == {"waiting": ["demo==2.0"]}


def test_an_admission_is_deferred_when_the_run_is_out_of_time(world: World) -> None:
    publish_pypi(world.http, "demo", {"1.0": RELEASES["1.0"]})
    world.osv.install(world.http)
    world.expect_versions("pypi-vetted", "demo", {})

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 5_000

    world.expect_store_packages()
    summary = run_promote(world.config, world.services, NOW, Context())
    assert summary["deferred"] == ["demo==1.0"]
    assert summary["decisions"] == {}
    assert world.ledger() == []


def test_the_lambda_entry_point_reads_its_configuration_from_the_environment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PROMOTER_CONFIG", json.dumps({**render_config_document(world), "publicPackages": [], "waivers": []})
    )
    # moto has no CodeArtifact: the store holds nothing
    monkeypatch.setattr("promoter.handler.RepositoryClient.packages", lambda self, repository: [])
    assert promote({}, None) == {"decisions": {}, "recorded": 0, "deferred": [], "errors": []}
    monkeypatch.setenv("PROMOTER_CONFIG", "{}")
    with pytest.raises(ValueError, match="domain: missing"):
        promote({}, None)


def render_config_document(world: World) -> dict[str, Any]:
    config = world.config
    return {
        "domain": config.domain,
        "domainOwner": config.domain_owner,
        "region": config.region,
        "storeRepository": config.store_repository,
        "vettedRepository": config.vetted_repository,
        "internalRepository": config.internal_repository,
        "publicPackages": list(config.public_packages),
        "cooldownSeconds": config.cooldown_seconds,
        "waivers": [{"name": w.name, "version": w.version, "reason": w.reason} for w in config.waivers],
        "refuseSeverity": config.refuse_severity,
        "allowedLicenses": list(config.allowed_licenses),
        "ledgerBucket": config.ledger_bucket,
        "topicArn": config.topic_arn,
        "pypiUrl": config.pypi_url,
        "osvUrl": config.osv_url,
    }


class contextlib_serve:  # noqa: N801 (used as a context manager, like contextlib's)
    """A second stand-in host for the duration of a with-block."""

    def __enter__(self) -> StandIn:
        self._generator = serve()
        return next(self._generator)

    def __exit__(self, *exc: object) -> None:
        self._generator.close()


PROMOTER = Path(__file__).resolve().parents[2] / "promoter"
ALLOWED_TOP_LEVEL = {"boto3", "botocore", "promoter"}


def test_the_promoter_imports_only_the_standard_library_boto3_and_itself() -> None:
    """Lambda's Python runtime ships the standard library and boto3; nothing else may be imported at run time
    (typing-only imports under TYPE_CHECKING are not run)."""
    for path in sorted(PROMOTER.glob("*.py")):
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

    # and at run time: importing the handler after boto3 loads nothing but the standard library and promoter
    probe = (
        "import sys, boto3, botocore.stub\n"
        "before = set(sys.modules)\n"
        "import promoter.handler\n"
        "new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names)\n"
        "print(' '.join(new))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROMOTER.parent
    )
    loaded = result.stdout.split()
    assert loaded, "the probe saw no promoter module: it measured nothing"
    assert all(module.split(".")[0] == "promoter" for module in loaded), loaded
