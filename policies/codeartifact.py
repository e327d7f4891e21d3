"""CodeArtifact resource policies: who outside the owner account may do what on the registry."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ResourceValidationArgs

from . import config as cfg
from . import grants
from . import iam_documents as iam
from . import props as props_
from .props import IDENTITY_POLICY_TYPES, REPOSITORY_TYPES, RESOURCE_POLICY_PROPS
from .stacksets import validate_template_read_only
from .templates import STACK_SET_TYPES

# Principal conditions that narrow a `*` grant to known accounts.
PRINCIPAL_SCOPE_KEYS = ("aws:principalorgid", "aws:principalaccount")


# --- no public grant -------------------------------------------------------------


def _scoped_to_accounts(statement: Mapping[str, object]) -> bool:
    """A `*` grant is narrowed by StringEquals on the principal's organization or account.

    IfExists, ForAllValues, StringLike etc. do not count: each can be true for a
    principal outside every organization.
    """
    return any(
        operator == "StringEquals" and key in PRINCIPAL_SCOPE_KEYS and values
        and not any("*" in v or "?" in v for v in values)
        for operator, key, values in iam.conditions(statement)
    )


def validate_no_public_grant(args: ResourceValidationArgs, report: cfg.Report) -> None:
    for what, document in props_.resource_policies(args.resource_type, args.props):
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


# --- only allowed accounts or organization -----------------------------------------


def validate_allowed_principals(args: ResourceValidationArgs, report: cfg.Report) -> None:
    documents = props_.resource_policies(args.resource_type, args.props)
    if not documents:
        return
    owner = cfg.owner_account(args)
    allowed = cfg.config_set(args, "allowedAccountIds") | ({owner} if owner else set())
    organization = cfg.config_str(args, "allowedOrganizationId")
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


# --- cross-account principals read only ------------------------------------------------


def _outside_principals(statement: Mapping[str, object], owner: str | None) -> list[str]:
    if "NotPrincipal" in statement:
        return ["everyone outside NotPrincipal"]
    return [
        value for kind, value in iam.principals(statement)
        if kind != "AWS" or owner is None or iam.principal_account(value) != owner
    ]


def validate_cross_account_read_only(args: ResourceValidationArgs, report: cfg.Report) -> None:
    if args.resource_type not in RESOURCE_POLICY_PROPS and args.resource_type not in IDENTITY_POLICY_TYPES:
        return
    owner = cfg.owner_account(args)
    for what, document in props_.resource_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            outside = _outside_principals(statement, owner)
            problems = grants.non_read_only(statement) if outside else []
            if problems:
                report(
                    f"{what} {iam.label(statement, index)} grants {grants.summary(outside)} (outside owner account "
                    f"{owner or 'unknown'}) {'; '.join(problems)}: other accounts get Read and List actions only"
                )
    # Identity policies deployed into another account are that account's half of a
    # cross-account grant: they must be read-only as well. A provider not pinned to one
    # account, or no known owner, could be anywhere: treated as another account. A StackSet's
    # template goes into the member accounts, whichever account its provider is pinned to, and
    # may only read there, in every service.
    if args.resource_type in STACK_SET_TYPES:
        validate_template_read_only(args, report)
        return
    # Only a configured owner counts here: the provider's own account would make every pinned
    # provider the owner's, and an unknown account equals no other.
    configured_owner = cfg.config_str(args, "ownerAccountId") or None
    deployed_in = cfg.provider_account(args.provider)
    if configured_owner is not None and deployed_in == configured_owner:
        return
    for what, document in props_.identity_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            problems = grants.non_read_only(statement)
            if problems:
                where = deployed_in or "(provider not pinned to one account)"
                report(
                    f"{what} {iam.label(statement, index)} in account {where} "
                    f"(not the owner {configured_owner or '(unknown: set ownerAccountId)'}) allows "
                    f"{'; '.join(problems)}: roles in other accounts get Read and List actions only"
                )

# --- one allowed external connection, nothing else in that repository ---------------------


def external_connections(resource_type: str, props: Mapping[str, object]) -> list[str]:
    connections = props.get("externalConnections")
    names = []
    for item in iam.as_list(connections):
        # Classic: {"externalConnectionName": "public:pypi"}; aws-native: a list of names.
        names.append(str(item.get("externalConnectionName")) if isinstance(item, Mapping) else str(item))
    return names


def validate_external_connection(args: ResourceValidationArgs, report: cfg.Report) -> None:
    if args.resource_type not in REPOSITORY_TYPES:
        return
    connections = external_connections(args.resource_type, args.props)
    if not connections:
        return
    allowed = cfg.config_set(args, "allowedExternalConnections")
    if len(connections) > 1:
        report(f"has {len(connections)} external connections {connections}; CodeArtifact allows one per repository")
    for name in connections:
        if name not in allowed:
            report(f"external connection {name!r} is not in allowedExternalConnections {sorted(allowed)}")
    if iam.as_list(args.props.get("upstreams")):
        report("has an external connection and upstream repositories; a repository with an external "
               "connection has no other use")



POLICIES: list[cfg.Guardrail] = [
    cfg.resource_policy(
        "codeartifact-no-unconditioned-public-grant",
        'CodeArtifact domain and repository policies grant to "*" only under a StringEquals '
        "aws:PrincipalOrgID or aws:PrincipalAccount condition.",
        validate_no_public_grant,
    ),
    cfg.resource_policy(
        "codeartifact-grants-only-to-allowed-accounts",
        "CodeArtifact domain and repository policies grant only to the owner account, the allowed "
        "secondary accounts or the allowed organization.",
        validate_allowed_principals, "ownerAccountId", "allowedAccountIds", "allowedOrganizationId",
    ),
    cfg.resource_policy(
        "cross-account-codeartifact-read-only",
        "Principals outside the owner account, and policies deployed into other accounts (or by a provider "
        "not pinned to the owner account), get only Read and List codeartifact actions; the roles and policies "
        "of a StackSet template, deployed into every member account, only Read and List actions of any service.",
        validate_cross_account_read_only, "ownerAccountId",
    ),
    cfg.resource_policy(
        "repository-external-connection-allowed",
        "A repository has at most one external connection, from the allowed list, and then no upstreams.",
        validate_external_connection, "allowedExternalConnections",
    ),
]
