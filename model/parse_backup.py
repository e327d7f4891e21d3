"""The loss-proof keys: backupRegion switches the backup on; backupRetentionDays and retention apply only with
it; standby marks a stack that a restore fills, which backs nothing up itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.names import BACKUP_RETENTION_DAYS_MAX, DEFAULTS, RETENTION_DEFAULTS, RETENTION_KEEP_NEWEST_MAX
from model.parse_values import Problems, read_bool, read_string, valid_whole_number
from model.rules import WAIVER_PACKAGE, codeartifact_regions
from model.settings import Retention


@dataclass(frozen=True)
class BackupSection:
    region: str | None
    retention_days: int
    retention: Retention | None
    standby: bool


def parse_backup(raw: Mapping[str, Any], problems: Problems, region: Any) -> BackupSection:
    """The loss-proof keys: backupRegion switches the backup on; backupRetentionDays and retention apply only
    with it; standby marks a stack that a restore fills, which backs nothing up itself."""
    backup_region = _backup_region(raw, problems, region)
    days_given = raw.get("backupRetentionDays")
    days = valid_whole_number("backupRetentionDays",
                              raw.get("backupRetentionDays", DEFAULTS["backupRetentionDays"]),
                              problems, 1, BACKUP_RETENTION_DAYS_MAX,
                              "days Object Lock keeps every backed-up file, in COMPLIANCE mode: nobody can shorten it")
    retention_given = raw.get("retention")
    retention = _retention(retention_given, problems) if retention_given is not None else None
    standby = read_bool(raw, "standby", problems, DEFAULTS["standby"])
    if "backupRegion" not in raw or raw.get("backupRegion") in (None, ""):
        _refuse_without_backup(problems, days_given is not None and days != DEFAULTS["backupRetentionDays"],
                               retention_given is not None)
    _check_standby(problems, standby, backup_region is not None, retention_given is not None)
    return BackupSection(backup_region, days or DEFAULTS["backupRetentionDays"], retention, standby)


def _backup_region(raw: Mapping[str, Any], problems: Problems, region: Any) -> str | None:
    backup_region = read_string(raw, "backupRegion", problems)
    if backup_region is not None:
        regions = codeartifact_regions()
        if backup_region not in regions:
            problems.add("backupRegion", f"{backup_region!r} is not a region where CodeArtifact is offered (one of "
                                         f"{', '.join(regions)}): the standby and a restore need it there")
            backup_region = None
        elif backup_region == region:
            problems.add("backupRegion", f"{backup_region!r} is aws:region: the copy must survive the loss of the "
                                         "registry's region, so it lives in another one")
            backup_region = None
    return backup_region


def _refuse_without_backup(problems: Problems, days_changed: bool, retention_given: bool) -> None:
    """Without backupRegion. The CLI fills in Pulumi.yaml's defaults, so only a value other than the default says
    anything."""
    if days_changed:
        problems.add("backupRetentionDays", "applies only with backupRegion (no backup bucket otherwise); set "
                                            "backupRegion or remove the key")
    if retention_given:
        problems.add("retention", "applies only with backupRegion (the retention job writes its plans to the "
                                  "backup bucket, so nothing it archives is lost); set backupRegion or remove "
                                  "the key")


def _check_standby(problems: Problems, standby: bool, backup_on: bool, retention_given: bool) -> None:
    if standby and backup_on:
        problems.add("standby", "a standby is filled by `python -m backup.restore` from the primary's backup bucket "
                                "and backs nothing up itself; remove backupRegion from the standby stack")
    if standby and retention_given:
        problems.add("standby", "a standby runs no retention job (the primary's archives are restored as they are); "
                                "remove retention from the standby stack")


def _retention(value: Any, problems: Problems) -> Retention | None:
    """The `retention` object: {archiveAfterDays, keepNewest, keep: ["name==version", ...], dryRun}."""
    if not isinstance(value, Mapping):
        problems.add("retention", "must be an object with archiveAfterDays, keepNewest, keep and dryRun (each "
                                  "optional), got " + type(value).__name__)
        return None
    unknown = set(value) - set(RETENTION_DEFAULTS)
    if unknown:
        problems.add("retention", f"unknown fields {sorted(map(str, unknown))}; allowed: "
                                  f"{', '.join(RETENTION_DEFAULTS)}")
    after = valid_whole_number("retention.archiveAfterDays",
                               value.get("archiveAfterDays", RETENTION_DEFAULTS["archiveAfterDays"]), problems, 1,
                               36500, "days a dev or pre-release version is kept before it is archived")
    newest = valid_whole_number("retention.keepNewest", value.get("keepNewest", RETENTION_DEFAULTS["keepNewest"]),
                                problems, 0, RETENTION_KEEP_NEWEST_MAX,
                                "dev and pre-release versions kept per series, however old")
    dry_run: object = value.get("dryRun", RETENTION_DEFAULTS["dryRun"])
    if dry_run in ("true", "false"):
        dry_run = dry_run == "true"
    if not isinstance(dry_run, bool):
        problems.add("retention.dryRun", f"must be true or false, got {dry_run!r}")
    keep = _keep(value.get("keep", []), problems)
    if after is None or newest is None or not isinstance(dry_run, bool):
        return None
    return Retention(after, newest, tuple(keep), dry_run)


def _keep(listed: Any, problems: Problems) -> list[tuple[str, str]]:
    """retention.keep: the exact versions the job never archives, as (normalised name, version)."""
    keep: list[tuple[str, str]] = []
    if not isinstance(listed, list):
        problems.add("retention.keep", f"must be a list of name==version, got {type(listed).__name__}")
        listed = []
    for i, entry in enumerate(listed):
        match = WAIVER_PACKAGE.fullmatch(entry) if isinstance(entry, str) else None
        if match is None:
            problems.add(f"retention.keep[{i}]", f"{entry!r} must name one exact version as name==version, the name "
                                                 "PEP 503 normalised (e.g. acme-core==1.0.0.dev3); no ranges or "
                                                 "wildcards")
        elif (match["name"], match["version"]) in keep:
            problems.add(f"retention.keep[{i}]", f"{entry} is listed twice")
        else:
            keep.append((match["name"], match["version"]))
    return keep
