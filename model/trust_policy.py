"""GitHub's OIDC trust policy for exact subjects: the one policy document below the settings.

The settings pack the CI and Dependabot readers into roles by the size of this document
(`Settings.github_reader_roles`), so it takes the provider's ARN rather than the Settings, and the documents of
`model/documents/` build on it. With it: the policy language version and the compact JSON every document is
sent as (its length is what AWS's limits count).
"""

from __future__ import annotations

import json
from typing import Any

from model.names import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST

PolicyDocument = dict[str, Any]

VERSION = "2012-10-17"


def to_json(document: PolicyDocument) -> str:
    """The exact string sent to AWS (compact; its length is what the limits count)."""
    return json.dumps(document, separators=(",", ":"))


def github_oidc_trust_policy(provider_arn: str, subjects: list[str]) -> PolicyDocument:
    """GitHub OIDC trust pinned to the audience and to exact subjects."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "GitHubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subjects[0] if len(subjects) == 1 else subjects,
                    }
                },
            }
        ],
    }
