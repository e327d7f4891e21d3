"""The GitHub OIDC roles' documents: the publishers' trust and publish policies, and the CI and Dependabot
readers' trust policies (model/trust_policy.py builds the trust itself)."""

from __future__ import annotations

from model.documents.actions import PUBLISH_ACTIONS, PUBLISHER_REPOSITORY_ACTIONS
from model.documents.statements import bearer_token_statement
from model.settings import Publisher, ReaderRole, Settings
from model.trust_policy import VERSION, PolicyDocument, github_oidc_trust_policy


def publisher_trust_policy(settings: Settings, publisher: Publisher) -> PolicyDocument:
    """GitHub OIDC trust pinned to the audience and to the exact subjects of one repository."""
    return github_trust_policy(settings, list(publisher.subjects))


def github_reader_trust_policy(settings: Settings, role: ReaderRole) -> PolicyDocument:
    """A CI or Dependabot reader role: the exact subjects of the repositories it holds."""
    return github_trust_policy(settings, role.subjects)


def github_trust_policy(settings: Settings, subjects: list[str]) -> PolicyDocument:
    """GitHub OIDC trust pinned to the audience and to exact subjects."""
    return github_oidc_trust_policy(settings.github_oidc_provider_arn, subjects)


def publisher_permissions_policy(settings: Settings, publisher: Publisher) -> PolicyDocument:
    """Publish only this repository's own package names into `internal`."""
    internal = settings.internal_repository
    packages = [settings.package_arn(internal, name) for name in publisher.packages]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "CodeArtifactToken",
                "Effect": "Allow",
                "Action": "codeartifact:GetAuthorizationToken",
                "Resource": settings.domain_arn,
            },
            bearer_token_statement(),
            {
                "Sid": "InternalRepositoryEndpoint",
                "Effect": "Allow",
                "Action": list(PUBLISHER_REPOSITORY_ACTIONS),
                "Resource": settings.repository_arn(internal),
            },
            {
                "Sid": "PublishOwnPackages",
                "Effect": "Allow",
                "Action": list(PUBLISH_ACTIONS),
                "Resource": packages[0] if len(packages) == 1 else packages,
            },
        ],
    }
