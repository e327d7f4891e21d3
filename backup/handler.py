"""Lambda entry points: `copy_version` (SQS batches of CodeArtifact events), `reconcile` (nightly) and `retain`
(scheduled). Their one setting is BACKUP_CONFIG (backup/config.py).

copy_version: each SQS record's body is one EventBridge "CodeArtifact Package Version State Change" event. A
version Published (created or changed) in the configured repository is copied: every file, then its manifest
(backup/copier.py). A redelivered event (its `events/ID` marker is already there) whose revision the manifest
already records is skipped. Records that fail are returned as `batchItemFailures`, so the queue retries only
those, and its dead-letter queue keeps what keeps failing (a message this function does not understand is a
failure, never dropped).

reconcile: every version the repository lists against the manifests in the bucket (backup/reconcile.py); copies
what has no manifest or a manifest of another revision, e.g. what was published while events were lost.

retain: archives dev and pre-release versions per the retention settings (backup/selection.py); writes its plan
to `plans/retention/` first; a dry run stops there. Only UpdatePackageVersionsStatus to Archived, expecting
Published: nothing is ever deleted.

Each publishes short events to the SNS topic: "published" (copied on its event), "backed up" (copied by the
reconciler), "archived" (by retention), "retention planned" (a dry run's plan).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backup.config import BackupConfig
from backup.copier import Copier, CopyError, ObjectStore, RateLimiter
from backup.events import FORMAT, EventError, Ignored, parse_event
from backup.layout import LayoutError, Manifest, iso, plan_key
from backup.pep440 import VersionError, parse
from backup.reconcile import ListedVersion
from backup.reconcile import reconcile as versions_to_copy
from backup.selection import RANKED_STATUSES, HeldVersion, select

if TYPE_CHECKING:
    from mypy_boto3_codeartifact.client import CodeArtifactClient

LOG = logging.getLogger(__name__)
FAILURES = (EventError, LayoutError, CopyError, ClientError, BotoCoreError)
SUBJECT_LIMIT: Final = 100  # SNS subjects are at most 100 characters
# UpdatePackageVersionsStatus takes at most 100 versions a call (botocore's model).
STATUS_BATCH: Final = 100
# The reconciler stops starting copies when less than this is left of the Lambda's time; the next night goes on.
RESERVE_MILLISECONDS: Final = 60_000
# Throttling is expected under load: botocore's standard retry mode backs off and retries it.
RETRIES: Final = Config(retries={"mode": "standard", "max_attempts": 10})


class RunError(RuntimeError):
    """Some versions or packages failed; the summary says what was done and what failed."""

    def __init__(self, summary: Mapping[str, object]) -> None:
        self.summary = summary
        super().__init__(f"the run failed for some versions: {summary.get('errors')}")


class Topic(Protocol):
    def publish(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass
class Services:
    codeartifact: CodeArtifactClient
    s3: ObjectStore
    sns: Topic

    @classmethod
    def for_config(cls, config: BackupConfig) -> Services:
        session = boto3.session.Session(region_name=config.region)
        return cls(
            codeartifact=session.client("codeartifact", config=RETRIES),
            s3=session.client("s3", config=RETRIES),
            sns=session.client("sns", config=RETRIES),
        )


def notify(services: Services, config: BackupConfig, kind: str, subject: str, message: Mapping[str, object]) -> None:
    body = {"event": kind, "repository": config.repository, **message}
    services.sns.publish(
        TopicArn=config.topic_arn,
        Subject=f"{config.repository}: {subject}"[:SUBJECT_LIMIT],
        Message=json.dumps(body, sort_keys=True),
        MessageAttributes={"event": {"DataType": "String", "StringValue": kind}},
    )


def _copier(config: BackupConfig, services: Services, now: datetime, limiter: RateLimiter | None) -> Copier:
    return Copier(services.codeartifact, services.s3, config, limiter or RateLimiter(), lambda: now)


def _copied_message(manifest: Manifest) -> dict[str, object]:
    return {
        "package": manifest.package,
        "version": manifest.version,
        "revision": manifest.revision,
        "files": [asset.name for asset in manifest.assets],
    }


# copy_version --------------------------------------------------------------------------------------------------


@dataclass
class CopySummary:
    failures: list[str] = field(default_factory=list)  # SQS message ids
    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def response(self) -> dict[str, object]:
        """What the SQS event source mapping reads (with ReportBatchItemFailures on)."""
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failures]}


def _records(event: object) -> list[tuple[str, str]]:
    """(messageId, body) of each record; a batch that is not SQS's shape fails whole."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise EventError("the invocation is not an SQS batch (no Records list)")
    found: list[tuple[str, str]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("messageId"), str):
            raise EventError(f"Records[{index}] has no messageId")
        body = record.get("body")
        found.append((record["messageId"], body if isinstance(body, str) else ""))
    return found


