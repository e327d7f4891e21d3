"""Policy pack configuration: what differs per company, and how policies are declared.

Each policy declares the properties it reads; `policy_config` (policies/guardrails.py)
spreads one set of values over them, and policies/policy-config.prod.json is the file
for the prod stack. Without that file every cross-account grant and every GitHub owner
is refused, and the stack rules that need a value report that it is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol, TypeVar

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyProviderResource,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from . import iam_documents as iam

T = TypeVar("T")

# Every rule blocks unless it says otherwise; `all` in the pack config can lower it.
PACK_ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY


class Report(Protocol):
    """The report_violation callback a rule is handed: the urn is optional (a resource policy's
    violations belong to the resource validated). pulumi_policy's `ReportViolation` alias types
    both parameters as required, though its server, the audit and the tests all default urn."""

    def __call__(self, message: str, urn: str | None = None) -> None: ...


ResourceRule = Callable[[ResourceValidationArgs, Report], None]
StackRule = Callable[[StackValidationArgs, Report], None]
# What the pack serves and the audit runs.
Guardrail = ResourceValidationPolicy | StackValidationPolicy

ACCOUNT_ID_SCHEMA = {"type": "string", "pattern": "^[0-9]{12}$"}
CONFIG_PROPERTIES: dict[str, dict[str, object]] = {
    "ownerAccountId": {
        **ACCOUNT_ID_SCHEMA,
        "description": "Account that owns the CodeArtifact domain; any other account is cross-account. "
        "Unset: the account each resource or key policy's provider is pinned to, and identity policies are "
        "held to Read and List everywhere.",
    },
    "allowedAccountIds": {
        "type": "array",
        "items": ACCOUNT_ID_SCHEMA,
        "default": [],
        "description": "Secondary accounts that resource policies may grant read access to.",
    },
    "allowedOrganizationId": {
        "type": "string",
        "pattern": "^(o-[a-z0-9]{10,32})?$",
        "default": "",
        "description": "AWS Organization whose accounts may be granted read access through aws:PrincipalOrgID.",
    },
    "allowedExternalConnections": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["public:pypi"],
        "description": "External connections a repository may have (at most one each).",
    },
    "allowedGithubOwners": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,38}$"},
        "default": [],
        "description": "GitHub users or organizations whose repositories may assume publisher roles.",
    },
    "internalPrefixes": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Normalised package name prefixes that must never come from public PyPI.",
    },
    "publisherPackages": {
        "type": "object",
        "additionalProperties": {
            "type": "array", "items": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$"}},
        "default": {},
        "description": "GitHub repository (owner/name) -> the package names its publisher role may publish; a "
        "publish grant on any other name is refused.",
    },
    "publisherSubjects": {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string", "pattern": "^repo:[^*?]+$"}},
        "default": {},
        "description": "GitHub repository (owner/name) -> the exact OIDC subjects its publisher role trusts; a GitHub "
        "role that trusts any other subject (a CI or Dependabot reader, or one not declared) may only read.",
    },
    "deployPrincipalArns": {
        "type": "array",
        "items": {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"},
        "default": [],
        "description": "Roles that run pulumi up: the only ones, besides break-glass, that may change package "
        "groups, origin controls, upstreams and repository policies.",
    },
    "breakGlassRoleArn": {
        "type": "string",
        "pattern": "^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$",
        "default": "",
        "description": "The one role that may delete packages and disable or delete the domain's KMS key.",
    },
    "publicIngest": {
        "type": "string",
        "enum": ["direct", "airlock"],
        "default": "direct",
        "description": "How public packages reach consumers: direct (through the store) or airlock (only what the "
        "promoter admitted, through the vetted repository); airlock turns the airlock rules on.",
    },
    "promoterRoleArn": {
        "type": "string",
        "pattern": "^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$",
        "default": "",
        "description": "Airlock mode: the promoter's role, which the domain policy lets copy into the vetted "
        "repository only.",
    },
    "pullBackRoleArn": {
        "type": "string",
        "pattern": "^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$",
        "default": "",
        "description": "Airlock mode: the pull-back job's role, which the domain policy lets change version statuses "
        "in the vetted and internal repositories only.",
    },
    "vettedRepositoryName": {
        "type": "string",
        "default": "",
        "description": "Airlock mode: the repository of admitted public versions.",
    },
    "internalRepositoryName": {
        "type": "string",
        "default": "",
        "description": "Airlock mode: the internal repository, whose upstream is the vetted one.",
    },
    "backupBucketName": {
        "type": "string",
        "default": "",
        "description": "Backup on: the backup bucket, held to Object Lock, KMS encryption and replication into "
        "backupReplicaBucketName; unset, no backup rule applies but to what every bucket must be.",
    },
    "backupReplicaBucketName": {
        "type": "string",
        "default": "",
        "description": "Backup on: the backup's replica in the second region.",
    },
    "backupRoleArn": {
        "type": "string",
        "pattern": "^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$",
        "default": "",
        "description": "Backup on: the backup's copier: read-only on internal, put-only on the backup bucket.",
    },
    "reconcileRoleArn": {
        "type": "string",
        "pattern": "^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$",
        "default": "",
        "description": "Backup on: the backup's nightly reconciler.",
    },
    "retentionRoleArn": {
        "type": "string",
        "pattern": "^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$",
        "default": "",
        "description": "Backup on: the retention job, which the domain policy lets change version statuses in "
        "internal only.",
    },
    "replicationRoleArn": {
        "type": "string",
        "pattern": "^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$",
        "default": "",
        "description": "Backup on: the role S3 replicates the backup bucket with (the only role S3 may assume).",
    },
}


def schema(*keys: str) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={key: CONFIG_PROPERTIES[key] for key in keys})


def config(args: ResourceValidationArgs | StackValidationArgs, key: str) -> object:
    """A config value, or its schema default (the audit does not go through the CLI's defaulting)."""
    values = args.get_config() or {}
    value = values[key] if key in values else CONFIG_PROPERTIES[key].get("default")
    return iam.plain(value)


def config_str(args: ResourceValidationArgs | StackValidationArgs, key: str) -> str:
    """A config value of a string property, "" when unset (as text, like config_set's items)."""
    value = config(args, key)
    return "" if value is None else str(value)


# Each resource policy reads the same config for every resource: a list of 1000 accounts is turned
# into a set once per config object, not once per resource. (config object, its set) by id.
_SETS: dict[tuple[int, str, bool], tuple[object, frozenset[str]]] = {}
_SETS_KEPT = 256


def config_set(args: ResourceValidationArgs | StackValidationArgs, key: str, *,
               lower: bool = False) -> frozenset[str]:
    values = args.get_config()
    cached = _SETS.get((id(values), key, lower))
    if cached is not None and cached[0] is values:
        return cached[1]
    found = frozenset(str(v) for v in iam.as_list(config(args, key)))
    found = frozenset(v.lower() for v in found) if lower else found
    if len(_SETS) >= _SETS_KEPT:
        _SETS.clear()
    # The config object is kept with its set, so its id cannot be reused while the entry lives.
    _SETS[(id(values), key, lower)] = (values, found)
    return found


def provider_account(provider: PolicyProviderResource | None) -> str | None:
    """The one account a provider is pinned to with allowedAccountIds (serialised as JSON by the engine)."""
    if provider is None:
        return None
    try:
        allowed = provider.props.get("allowedAccountIds")
    except UnknownValueError:
        return None
    if isinstance(allowed, str):
        try:
            allowed = json.loads(allowed)
        except json.JSONDecodeError:
            return None
    accounts = [str(a) for a in iam.as_list(allowed)]
    return accounts[0] if len(accounts) == 1 else None


def owner_account(args: ResourceValidationArgs) -> str | None:
    return config_str(args, "ownerAccountId") or provider_account(args.provider)


UNKNOWN_RULE = ("met a value unknown during preview and could not check the rest of the stack; the registry's "
                "documents are built from its settings, so they must be known at preview")


def when_known(read: Callable[[], T], report: Report, resource: PolicyResource, what: str) -> T | None:
    """`read()`, or None after reporting `resource` when what it reads is unknown during preview.

    CrossGuard turns a rule that raises on an unknown into one advisory note for the whole rule, which
    would silence every known violation beside it: a stack rule reads each resource through this instead,
    so an unknown document is itself a mandatory violation and the rule goes on with the others."""
    try:
        return read()
    except UnknownValueError:
        report(f"{resource.name}: its {what} is unknown during preview, so this rule cannot check it: treat it as "
               "failing until it is known (build documents from settings, not from other resources' outputs)",
               resource.urn)
        return None


def _report(report_violation: ReportViolation) -> Report:
    """The callback as rules call it, urn optional, whatever pulumi_policy's alias says."""

    def report(message: str, urn: str | None = None) -> None:
        report_violation(message, urn)

    return report


def resource_policy(name: str, description: str, validate: ResourceRule, *config_keys: str,
                    enforcement: EnforcementLevel = PACK_ENFORCEMENT_LEVEL) -> ResourceValidationPolicy:
    def validation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        report = _report(report_violation)
        try:
            validate(args, report)
        except UnknownValueError:
            report(f"this resource's checked properties are unknown during preview: {name} cannot check them, so "
                   "it counts as failing until they are known")

    return ResourceValidationPolicy(
        name=name, description=description, validate=validation, enforcement_level=enforcement,
        config_schema=schema(*config_keys) if config_keys else None,
    )


def stack_policy(name: str, description: str, validate: StackRule, *config_keys: str,
                 enforcement: EnforcementLevel = PACK_ENFORCEMENT_LEVEL) -> StackValidationPolicy:
    def validation(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        report = _report(report_violation)
        try:
            validate(args, report)
        except UnknownValueError:
            report(f"{name} {UNKNOWN_RULE}")

    return StackValidationPolicy(
        name=name, description=description, validate=validation, enforcement_level=enforcement,
        config_schema=schema(*config_keys) if config_keys else None,
    )
