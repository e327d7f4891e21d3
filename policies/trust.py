"""Role trust policies: who may become a role the stack declares."""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from pulumi_policy import ResourceValidationArgs

from . import config as cfg
from . import iam_documents as iam
from . import props as props_
from .aws_facts import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST
from .stack import can_start_with
from .templates import STACK_SET_TYPES

GITHUB_AUD_KEY = f"{GITHUB_OIDC_HOST}:aud"
GITHUB_SUB_KEY = f"{GITHUB_OIDC_HOST}:sub"
GITHUB_PROVIDER_SUFFIX = f":oidc-provider/{GITHUB_OIDC_HOST}"
# repo:OWNER/REPO:CONTEXT or repo:OWNER@ID/REPO@ID:CONTEXT, parsed loosely so that
# wildcards in any part can be reported rather than just failing to match.
GITHUB_SUBJECT = re.compile(r"^repo:(?P<owner>[^/:]*)/(?P<repo>[^:]*):(?P<context>.*)$")
# The contexts a publishing job can run in: a protected environment, a branch or a tag.
GITHUB_CONTEXT = re.compile(r"^(environment:[^:]+|ref:refs/(heads|tags)/[^:]+)$")


PULL_REQUEST_CONTEXT = "pull_request"


def subject_repository(subject: str) -> tuple[str, bool] | None:
    """(owner/name in lower case, IDs dropped; whether it is the immutable OWNER@ID/NAME@ID form) of a
    GitHub `sub` value, or None when it is not repo:OWNER/REPO:CONTEXT."""
    match = GITHUB_SUBJECT.match(subject)
    if match is None:
        return None
    repository = f"{match['owner'].split('@', 1)[0]}/{match['repo'].split('@', 1)[0]}".lower()
    return repository, "@" in match["owner"]


def _pull_request_subject(value: str, like: bool) -> bool:
    """Could a pull request job's subject (`repo:OWNER/REPO:pull_request`) equal `value`, or match it as
    a StringLike pattern? Some string ending in `:pull_request` matches the pattern exactly when its
    reverse can start with the reverse of that suffix."""
    if like and any(c in value for c in "*?"):
        return can_start_with(value[::-1], f":{PULL_REQUEST_CONTEXT}"[::-1])
    match = GITHUB_SUBJECT.match(value)
    return match is not None and match["context"] == PULL_REQUEST_CONTEXT


def trusts_pull_requests(statement: Mapping[str, object]) -> bool:
    """Could a GitHub trust statement let pull request jobs in? Only a StringEquals or StringLike on `sub`
    whose every value excludes a `...:pull_request` subject keeps them out (conditions are ANDed); a
    statement without one, or testing `sub` with any other operator, is taken to let them in."""
    for operator, values in iam.condition_entries(statement, GITHUB_SUB_KEY):
        if operator in ("StringEquals", "StringLike") and not any(
                _pull_request_subject(value, operator == "StringLike") for value in values):
            return False
    return True


def trusts_github(statement: Mapping[str, object]) -> bool:
    federated = [value for kind, value in iam.principals(statement) if kind == "Federated"]
    if any(GITHUB_OIDC_HOST in value for value in federated):
        return True
    # A provider ARN that is not spelled out still shows in the condition keys.
    return any(key.startswith(GITHUB_OIDC_HOST + ":") for _, key, _ in iam.conditions(statement))


def subject_problem(subject: str, allowed_owners: AbstractSet[str]) -> str | None:
    """Why a GitHub `sub` value must not be trusted, or None when it names one exact context."""
    if any(c in subject for c in "*?"):
        return (f"sub {subject!r} has a wildcard; list exact subjects (repo:OWNER/REPO:environment:NAME, "
                ":ref:refs/heads/BRANCH or :ref:refs/tags/TAG)")
    match = GITHUB_SUBJECT.match(subject)
    if not match:
        return f"sub {subject!r} is not repo:OWNER/REPO:CONTEXT"
    owner_part, repo_part, context = match["owner"], match["repo"], match["context"]
    owner = owner_part.split("@", 1)[0]
    if not owner or not repo_part.split("@", 1)[0]:
        return f"sub {subject!r} has an empty owner or repository"
    if owner.lower() not in allowed_owners:
        return f"sub {subject!r} names owner {owner!r}, not one of allowedGithubOwners {sorted(allowed_owners)}"
    # `pull_request` itself is left to the stack rule github-roles-publish-only-own-packages,
    # which sees the role's permissions: only a read-only role may trust it.
    if context == PULL_REQUEST_CONTEXT:
        return None
    # A pull request job's subject is `pull_request` or `environment:NAME`, never `ref:`; so a
    # branch may well be named fix-pull_request-parsing, but nothing else may say pull_request.
    if "pull_request" in context and not context.startswith(("ref:refs/heads/", "ref:refs/tags/")):
        return f"sub {subject!r} lets pull_request workflows assume the role"
    if not GITHUB_CONTEXT.match(context):
        return f"sub {subject!r} must end in :environment:NAME or :ref:refs/heads|tags/NAME"
    return None


