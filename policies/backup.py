"""Loss-proof operations (pack config `backupBucketName` set): the backup keeps every version, and its roles hold
only what their jobs need.

- the backup bucket and its replica are locked buckets (airlock-ledger-keeps-every-decision holds every bucket to
  Object Lock COMPLIANCE, versioning, public access blocked and no delete; here, besides) encrypted with a KMS key;
  the backup bucket's policy denies writes to all but the backup's function roles, and it replicates every
  version to the replica (deletes never) through the replication role; every replication configuration writes
  into a bucket the stack declares, as a role only S3 assumes;
- the copier reads internal only (read-only on CodeArtifact), the reconciler also lists, the retention job changes
  statuses in internal only; each puts into the backup bucket under its own prefixes (never a delete) and uses the
  backup keys through S3 only; S3's replication role holds exactly the replication actions;
- the event path: every queue is encrypted and sends what fails to a dead-letter queue the stack declares, a queue
  policy lets only EventBridge send, for rules the stack declares; every event target and event source mapping
  joins resources the stack declares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial

from pulumi_policy import PolicyResource, StackValidationArgs

from . import config as cfg
from . import iam_documents as iam
from . import props as props_
from .airlock import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_POLICY,
    FUNCTION,
    LAMBDA_SERVICE,
    _bucket_problems,
    _declared_role_arns,
    _parts_of,
    _services,
    denied,
    grant_problems,
)
from .aws_facts import STATUS_ACTIONS
from .identity import RoleReferences, _managed_by_arn, role_documents
from .props import REPOSITORY_TYPES, ROLE_TYPES

REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
S3_SERVICE = "s3.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"
QUEUE_SEND_ACTION = "sqs:SendMessage"

CODEARTIFACT = r"arn:aws:codeartifact:[a-z0-9-]+:[0-9]{12}"
INTERNAL_PACKAGES = rf"{CODEARTIFACT}:package/[a-z0-9-]+/{{internal}}/.*"
INTERNAL_REPOSITORY = rf"{CODEARTIFACT}:repository/[a-z0-9-]+/{{internal}}"
KEYS = r"arn:aws:kms:[a-z0-9-]+:[0-9]{12}:key/[^*?]*\*?"
LOGS = r"arn:aws:logs:[a-z0-9-]+:[0-9]{12}:log-group:[^*?]+(:\*)?"
TOPIC = r"arn:aws:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+"
# The bucket layout: assets, manifests and once-only event markers (the copier and the reconciler) ...
COPY_PREFIXES = "(packages|manifests|events|plans)"
# ... and the retention job's plans.
PLAN_PREFIX = "plans"
_COMMON = {"sns:Publish": TOPIC, "logs:CreateLogStream": LOGS, "logs:PutLogEvents": LOGS,
           "kms:GenerateDataKey": KEYS, "kms:Encrypt": KEYS}
_READ_INTERNAL = {
    "codeartifact:GetAuthorizationToken": rf"{CODEARTIFACT}:domain/[a-z0-9-]+",
    "sts:GetServiceBearerToken": r"\*",  # the condition is bearer-token-codeartifact-only's
    "codeartifact:ListPackageVersions": INTERNAL_PACKAGES,
    "codeartifact:DescribePackageVersion": INTERNAL_PACKAGES,
    "codeartifact:ListPackageVersionAssets": INTERNAL_PACKAGES,
    "codeartifact:GetPackageVersionAsset": INTERNAL_PACKAGES,
}
# What each of the backup's roles may do, each action on resources of one shape: {action: resource pattern}.
# {internal}, {bucket} and {replica} are filled in from the pack config.
# Reading manifests back: the copier skips a version already copied, the reconciler compares them.
_READ_MANIFESTS = {
    "s3:GetObject": r"arn:aws:s3:::{bucket}/manifests/[^*?]*\*?",
    "s3:ListBucket": r"arn:aws:s3:::{bucket}",
    "kms:Decrypt": KEYS,
}
COPIER_GRANTS = {
    **_READ_INTERNAL, **_COMMON, **_READ_MANIFESTS,
    "s3:PutObject": rf"arn:aws:s3:::{{bucket}}/{COPY_PREFIXES}/[^*?]*\*?",
    "sqs:ReceiveMessage": r"arn:aws:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+",
    "sqs:DeleteMessage": r"arn:aws:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+",
    "sqs:GetQueueAttributes": r"arn:aws:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+",
}
RECONCILER_GRANTS = {
    **_READ_INTERNAL, **_COMMON, **_READ_MANIFESTS,
    "codeartifact:ListPackages": INTERNAL_REPOSITORY,
    "s3:PutObject": rf"arn:aws:s3:::{{bucket}}/{COPY_PREFIXES}/[^*?]*\*?",
}
RETENTION_GRANTS = {
    **_COMMON,
    "codeartifact:ListPackages": INTERNAL_REPOSITORY,
    "codeartifact:ListPackageVersions": INTERNAL_PACKAGES,
    "codeartifact:DescribePackageVersion": INTERNAL_PACKAGES,
    "codeartifact:UpdatePackageVersionsStatus": INTERNAL_PACKAGES,
    "s3:PutObject": rf"arn:aws:s3:::{{bucket}}/{PLAN_PREFIX}/[^*?]*\*?",
}
REPLICATION_GRANTS = {
    "s3:GetReplicationConfiguration": r"arn:aws:s3:::{bucket}",
    "s3:ListBucket": r"arn:aws:s3:::{bucket}",
    **{action: r"arn:aws:s3:::{bucket}/\*" for action in (
        "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
        "s3:GetObjectRetention", "s3:GetObjectLegalHold")},
    "s3:ReplicateObject": r"arn:aws:s3:::{replica}/\*",
    "s3:ReplicateTags": r"arn:aws:s3:::{replica}/\*",
    "kms:Decrypt": KEYS, "kms:GenerateDataKey": KEYS, "kms:Encrypt": KEYS,
}
# (pack config key of the role, its grants, whose job) for the roles Lambda assumes.
JOBS = (
    ("backupRoleArn", COPIER_GRANTS, "the backup's copier (read-only on internal, put-only on the bucket but for "
                                     "reading manifests back)"),
    ("reconcileRoleArn", RECONCILER_GRANTS, "the backup's reconciler"),
    ("retentionRoleArn", RETENTION_GRANTS, "the retention job (status changes in internal only)"),
)
# What no bucket policy may allow anyone: losing an object, a version, or the lock that keeps them.
BACKUP_WRITE_ACTION = "s3:PutObject"
KMS_ALGORITHM = "aws:kms"


def backup_mode(args: StackValidationArgs) -> bool:
    return bool(cfg.config_str(args, "backupBucketName"))


def job_role_arns(args: StackValidationArgs) -> set[str]:
    """The backup's function roles the pack config names (held to their jobs here, not by the airlock rule)."""
    return {arn for key, _, _ in JOBS if (arn := cfg.config_str(args, key))}


