"""The backup's documents (backupRegion set): its buckets and keys in both regions, the copier, the reconciler,
the retention job, S3 replication and the queue."""

from __future__ import annotations

from typing import Any

from model.documents.actions import (
    BACKUP_KEY_READ_ACTIONS,
    BACKUP_KEY_WRITE_ACTIONS,
    BACKUP_PREFIXES,
    BACKUP_READ_ACTIONS,
    BACKUP_WRITE_ACTION,
    BUCKET_LIST_ACTION,
    EVENTS_SERVICE,
    MANIFEST_READ_ACTION,
    MANIFESTS_PREFIX,
    PLANS_PREFIX,
    PROMOTER_LIST_ACTIONS,
    PULL_BACK_VERSION_ACTIONS,
    QUEUE_CONSUME_ACTIONS,
    QUEUE_SEND_ACTION,
    REPLICA_WRITE_ACTIONS,
    REPLICATION_SOURCE_BUCKET_ACTIONS,
    REPLICATION_SOURCE_OBJECT_ACTIONS,
    S3_SERVICE,
    TOPIC_PUBLISH_ACTION,
)
from model.documents.codeartifact import key_policy
from model.documents.jobs import locked_bucket_policy, logs_statement
from model.documents.statements import bearer_token_statement
from model.names import BACKUP_KEY_ALIAS
from model.settings import Settings
from model.trust_policy import VERSION, PolicyDocument


def backup_bucket_policy(settings: Settings) -> PolicyDocument:
    """The backup bucket: only the backup's functions put objects (the copier, the reconciler, the retention job's
    plans); S3's replication reads it with its own role, which writes nothing here."""
    writers = [settings.backup_role_arn, settings.reconcile_role_arn]
    if settings.retention_mode:
        writers.append(settings.retention_role_arn)
    return locked_bucket_policy(settings, settings.backup_bucket_arn, writers, write_actions=(BACKUP_WRITE_ACTION,),
                                sids=("DenyDeletingBackups", "DenyDeletingTheBackupBucket", "DenyWritesButTheBackup"))


def replica_bucket_policy(settings: Settings) -> PolicyDocument:
    """The replica in backupRegion: only S3's replication role writes, and only by replicating."""
    return locked_bucket_policy(settings, settings.replica_bucket_arn, [settings.replication_role_arn],
                                write_actions=(BACKUP_WRITE_ACTION, *REPLICA_WRITE_ACTIONS),
                                sids=("DenyDeletingBackups", "DenyDeletingTheBackupBucket",
                                      "DenyWritesButReplication"))


def backup_key_policy(settings: Settings, region: str) -> PolicyDocument:
    """A backup key (one per region): like the domain key, administered through IAM in the owner account, used only
    by S3 in that region for that account, and never disabled or scheduled for deletion but by the break-glass
    role."""
    document = key_policy(settings)
    use = next(s for s in document["Statement"] if s["Sid"] == "CodeArtifactUsesKeyForOwnerAccount")
    use.update(Sid="S3UsesKeyForOwnerAccount", Condition={"StringEquals": {
        "kms:CallerAccount": settings.owner_account_id, "kms:ViaService": f"s3.{region}.amazonaws.com"}})
    return document


