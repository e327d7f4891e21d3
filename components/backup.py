"""Loss-proof operations (backupRegion set): every version published to `internal` is copied to a locked bucket
replicated to a second region; a nightly reconciler copies what events missed; an optional retention job archives
old dev and pre-release versions (never deletes them).

- BackupStore: the backup keys, the backup bucket and its replica in backupRegion (both locked), S3 replication
  between them with its role, and the topic the backup's events go to;
- BackupEvents: the EventBridge rule on internal's version changes, its SQS queue and dead-letter queue;
- BackupJobs: the copier (fed by the queue), the reconciler and the retention job (on schedules).

Every name and ARN is fixed by the settings, so every policy document is a plain string known at preview.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from backup.config import render_config
from backup.copier import MAX_CONCURRENT_COPIES
from backup.events import event_pattern as backup_event_pattern
from components.airlock import (
    TOPIC_KEY,
    FunctionArgs,
    ScheduleArgs,
    bounded_role,
    declare_function,
    package_archive,
    package_modules,
)
from components.storage import declare_locked_bucket
from model.documents.backup import (
    backup_bucket_policy,
    backup_key_policy,
    backup_policy,
    backup_queue_policy,
    reconcile_policy,
    replica_bucket_policy,
    replication_policy,
    replication_trust_policy,
    retention_policy,
)
from model.documents.jobs import lambda_trust_policy, scheduler_trust_policy
from model.names import (
    BACKUP_DEAD_LETTER_QUEUE_NAME,
    BACKUP_FUNCTION_NAME,
    BACKUP_KEY_ALIAS,
    BACKUP_QUEUE_NAME,
    BACKUP_ROLE_NAME,
    BACKUP_RULE_NAME,
    BACKUP_TOPIC_NAME,
    PROJECT,
    RECONCILE_FUNCTION_NAME,
    RECONCILE_ROLE_NAME,
    RECONCILE_SCHEDULE_NAME,
    RECONCILE_SCHEDULE_ROLE_NAME,
    REPLICATION_ROLE_NAME,
    RETENTION_FUNCTION_NAME,
    RETENTION_ROLE_NAME,
    RETENTION_SCHEDULE_NAME,
    RETENTION_SCHEDULE_ROLE_NAME,
)
from model.settings import Settings
from model.trust_policy import to_json

# The backup's code: the top-level package `backup/` of this repository, packaged as it is (as the promoter's).
BACKUP_PACKAGE = "backup"
BACKUP_SOURCE = Path(BACKUP_PACKAGE)
COPY_HANDLER = "backup.handler.copy_version"
RECONCILE_HANDLER = "backup.handler.reconcile"
RETAIN_HANDLER = "backup.handler.retain"
CONFIG_VARIABLE = "BACKUP_CONFIG"
# Nightly, in UTC; the retention job an hour later, once the reconciler has copied what events missed.
RECONCILE_SCHEDULE = "cron(0 3 * * ? *)"
RETENTION_SCHEDULE = "cron(0 4 * * ? *)"
COPY_TIMEOUT_SECONDS = 300
RECONCILE_TIMEOUT_SECONDS = 900
# SQS hides a received message for this long: six times the copier's timeout, as AWS advises for Lambda.
VISIBILITY_TIMEOUT_SECONDS = 6 * COPY_TIMEOUT_SECONDS
# A message the copier failed this often goes to the dead-letter queue, kept there 14 days (SQS's maximum).
MAX_RECEIVE_COUNT = 5
DEAD_LETTER_RETENTION_SECONDS = 14 * 86400
BATCH_SIZE = 10
# At most this many copiers at once (the event source's maximum concurrency; 2 is SQS's least), each at most
# backup.copier.REQUESTS_PER_SECOND: together inside CodeArtifact's 50 GetPackageVersionAsset calls a second per region.
MAX_CONCURRENT_COPIERS = MAX_CONCURRENT_COPIES
KEY_DELETION_WINDOW_DAYS = 30


def backup_config(settings: Settings) -> dict[str, Any]:
    """The functions' BACKUP_CONFIG, written by the backup package's own schema (backup/config.py)."""
    retention = settings.retention
    return dict(render_config(
        domain=settings.domain_name, domain_owner=settings.owner_account_id, region=settings.region,
        repository=settings.internal_repository, bucket=settings.backup_bucket_name,
        topic_arn=settings.backup_topic_arn,
        retention=None if retention is None else {
            "archiveAfterDays": retention.archive_after_days, "keepNewest": retention.keep_newest,
            "keep": [f"{name}=={version}" for name, version in retention.keep], "dryRun": retention.dry_run},
    ))


def event_pattern(settings: Settings) -> dict[str, Any]:
    """Version changes of `internal` in this stack's domain only (the pattern backup/events.py reads)."""
    return dict(backup_event_pattern(domain=settings.domain_name, domain_owner=settings.owner_account_id,
                                     repository=settings.internal_repository))