def _names(args: StackValidationArgs) -> dict[str, str]:
    return {"internal": cfg.config_str(args, "internalRepositoryName"),
            "bucket": cfg.config_str(args, "backupBucketName"),
            "replica": cfg.config_str(args, "backupReplicaBucketName")}


def _kms_problem(statement: Mapping[str, object]) -> str | None:
    """A backup key is used through S3 only: a grant of a kms: action needs StringEquals kms:ViaService s3.*."""
    if not any(a.lower().startswith("kms:") for a in iam.actions(statement)):
        return None
    via = [values for operator, key, values in iam.conditions(statement)
           if operator == "StringEquals" and key == "kms:viaservice"]
    if via and all(value.startswith("s3.") and value.endswith(".amazonaws.com") for value in via[0]):
        return None
    return "a kms: action without StringEquals kms:ViaService s3.REGION.amazonaws.com (any use of the key)"


def _role_problems(role: PolicyResource, references: RoleReferences, by_arn: Mapping[object, PolicyResource],
                   grants: Mapping[str, str], names: Mapping[str, str], job: str) -> list[str]:
    problems = []
    for where, document in role_documents(role, references, by_arn):
        if document is None:
            problems.append(f"{where} cannot be read, so it is treated as allowing everything")
            continue
        for index, statement in enumerate(iam.allow_statements(document)):
            found = grant_problems(statement, grants, names, job)
            kms = _kms_problem(statement)
            if kms:
                found.append(kms)
            if found:
                problems.append(f"{where} {iam.label(statement, index)} allows {'; '.join(found[:4])}")
    return problems


