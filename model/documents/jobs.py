"""What every job of the airlock and the backup gets: a role Lambda or EventBridge Scheduler assumes, invoking
its one function, writing its own logs, and the locked buckets their records are kept in."""

from __future__ import annotations

from typing import Any

from model.documents.actions import (
    INVOKE_ACTION,
    LAMBDA_SERVICE,
    LEDGER_BUCKET_LOSS_ACTIONS,
    LEDGER_OBJECT_LOSS_ACTIONS,
    LOG_ACTIONS,
    SCHEDULER_SERVICE,
)
from model.documents.statements import deny_everyone_but
from model.settings import Settings
from model.trust_policy import VERSION, PolicyDocument


def logs_statement(settings: Settings, function_name: str) -> dict[str, Any]:
    """Write the function's own log group (the stack declares it, so the role never creates one)."""
    return {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS),
            "Resource": f"{settings.log_group_arn(function_name)}:*"}


def lambda_trust_policy() -> PolicyDocument:
    """Assumed by AWS Lambda only, as the function's execution role."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "LambdaExecution", "Effect": "Allow", "Principal": {"Service": LAMBDA_SERVICE},
         "Action": "sts:AssumeRole"},
    ]}


def scheduler_trust_policy(settings: Settings) -> PolicyDocument:
    """Assumed by EventBridge Scheduler for schedules of the owner account only (the confused-deputy guard)."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "SchedulerOfThisAccount", "Effect": "Allow", "Principal": {"Service": SCHEDULER_SERVICE},
         "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": settings.owner_account_id}}},
    ]}


def invoke_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """A schedule's role: invoke its one function."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "InvokeOneFunction", "Effect": "Allow", "Action": INVOKE_ACTION,
         "Resource": settings.function_arn(function_name)},
    ]}


def locked_bucket_policy(settings: Settings, bucket: str, writers: list[str], *, write_actions: tuple[str, ...],
                         sids: tuple[str, str, str]) -> PolicyDocument:
    """A bucket that keeps every object (the ledger, the backup and its replica): TLS only; only `writers` write;
    nobody deletes an object or a version or bypasses its retention; only the deploy roles (and the break-glass
    role) touch the bucket's versioning, lock, lifecycle or policy, and none of them deletes it. `sids` name the
    three Denies (objects, bucket, writes) for what the bucket holds."""
    objects = f"{bucket}/*"
    break_glass = [settings.break_glass_role_arn] if settings.break_glass_role_arn else []
    objects_sid, bucket_sid, writes_sid = sids
    return {"Version": VERSION, "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {**deny_everyone_but(objects_sid, LEDGER_OBJECT_LOSS_ACTIONS, []), "Resource": objects},
        {**deny_everyone_but(bucket_sid, LEDGER_BUCKET_LOSS_ACTIONS,
                              [*settings.deploy_principal_arns, *break_glass]), "Resource": bucket},
        {**deny_everyone_but(writes_sid, write_actions, writers), "Resource": objects},
    ]}
