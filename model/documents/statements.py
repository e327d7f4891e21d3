"""The statements several documents share: the readers' principal, the bearer token, and the Denies that
everyone but some roles get."""

from __future__ import annotations

from typing import Any

from model.documents.actions import CODEARTIFACT_SERVICE
from model.settings import Settings


def bearer_token_statement() -> dict[str, Any]:
    """`sts:GetServiceBearerToken` works only in identity policies, and only for CodeArtifact here."""
    return {
        "Sid": "BearerTokenForCodeArtifactOnly",
        "Effect": "Allow",
        "Action": "sts:GetServiceBearerToken",
        "Resource": "*",
        "Condition": {"StringEquals": {"sts:AWSServiceName": CODEARTIFACT_SERVICE}},
    }


def reader_principal(settings: Settings) -> tuple[Any, dict[str, Any] | None]:
    """Who may read: the whole organization, or the explicit secondary accounts."""
    if settings.organization_mode:
        return "*", {"StringEquals": {"aws:PrincipalOrgID": settings.organization_id}}
    roots = [f"arn:aws:iam::{account}:root" for account in settings.secondary_account_ids]
    return {"AWS": roots[0] if len(roots) == 1 else roots}, None


def has_readers(settings: Settings) -> bool:
    return settings.organization_mode or bool(settings.secondary_account_ids)


def allow_readers(sid: str, settings: Settings, actions: tuple[str, ...], resources: list[str]) -> dict[str, Any]:
    principal, condition = reader_principal(settings)
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": list(actions),
        "Resource": resources[0] if len(resources) == 1 else resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def deny_everyone_but(sid: str, actions: tuple[str, ...], exempt: list[str]) -> dict[str, Any]:
    """Deny `actions` on every resource to every principal, except the roles in `exempt`."""
    deny: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": list(actions), "Resource": "*"}
    if exempt:
        deny["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": exempt[0] if len(exempt) == 1 else exempt}}
    return deny


def deny_one_outside(sid: str, actions: tuple[str, ...], role_arn: str, allowed: list[str]) -> dict[str, Any]:
    """Deny `actions` to one role on every resource but `allowed`: what confines a role a broader Deny exempts."""
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": list(actions),
            "NotResource": allowed[0] if len(allowed) == 1 else allowed,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arn}}}
