"""Loss-proof operations, the program side (backupRegion set): its settings, and what the real program declares for
tests/fixtures/Pulumi.backup.yaml under Pulumi's mock engine. The prod stack has no backup: its URNs are
tests/fixtures/prod-urns.txt (tests/model/test_design.py). The pack's backup rules are in
tests/policies/test_guardrails_backup.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.guardrails import pack_config
from audit.render import Rendering, render
from components.backup import CONFIG_VARIABLE
from model.documents.backup import backup_policy, reconcile_policy, replication_policy, retention_policy
from model.documents.codeartifact import domain_permissions_policy
from model.documents.sizes import size_problems
from model.names import INLINE_ROLE_POLICY_LIMIT, RESOURCE_POLICY_LIMIT
from model.parse import parse_settings
from model.settings import ConfigError, Settings
from model.trust_policy import to_json
from policies.iam_actions import access_level
from tests.expected import OWNER, REGION
from tests.stacks import BACKUP_BUCKET, BACKUP_REGION, BACKUP_REPLICA, backup, backup_config

FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
PREFIX = f"arn:aws:codeartifact:{REGION}:{OWNER}"
# The keys of BACKUP_CONFIG, as the shared interface names them.
CONFIG_KEYS = {"domain", "domainOwner", "region", "repository", "bucket", "topicArn", "retention"}
BACKUP_TYPES = ("aws:sqs/", "aws:cloudwatch/event", "aws:lambda/", "aws:s3/", "aws:kms/alias")


@pytest.fixture(scope="module")
def rendering() -> Rendering:
    return backup()


@pytest.fixture(scope="module")
def without_retention() -> Rendering:
    return backup(retention=None)


def _raw(**changes: object) -> dict:
    return {key.removeprefix("pypi-registry:"): value for key, value in backup_config(**changes).items()
            if key.startswith("pypi-registry:")}


def settings_of(**changes: object) -> Settings:
    return parse_settings(_raw(**changes), REGION)


def problems_of(**changes: object) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings_of(**changes)
    return raised.value.problems


def role_policy(rendering: Rendering, name: str) -> dict[str, dict]:
    found = next(p for p in rendering.of_type(ROLE_POLICY) if p.inputs["name"] == name).policy("policy")
    return {s["Sid"]: s for s in found["Statement"]}


# --- settings ---------------------------------------------------------------------------------------------


def test_the_default_is_no_backup_and_the_fixture_backs_up_with_a_dry_run_retention():
    off = settings_of(backupRegion=None, backupRetentionDays=None, retention=None)
    assert not off.backup_mode and not off.retention_mode and off.backup_role_arns == ()
    on = settings_of()
    assert on.backup_mode and on.retention_mode
    assert (on.backup_region, on.backup_retention_days) == (BACKUP_REGION, 3650)
    assert on.retention is not None
    assert (on.retention.archive_after_days, on.retention.keep_newest, on.retention.dry_run) == (180, 5, True)
    assert on.retention.keep == (("acme-core", "1.0.0.dev3"),)
    assert (on.backup_bucket_name, on.replica_bucket_name) == (BACKUP_BUCKET, BACKUP_REPLICA)


def test_retention_fields_default_and_the_engines_text_forms_are_read():
    settings = settings_of(retention={}, backupRetentionDays="30")
    assert settings.retention is not None
    assert (settings.retention.archive_after_days, settings.retention.keep_newest, settings.retention.keep,
            settings.retention.dry_run) == (180, 5, (), True)
    assert settings.backup_retention_days == 30
    assert settings_of(retention={"dryRun": "false", "keepNewest": "0"}).retention.dry_run is False


def test_no_backup_keeps_the_keys_at_their_defaults():
    """The CLI fills Pulumi.yaml's defaults in: a default value without backupRegion is no problem."""
    settings = settings_of(backupRegion="", backupRetentionDays=3650, retention=None, standby=False)
    assert not settings.backup_mode