def _backup_key_statement(settings: Settings, region: str, actions: tuple[str, ...], sid: str) -> dict[str, Any]:
    """Use of the backup key of `region` through S3 there, and of no other key (kms:ResourceAliases)."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": settings.backup_key_arns(region),
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                          "ForAnyValue:StringEquals": {"kms:ResourceAliases": BACKUP_KEY_ALIAS}}}


def _backup_puts(settings: Settings, prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"Sid": "PutIntoTheBackup", "Effect": "Allow", "Action": BACKUP_WRITE_ACTION,
         "Resource": [f"{settings.backup_bucket_arn}/{prefix}*" for prefix in prefixes]},
        _backup_key_statement(settings, settings.region, BACKUP_KEY_WRITE_ACTIONS, "EncryptWithTheBackupKey"),
        {"Sid": "PublishBackupEvents", "Effect": "Allow", "Action": TOPIC_PUBLISH_ACTION,
         "Resource": settings.backup_topic_arn},
    ]


def _internal_read_statements(settings: Settings) -> list[dict[str, Any]]:
    internal = settings.internal_repository
    return [
        {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
         "Resource": settings.domain_arn},
        bearer_token_statement(),
        {"Sid": "ReadInternalVersions", "Effect": "Allow", "Action": list(BACKUP_READ_ACTIONS),
         "Resource": settings.package_arn(internal)},
    ]


def _manifest_reads(settings: Settings) -> list[dict[str, Any]]:
    """Reading the manifests back (a missing one is a 404 only with ListBucket, else 403), and decrypting them."""
    return [
        {"Sid": "ReadManifests", "Effect": "Allow", "Action": MANIFEST_READ_ACTION,
         "Resource": f"{settings.backup_bucket_arn}/{MANIFESTS_PREFIX}*"},
        {"Sid": "ListManifests", "Effect": "Allow", "Action": BUCKET_LIST_ACTION,
         "Resource": settings.backup_bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": f"{MANIFESTS_PREFIX}*"}}},
        _backup_key_statement(settings, settings.region, BACKUP_KEY_READ_ACTIONS, "DecryptTheBackup"),
    ]


def backup_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The copier: read every asset of internal's versions (read-only on CodeArtifact), put it and its manifest into
    the backup bucket (never a delete), read a version's manifest back (a redelivered event whose version is
    already copied costs no CodeArtifact call), take its events off its queue, and publish what it copied."""
    return {"Version": VERSION, "Statement": [
        *_internal_read_statements(settings),
        *_backup_puts(settings, BACKUP_PREFIXES),
        *_manifest_reads(settings),
        {"Sid": "ReceiveOwnQueue", "Effect": "Allow", "Action": list(QUEUE_CONSUME_ACTIONS),
         "Resource": settings.backup_queue_arn},
        logs_statement(settings, function_name),
    ]}


def reconcile_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The nightly reconciler: the copier's reads and puts, plus listing internal's packages and reading the
    manifests it compares them with."""
    internal = settings.internal_repository
    return {"Version": VERSION, "Statement": [
        *_internal_read_statements(settings),
        {"Sid": "ListInternalPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": settings.repository_arn(internal)},
        *_backup_puts(settings, BACKUP_PREFIXES),
        *_manifest_reads(settings),
        logs_statement(settings, function_name),
    ]}


def retention_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The retention job: list internal's versions and archive some (UpdatePackageVersionsStatus, never a delete;
    the domain policy confines it to internal), write its plan, and publish what it archived."""
    internal = settings.internal_repository
    return {"Version": VERSION, "Statement": [
        {"Sid": "ListInternalPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": settings.repository_arn(internal)},
        {"Sid": "ArchiveInInternal", "Effect": "Allow", "Action": list(PULL_BACK_VERSION_ACTIONS),
         "Resource": settings.package_arn(internal)},
        *_backup_puts(settings, (PLANS_PREFIX,)),
        logs_statement(settings, function_name),
    ]}


def replication_trust_policy(settings: Settings) -> PolicyDocument:
    """Assumed by S3 for the backup bucket of the owner account only (the confused-deputy guard)."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "S3ReplicationOfTheBackup", "Effect": "Allow", "Principal": {"Service": S3_SERVICE},
         "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": settings.owner_account_id},
                       "ArnEquals": {"aws:SourceArn": settings.backup_bucket_arn}}},
    ]}


def replication_policy(settings: Settings) -> PolicyDocument:
    """S3 replication: read the backup bucket's versions with their retention, write them into the replica, decrypt
    with the backup key and encrypt with the replica's. No delete is replicated (nothing is deleted)."""
    source, replica = settings.backup_bucket_arn, settings.replica_bucket_arn
    return {"Version": VERSION, "Statement": [
        {"Sid": "ReadReplicationConfiguration", "Effect": "Allow", "Action": list(REPLICATION_SOURCE_BUCKET_ACTIONS),
         "Resource": source},
        {"Sid": "ReadSourceVersions", "Effect": "Allow", "Action": list(REPLICATION_SOURCE_OBJECT_ACTIONS),
         "Resource": f"{source}/*"},
        {"Sid": "ReplicateIntoTheReplica", "Effect": "Allow", "Action": list(REPLICA_WRITE_ACTIONS),
         "Resource": f"{replica}/*"},
        _backup_key_statement(settings, settings.region, BACKUP_KEY_READ_ACTIONS, "DecryptTheBackup"),
        _backup_key_statement(settings, settings.backup_region or "", BACKUP_KEY_WRITE_ACTIONS,
                              "EncryptTheReplica"),
    ]}


def backup_queue_policy(settings: Settings) -> PolicyDocument:
    """The backup queue: EventBridge may send to it, for the backup's rule only."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "EventBridgeRuleOnly", "Effect": "Allow", "Principal": {"Service": EVENTS_SERVICE},
         "Action": QUEUE_SEND_ACTION, "Resource": settings.backup_queue_arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": settings.backup_rule_arn}}},
    ]}
