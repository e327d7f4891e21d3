"""The curation airlock (publicIngest: airlock): the ledger every decision is appended to, the topic it is
published on, and the promoter and pull-back functions with their roles and schedules.

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

from components.storage import declare_locked_bucket
from model.documents.airlock import ledger_bucket_policy, promoter_policy, pull_back_policy
from model.documents.jobs import invoke_policy, lambda_trust_policy, scheduler_trust_policy
from model.names import (
    PROMOTE_SCHEDULE_NAME,
    PROMOTE_SCHEDULE_ROLE_NAME,
    PROMOTER_FUNCTION_NAME,
    PROMOTER_ROLE_NAME,
    PULL_BACK_FUNCTION_NAME,
    PULL_BACK_ROLE_NAME,
    PULL_BACK_SCHEDULE_NAME,
    PULL_BACK_SCHEDULE_ROLE_NAME,
)
from model.settings import Settings
from model.trust_policy import to_json
from promoter.config import render_config

# The promoter's code: the top-level package `promoter/` of this repository, packaged as it is. Relative to the
# project folder, where the Pulumi CLI runs the program, so the recorded path is the same in every checkout.
PROMOTER_PACKAGE = "promoter"
PROMOTER_SOURCE = Path(PROMOTER_PACKAGE)
RUNTIME = "python3.12"
PROMOTE_HANDLER = "promoter.handler.promote"
PULL_BACK_HANDLER = "promoter.handler.pull_back"
PROMOTE_SCHEDULE = "rate(15 minutes)"
PULL_BACK_SCHEDULE = "rate(1 day)"
CONFIG_VARIABLE = "PROMOTER_CONFIG"
# Every decision is kept at least this long, whoever asks (COMPLIANCE mode: not even the root user shortens it).
LEDGER_RETENTION_DAYS = 400
LOG_RETENTION_DAYS = 365
# SNS encrypts the topic with the account's AWS-managed key for SNS.
TOPIC_KEY = "alias/aws/sns"


def promoter_config(settings: Settings) -> dict[str, Any]:
    """The promoter's PROMOTER_CONFIG, written by the promoter's own schema (promoter/config.py)."""
    return dict(render_config(
        domain=settings.domain_name, domain_owner=settings.owner_account_id, region=settings.region,
        store_repository=settings.store_repository, vetted_repository=settings.vetted_repository,
        internal_repository=settings.internal_repository, public_packages=list(settings.public_packages),
        cooldown=settings.cooldown,
        waivers=[{"package": f"{w.name}=={w.version}", "reason": w.reason} for w in settings.waivers],
        refuse_severity=settings.refuse_severity, allowed_licenses=list(settings.allowed_licenses),
        ledger_bucket=settings.ledger_bucket_name, topic_arn=settings.airlock_topic_arn,
    ))


# --- the ledger and the topic ------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerArgs:
    bucket_name: str
    bucket_policy: str  # JSON, as sent to S3
    topic_name: str
    retention_days: int = LEDGER_RETENTION_DAYS
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> LedgerArgs:
        return cls(bucket_name=settings.ledger_bucket_name,
                   bucket_policy=to_json(ledger_bucket_policy(settings)),
                   topic_name=settings.airlock_topic_arn.rsplit(":", 1)[1], tags=dict(settings.tags))


class Ledger(pulumi.ComponentResource):
    """An S3 bucket with Object Lock (COMPLIANCE, a default retention), versioning, encryption at rest, public
    access blocked and a policy that denies every delete; and the KMS-encrypted SNS topic decisions go to.

    Expects the owner account's `aws` provider in `opts.providers`.
    """

    def __init__(self, name: str, args: LedgerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:Ledger", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The decisions are the airlock's audit trail: the bucket is kept like the registry.
        self.bucket = declare_locked_bucket(
            self, name, bucket_name=args.bucket_name, policy=args.bucket_policy, retention_days=args.retention_days,
            encryption={"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}, tags=args.tags,
        ).bucket
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.topic_name,
            kms_master_key_id=TOPIC_KEY,
            tags=dict(args.tags),
            opts=child,
        )
        self.register_outputs({"bucketArn": self.bucket.arn, "topicArn": self.topic.arn})


# --- the promoter and the pull-back job ------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleArgs:
    """A function's EventBridge Scheduler schedule and the role it invokes the function with."""

    name: str
    expression: str
    role_name: str
    role_policy: str  # JSON, as sent to IAM
    role_arn: str  # known at preview, so the schedule's target never waits for an output

    @classmethod
    def for_function(cls, settings: Settings, function_name: str, name: str, expression: str,
                     role_name: str) -> ScheduleArgs:
        return cls(name=name, expression=expression, role_name=role_name,
                   role_policy=to_json(invoke_policy(settings, function_name)),
                   role_arn=settings.owner_role_arn(role_name))