@pytest.mark.parametrize(("changes", "key", "rule"), [
    ({"backupRegion": REGION}, "backupRegion", "is aws:region"),
    ({"backupRegion": "us-west-1"}, "backupRegion", "not a region where CodeArtifact is offered"),
    ({"backupRegion": "cn-north-1"}, "backupRegion", "not a region where CodeArtifact is offered"),
    ({"backupRegion": 1}, "backupRegion", "must be a string"),
    ({"backupRetentionDays": 0}, "backupRetentionDays", "from 1 to 36500"),
    ({"backupRetentionDays": 36501}, "backupRetentionDays", "from 1 to 36500"),
    ({"backupRetentionDays": "ten"}, "backupRetentionDays", "whole number"),
    ({"backupRetentionDays": True}, "backupRetentionDays", "whole number"),
    ({"backupRegion": None, "retention": None, "backupRetentionDays": 30}, "backupRetentionDays",
     "applies only with backupRegion"),
    ({"backupRegion": None}, "retention", "applies only with backupRegion"),
    ({"retention": ["dryRun"]}, "retention", "must be an object"),
    ({"retention": {"dryrun": True}}, "retention", "unknown fields ['dryrun']"),
    ({"retention": {"archiveAfterDays": 0}}, "retention.archiveAfterDays", "from 1 to 36500"),
    ({"retention": {"keepNewest": -1}}, "retention.keepNewest", "from 0 to 1000"),
    ({"retention": {"keepNewest": 1.5}}, "retention.keepNewest", "whole number"),
    ({"retention": {"dryRun": "yes"}}, "retention.dryRun", "true or false"),
    ({"retention": {"keep": "acme-core==1.0"}}, "retention.keep", "must be a list"),
    ({"retention": {"keep": ["acme-core>=1.0"]}}, "retention.keep[0]", "one exact version"),
    ({"retention": {"keep": ["Acme_Core==1.0"]}}, "retention.keep[0]", "normalised"),
    ({"retention": {"keep": ["acme-core==1.0", "acme-core==1.0"]}}, "retention.keep[1]", "listed twice"),
    ({"standby": "yes"}, "standby", "true or false"),
    ({"standby": True}, "standby", "remove backupRegion from the standby stack"),
    ({"standby": True}, "standby", "remove retention from the standby stack"),
    ({"deployPrincipalArns": ["arn:aws:iam::111122223333:role/pypi-registry-ci-deploy",
                              "arn:aws:iam::111122223333:role/pypi-registry-backup"]},
     "deployPrincipalArns[1]", "names the backup's role pypi-registry-backup"),
    ({"breakGlassRoleArn": "arn:aws:iam::111122223333:role/PYPI-REGISTRY-RETENTION"}, "breakGlassRoleArn",
     "names the backup's role pypi-registry-retention"),
])
def test_each_bad_backup_value_is_refused_naming_its_key_and_rule(changes, key, rule):
    found = [p for p in problems_of(**changes) if p.startswith(f"pypi-registry:{key}: ")]
    assert found, problems_of(**changes)
    assert any(rule in p for p in found), found


def test_a_standby_without_backup_is_accepted():
    settings = settings_of(backupRegion=None, retention=None, standby=True)
    assert settings.standby and not settings.backup_mode


# --- prod stays as it was ---------------------------------------------------------------------------------


def test_prod_declares_nothing_of_the_backup(prod):
    assert not prod.settings.backup_mode
    assert not [r for r in prod.resources if r.type.startswith(("aws:sqs/", "aws:cloudwatch/event"))
                or r.name.startswith("backup")]
    assert not any(key in properties for properties in pack_config(prod.settings).values()
                   for key in ("backupBucketName", "backupRoleArn", "retentionRoleArn", "replicationRoleArn"))


# --- what the program declares ----------------------------------------------------------------------------


def test_the_rule_takes_internals_version_changes_of_this_domain_only(rendering):
    rule = rendering.one("aws:cloudwatch/eventRule:EventRule", "backup-events-rule")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.codeartifact"], "detail-type": ["CodeArtifact Package Version State Change"],
        "detail": {"domainName": ["acme"], "domainOwner": [OWNER], "repositoryName": ["internal"]}}
    target = rendering.one("aws:cloudwatch/eventTarget:EventTarget", "backup-events-target")
    assert target.inputs["arn"] == f"arn:aws:sqs:{REGION}:{OWNER}:pypi-registry-backup"
    assert "roleArn" not in target.inputs