def validate_backup_roles(args: StackValidationArgs, report: cfg.Report) -> None:
    names = _names(args)
    by_arn = _managed_by_arn(args)
    references = RoleReferences(args.resources)
    jobs = {cfg.config_str(args, key): (key, grants, job) for key, grants, job in JOBS if cfg.config_str(args, key)}
    replication = cfg.config_str(args, "replicationRoleArn")
    declared = _declared_role_arns(args)
    for named, (key, _, job) in jobs.items():
        if named not in declared:
            report(f"{key} {named} ({job}) is not a role this stack declares: what it may do cannot be checked")
    for role in props_.of_type(args, ROLE_TYPES):
        arn = props_.known_str(role.props, "arn") or ""
        services = _services(role)
        if arn in jobs:
            key, grants, job = jobs[arn]
            if services != {LAMBDA_SERVICE}:
                report(f"role {role.name} ({key}) is trusted by {sorted(services or [])}: {job} runs in AWS Lambda, "
                       "trusted by lambda.amazonaws.com only", role.urn)
        elif services and S3_SERVICE in services:
            grants, job = REPLICATION_GRANTS, "S3 replication of the backup"
            if services != {S3_SERVICE}:
                report(f"role {role.name} is trusted by {sorted(services)}: a role S3 assumes is trusted by "
                       "s3.amazonaws.com only", role.urn)
            if arn != replication:
                report(f"role {role.name} is trusted by S3 but is not the replicationRoleArn "
                       f"{replication or '(not set)'}: the only role S3 assumes is the backup's replication role",
                       role.urn)
        else:
            continue
        for problem in _role_problems(role, references, by_arn, grants, names, job):
            report(f"backup role {role.name}: {problem}: it holds only what {job} needs, on named resources",
                   role.urn)


# --- the buckets ---------------------------------------------------------------------------------------------


def _bucket_named(args: StackValidationArgs, name: str) -> PolicyResource | None:
    return next((b for b in props_.of_type(args, BUCKET) if props_.known_str(b.props, "bucket") == name), None)


def _kms_encrypted(args: StackValidationArgs, bucket: PolicyResource) -> bool:
    for encryption in _parts_of(args, bucket)[BUCKET_ENCRYPTION]:
        for rule in iam.as_list(props_.known(encryption.props, "rules")):
            default = rule.get("applyServerSideEncryptionByDefault") if isinstance(rule, Mapping) else None
            if isinstance(default, Mapping) and default.get("sseAlgorithm") == KMS_ALGORITHM:
                return True
    return False


def _statements(args: StackValidationArgs, bucket: PolicyResource, report: cfg.Report) -> list[Mapping[str, object]]:
    found: list[Mapping[str, object]] = []
    for policy in _parts_of(args, bucket)[BUCKET_POLICY]:
        documents = cfg.when_known(partial(props_.parsed, [("policy", policy.props.get("policy"))]), report, policy,
                                   "policy document")
        found += [s for _, document in documents or [] for s in iam.statements(document)]
    return found


def _replications_of(args: StackValidationArgs, bucket: PolicyResource) -> list[PolicyResource]:
    name = props_.known_str(bucket.props, "bucket")
    return [r for r in props_.of_type(args, REPLICATION)
            if any(dep.urn == bucket.urn for dep in r.property_dependencies.get("bucket", []))
            or (name is not None and props_.known_str(r.props, "bucket") == name)]


def _replication_problems(args: StackValidationArgs, replication: PolicyResource, report: cfg.Report) -> list[str]:
    """A replication configuration writes every version into a locked bucket the stack declares, deletes never, as
    a role the stack declares (which validate_backup_roles holds to the replication actions)."""
    problems = []
    role = props_.known_str(replication.props, "role")
    if role not in _declared_role_arns(args):
        problems.append(f"it replicates as {role or '(unknown role)'}, which this stack does not declare")
    buckets = {props_.known_str(b.props, "arn"): b for b in props_.of_type(args, BUCKET)}
    for index, rule in enumerate(iam.as_list(props_.known(replication.props, "rules"))):
        rule = rule if isinstance(rule, Mapping) else {}
        destination = rule.get("destination")
        target = destination.get("bucket") if isinstance(destination, Mapping) else None
        if target not in buckets:
            problems.append(f"rule {index} writes into {target or '(unknown bucket)'}, which this stack does not "
                            "declare: where the copies go, and whether they are kept, cannot be checked")
        else:
            problems += [f"its destination {target}: {p}" for p in _bucket_problems(args, buckets[target], report)]
        markers = rule.get("deleteMarkerReplication")
        if not isinstance(markers, Mapping) or markers.get("status") != "Disabled":
            problems.append(f"rule {index} does not say deleteMarkerReplication Disabled: a delete marker would hide "
                            "the copy too")
    return problems


