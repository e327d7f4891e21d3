"""PROMOTER_CONFIG: render_config (the program's side) and PromoterConfig (the Lambda's side) share one schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promoter.config import (
    ConfigError,
    PromoterConfig,
    Waiver,
    duration_seconds,
    normalise_name,
    parse_waiver_package,
    render_config,
)


def settings(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "domain": "acme",
        "domain_owner": "012345678901",
        "region": "eu-west-1",
        "store_repository": "pypi-store",
        "vetted_repository": "pypi-vetted",
        "internal_repository": "internal",
        "public_packages": ["requests", "zope-interface"],
        "cooldown": "3d",
        "waivers": [{"package": "Requests==2.32.4", "reason": "CVE fix needed before the cooldown"}],
        "refuse_severity": "HIGH",
        "allowed_licenses": ["MIT", "Apache-2.0"],
        "ledger_bucket": "acme-airlock-ledger",
        "topic_arn": "arn:aws:sns:eu-west-1:012345678901:airlock",
    }
    values.update(overrides)
    return values


def test_rendered_config_round_trips_through_the_environment() -> None:
    document = render_config(**settings())
    config = PromoterConfig.from_environment({"PROMOTER_CONFIG": json.dumps(document)})
    assert config.cooldown_seconds == 3 * 86400
    assert config.domain_owner == "012345678901"
    assert config.public_packages == ("requests", "zope-interface")
    assert config.waivers == (Waiver("requests", "2.32.4", "CVE fix needed before the cooldown"),)
    assert config.pypi_url == "https://pypi.org"
    assert config.osv_url == "https://api.osv.dev"
    assert document["waivers"] == [
        {"name": "requests", "version": "2.32.4", "reason": "CVE fix needed before the cooldown"}
    ]


@pytest.mark.parametrize(("duration", "seconds"), [("3d", 259200), ("12h", 43200), ("90m", 5400), ("0d", 0)])
def test_durations(duration: str, seconds: int) -> None:
    assert duration_seconds(duration) == seconds


@pytest.mark.parametrize("duration", ["3", "3w", "-1d", "1.5d", "d", " 3d"])
def test_bad_durations_are_refused(duration: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        duration_seconds(duration)


def test_waiver_package_is_one_exact_version() -> None:
    assert parse_waiver_package("Zope.Interface==7.0") == ("zope-interface", "7.0")
    for spec in ["requests", "requests>=2", "requests==", "requests==2.*", "==1.0", "requests==1.0,==2.0"]:
        with pytest.raises(ValueError, match="name==version"):
            parse_waiver_package(spec)


def test_normalise_name() -> None:
    assert normalise_name("Zope__Interface.x") == "zope-interface-x"


def test_every_problem_is_reported_at_once_naming_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        render_config(
            **settings(
                domain="Acme",
                domain_owner="12345678901",
                public_packages=["Requests", "requests-oauthlib", "requests-oauthlib"],
                cooldown="3w",
                waivers=[{"package": "flask==3.0", "reason": "x"}, {"package": "requests>=2", "reason": "x"}],
                refuse_severity="MEDIUM",
                allowed_licenses=["MIT", "mit"],
                topic_arn="airlock",
                pypi_url="http://pypi.org",
            )
        )
    problems = "\n".join(caught.value.problems)
    for fragment in [
        "domain:",
        "domainOwner:",
        "publicPackages: [0] 'Requests' is not PEP 503-normalised",
        "publicPackages: [2] 'requests-oauthlib' is listed twice",
        "cooldownSeconds: duration '3w'",
        "waivers[1].package:",
        "refuseSeverity: 'MEDIUM'",
        "allowedLicenses: [1] 'mit' is listed twice",
        "topicArn:",
        "pypiUrl: 'http://pypi.org'",
    ]:
        assert fragment in problems
    # publicPackages had errors, so whether flask is listed is not judged against a broken list
    assert "flask" not in problems


def test_a_waiver_for_an_unlisted_package_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"waivers\[0\]: 'flask' is not in publicPackages"):
        render_config(**settings(waivers=[{"package": "flask==3.0", "reason": "x"}]))


def test_a_waiver_needs_a_reason() -> None:
    with pytest.raises(ConfigError, match=r"waivers: \[0\].reason must be a non-empty string"):
        render_config(**settings(waivers=[{"package": "requests==2.0", "reason": "  "}]))


def test_unknown_and_missing_keys_are_reported() -> None:
    document = render_config(**settings())
    del document["topicArn"]
    document["cooldown"] = "3d"
    with pytest.raises(ConfigError) as caught:
        PromoterConfig.from_mapping(document)
    assert caught.value.problems == ("cooldown: unknown key", "topicArn: missing")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "PROMOTER_CONFIG is not set"),
        ({"PROMOTER_CONFIG": "{"}, "is not JSON"),
        ({"PROMOTER_CONFIG": "[]"}, "not a JSON object"),
    ],
)
def test_unreadable_environment(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PromoterConfig.from_environment(environ)


def test_types_are_checked() -> None:
    document = render_config(**settings())
    document.update(cooldownSeconds=True, publicPackages="requests", waivers=[["requests", "1"]], allowedLicenses=[1])
    with pytest.raises(ConfigError) as caught:
        PromoterConfig.from_mapping(document)
    problems = "\n".join(caught.value.problems)
    assert "cooldownSeconds: must be a non-negative integer, not True" in problems
    assert "publicPackages: must be a list, not str" in problems
    assert "waivers: [0] must be an object with exactly name, version and reason" in problems
    assert "allowedLicenses: [0] 1 is not an SPDX licence identifier" in problems


def test_loopback_http_is_allowed_for_local_stand_ins_only() -> None:
    document = render_config(**settings(pypi_url="http://127.0.0.1:8080/", osv_url="https://osv.example"))
    assert document["pypiUrl"] == "http://127.0.0.1:8080/"
    assert PromoterConfig.from_mapping(document).pypi_url == "http://127.0.0.1:8080"
    with pytest.raises(ConfigError, match="osvUrl"):
        render_config(**settings(osv_url="http://osv.example"))


def test_the_three_repositories_must_differ() -> None:
    with pytest.raises(ConfigError, match="must be three repositories"):
        render_config(**settings(vetted_repository="pypi-store"))


def test_a_licence_with_an_exception_is_one_entry() -> None:
    document = render_config(**settings(allowed_licenses=["GPL-2.0-only WITH Classpath-exception-2.0"]))
    assert PromoterConfig.from_mapping(document).allowed_licenses == ("GPL-2.0-only WITH Classpath-exception-2.0",)
    with pytest.raises(ConfigError, match="allowedLicenses"):
        render_config(**settings(allowed_licenses=["MIT OR Apache-2.0"]))


@pytest.mark.parametrize("module", ["promoter.config", "backup.config"])
def test_the_lambda_codes_naming_rules_are_the_programs_and_refuse_a_trailing_newline(module):
    """The Lambda packages ship alone (no components/), so they keep their own copies of the program's rules."""
    import importlib

    from model import rules

    config = importlib.import_module(module)
    for mine, programs in (("_DOMAIN", "DOMAIN_NAME"), ("_REPOSITORY", "REPOSITORY_NAME"), ("_ACCOUNT", "ACCOUNT_ID")):
        pattern = getattr(config, mine)
        assert pattern.pattern.removeprefix("^").removesuffix("\\Z") == getattr(rules, programs).pattern, mine
        assert pattern.match("acme") or pattern.match("111122223333")
        assert not pattern.match("acme\n") and not pattern.match("111122223333\n"), mine
