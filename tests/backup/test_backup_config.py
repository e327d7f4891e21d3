"""BACKUP_CONFIG: render_config (the program's side) and BackupConfig (the functions' side) share one schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backup.config import BackupConfig, ConfigError, Kept, Retention, parse_keep, render_config


def settings(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "domain": "acme",
        "domain_owner": "012345678901",
        "region": "eu-west-1",
        "repository": "internal",
        "bucket": "acme-package-backup",
        "topic_arn": "arn:aws:sns:eu-west-1:012345678901:package-events",
        "retention": {"archiveAfterDays": 90, "keep": ["Acme_Lib==2.0rc1"]},
    }
    values.update(overrides)
    return values


def test_rendered_config_round_trips_through_the_environment() -> None:
    document = render_config(**settings())
    config = BackupConfig.from_environment({"BACKUP_CONFIG": json.dumps(document)})
    assert config.domain_owner == "012345678901"
    assert config.repository == "internal"
    # keys the settings leave out take their defaults; keep-list names are PEP 503-normalised
    assert config.retention == Retention(
        archive_after_days=90, keep_newest=5, keep=(Kept("acme-lib", "2.0rc1"),), dry_run=True
    )
    assert document["retention"] == {
        "archiveAfterDays": 90,
        "keepNewest": 5,
        "keep": [{"name": "acme-lib", "version": "2.0rc1"}],
        "dryRun": True,
    }


def test_no_retention_renders_null_and_reads_as_none() -> None:
    document = render_config(**settings(retention=None))
    assert document["retention"] is None
    assert BackupConfig.from_mapping(document).retention is None


def test_every_problem_is_reported_at_once_naming_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        render_config(
            **settings(
                domain="Acme",
                domain_owner="12345678901",
                region="eu-west",
                bucket="B",
                topic_arn="package-events",
                retention={
                    "archiveAfterDays": 0,
                    "keepNewest": -1,
                    "keep": ["acme-lib>=2", "acme-lib==1.0", "Acme.Lib==1.0"],
                    "dryRun": "no",
                },
            )
        )
    problems = "\n".join(caught.value.problems)
    for fragment in [
        "domain:",
        "domainOwner:",
        "region:",
        "bucket:",
        "topicArn:",
        "retention.keep[0]: 'acme-lib>=2' is not name==version",
        "retention.archiveAfterDays: must be an integer of at least 1, not 0",
        "retention.keepNewest: must be an integer of at least 0, not -1",
        "retention.keep: [1] acme-lib==1.0 is listed twice",
        "retention.dryRun: must be true or false, not 'no'",
    ]:
        assert fragment in problems
    assert "repository" not in problems


def test_unknown_and_missing_keys_are_reported_at_both_levels() -> None:
    document = render_config(**settings())
    del document["topicArn"]
    document["bucketName"] = "x"
    retention = document["retention"]
    assert isinstance(retention, dict)
    del retention["dryRun"]
    retention["deleteAfterDays"] = 30
    with pytest.raises(ConfigError) as caught:
        BackupConfig.from_mapping(document)
    assert caught.value.problems == (
        "bucketName: unknown key",
        "topicArn: missing",
        "retention.deleteAfterDays: unknown key",
        "retention.dryRun: missing",
    )


def test_types_are_checked() -> None:
    document = render_config(**settings())
    document.update(retention={"archiveAfterDays": True, "keepNewest": 1.5, "keep": "a==1", "dryRun": 1})
    with pytest.raises(ConfigError) as caught:
        BackupConfig.from_mapping(document)
    problems = "\n".join(caught.value.problems)
    assert "retention.archiveAfterDays: must be an integer of at least 1, not True" in problems
    assert "retention.keepNewest: must be an integer of at least 0, not 1.5" in problems
    assert "retention.keep: must be a list, not str" in problems
    assert "retention.dryRun: must be true or false, not 1" in problems
    document.update(retention=["dryRun"])
    with pytest.raises(ConfigError, match="retention: must be null or an object, not list"):
        BackupConfig.from_mapping(document)
    document.update(retention={**document_retention(), "keep": [{"name": "Acme_Lib", "version": "1"}]})
    with pytest.raises(ConfigError, match=r"keep: \[0\].name 'Acme_Lib' is not a PEP 503-normalised package name"):
        BackupConfig.from_mapping(document)


def document_retention() -> dict[str, Any]:
    return {"archiveAfterDays": 180, "keepNewest": 5, "keep": [], "dryRun": True}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "BACKUP_CONFIG is not set"),
        ({"BACKUP_CONFIG": "{"}, "is not JSON"),
        ({"BACKUP_CONFIG": "[]"}, "not a JSON object"),
    ],
)
def test_unreadable_environment(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BackupConfig.from_environment(environ)


def test_keep_is_one_exact_version() -> None:
    assert parse_keep("Zope.Interface==7.0rc1") == ("zope-interface", "7.0rc1")
    for spec in ["requests", "requests>=2", "requests==", "requests==2.*", "==1.0", "requests==1.0,==2.0"]:
        with pytest.raises(ValueError, match="name==version"):
            parse_keep(spec)
