"""What a repository puts in `.github/dependabot.yml` to let Dependabot read the registry through its reader role,
derived from the stack's settings (`python -m audit --dependabot-yml OWNER/NAME` prints it).

Dependabot's proxy (dependabot/proxy, internal/oidc) reads `aws-region`, `account-id`, `role-name`, `domain` and
`domain-owner` from a registry entry, asks GitHub for an OIDC token with audience `sts.amazonaws.com`, assumes
`arn:aws:iam::ACCOUNT:role/NAME` (no path) with the session name `dependabot-update`, and calls CodeArtifact's
GetAuthorizationToken; the token then authenticates every request to `url`.
"""

from __future__ import annotations

import json
from typing import Any

from model.settings import Settings

REGISTRY_NAME = "codeartifact"


def index_url(settings: Settings) -> str:
    """The internal repository's pip index, as CodeArtifact names its endpoints (get-repository-endpoint)."""
    host = f"{settings.domain_name}-{settings.owner_account_id}.d.codeartifact.{settings.region}.amazonaws.com"
    return f"https://{host}/pypi/{settings.internal_repository}/simple/"


def dependabot_registry(settings: Settings, repository: str) -> dict[str, Any]:
    """The `registries` entry for a dependabotReaders repository; ValueError for any other repository."""
    names = [role.name for role in settings.dependabot_roles
             for reader in role.readers if reader.repository.lower() == repository.lower()]
    if not names:
        listed = ", ".join(r.repository for r in settings.dependabot_readers) or "none"
        raise ValueError(f"{repository} is not one of dependabotReaders ({listed}): no role trusts its Dependabot")
    return {
        "type": "python-index",
        "url": index_url(settings),
        "replaces-base": True,  # the one index: internal and public packages, never a second index
        "aws-region": settings.region,
        "account-id": settings.owner_account_id,
        "role-name": names[0],
        "domain": settings.domain_name,
        "domain-owner": settings.owner_account_id,
    }


def dependabot_yml(settings: Settings, repository: str) -> str:
    """A `.github/dependabot.yml` for the repository: the registry, and weekly pip updates that use it.

    Every string is written double-quoted (a JSON string is a YAML one): an account ID such as 012345678901 left
    plain is an integer to a YAML 1.2 reader, which drops its leading zero."""
    entry = "\n".join(f"    {key}: {json.dumps(value)}"
                      for key, value in dependabot_registry(settings, repository).items())
    return (
        "version: 2\n"
        "registries:\n"
        f"  {REGISTRY_NAME}:\n"
        f"{entry}\n"
        "updates:\n"
        '  - package-ecosystem: "pip"\n'
        '    directory: "/"\n'
        f"    registries: [{json.dumps(REGISTRY_NAME)}]\n"
        "    schedule:\n"
        '      interval: "weekly"\n'
    )