def _compact(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


# --- the buckets, their keys, replication and the topic ------------------------------------------------------


@dataclass(frozen=True)
class BackupStoreArgs:
    bucket_name: str
    bucket_policy: str  # JSON, as sent to S3
    replica_bucket_name: str
    replica_bucket_policy: str
    key_policy: str  # JSON, as sent to KMS
    replica_key_policy: str
    replication_role_name: str
    replication_trust_policy: str
    replication_policy: str
    topic_name: str
    retention_days: int
    permissions_boundary: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupStoreArgs:
        return cls(
            bucket_name=settings.backup_bucket_name,
            bucket_policy=to_json(backup_bucket_policy(settings)),
            replica_bucket_name=settings.replica_bucket_name,
            replica_bucket_policy=to_json(replica_bucket_policy(settings)),
            key_policy=to_json(backup_key_policy(settings, settings.region)),
            replica_key_policy=to_json(backup_key_policy(settings, settings.backup_region or "")),
            replication_role_name=REPLICATION_ROLE_NAME,
            replication_trust_policy=to_json(replication_trust_policy(settings)),
            replication_policy=to_json(replication_policy(settings)),
            topic_name=BACKUP_TOPIC_NAME,
            retention_days=settings.backup_retention_days,
            permissions_boundary=settings.backup_roles_boundary_arn,
            tags=dict(settings.tags),
        )


class BackupStore(pulumi.ComponentResource):
    """The backup bucket (SSE-KMS with its own key) and its replica in the second region (the same, with a key
    there), both locked (components/storage.py); S3 replication of every version between them, deletes never
    replicated; and the KMS-encrypted topic the backup's events go to.

    Expects the owner account's `aws` provider in `opts.providers`, and `replica_provider` for the second region.
    """

    def __init__(self, name: str, args: BackupStoreArgs, replica_provider: aws.Provider,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:BackupStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = self._key(f"{name}-key", args.key_policy, args.tags, None)
        self.replica_key = self._key(f"{name}-replica-key", args.replica_key_policy, args.tags, replica_provider)
        source = declare_locked_bucket(
            self, name, bucket_name=args.bucket_name, policy=args.bucket_policy, retention_days=args.retention_days,
            encryption=_kms_encryption(self.key), tags=args.tags)
        replica = declare_locked_bucket(
            self, f"{name}-replica", bucket_name=args.replica_bucket_name, policy=args.replica_bucket_policy,
            retention_days=args.retention_days, encryption=_kms_encryption(self.replica_key), tags=args.tags,
            provider=replica_provider)
        role, role_policy = bounded_role(
            f"{name}-replication-role", name=args.replication_role_name,
            description="S3 replicates the backup bucket into the second region",
            trust_policy=args.replication_trust_policy, policy=args.replication_policy,
            boundary=args.permissions_boundary, tags=args.tags, opts=child)
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=source.bucket.bucket,
            role=role.arn,
            rules=[{
                "id": "every-version-to-the-second-region",
                "status": "Enabled",
                "priority": 1,
                "filter": {},
                # Nothing is deleted here; a delete marker, were one ever written, stays on this side.
                "delete_marker_replication": {"status": "Disabled"},
                "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                "destination": {"bucket": replica.bucket.arn,
                                "encryption_configuration": {"replica_kms_key_id": self.replica_key.arn}},
            }],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source.versioning, replica.versioning, role_policy]),
        )
        self.bucket = source.bucket
        self.replica_bucket = replica.bucket
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.topic_name,
            kms_master_key_id=TOPIC_KEY,
            tags=dict(args.tags),
            opts=child,
        )
        self.register_outputs({"bucketArn": self.bucket.arn, "replicaBucketArn": self.replica_bucket.arn,
                               "topicArn": self.topic.arn})

    def _key(self, name: str, policy: str, tags: Mapping[str, str],
             provider: aws.Provider | None) -> aws.kms.Key:
        # Like the domain's key: a new key would leave every backed-up file unreadable.
        key = aws.kms.Key(
            name,
            description=f"Encrypts the {PROJECT} backup",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=policy,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True, retain_on_delete=True),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=BACKUP_KEY_ALIAS,
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return key


def _kms_encryption(key: aws.kms.Key) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict:
    return {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            "bucket_key_enabled": True}


# --- the events: rule, queue, dead-letter queue ----------------------------------------------------------------


@dataclass(frozen=True)
class BackupEventsArgs:
    rule_name: str
    event_pattern: str  # JSON
    queue_name: str
    dead_letter_queue_name: str
    dead_letter_queue_arn: str  # known at preview
    queue_policy: str  # JSON, as sent to SQS
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupEventsArgs:
        return cls(rule_name=BACKUP_RULE_NAME, event_pattern=_compact(event_pattern(settings)),
                   queue_name=BACKUP_QUEUE_NAME, dead_letter_queue_name=BACKUP_DEAD_LETTER_QUEUE_NAME,
                   dead_letter_queue_arn=settings.queue_arn(BACKUP_DEAD_LETTER_QUEUE_NAME),
                   queue_policy=to_json(backup_queue_policy(settings)), tags=dict(settings.tags))