def validate_github_trust(args: ResourceValidationArgs, report: cfg.Report) -> None:
    documents = props_.trust_policy(args.resource_type, args.props)
    if not documents:
        return
    allowed_owners = cfg.config_set(args, "allowedGithubOwners", lower=True)
    for what, document in documents:
        for index, statement in enumerate(iam.allow_statements(document)):
            if not trusts_github(statement):
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


def validate_trusted_principals(args: ResourceValidationArgs, report: cfg.Report) -> None:
    documents = props_.trust_policy(args.resource_type, args.props)
    if not documents:
        return
    if args.resource_type in STACK_SET_TYPES:
        _validate_member_trust(documents, report)
        return
    owner = cfg.owner_account(args)
    own_account = cfg.provider_account(args.provider)
    accounts = cfg.config_set(args, "allowedAccountIds") | {a for a in (owner, own_account) if a}
    for what, document in documents:
        for index, statement in enumerate(iam.allow_statements(document)):
            where = f"{what} {iam.label(statement, index)}"
            if "NotPrincipal" in statement:
                report(f"{where} trusts everyone outside NotPrincipal; name the principals")
                continue
            for kind, value in iam.principals(statement):
                if kind == "AWS" and value == iam.WILDCARD:
                    report(f'{where} trusts "*": any AWS principal could try to assume the role; name accounts '
                           "or roles")
                elif kind == "AWS" and iam.principal_account(value) not in accounts:
                    report(f"{where} trusts {value}, which is neither the owner account, the role's own account "
                           f"nor in allowedAccountIds {sorted(accounts)}")
                elif kind == "Federated" and not (
                    value.endswith(GITHUB_PROVIDER_SUFFIX) and iam.principal_account(value) in accounts
                ):
                    report(f"{where} trusts the web identity or SAML provider {value}; only the GitHub OIDC "
                           f"provider of the owner account ({GITHUB_OIDC_HOST}) may be trusted")
                elif kind not in ("AWS", "Federated", "Service"):
                    report(f"{where} trusts a principal of unknown kind {kind}: {value}")


def _validate_member_trust(documents: props_.Documents, report: cfg.Report) -> None:
    """A role a StackSet puts into every member account may be assumed by that account's own principals
    only: not by the owner, another account, a service or a web identity (each member would trust it)."""
    for what, document in documents:
        for index, statement in enumerate(iam.allow_statements(document)):
            where = f"{what} {iam.label(statement, index)}"
            if "NotPrincipal" in statement:
                report(f"{where} trusts everyone outside NotPrincipal; name the member account itself")
                continue
            for kind, value in iam.principals(statement):
                if kind == "AWS" and iam.principal_account(value) == iam.MEMBER_ACCOUNT:
                    continue
                shown = '"*"' if kind == "AWS" and value == iam.WILDCARD else f"{kind} {value}"
                report(f"{where} trusts {shown}: a role the StackSet deploys into every member account may be "
                       f"assumed only by that account's own principals (arn:aws:iam::{iam.MEMBER_ACCOUNT}:root "
                       "through Fn::Sub)")


POLICIES: list[cfg.Guardrail] = [
    cfg.resource_policy(
        "role-trust-known-principals",
        'Role trust policies never trust "*" or NotPrincipal, only the owner, the role\'s own and the allowed '
        "accounts, and no web identity or SAML provider but the owner account's GitHub OIDC provider; a role "
        "in a StackSet template trusts only the member account it is deployed into.",
        validate_trusted_principals, "ownerAccountId", "allowedAccountIds",
    ),
    cfg.resource_policy(
        "github-oidc-trust-pinned",
        "Roles trusting token.actions.githubusercontent.com pin aud to sts.amazonaws.com and sub to exact "
        "subjects (no wildcard anywhere) of allowed owners; `pull_request` only for read-only roles "
        "(github-roles-publish-only-own-packages).",
        validate_github_trust, "allowedGithubOwners",
    ),
]