def test_the_queue_is_encrypted_redrives_to_a_dead_letter_queue_and_takes_only_the_rule(rendering):
    queue = rendering.one(QUEUE, "backup-events-queue")
    dead_letter = rendering.one(QUEUE, "backup-events-dead-letter")
    assert queue.inputs["sqsManagedSseEnabled"] is True and dead_letter.inputs["sqsManagedSseEnabled"] is True
    assert json.loads(queue.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": dead_letter.outputs["arn"], "maxReceiveCount": 5}
    assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * 300
    (statement,) = rendering.one("aws:sqs/queuePolicy:QueuePolicy", "backup-events-queue-policy").policy(
        "policy")["Statement"]
    assert statement == {
        "Sid": "EventBridgeRuleOnly", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue.outputs["arn"],
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{REGION}:{OWNER}:rule/"
                                                      "pypi-registry-backup-version-changes"}}}


def test_the_copier_takes_the_queue_reporting_each_failed_message(rendering):
    (mapping,) = rendering.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["eventSourceArn"] == rendering.one(QUEUE, "backup-events-queue").outputs["arn"]
    assert mapping.inputs["functionName"] == f"arn:aws:lambda:{REGION}:{OWNER}:function:pypi-registry-backup"
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    # Five copiers at most, each reading one asset at a time: within CodeArtifact's 50 asset reads a second.
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 4}  # backup.copier.MAX_CONCURRENT_COPIES


def test_the_functions_run_the_backup_package_with_the_shared_config(rendering):
    functions = {f.inputs["name"]: f for f in rendering.of_type(FUNCTION)}
    assert {name: f.inputs["handler"] for name, f in functions.items()} == {
        "pypi-registry-backup": "backup.handler.copy_version",
        "pypi-registry-backup-reconcile": "backup.handler.reconcile",
        "pypi-registry-retention": "backup.handler.retain"}
    for function in functions.values():
        assert function.inputs["runtime"] == "python3.12"
        assert function.inputs["code"] == {"assetArchive": {"backup": {"assetArchive": {
            path.name: {"fileAsset": f"backup/{path.name}"} for path in Path("backup").glob("*.py")}}}}
        config = json.loads(function.inputs["environment"]["variables"][CONFIG_VARIABLE])
        assert set(config) == CONFIG_KEYS
        assert config == {"domain": "acme", "domainOwner": OWNER, "region": REGION, "repository": "internal",
                          "bucket": BACKUP_BUCKET, "topicArn": f"arn:aws:sns:{REGION}:{OWNER}:pypi-registry-backup",
                          "retention": {"archiveAfterDays": 180, "keepNewest": 5, "dryRun": True,
                                        "keep": [{"name": "acme-core", "version": "1.0.0.dev3"}]}}


def test_the_schedules_invoke_one_function_each_through_their_own_role(rendering):
    schedules = {s.inputs["name"]: s.inputs for s in rendering.of_type(SCHEDULE)}
    assert set(schedules) == {"pypi-registry-backup-reconcile", "pypi-registry-retention"}
    for name, role in (("pypi-registry-backup-reconcile", "pypi-registry-backup-reconcile-schedule"),
                       ("pypi-registry-retention", "pypi-registry-retention-schedule")):
        target = schedules[name]["target"]
        assert target["arn"] == f"arn:aws:lambda:{REGION}:{OWNER}:function:{name}"
        assert target["roleArn"] == f"arn:aws:iam::{OWNER}:role/{role}"
        assert role_policy(rendering, role) == {"InvokeOneFunction": {
            "Sid": "InvokeOneFunction", "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": target["arn"]}}
    assert schedules["pypi-registry-backup-reconcile"]["scheduleExpression"].startswith("cron(")


def test_without_retention_there_is_no_retention_job_and_no_exemption(without_retention):
    assert {f.inputs["name"] for f in without_retention.of_type(FUNCTION)} == {
        "pypi-registry-backup", "pypi-registry-backup-reconcile"}
    statements = _domain_statements(without_retention)
    assert "DenyRetentionOutsideInternal" not in statements
    assert "retention" not in json.dumps(statements["DenyChangingVersionStatus"])
    config = json.loads(without_retention.one(FUNCTION, "backup-jobs-pypi-registry-backup").inputs[
        "environment"]["variables"][CONFIG_VARIABLE])
    assert config["retention"] is None