def run_copy_version(
    event: object, config: BackupConfig, services: Services, now: datetime, limiter: RateLimiter | None = None
) -> CopySummary:
    copier = _copier(config, services, now, limiter)
    summary = CopySummary()
    for message_id, body in _records(event):
        try:
            parsed = parse_event(body, config)
            if isinstance(parsed, Ignored):
                summary.ignored.append(parsed.reason)
                continue
            name = f"{parsed.package}=={parsed.version}"
            first_delivery = copier.claim_event(parsed.deduplication_id)
            previous = copier.manifest(parsed.package, parsed.version)
            if not first_delivery and previous is not None and previous.revision == parsed.revision:
                summary.duplicates.append(name)
                continue
            manifest = copier.copy(parsed.package, parsed.version, parsed.deduplication_id, previous,
                                   parsed.sequence_number)
            if manifest is None:
                summary.unchanged.append(name)
                continue
            summary.copied.append(name)
            notify(services, config, "published", f"{name} published, backed up", _copied_message(manifest))
        except FAILURES as error:
            LOG.error("message %s: %s", message_id, error)
            summary.failures.append(message_id)
            summary.errors.append(f"{message_id}: {error}")
    return summary


def copy_version(event: object, context: object) -> dict[str, object]:
    config = BackupConfig.from_environment()
    summary = run_copy_version(event, config, Services.for_config(config), datetime.now(timezone.utc))
    LOG.info("copy_version: %s", summary)
    return summary.response()


# reconcile -----------------------------------------------------------------------------------------------------


def _time_left(context: object) -> Callable[[], int | None]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return lambda: None

    def left() -> int | None:
        value = remaining()
        return value if isinstance(value, int) else None

    return left


def run_reconcile(
    config: BackupConfig,
    services: Services,
    now: datetime,
    context: object = None,
    limiter: RateLimiter | None = None,
) -> dict[str, object]:
    copier = _copier(config, services, now, limiter)
    manifests = copier.manifests()
    listed: list[ListedVersion] = []
    errors: list[str] = []
    for package in copier.packages():
        try:
            listed.extend(
                ListedVersion(package, entry["version"], entry.get("revision", ""), entry["status"])
                for entry in copier.versions(package)
            )
        except FAILURES as error:
            errors.append(f"{package}: {error}")
    plan = versions_to_copy(listed, {key: manifest.revision for key, manifest in manifests.items()})
    errors.extend(f"{v.package}=={v.version}: status {v.status!r} is not understood" for v in plan.unknown_status)
    copied: list[str] = []
    deferred: list[str] = []
    time_left = _time_left(context)
    for item in plan.copy:
        name = f"{item.package}=={item.version}"
        left = time_left()
        if left is not None and left < RESERVE_MILLISECONDS:
            deferred.append(name)
            continue
        try:
            manifest = copier.copy(item.package, item.version, None, manifests.get((item.package, item.version)))
        except FAILURES as error:
            errors.append(f"{name}: {error}")
            continue
        if manifest is not None:
            copied.append(name)
            notify(services, config, "backed up", f"{name} backed up by the reconciler", _copied_message(manifest))
    summary: dict[str, object] = {
        "copied": copied,
        "upToDate": plan.up_to_date,
        "deferred": deferred,
        "errors": errors,
    }
    if errors:
        raise RunError(summary)
    return summary


def reconcile(event: object, context: object) -> dict[str, object]:
    config = BackupConfig.from_environment()
    return run_reconcile(config, Services.for_config(config), datetime.now(timezone.utc), context)


