"""The guardrails: CrossGuard policies that block an unsafe registry.

`pulumi preview --policy-pack policies` serves `POLICIES` (policies/__main__.py); the
offline audit (audit/guardrails.py) and the tests call the very same objects'
`validate` with `ResourceValidationArgs`/`StackValidationArgs`.

What differs per company (allowed accounts or organization, external connections,
GitHub owners, internal prefixes) is policy pack config: each policy declares the
properties it reads, `policy_config` spreads one set of values over them, and
policies/policy-config.prod.json is the file for the prod stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

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

from components.policy_documents import (
    CODEARTIFACT_SERVICE,
    GITHUB_OIDC_AUDIENCE,
    GITHUB_OIDC_HOST,
    INLINE_ROLE_POLICY_LIMIT,
    MANAGED_POLICY_LIMIT,
    RESOURCE_POLICY_LIMIT,
    TRUST_POLICY_LIMIT,
)
from policies import iam_documents as iam
from policies.iam_actions import READ_ONLY_LEVELS, actions_by_level, expand

PACK_NAME = "pypi-registry-guardrails"
# Every rule blocks unless it says otherwise; `all` in the pack config can lower it.
PACK_ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY

# --- resource types and where their policy documents live ------------------------

DOMAIN_TYPES = ("aws:codeartifact/domain:Domain", "aws-native:codeartifact:Domain")
REPOSITORY_TYPES = ("aws:codeartifact/repository:Repository", "aws-native:codeartifact:Repository")
KMS_KEY_TYPES = ("aws:kms/key:Key", "aws-native:kms:Key")
PACKAGE_GROUP_TYPE = "aws-native:codeartifact:PackageGroup"

# CodeArtifact resource (permissions) policies: type -> property holding the document.
RESOURCE_POLICY_PROPS = {
    "aws:codeartifact/domainPermissions:DomainPermissions": "policyDocument",
    "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy": "policyDocument",
    "aws-native:codeartifact:Domain": "permissionsPolicyDocument",
    "aws-native:codeartifact:Repository": "permissionsPolicyDocument",
}
# Identity policies: type -> (property, size limit). Role inline policies are read from the role.
IDENTITY_POLICY_PROPS = {
    "aws:iam/policy:Policy": ("policy", MANAGED_POLICY_LIMIT),
    "aws:iam/rolePolicy:RolePolicy": ("policy", INLINE_ROLE_POLICY_LIMIT),
    "aws:iam/userPolicy:UserPolicy": ("policy", None),
    "aws:iam/groupPolicy:GroupPolicy": ("policy", None),
    "aws-native:iam:ManagedPolicy": ("policyDocument", MANAGED_POLICY_LIMIT),
    "aws-native:iam:RolePolicy": ("policyDocument", INLINE_ROLE_POLICY_LIMIT),
}
IDENTITY_POLICY_TYPES = frozenset(IDENTITY_POLICY_PROPS) | {"aws:iam/role:Role", "aws-native:iam:Role"}
ROLE_TRUST_PROPS = {
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws-native:iam:Role": "assumeRolePolicyDocument",
}

PUBLISH_ACTION = "codeartifact:PublishPackageVersion"
BEARER_TOKEN_ACTION = "sts:GetServiceBearerToken"  # noqa: S105 (an action name, not a secret)
GITHUB_AUD_KEY = f"{GITHUB_OIDC_HOST}:aud"
GITHUB_SUB_KEY = f"{GITHUB_OIDC_HOST}:sub"
# Principal conditions that narrow a `*` grant to known accounts.
PRINCIPAL_SCOPE_KEYS = ("aws:principalorgid", "aws:principalaccount")
# repo:OWNER/REPO:CONTEXT or repo:OWNER@ID/REPO@ID:CONTEXT, parsed loosely so that
# wildcards in any part can be reported rather than just failing to match.
GITHUB_SUBJECT = re.compile(r"^repo:(?P<owner>[^/:]*)/(?P<repo>[^:]*):(?P<context>.*)$")
PYPI_GROUP_PATTERN = re.compile(r"^/pypi//(?P<name>[^/~$*]*)(?P<kind>[~$])$")
EVERY_PYPI_PACKAGE = ("/pypi//*", "/pypi/*", "/*")

# --- configuration ------------------------------------------------------------------

ACCOUNT_ID_SCHEMA = {"type": "string", "pattern": "^[0-9]{12}$"}
CONFIG_PROPERTIES: dict[str, dict[str, Any]] = {
    "ownerAccountId": {
        **ACCOUNT_ID_SCHEMA,
        "description": "Account that owns the CodeArtifact domain; any other account is cross-account. "
        "Unset: the account each resource's provider is pinned to.",
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
}


def _schema(*keys: str) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={key: CONFIG_PROPERTIES[key] for key in keys})


def _config(args: ResourceValidationArgs | StackValidationArgs, key: str) -> Any:
    """A config value, or its schema default (the audit does not go through the CLI's defaulting)."""
    config = args.get_config() or {}
    value = config[key] if key in config else CONFIG_PROPERTIES[key].get("default")
    return iam.plain(value)


def _config_set(args: ResourceValidationArgs | StackValidationArgs, key: str, *, lower: bool = False) -> set[str]:
    values = {str(v) for v in iam.as_list(_config(args, key))}
    return {v.lower() for v in values} if lower else values


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


def _owner_account(args: ResourceValidationArgs) -> str | None:
    return _config(args, "ownerAccountId") or provider_account(args.provider)


def policy_config(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Spread one set of config values over the policies that declare them.

    The result is the `--policy-pack-config` file format: {policy name: {property: value}}.
    """
    unknown = set(values) - set(CONFIG_PROPERTIES)
    if unknown:
        raise KeyError(f"not policy pack config properties: {sorted(unknown)}")
    config = {}
    for policy in POLICIES:
        if policy.config_schema is None:
            continue
        properties = {k: values[k] for k in policy.config_schema.properties if k in values}
        if properties:
            config[policy.name] = properties
    return config


# --- reading props -------------------------------------------------------------------


def _get(props: Mapping[str, Any], *path: str) -> Any:
    """A nested prop, None when any step is absent."""
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _known(props: Mapping[str, Any], *path: str) -> Any:
    """Like _get, but None for a value unknown during preview (stack rules treat it conservatively)."""
    try:
        return _get(props, *path)
    except UnknownValueError:
        return None


Documents = list[tuple[str, dict[str, Any]]]


def _parsed(pairs: list[tuple[str, Any]]) -> Documents:
    """Parse (what, raw) pairs; invalid documents are reported by the limits policy, skipped here."""
    documents = []
    for what, raw in pairs:
        try:
            document = iam.parse_document(raw)
        except iam.InvalidDocumentError:
            continue
        if document is not None:
            documents.append((what, document))
    return documents


def _raw_resource_policy(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    key = RESOURCE_POLICY_PROPS.get(resource_type)
    return [("permissions policy", props.get(key))] if key else []


def _raw_identity_policies(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any, int | None]]:
    """(what, raw document, size limit) of every identity policy a resource declares."""
    if resource_type in IDENTITY_POLICY_PROPS:
        key, limit = IDENTITY_POLICY_PROPS[resource_type]
        return [("policy", props.get(key), limit)]
    found = []
    if resource_type == "aws:iam/role:Role":
        for index, inline in enumerate(iam.as_list(props.get("inlinePolicies"))):
            if isinstance(inline, Mapping):
                name = inline.get("name") or f"#{index + 1}"
                found.append((f"inline policy {name}", inline.get("policy"), INLINE_ROLE_POLICY_LIMIT))
    elif resource_type == "aws-native:iam:Role":
        for index, inline in enumerate(iam.as_list(props.get("policies"))):
            if isinstance(inline, Mapping):
                name = inline.get("policyName") or f"#{index + 1}"
                found.append((f"inline policy {name}", inline.get("policyDocument"), INLINE_ROLE_POLICY_LIMIT))
    return found


def resource_policies(resource_type: str, props: Mapping[str, Any]) -> Documents:
    return _parsed(_raw_resource_policy(resource_type, props))


def identity_policies(resource_type: str, props: Mapping[str, Any]) -> Documents:
    return _parsed([(what, raw) for what, raw, _ in _raw_identity_policies(resource_type, props)])


def trust_policy(resource_type: str, props: Mapping[str, Any]) -> Documents:
    key = ROLE_TRUST_PROPS.get(resource_type)
    return _parsed([("trust policy", props.get(key))]) if key else []


# --- actions ----------------------------------------------------------------------------


@cache
def codeartifact_grant(pattern: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(codeartifact actions matched, those not Read/List) for an action pattern.

    None when the pattern cannot name a codeartifact action (another service).
    """
    if pattern != iam.WILDCARD and ":" not in pattern:
        return None
    service = pattern.split(":", 1)[0]
    if not fnmatchcase("codeartifact", service.lower()):
        return None
    matched = tuple(expand(pattern))
    levels = actions_by_level()
    return matched, tuple(a for a in matched if levels[a] not in READ_ONLY_LEVELS)


@cache
def _codeartifact_writes() -> tuple[str, ...]:
    levels = actions_by_level()
    return tuple(a for a, level in levels.items() if level not in READ_ONLY_LEVELS)


def _non_read_only(statement: Mapping[str, Any]) -> list[str]:
    """Why an Allow statement grants more than Read/List codeartifact actions (empty when it does not)."""
    if "NotAction" in statement:
        writes = _writes_granted(statement)
        return [f"NotAction, which grants {_summary(writes)}"] if writes else []
    problems = []
    for pattern in iam.actions(statement):
        grant = codeartifact_grant(pattern)
        if grant is None:
            continue
        matched, writes = grant
        if not matched:
            problems.append(f"{pattern} (not a known codeartifact action)")
        elif writes:
            problems.append(pattern if writes == (pattern,) else f"{pattern} (matches {_summary(writes)})")
    return problems


def _writes_granted(statement: Mapping[str, Any]) -> list[str]:
    """The codeartifact actions beyond Read/List that an Allow statement grants."""
    if "NotAction" in statement:
        excluded = iam.as_list(statement.get("NotAction"))
        return [w for w in _codeartifact_writes() if not any(iam.matches(p, w) for p in excluded)]
    writes: list[str] = []
    for pattern in iam.actions(statement):
        grant = codeartifact_grant(pattern)
        if grant:
            writes += [w for w in grant[1] if w not in writes]
    return writes


def _summary(items: list[str] | tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- rule 1: no public grant -------------------------------------------------------------


def _scoped_to_accounts(statement: Mapping[str, Any]) -> bool:
    """A `*` grant is narrowed by StringEquals on the principal's organization or account.

    IfExists, ForAllValues, StringLike etc. do not count: each can be true for a
    principal outside every organization.
    """
    return any(
        operator == "StringEquals" and key in PRINCIPAL_SCOPE_KEYS and values
        and not any("*" in v or "?" in v for v in values)
        for operator, key, values in iam.conditions(statement)
    )


def validate_no_public_grant(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for what, document in resource_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            where = f"{what} {iam.label(statement, index)}"
            if "NotPrincipal" in statement:
                report(f"{where} allows with NotPrincipal, i.e. to everyone not listed; name the principals")
            elif (any(value == iam.WILDCARD for _, value in iam.principals(statement))
                  and not _scoped_to_accounts(statement)):
                report(
                    f'{where} grants to "*" without a StringEquals aws:PrincipalOrgID or '
                    "aws:PrincipalAccount condition: anyone on AWS could use it"
                )


# --- rule 1b: only allowed accounts or organization -----------------------------------------


def validate_allowed_principals(args: ResourceValidationArgs, report: ReportViolation) -> None:
    documents = resource_policies(args.resource_type, args.props)
    if not documents:
        return
    owner = _owner_account(args)
    allowed = _config_set(args, "allowedAccountIds") | ({owner} if owner else set())
    organization = _config(args, "allowedOrganizationId") or ""
    for what, document in documents:
        for index, statement in enumerate(iam.allow_statements(document)):
            where = f"{what} {iam.label(statement, index)}"
            for kind, value in iam.principals(statement):
                if kind != "AWS":
                    report(f"{where} grants to the {kind} principal {value}; only AWS accounts may be granted")
                elif value != iam.WILDCARD and iam.principal_account(value) not in allowed:
                    report(f"{where} grants to {value}, which is neither the owner account nor in allowedAccountIds")
            for operator, key, values in iam.conditions(statement):
                if operator != "StringEquals":
                    continue
                if key == "aws:principalorgid" and any(v != organization for v in values):
                    report(f"{where} grants to organization {values}, not the allowed organization "
                           f"{organization or '(none configured: set allowedOrganizationId)'}")
                if key == "aws:principalaccount":
                    outside = sorted(set(values) - allowed)
                    if outside:
                        report(f"{where} grants to accounts {outside}, which are not in allowedAccountIds")


# --- rule 2: cross-account principals read only ------------------------------------------------


def _outside_principals(statement: Mapping[str, Any], owner: str | None) -> list[str]:
    if "NotPrincipal" in statement:
        return ["everyone outside NotPrincipal"]
    return [
        value for kind, value in iam.principals(statement)
        if kind != "AWS" or owner is None or iam.principal_account(value) != owner
    ]


def validate_cross_account_read_only(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in RESOURCE_POLICY_PROPS and args.resource_type not in IDENTITY_POLICY_TYPES:
        return
    owner = _owner_account(args)
    for what, document in resource_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            outside = _outside_principals(statement, owner)
            problems = _non_read_only(statement) if outside else []
            if problems:
                report(
                    f"{what} {iam.label(statement, index)} grants {_summary(outside)} (outside owner account "
                    f"{owner or 'unknown'}) {'; '.join(problems)}: other accounts get Read and List actions only"
                )
    # Identity policies deployed into another account are that account's half of a
    # cross-account grant: they must be read-only as well.
    deployed_in = provider_account(args.provider)
    if owner is None or deployed_in is None or deployed_in == owner:
        return
    for what, document in identity_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            problems = _non_read_only(statement)
            if problems:
                report(
                    f"{what} {iam.label(statement, index)} in account {deployed_in} (not the owner {owner}) "
                    f"allows {'; '.join(problems)}: roles in other accounts get Read and List actions only"
                )


# --- rule 3: GitHub OIDC trust pinned to exact repositories -------------------------------------


def _trusts_github(statement: Mapping[str, Any]) -> bool:
    federated = [value for kind, value in iam.principals(statement) if kind == "Federated"]
    if any(GITHUB_OIDC_HOST in value for value in federated):
        return True
    # A provider ARN that is not spelled out still shows in the condition keys.
    return any(key.startswith(GITHUB_OIDC_HOST + ":") for _, key, _ in iam.conditions(statement))


def subject_problem(subject: str, allowed_owners: set[str]) -> str | None:
    """Why a GitHub `sub` value must not be trusted, or None when it names exact repositories."""
    match = GITHUB_SUBJECT.match(subject)
    if not match:
        return f"sub {subject!r} is not repo:OWNER/REPO:CONTEXT"
    owner_part, repo_part, context = match["owner"], match["repo"], match["context"]
    if any(c in owner_part + repo_part for c in "*?"):
        return f"sub {subject!r} has a wildcard in the owner or repository; list exact repositories"
    owner = owner_part.split("@", 1)[0]
    if not owner or not repo_part.split("@", 1)[0]:
        return f"sub {subject!r} has an empty owner or repository"
    if owner.lower() not in allowed_owners:
        return f"sub {subject!r} names owner {owner!r}, not one of allowedGithubOwners {sorted(allowed_owners)}"
    if "pull_request" in context or iam.matches(context, "pull_request"):
        return f"sub {subject!r} lets pull_request workflows assume the role"
    if not context.startswith(("environment:", "ref:refs/")):
        return f"sub {subject!r} must end in :environment:NAME or :ref:refs/heads|tags/NAME"
    return None


def validate_github_trust(args: ResourceValidationArgs, report: ReportViolation) -> None:
    documents = trust_policy(args.resource_type, args.props)
    if not documents:
        return
    allowed_owners = _config_set(args, "allowedGithubOwners", lower=True)
    for what, document in documents:
        for index, statement in enumerate(iam.allow_statements(document)):
            if not _trusts_github(statement):
                continue
            where = f"{what} {iam.label(statement, index)}"
            for operator, key, _ in iam.conditions(statement):
                if operator.lower().startswith("forallvalues:") or operator.lower().endswith("ifexists"):
                    report(f"{where} uses {operator} on {key}: it holds when the claim is absent")
            audiences = iam.condition_entries(statement, GITHUB_AUD_KEY)
            if not any(op == "StringEquals" for op, _ in audiences):
                report(f"{where} does not pin {GITHUB_AUD_KEY} with StringEquals to {GITHUB_OIDC_AUDIENCE}")
            for operator, values in audiences:
                if operator == "StringEquals" and values != [GITHUB_OIDC_AUDIENCE]:
                    report(f"{where} accepts audiences {values}; only {GITHUB_OIDC_AUDIENCE}")
            subjects = iam.condition_entries(statement, GITHUB_SUB_KEY)
            if not subjects:
                report(f"{where} has no {GITHUB_SUB_KEY} condition: any GitHub repository could assume the role")
            for operator, values in subjects:
                if operator not in ("StringEquals", "StringLike"):
                    report(f"{where} tests {GITHUB_SUB_KEY} with {operator}; use StringEquals with exact subjects")
                    continue
                for subject in values:
                    problem = subject_problem(subject, allowed_owners)
                    if problem:
                        report(f"{where}: {problem}")


# --- rule 4: bearer tokens only for CodeArtifact, only in identity policies ----------------------


def validate_bearer_token(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for what, document in resource_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.statements(document)):
            named = [a for a in iam.actions(statement)
                     if a.lower().startswith("sts:") and iam.matches(a, BEARER_TOKEN_ACTION)]
            if named:
                report(f"{what} {iam.label(statement, index)} names {named[0]}: it has no effect in a "
                       "resource policy; grant it in the reader's identity policy")
    for what, document in identity_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            if not iam.grants_action(statement, BEARER_TOKEN_ACTION):
                continue
            entries = iam.condition_entries(statement, "sts:AWSServiceName")
            pinned = [values for operator, values in entries if operator == "StringEquals"]
            if not pinned or len(entries) != len(pinned) or any(v != [CODEARTIFACT_SERVICE] for v in pinned):
                report(f"{what} {iam.label(statement, index)} allows {BEARER_TOKEN_ACTION} without the condition "
                       f'StringEquals sts:AWSServiceName = "{CODEARTIFACT_SERVICE}" (and nothing else)')


# --- rule 5: no codeartifact write on every resource ---------------------------------------------


def validate_no_wildcard_write(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for what, document in identity_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            writes = _writes_granted(statement)
            if not writes:
                continue
            where = f"{what} {iam.label(statement, index)}"
            every_action = [a for a in iam.actions(statement) if a.lower() in ("*", "codeartifact:*")]
            if every_action or "NotAction" in statement:
                report(f"{where} allows {every_action[0] if every_action else 'NotAction'}, i.e. every "
                       "codeartifact write; list the actions needed")
            anywhere = [r for r in iam.resources(statement) if iam.is_any_resource(r)]
            if anywhere:
                report(f"{where} allows {_summary(writes)} on {anywhere[0]}; name the domain, "
                       "repository or package ARNs")


# --- rule 6: one allowed external connection, nothing else in that repository ---------------------


def _external_connections(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    connections = props.get("externalConnections")
    names = []
    for item in iam.as_list(connections):
        # Classic: {"externalConnectionName": "public:pypi"}; aws-native: a list of names.
        names.append(str(item.get("externalConnectionName")) if isinstance(item, Mapping) else str(item))
    return names


def validate_external_connection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in REPOSITORY_TYPES:
        return
    connections = _external_connections(args.resource_type, args.props)
    if not connections:
        return
    allowed = _config_set(args, "allowedExternalConnections")
    if len(connections) > 1:
        report(f"has {len(connections)} external connections {connections}; CodeArtifact allows one per repository")
    for name in connections:
        if name not in allowed:
            report(f"external connection {name!r} is not in allowedExternalConnections {sorted(allowed)}")
    if iam.as_list(args.props.get("upstreams")):
        report("has an external connection and upstream repositories; a repository with an external "
               "connection has no other use")


# --- rule 9: documents within AWS limits ------------------------------------------------------------


def _size_checks(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any, int | None, bool]]:
    """(what, raw document, size limit, measured as sent) for every document of a resource."""
    checks: list[tuple[str, Any, int | None, bool]] = [
        # The CodeArtifact limit is on the document as sent.
        (what, raw, RESOURCE_POLICY_LIMIT, True) for what, raw in _raw_resource_policy(resource_type, props)
    ]
    # IAM does not count whitespace, so an IAM document is measured compact.
    checks += [(what, raw, limit, False) for what, raw, limit in _raw_identity_policies(resource_type, props)]
    if resource_type in ROLE_TRUST_PROPS:
        checks.append(("trust policy", props.get(ROLE_TRUST_PROPS[resource_type]), TRUST_POLICY_LIMIT, False))
    return checks


def validate_document_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for what, raw, limit, as_sent in _size_checks(args.resource_type, args.props):
        try:
            document = iam.parse_document(raw)
        except iam.InvalidDocumentError as error:
            report(f"{what} {error}")
            continue
        if document is None or limit is None:
            continue
        size = len(iam.document_text(raw)) if as_sent else iam.compact_length(raw)
        if size > limit:
            report(f"{what} is {size} characters, over the AWS limit of {limit}")


# --- stack rules ----------------------------------------------------------------------------------


def _of_type(args: StackValidationArgs, types: tuple[str, ...] | str) -> list[PolicyResource]:
    types = (types,) if isinstance(types, str) else types
    return [r for r in args.resources if r.resource_type in types]


def can_start_with(pattern: str, text: str) -> bool:
    """Can some string that starts with `text` match the IAM pattern (`*` and `?` wildcards)?

    Used to ask whether a Resource pattern covers any package of a repository, i.e.
    any ARN under `arn:...:package/DOMAIN/REPOSITORY/`.
    """

    def closure(states: set[int]) -> set[int]:
        # A `*` may match nothing, so the position after it is reachable too.
        pending, reached = list(states), set(states)
        while pending:
            position = pending.pop()
            if position < len(pattern) and pattern[position] == "*" and position + 1 not in reached:
                reached.add(position + 1)
                pending.append(position + 1)
        return reached

    states = closure({0})
    for char in text:
        following = set()
        for position in states:
            if position < len(pattern):
                wanted = pattern[position]
                if wanted == "*":
                    following.add(position)
                elif wanted in ("?", char):
                    following.add(position + 1)
        states = closure(following)
        if not states:
            return False
    # Whatever is left of the pattern, some package name matches it.
    return True


def _repository_packages(repository: PolicyResource) -> tuple[str | None, str]:
    """(ARN prefix of every package in the repository, or None when unknown; resource-part prefix).

    A name unknown during preview shortens the resource-part prefix to what is known,
    so that an unknown never hides a grant.
    """
    props = repository.props
    domain = _known(props, "domain") or _known(props, "domainName")
    name = _known(props, "repository") or _known(props, "repositoryName")
    resource_prefix = "package/" + "".join(f"{part}/" for part in (domain, name) if part)
    if domain is None and name is not None:
        resource_prefix = "package/"
    arn = _known(props, "arn")
    if isinstance(arn, str) and ":repository/" in arn:
        return arn.replace(":repository/", ":package/", 1) + "/", resource_prefix
    region = _known(repository.provider.props, "region") if repository.provider else None
    account = _known(props, "domainOwner") or provider_account(repository.provider)
    if region and account and domain and name:
        return f"arn:aws:codeartifact:{region}:{account}:{resource_prefix}", resource_prefix
    return None, resource_prefix


def _covers_packages(pattern: str, arn_prefix: str | None, resource_prefix: str) -> bool:
    """Does a Resource pattern cover any package of the repository?"""
    if pattern == iam.WILDCARD:
        return True
    if arn_prefix is not None:
        return can_start_with(pattern, arn_prefix)
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        # A wildcard spanning the ARN's colons: it may cover anything.
        return "*" in pattern
    return can_start_with(parts[5], resource_prefix)


def _granted_repository(resource: PolicyResource) -> str | None:
    """The one repository a resource policy applies to; None for a domain policy (all of them)."""
    if resource.resource_type == "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy":
        return _known(resource.props, "repository")
    if resource.resource_type == "aws-native:codeartifact:Repository":
        return _known(resource.props, "repositoryName")
    return None


def validate_store_has_no_publishers(args: StackValidationArgs, report: ReportViolation) -> None:
    stores = []
    for repository in _of_type(args, REPOSITORY_TYPES):
        try:
            connections = _external_connections(repository.resource_type, repository.props)
        except UnknownValueError:
            continue
        if connections:
            name = _known(repository.props, "repository") or _known(repository.props, "repositoryName")
            stores.append((name, connections, *_repository_packages(repository)))
    if not stores:
        return
    for resource in args.resources:
        props = resource.props
        try:
            documents = identity_policies(resource.resource_type, props)
            documents += resource_policies(resource.resource_type, props)
        except UnknownValueError:
            continue
        granted_repository = _granted_repository(resource)
        for what, document in documents:
            for index, statement in enumerate(iam.allow_statements(document)):
                if not iam.grants_action(statement, PUBLISH_ACTION):
                    continue
                for name, connections, arn_prefix, resource_prefix in stores:
                    if granted_repository is not None and name is not None and granted_repository != name:
                        continue
                    if any(_covers_packages(r, arn_prefix, resource_prefix) for r in iam.resources(statement)):
                        report(
                            f"{resource.name}: {what} {iam.label(statement, index)} allows {PUBLISH_ACTION} "
                            f"into {name or 'a repository'} with external connection {connections[0]}; publish "
                            "only to the internal repository",
                            resource.urn,
                        )


def validate_registry_protected(args: StackValidationArgs, report: ReportViolation) -> None:
    for resource in _of_type(args, DOMAIN_TYPES + REPOSITORY_TYPES + KMS_KEY_TYPES):
        if not resource.opts.protect:
            report(f"{resource.name} ({resource.resource_type}) is not protected: deleting or replacing it "
                   "loses every package; set protect=True and retain_on_delete=True", resource.urn)


def _external_upstream_mode(group: PolicyResource) -> str | None:
    return _known(group.props, "originConfiguration", "restrictions", "externalUpstream", "restrictionMode")


def validate_prefixes_block_external(args: StackValidationArgs, report: ReportViolation) -> None:
    groups = []
    for group in _of_type(args, PACKAGE_GROUP_TYPE):
        pattern = _known(group.props, "pattern")
        if pattern is not None:
            groups.append((str(pattern), group))
    for prefix in sorted(_config_set(args, "internalPrefixes")):
        covering = []  # groups whose pattern covers every name under the prefix
        narrower = []  # groups for names under the prefix: they override the covering one
        for pattern, group in groups:
            match = PYPI_GROUP_PATTERN.match(pattern)
            if pattern in EVERY_PYPI_PACKAGE or (match and match["kind"] == "~" and prefix.startswith(match["name"])):
                covering.append((len(pattern), pattern, group))
            elif match and match["name"].startswith(prefix):
                narrower.append((pattern, group))
        if not covering:
            report(f"internal prefix {prefix!r} has no package group (/pypi//{prefix}~): its names could "
                   "come from public PyPI (dependency confusion)")
            continue
        # CodeArtifact applies the most specific matching group.
        _, pattern, group = max(covering, key=lambda found: found[0])
        mode = _external_upstream_mode(group)
        if mode != "BLOCK":
            report(f"package group {pattern} for internal prefix {prefix!r} has external upstream {mode}, "
                   "not BLOCK", group.urn)
        for pattern, group in narrower:
            mode = _external_upstream_mode(group)
            if mode not in ("BLOCK", "INHERIT"):
                report(f"package group {pattern} under internal prefix {prefix!r} has external upstream "
                       f"{mode}, not BLOCK", group.urn)


def validate_domain_key(args: StackValidationArgs, report: ReportViolation) -> None:
    keys = _of_type(args, KMS_KEY_TYPES)
    for domain in _of_type(args, DOMAIN_TYPES):
        key_ref = _known(domain.props, "encryptionKey")
        candidates = [r for r in domain.property_dependencies.get("encryptionKey", [])
                      if r.resource_type in KMS_KEY_TYPES]
        candidates += [k for k in keys if key_ref and key_ref in (_known(k.props, "arn"), _known(k.props, "keyId"))]
        if not key_ref and not candidates:
            report(f"{domain.name} has no encryptionKey: it is encrypted with the AWS managed key, which "
                   "cannot be rotated or restricted by key policy", domain.urn)
        elif not candidates:
            report(f"{domain.name} uses key {key_ref}, which this stack does not manage: its rotation "
                   "cannot be checked", domain.urn)
        for key in {k.urn: k for k in candidates}.values():
            if _known(key.props, "enableKeyRotation") is not True:
                report(f"{domain.name} uses KMS key {key.name}, which does not have enableKeyRotation", key.urn)


# --- the pack ---------------------------------------------------------------------------------------


def _resource_policy(name: str, description: str, validate: Callable, *config_keys: str,
                     enforcement: EnforcementLevel = PACK_ENFORCEMENT_LEVEL) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=enforcement,
        config_schema=_schema(*config_keys) if config_keys else None,
    )


def _stack_policy(name: str, description: str, validate: Callable, *config_keys: str,
                  enforcement: EnforcementLevel = PACK_ENFORCEMENT_LEVEL) -> StackValidationPolicy:
    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=enforcement,
        config_schema=_schema(*config_keys) if config_keys else None,
    )


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    _resource_policy(
        "codeartifact-no-unconditioned-public-grant",
        'CodeArtifact domain and repository policies grant to "*" only under a StringEquals '
        "aws:PrincipalOrgID or aws:PrincipalAccount condition.",
        validate_no_public_grant,
    ),
    _resource_policy(
        "codeartifact-grants-only-to-allowed-accounts",
        "CodeArtifact domain and repository policies grant only to the owner account, the allowed "
        "secondary accounts or the allowed organization.",
        validate_allowed_principals, "ownerAccountId", "allowedAccountIds", "allowedOrganizationId",
    ),
    _resource_policy(
        "cross-account-codeartifact-read-only",
        "Principals outside the owner account, and policies deployed into other accounts, get only "
        "Read and List codeartifact actions.",
        validate_cross_account_read_only, "ownerAccountId",
    ),
    _resource_policy(
        "github-oidc-trust-pinned",
        "Roles trusting token.actions.githubusercontent.com pin aud to sts.amazonaws.com and sub to exact "
        "repositories of allowed owners, never pull_request.",
        validate_github_trust, "allowedGithubOwners",
    ),
    _resource_policy(
        "bearer-token-codeartifact-only",
        "sts:GetServiceBearerToken is allowed only with sts:AWSServiceName = codeartifact.amazonaws.com, "
        "and only in identity policies.",
        validate_bearer_token,
    ),
    _resource_policy(
        "no-codeartifact-write-on-any-resource",
        'Identity policies never allow codeartifact:* or a codeartifact write action on Resource "*".',
        validate_no_wildcard_write,
    ),
    _resource_policy(
        "repository-external-connection-allowed",
        "A repository has at most one external connection, from the allowed list, and then no upstreams.",
        validate_external_connection, "allowedExternalConnections",
    ),
    _stack_policy(
        "external-connection-repository-has-no-publishers",
        "Nothing may publish into a repository that has an external connection.",
        validate_store_has_no_publishers,
    ),
    _stack_policy(
        "registry-resources-protected",
        "The CodeArtifact domain, its repositories and KMS keys are protected against deletion.",
        validate_registry_protected,
    ),
    _stack_policy(
        "internal-prefixes-block-external-upstream",
        "Every internal package name prefix has a package group that blocks external upstreams.",
        validate_prefixes_block_external, "internalPrefixes",
    ),
    _resource_policy(
        "policy-documents-within-aws-limits",
        "Every policy document is valid JSON and under its AWS size limit "
        f"({RESOURCE_POLICY_LIMIT} CodeArtifact resource policy, {TRUST_POLICY_LIMIT} trust policy, "
        f"{MANAGED_POLICY_LIMIT} managed policy).",
        validate_document_limits,
    ),
    _stack_policy(
        "domain-key-customer-managed-with-rotation",
        "The CodeArtifact domain is encrypted with a customer-managed KMS key that has rotation on.",
        validate_domain_key, enforcement=EnforcementLevel.ADVISORY,
    ),
]