@dataclass(frozen=True)
class FunctionArgs:
    """One function: its execution role and policy, and its schedule when something invokes it on one."""

    function_name: str
    handler: str
    role_name: str
    role_policy: str  # JSON, as sent to IAM
    log_group_name: str
    timeout_seconds: int
    # Known at preview, so the schedule's target never waits for an output.
    function_arn: str
    schedule: ScheduleArgs | None = None

    @classmethod
    def for_settings(cls, settings: Settings, function_name: str, handler: str, role_name: str,
                     policy: dict[str, Any], timeout: int, schedule: ScheduleArgs | None = None) -> FunctionArgs:
        return cls(function_name=function_name, handler=handler, role_name=role_name,
                   role_policy=to_json(policy), log_group_name=settings.log_group_name(function_name),
                   timeout_seconds=timeout, function_arn=settings.function_arn(function_name), schedule=schedule)


def package_modules(source: Path) -> tuple[str, ...]:
    """The Python modules of a Lambda package's folder, relative to the project folder (where the Pulumi CLI runs
    the program): only `*.py`, so the function's code, and its hash, are the source's whatever else the checkout
    holds (the package's README, `__pycache__`). A folder with none is refused before anything is declared."""
    modules = tuple(sorted(f"{source.as_posix()}/{path.name}" for path in source.glob("*.py")))
    if not modules:
        raise ValueError(f"{source.as_posix()}/ holds no Python module to package: the program runs from the "
                         "folder that holds Pulumi.yaml")
    return modules


def package_archive(package: str, modules: tuple[str, ...]) -> pulumi.AssetArchive:
    """The modules as the top-level package `package`, so that a handler imports as `package.module`."""
    return pulumi.AssetArchive({package: pulumi.AssetArchive(
        {Path(module).name: pulumi.FileAsset(module) for module in modules})})


@dataclass(frozen=True)
class PromoterArgs:
    functions: tuple[FunctionArgs, ...]
    lambda_trust_policy: str
    scheduler_trust_policy: str
    config: str  # PROMOTER_CONFIG, JSON
    modules: tuple[str, ...]  # the files packaged as the top-level package `promoter` (package_modules)
    permissions_boundary: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, source: Path = PROMOTER_SOURCE) -> PromoterArgs:
        def function(function_name: str, handler: str, role_name: str, policy: dict[str, Any], schedule_name: str,
                     expression: str, schedule_role_name: str, timeout: int) -> FunctionArgs:
            schedule = ScheduleArgs.for_function(settings, function_name, schedule_name, expression, schedule_role_name)
            return FunctionArgs.for_settings(settings, function_name, handler, role_name, policy, timeout, schedule)

        return cls(
            functions=(
                function(PROMOTER_FUNCTION_NAME, PROMOTE_HANDLER, PROMOTER_ROLE_NAME,
                         promoter_policy(settings, PROMOTER_FUNCTION_NAME), PROMOTE_SCHEDULE_NAME,
                         PROMOTE_SCHEDULE, PROMOTE_SCHEDULE_ROLE_NAME, 600),
                function(PULL_BACK_FUNCTION_NAME, PULL_BACK_HANDLER, PULL_BACK_ROLE_NAME,
                         pull_back_policy(settings, PULL_BACK_FUNCTION_NAME), PULL_BACK_SCHEDULE_NAME,
                         PULL_BACK_SCHEDULE, PULL_BACK_SCHEDULE_ROLE_NAME, 900),
            ),
            lambda_trust_policy=to_json(lambda_trust_policy()),
            scheduler_trust_policy=to_json(scheduler_trust_policy(settings)),
            config=json.dumps(promoter_config(settings), separators=(",", ":"), sort_keys=True),
            modules=package_modules(source),
            permissions_boundary=settings.airlock_roles_boundary_arn,
            tags=dict(settings.tags),
        )