# retain --------------------------------------------------------------------------------------------------------


def _held_versions(copier: Copier, package: str) -> list[HeldVersion]:
    """Every version of the package; the published time only of dev and pre-release versions that still have
    their files (only those are ranked or archived, and each costs a DescribePackageVersion)."""
    held: list[HeldVersion] = []
    for entry in copier.versions(package):
        version, status = entry["version"], entry["status"]
        published = None
        try:
            ranked = parse(version).is_dev_or_pre_release and status in RANKED_STATUSES
        except VersionError:
            ranked = False
        if ranked:
            published = copier.published_time(package, version)
        held.append(HeldVersion(package, version, status, published))
    return held


def _archive(
    services: Services, config: BackupConfig, package: str, versions: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    archived: list[str] = []
    failed: dict[str, str] = {}
    for start in range(0, len(versions), STATUS_BATCH):
        answer = services.codeartifact.update_package_versions_status(
            domain=config.domain,
            domainOwner=config.domain_owner,
            repository=config.repository,
            format=FORMAT,
            package=package,
            versions=list(versions[start : start + STATUS_BATCH]),
            expectedStatus="Published",
            targetStatus="Archived",
        )
        archived.extend(sorted(answer.get("successfulVersions", {})))
        for version, error in answer.get("failedVersions", {}).items():
            failed[version] = f"{error.get('errorCode')}: {error.get('errorMessage')}"
    return archived, failed


def run_retain(
    config: BackupConfig, services: Services, now: datetime, limiter: RateLimiter | None = None
) -> dict[str, object]:
    retention = config.retention
    if retention is None:
        raise RunError({"errors": ["retention is not configured (BACKUP_CONFIG.retention is null)"]})
    copier = _copier(config, services, now, limiter)
    held: list[HeldVersion] = []
    errors: list[str] = []
    for package in copier.packages():
        try:
            held.extend(_held_versions(copier, package))
        except FAILURES as error:
            errors.append(f"{package}: {error}")
    selection = select(held, now, retention)
    key = plan_key(now)
    plan: dict[str, object] = {
        "createdAt": iso(now),
        "repository": config.repository,
        "dryRun": retention.dry_run,
        "archiveAfterDays": retention.archive_after_days,
        "keepNewest": retention.keep_newest,
        "keep": [f"{kept.name}=={kept.version}" for kept in retention.keep],
        "archive": [
            {
                "package": item.package,
                "version": item.version,
                "series": parse(item.version).series,
                "publishedTime": None if item.published is None else iso(item.published),
            }
            for item in selection.archive
        ],
        # Not PEP 440: never archived, listed so that someone decides.
        "notPep440": [{"package": i.package, "version": i.version, "status": i.status} for i in selection.unreadable],
        "errors": list(errors),
    }
    copier.put_json(key, plan)
    summary: dict[str, object] = {"plan": key, "dryRun": retention.dry_run, "planned": len(selection.archive)}
    if retention.dry_run:
        notify(
            services,
            config,
            "retention planned",
            f"retention would archive {len(selection.archive)} versions (dry run)",
            {"plan": key, "versions": len(selection.archive)},
        )
    else:
        by_package: dict[str, list[str]] = {}
        for item in selection.archive:
            by_package.setdefault(item.package, []).append(item.version)
        archived_all: list[str] = []
        for package, versions in by_package.items():
            try:
                archived, failed = _archive(services, config, package, versions)
            except FAILURES as error:
                errors.append(f"{package}: {error}")
                continue
            errors.extend(f"{package}=={version}: not archived, {reason}" for version, reason in failed.items())
            archived_all.extend(f"{package}=={version}" for version in archived)
            if archived:
                notify(
                    services,
                    config,
                    "archived",
                    f"{package}: {len(archived)} versions archived by retention",
                    {"package": package, "versions": archived, "plan": key},
                )
        summary["archived"] = archived_all
    summary["errors"] = errors
    if errors:
        raise RunError(summary)
    return summary


def retain(event: object, context: object) -> dict[str, object]:
    config = BackupConfig.from_environment()
    return run_retain(config, Services.for_config(config), datetime.now(timezone.utc))