def _domain_statements(rendering: Rendering) -> dict[str, dict]:
    domain = rendering.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    return {s["Sid"]: s for s in json.loads(domain.inputs["policyDocument"])["Statement"]}


def test_the_domain_policy_lets_the_retention_role_change_statuses_in_internal_only(rendering):
    statements = _domain_statements(rendering)
    retention = f"arn:aws:iam::{OWNER}:role/pypi-registry-retention"
    assert retention in statements["DenyChangingVersionStatus"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert statements["DenyRetentionOutsideInternal"] == {
        "Sid": "DenyRetentionOutsideInternal", "Effect": "Deny", "Principal": "*",
        "Action": ["codeartifact:UpdatePackageVersionsStatus"], "NotResource": f"{PREFIX}:package/acme/internal/*",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": retention}}}
    backup = f"arn:aws:iam::{OWNER}:role/pypi-registry-backup"
    assert backup not in json.dumps(statements)


def test_both_buckets_are_locked_kms_encrypted_and_kept(rendering):
    for name, bucket_name, region in (("backup", BACKUP_BUCKET, REGION),
                                      ("backup-replica", BACKUP_REPLICA, BACKUP_REGION)):
        bucket = rendering.one("aws:s3/bucket:Bucket", f"{name}-bucket")
        assert bucket.inputs["bucket"] == bucket_name and bucket.region == region and bucket.account == OWNER
        assert bucket.inputs["objectLockEnabled"] is True and bucket.protect and bucket.retain_on_delete
        lock = rendering.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                             f"{name}-object-lock")
        assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 3650}
        assert rendering.one("aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning").inputs[
            "versioningConfiguration"] == {"status": "Enabled"}
        (rule,) = rendering.one(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{name}-encryption").inputs["rules"]
        key = rendering.one("aws:kms/key:Key", "backup-key" if name == "backup" else "backup-replica-key")
        assert key.region == region and key.protect and key.inputs["enableKeyRotation"] is True
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                              "kmsMasterKeyId": key.outputs["arn"]}
        statements = {s["Sid"]: s for s in rendering.one("aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy")
                      .policy("policy")["Statement"]}
        assert all(s["Effect"] == "Deny" for s in statements.values())
        assert "Condition" not in statements["DenyDeletingBackups"]
        assert statements["DenyDeletingBackups"]["Action"] == [
            "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]


def test_only_the_backups_roles_write_the_bucket_and_only_replication_the_replica(rendering):
    def writers(name: str) -> dict:
        statements = rendering.one("aws:s3/bucketPolicy:BucketPolicy", name).policy("policy")["Statement"]
        return next(s for s in statements if s["Sid"].startswith("DenyWritesBut"))

    source = writers("backup-policy")
    assert source["Action"] == ["s3:PutObject"]
    assert source["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{OWNER}:role/pypi-registry-backup", f"arn:aws:iam::{OWNER}:role/pypi-registry-backup-reconcile",
        f"arn:aws:iam::{OWNER}:role/pypi-registry-retention"]
    replica = writers("backup-replica-policy")
    assert replica["Action"] == ["s3:PutObject", "s3:ReplicateObject", "s3:ReplicateTags"]
    assert replica["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == (
        f"arn:aws:iam::{OWNER}:role/pypi-registry-backup-replication")


def test_every_version_replicates_to_the_second_region_deletes_never(rendering):
    replication = rendering.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "backup-replication")
    assert replication.inputs["bucket"] == BACKUP_BUCKET
    assert replication.inputs["role"] == f"arn:aws:iam::{OWNER}:role/pypi-registry-backup-replication"
    (rule,) = replication.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    assert rule["destination"]["bucket"] == f"arn:aws:s3:::{BACKUP_REPLICA}"
    replica_key = rendering.one("aws:kms/key:Key", "backup-replica-key")
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": replica_key.outputs["arn"]}
    (trust,) = rendering.one(ROLE, "backup-replication-role").policy("assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": f"arn:aws:s3:::{BACKUP_BUCKET}"}