class Promoter(pulumi.ComponentResource):
    """The promoter (every 15 minutes) and the pull-back job (daily): one Lambda function each, packaged from the
    repository's `promoter/` folder, each with its execution role, log group and EventBridge Scheduler schedule
    (whose role may invoke that function only).

    Expects the owner account's `aws` provider in `opts.providers`.
    """

    def __init__(self, name: str, args: PromoterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:Promoter", name, None, opts)
        code = package_archive(PROMOTER_PACKAGE, args.modules)
        self.function_arns: dict[str, pulumi.Output[str]] = {}
        for function_args in args.functions:
            self.function_arns[function_args.function_name] = self._function(name, function_args, args, code)
        self.register_outputs({"functionArns": self.function_arns})

    def _function(self, name: str, function: FunctionArgs, args: PromoterArgs,
                  code: pulumi.AssetArchive) -> pulumi.Output[str]:
        lambda_function = declare_function(
            self, f"{name}-{function.function_name}", function, code=code,
            environment={CONFIG_VARIABLE: args.config}, lambda_trust_policy=args.lambda_trust_policy,
            scheduler_trust_policy=args.scheduler_trust_policy, permissions_boundary=args.permissions_boundary,
            tags=args.tags)
        return lambda_function.arn


def bounded_role(logical: str, *, name: str, description: str, trust_policy: str, policy: str, boundary: str,
                 tags: Mapping[str, str], opts: pulumi.ResourceOptions) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A service role of the airlock or the backup: the bootstrap's boundary on it, and its one inline policy,
    named as the role (`{logical}` and `{logical}-policy`)."""
    role = aws.iam.Role(
        logical,
        name=name,
        description=description,
        assume_role_policy=trust_policy,
        max_session_duration=3600,
        permissions_boundary=boundary,
        tags=dict(tags),
        opts=opts,
    )
    return role, aws.iam.RolePolicy(f"{logical}-policy", role=role.name, name=name, policy=policy, opts=opts)


def declare_function(parent: pulumi.Resource, logical: str, function: FunctionArgs, *, code: pulumi.AssetArchive,
                     environment: Mapping[str, str], lambda_trust_policy: str, scheduler_trust_policy: str,
                     permissions_boundary: str, tags: Mapping[str, str]) -> aws.lambda_.Function:
    """One Lambda function under `parent`: its execution role (bounded) with its inline policy, its log group,
    and, when it has one, its EventBridge Scheduler schedule with the schedule's own role (invoke that function
    only). The airlock's and the backup's functions are all declared here."""
    child = pulumi.ResourceOptions(parent=parent)
    role, policy = bounded_role(
        f"{logical}-role", name=function.role_name,
        description=f"Execution role of the Lambda function {function.function_name}",
        trust_policy=lambda_trust_policy, policy=function.role_policy, boundary=permissions_boundary, tags=tags,
        opts=child)
    logs = aws.cloudwatch.LogGroup(
        f"{logical}-logs",
        name=function.log_group_name,
        retention_in_days=LOG_RETENTION_DAYS,
        tags=dict(tags),
        opts=child,
    )
    lambda_function = aws.lambda_.Function(
        logical,
        name=function.function_name,
        role=role.arn,
        runtime=RUNTIME,
        handler=function.handler,
        code=code,
        timeout=function.timeout_seconds,
        memory_size=512,
        environment={"variables": dict(environment)},
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, logs]),
    )
    if function.schedule is None:
        return lambda_function
    schedule = function.schedule
    schedule_role, schedule_policy = bounded_role(
        f"{logical}-schedule-role", name=schedule.role_name,
        description=f"EventBridge Scheduler invokes the Lambda function {function.function_name}",
        trust_policy=scheduler_trust_policy, policy=schedule.role_policy, boundary=permissions_boundary, tags=tags,
        opts=child)
    aws.scheduler.Schedule(
        f"{logical}-schedule",
        name=schedule.name,
        schedule_expression=schedule.expression,
        flexible_time_window={"mode": "OFF"},
        target={"arn": function.function_arn, "role_arn": schedule.role_arn,
                "retry_policy": {"maximum_retry_attempts": 0}},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[lambda_function, schedule_role, schedule_policy]),
    )
    return lambda_function