def validate_backup_buckets(args: StackValidationArgs, report: cfg.Report) -> None:
    for replication in props_.of_type(args, REPLICATION):
        for problem in _replication_problems(args, replication, report):
            report(f"{replication.name}: {problem}", replication.urn)
    if not backup_mode(args):
        return
    names = _names(args)
    writers = job_role_arns(args)
    for key in ("backupBucketName", "backupReplicaBucketName"):
        name = names["bucket" if key == "backupBucketName" else "replica"]
        bucket = _bucket_named(args, name)
        if bucket is None:
            report(f"{key} {name or '(not set)'} is not a bucket this stack declares: the backup has nowhere to keep "
                   "its copies")
            continue
        for problem in _bucket_problems(args, bucket, report):
            report(f"{bucket.name}: {problem}: the backup must keep every version", bucket.urn)
        if not _kms_encrypted(args, bucket):
            report(f"{bucket.name}: the backup bucket is not encrypted with a KMS key (sseAlgorithm aws:kms)",
                   bucket.urn)
        if key == "backupReplicaBucketName":
            continue
        statements = _statements(args, bucket, report)
        someone = "arn:aws:iam::000000000000:role/anyone-else"
        if not denied(statements, BACKUP_WRITE_ACTION, f"arn:aws:s3:::{name}/example", someone, writers):
            report(f"{bucket.name}: the bucket policy does not deny s3:PutObject to every principal but the backup's "
                   f"roles {sorted(writers)}: anyone with IAM rights could overwrite a manifest", bucket.urn)
        replications = _replications_of(args, bucket)
        targets = {rule.get("destination", {}).get("bucket") for r in replications
                   for rule in iam.as_list(props_.known(r.props, "rules")) if isinstance(rule, Mapping)
                   and rule.get("status") == "Enabled" and isinstance(rule.get("destination"), Mapping)}
        if f"arn:aws:s3:::{names['replica']}" not in targets:
            report(f"{bucket.name}: no enabled replication rule copies it into the replica {names['replica']}: a "
                   "loss of the region would lose the backup with the registry", bucket.urn)


def retention_carve_out_problems(args: StackValidationArgs, statements: list[Mapping[str, object]]) -> list[str]:
    """Why the retention role's exemption from the domain policy's Deny of status changes is wider than internal
    (empty when it is exact); used by domain-denies-loss-and-reopening."""
    retention = cfg.config_str(args, "retentionRoleArn")
    internal = cfg.config_str(args, "internalRepositoryName")
    problems = []
    for repository in props_.of_type(args, REPOSITORY_TYPES):
        name = props_.repository_name(repository.props)
        repository_arn = props_.known_str(repository.props, "arn")
        if name is None or repository_arn is None:
            problems.append(f"{repository.name}'s ARN is unknown during preview, so the retention role's "
                            "confinement to internal cannot be checked")
            continue
        if name == internal:
            continue
        package = repository_arn.replace(":repository/", ":package/", 1) + "/pypi//example"
        if not denied(statements, STATUS_ACTIONS[0], package, retention):
            problems.append(f"the retention role {retention} is not denied UpdatePackageVersionsStatus on {package}: "
                            f"it may change statuses in {internal} only")
    return problems


# --- the event path ------------------------------------------------------------------------------------------


def _arns(args: StackValidationArgs, resource_type: str) -> set[str]:
    return {arn for r in props_.of_type(args, resource_type) if (arn := props_.known_str(r.props, "arn"))}


def _queue_problems(queue: PolicyResource, queues: set[str], dead_letter_targets: set[str]) -> list[str]:
    problems = []
    if props_.known(queue.props, "sqsManagedSseEnabled") is not True and not props_.known_str(
            queue.props, "kmsMasterKeyId"):
        problems.append("it is not encrypted (sqsManagedSseEnabled or kmsMasterKeyId)")
    redrive = props_.known(queue.props, "redrivePolicy")
    if redrive:
        try:
            parsed = json.loads(redrive) if isinstance(redrive, str) else redrive
        except json.JSONDecodeError:
            parsed = None
        target = parsed.get("deadLetterTargetArn") if isinstance(parsed, Mapping) else None
        if target not in queues:
            problems.append(f"its redrive policy sends to {target or '(unreadable)'}, which is not a queue this stack "
                            "declares")
    elif props_.known_str(queue.props, "arn") not in dead_letter_targets:
        problems.append("it has no redrive policy (a dead-letter queue), and is no declared queue's dead-letter "
                        "queue: a message failing for good would be lost after its retention")
    return problems


def _dead_letter_targets(args: StackValidationArgs) -> set[str]:
    found = set()
    for queue in props_.of_type(args, QUEUE):
        redrive = props_.known(queue.props, "redrivePolicy")
        try:
            parsed = json.loads(redrive) if isinstance(redrive, str) else redrive
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, Mapping) and isinstance(parsed.get("deadLetterTargetArn"), str):
            found.add(parsed["deadLetterTargetArn"])
    return found