class BackupEvents(pulumi.ComponentResource):
    """CodeArtifact's version changes in `internal` → an EventBridge rule → an SQS queue (SSE, EventBridge may send
    for this rule only) whose messages the copier failed five times go to a dead-letter queue.

    Expects the owner account's `aws` provider in `opts.providers`.
    """

    def __init__(self, name: str, args: BackupEventsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:BackupEvents", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        dead_letter = aws.sqs.Queue(
            f"{name}-dead-letter",
            name=args.dead_letter_queue_name,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            tags=dict(args.tags),
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            redrive_policy=_compact({"deadLetterTargetArn": args.dead_letter_queue_arn,
                                     "maxReceiveCount": MAX_RECEIVE_COUNT}),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[dead_letter]),
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=self.queue.url,
            policy=args.queue_policy,
            opts=child,
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=args.rule_name,
            description="Every version change of the internal repository, for the backup",
            event_pattern=args.event_pattern,
            tags=dict(args.tags),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            arn=self.queue.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )
        self.register_outputs({"queueArn": self.queue.arn, "ruleArn": rule.arn})


# --- the functions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupJobsArgs:
    copier: FunctionArgs
    scheduled: tuple[FunctionArgs, ...]  # the reconciler, and the retention job when it is on
    lambda_trust_policy: str
    scheduler_trust_policy: str
    config: str  # BACKUP_CONFIG, JSON
    modules: tuple[str, ...]  # the files packaged as the top-level package `backup` (package_modules)
    permissions_boundary: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, source: Path = BACKUP_SOURCE) -> BackupJobsArgs:
        def scheduled(function_name: str, handler: str, role_name: str, policy: dict[str, Any], schedule_name: str,
                      expression: str, schedule_role_name: str) -> FunctionArgs:
            schedule = ScheduleArgs.for_function(settings, function_name, schedule_name, expression, schedule_role_name)
            return FunctionArgs.for_settings(settings, function_name, handler, role_name, policy,
                                             RECONCILE_TIMEOUT_SECONDS, schedule)

        jobs = [scheduled(RECONCILE_FUNCTION_NAME, RECONCILE_HANDLER, RECONCILE_ROLE_NAME,
                          reconcile_policy(settings, RECONCILE_FUNCTION_NAME), RECONCILE_SCHEDULE_NAME,
                          RECONCILE_SCHEDULE, RECONCILE_SCHEDULE_ROLE_NAME)]
        if settings.retention_mode:
            jobs.append(scheduled(RETENTION_FUNCTION_NAME, RETAIN_HANDLER, RETENTION_ROLE_NAME,
                                  retention_policy(settings, RETENTION_FUNCTION_NAME), RETENTION_SCHEDULE_NAME,
                                  RETENTION_SCHEDULE, RETENTION_SCHEDULE_ROLE_NAME))
        return cls(
            copier=FunctionArgs.for_settings(settings, BACKUP_FUNCTION_NAME, COPY_HANDLER, BACKUP_ROLE_NAME,
                                             backup_policy(settings, BACKUP_FUNCTION_NAME), COPY_TIMEOUT_SECONDS),
            scheduled=tuple(jobs),
            lambda_trust_policy=to_json(lambda_trust_policy()),
            scheduler_trust_policy=to_json(scheduler_trust_policy(settings)),
            config=_compact(backup_config(settings)),
            modules=package_modules(source),
            permissions_boundary=settings.backup_roles_boundary_arn,
            tags=dict(settings.tags),
        )


class BackupJobs(pulumi.ComponentResource):
    """The copier (an SQS event source, reporting each failed message), the nightly reconciler and the retention
    job: Lambda functions packaged from the repository's `backup/` folder (components/airlock.py,
    `declare_function`).

    Expects the owner account's `aws` provider in `opts.providers`.
    """

    def __init__(self, name: str, args: BackupJobsArgs, queue_arn: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:BackupJobs", name, None, opts)
        # The folder as the package `backup`, so that the handlers import as backup.handler.*.
        code = package_archive(BACKUP_PACKAGE, args.modules)
        common: dict[str, Any] = {
            "code": code, "environment": {CONFIG_VARIABLE: args.config},
            "lambda_trust_policy": args.lambda_trust_policy, "scheduler_trust_policy": args.scheduler_trust_policy,
            "permissions_boundary": args.permissions_boundary, "tags": args.tags}
        copier = declare_function(self, f"{name}-{args.copier.function_name}", args.copier, **common)
        aws.lambda_.EventSourceMapping(
            f"{name}-{args.copier.function_name}-queue",
            event_source_arn=queue_arn,
            function_name=copier.arn,
            batch_size=BATCH_SIZE,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config={"maximum_concurrency": MAX_CONCURRENT_COPIERS},
            opts=pulumi.ResourceOptions(parent=self),
        )
        for function in args.scheduled:
            declare_function(self, f"{name}-{function.function_name}", function, **common)
        self.register_outputs({"copierArn": copier.arn})

