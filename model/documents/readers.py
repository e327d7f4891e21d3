"""The read-only reader role of each secondary account (and of the StackSet's template): its identity and trust
policies, and what makes a document a CloudFormation one."""

from __future__ import annotations

from typing import Any

from model.documents.actions import DOMAIN_READ_ACTIONS, REPOSITORY_READ_ACTIONS
from model.documents.statements import bearer_token_statement
from model.settings import Settings
from model.trust_policy import VERSION, PolicyDocument


def reader_identity_policy(settings: Settings) -> PolicyDocument:
    """Managed policy in each secondary account: read the owner's registry, nothing else."""
    repository_resources: list[str] = []
    for repository in settings.readable_repositories:
        repository_resources += [settings.repository_arn(repository), settings.package_arn(repository)]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "CodeArtifactDomainRead",
                "Effect": "Allow",
                "Action": list(DOMAIN_READ_ACTIONS),
                "Resource": settings.domain_arn,
            },
            {
                "Sid": "CodeArtifactRepositoryRead",
                "Effect": "Allow",
                "Action": list(REPOSITORY_READ_ACTIONS),
                "Resource": repository_resources,
            },
            bearer_token_statement(),
        ],
    }


def reader_trust_policy(account_id: str) -> PolicyDocument:
    """The reader role may be assumed by the secondary account's own principals (as IAM allows them).

    For the StackSet template, `account_id` is `MEMBER_ACCOUNT` and `cloudformation_sub` makes
    CloudFormation put in each member account's own ID."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "SameAccountPrincipals",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


# The account a StackSet instance is deployed into, as a CloudFormation template names it.
MEMBER_ACCOUNT = "${AWS::AccountId}"
_PSEUDO_PARAMETER = "${AWS::"


def cloudformation_sub(value: Any) -> Any:
    """A document for a CloudFormation template: every string naming a pseudo parameter
    (`MEMBER_ACCOUNT`) becomes `{"Fn::Sub": string}`, everything else is kept as it is.

    So a policy function called with `MEMBER_ACCOUNT` stays the one source of the template's
    document: CloudFormation substitutes the member account's ID when it deploys the stack."""
    if isinstance(value, dict):
        return {key: cloudformation_sub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cloudformation_sub(item) for item in value]
    if isinstance(value, str) and _PSEUDO_PARAMETER in value:
        return {"Fn::Sub": value}
    return value