def _queue_policy_problems(statement: Mapping[str, object], rules: set[str]) -> list[str]:
    problems = []
    if "NotPrincipal" in statement or "NotAction" in statement or "NotResource" in statement:
        return ["NotPrincipal, NotAction or NotResource (everyone or everything it does not list)"]
    others = [value for kind, value in iam.principals(statement) if (kind, value) != ("Service", EVENTS_SERVICE)]
    if others:
        problems.append(f"it allows {others[0]}; only EventBridge (events.amazonaws.com) may send")
    actions = [a for a in iam.actions(statement) if a.lower() != QUEUE_SEND_ACTION.lower()]
    if actions:
        problems.append(f"it allows {actions[0]}; EventBridge needs {QUEUE_SEND_ACTION} only")
    sources = [values for operator, key, values in iam.conditions(statement)
               if operator in ("ArnEquals", "StringEquals") and key == "aws:sourcearn"]
    if not sources or not set(sources[0]) <= rules:
        problems.append("it is not conditioned on aws:SourceArn (ArnEquals) naming rules this stack declares: any "
                        "rule, of any account, could send")
    return problems


def validate_backup_events(args: StackValidationArgs, report: cfg.Report) -> None:
    queues, rules = _arns(args, QUEUE), _arns(args, EVENT_RULE)
    functions = _arns(args, FUNCTION) | {name for f in props_.of_type(args, FUNCTION)
                                         if (name := props_.known_str(f.props, "name"))}
    dead_letter_targets = _dead_letter_targets(args)
    for queue in props_.of_type(args, QUEUE):
        for problem in _queue_problems(queue, queues, dead_letter_targets):
            report(f"{queue.name}: {problem}", queue.urn)
    for policy in props_.of_type(args, QUEUE_POLICY):
        documents = cfg.when_known(partial(props_.parsed, [("policy", policy.props.get("policy"))]), report, policy,
                                   "policy document")
        for _, document in documents or []:
            for index, statement in enumerate(iam.allow_statements(document)):
                for problem in _queue_policy_problems(statement, rules):
                    report(f"{policy.name}: {iam.label(statement, index)}: {problem}", policy.urn)
    for target in props_.of_type(args, EVENT_TARGET):
        if props_.known_str(target.props, "arn") not in queues:
            report(f"{target.name}: the event target {props_.known_str(target.props, 'arn') or '(unknown)'} is not a "
                   "queue this stack declares", target.urn)
    for mapping in props_.of_type(args, EVENT_SOURCE_MAPPING):
        source, function = (props_.known_str(mapping.props, "eventSourceArn"),
                            props_.known_str(mapping.props, "functionName"))
        if source not in queues:
            report(f"{mapping.name}: its event source {source or '(unknown)'} is not a queue this stack declares",
                   mapping.urn)
        if function not in functions:
            report(f"{mapping.name}: it invokes {function or '(unknown)'}, which is not a function this stack "
                   "declares", mapping.urn)


POLICIES: list[cfg.Guardrail] = [
    cfg.stack_policy(
        "backup-keeps-every-version",
        "With a backup (backupBucketName): the backup bucket and its replica are declared, locked (Object Lock "
        "COMPLIANCE, versioning, public access blocked, no delete allowed) and KMS-encrypted; only the backup's roles "
        "put into the bucket; it replicates every version into the replica. Every replication configuration writes "
        "into a locked bucket the stack declares, as a declared role, never replicating delete markers.",
        validate_backup_buckets, "backupBucketName", "backupReplicaBucketName", "backupRoleArn",
        "reconcileRoleArn", "retentionRoleArn",
    ),
    cfg.stack_policy(
        "backup-roles-hold-what-they-need",
        "The backup's copier reads internal only (read-only on CodeArtifact), its reconciler also lists, the "
        "retention job changes statuses in internal only; each puts into the backup bucket under its own prefixes "
        "and uses the backup keys through S3 only; a role S3 assumes is the replication role and holds exactly the "
        "replication actions.",
        validate_backup_roles, "backupRoleArn", "reconcileRoleArn", "retentionRoleArn", "replicationRoleArn",
        "backupBucketName", "backupReplicaBucketName", "internalRepositoryName",
    ),
    cfg.stack_policy(
        "backup-events-reach-only-the-backup",
        "Every SQS queue is encrypted and has a declared dead-letter queue (or is one); a queue policy lets only "
        "EventBridge send, for rules the stack declares; event targets and event source mappings join declared "
        "queues and functions.",
        validate_backup_events,
    ),
]