def test_the_second_region_provider_is_pinned_to_the_owner_account(rendering):
    provider = next(r for r in rendering.resources if r.type == "pulumi:providers:aws" and r.name == "backup-region")
    assert provider.inputs["region"] == BACKUP_REGION
    assert json.loads(provider.inputs["allowedAccountIds"]) == [OWNER]


def test_the_copier_is_read_only_on_codeartifact_and_put_only_on_the_bucket(rendering):
    statements = role_policy(rendering, "pypi-registry-backup")
    codeartifact = [a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                             else s["Action"]) if a.startswith("codeartifact:")]
    assert codeartifact and all(access_level(a) in ("Read", "List") for a in codeartifact), codeartifact
    assert statements["ReadInternalVersions"]["Resource"] == f"{PREFIX}:package/acme/internal/*"
    assert statements["PutIntoTheBackup"]["Action"] == "s3:PutObject"
    assert statements["PutIntoTheBackup"]["Resource"] == [
        f"arn:aws:s3:::{BACKUP_BUCKET}/{prefix}/*" for prefix in ("packages", "manifests", "events", "plans/retention")]
    text = json.dumps(statements)
    for never in ("s3:Delete", "Bypass", "UpdatePackageVersionsStatus", "s3:*", "codeartifact:Delete"):
        assert never not in text
    assert statements["EncryptWithTheBackupKey"]["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    assert statements["ReceiveOwnQueue"]["Resource"] == f"arn:aws:sqs:{REGION}:{OWNER}:pypi-registry-backup"


def test_the_retention_role_archives_in_internal_only_and_writes_only_plans(rendering):
    statements = role_policy(rendering, "pypi-registry-retention")
    assert statements["ArchiveInInternal"]["Resource"] == f"{PREFIX}:package/acme/internal/*"
    assert statements["PutIntoTheBackup"]["Resource"] == [f"arn:aws:s3:::{BACKUP_BUCKET}/plans/retention/*"]
    assert "GetPackageVersionAsset" not in json.dumps(statements)


def test_the_backup_roles_are_bounded_and_trusted_by_their_service_only(rendering):
    roles = {r.inputs["name"]: r for r in rendering.of_type(ROLE) if r.name.startswith("backup")}
    assert set(roles) == {"pypi-registry-backup", "pypi-registry-backup-reconcile", "pypi-registry-retention",
                          "pypi-registry-backup-reconcile-schedule", "pypi-registry-retention-schedule",
                          "pypi-registry-backup-replication"}
    assert {f"arn:aws:iam::{OWNER}:role/{name}" for name in roles} == set(settings_of().backup_role_arns)
    for name, role in roles.items():
        assert role.inputs["permissionsBoundary"] == f"arn:aws:iam::{OWNER}:policy/pypi-registry-backup-roles-boundary"
        (statement,) = role.policy("assumeRolePolicy")["Statement"]
        service = ("scheduler" if name.endswith("-schedule") else "s3" if name.endswith("-replication")
                   else "lambda")
        assert statement["Principal"] == {"Service": f"{service}.amazonaws.com"}


def test_backup_documents_stay_within_aws_limits():
    settings = settings_of()
    assert not size_problems(settings)
    for document in (backup_policy(settings, "f"), reconcile_policy(settings, "f"),
                     retention_policy(settings, "f"), replication_policy(settings)):
        assert len(to_json(document)) <= INLINE_ROLE_POLICY_LIMIT
    assert len(to_json(domain_permissions_policy(settings))) <= RESOURCE_POLICY_LIMIT


def test_the_restore_finds_its_bucket_and_topic_in_the_outputs(rendering):
    settings = rendering.settings
    assert rendering.outputs["backup"] == {"bucket": settings.backup_bucket_name,
                                           "replicaBucket": settings.replica_bucket_name,
                                           "topicArn": settings.backup_topic_arn}
    assert settings.backup_region in settings.replica_bucket_name
    assert "backup" not in render("prod").outputs  # off by default
