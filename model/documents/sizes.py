"""Every document against its AWS size limit, as configuration problems that name what to change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from model.documents.codeartifact import domain_permissions_policy, repository_permissions_policy
from model.documents.github import github_reader_trust_policy, publisher_permissions_policy, publisher_trust_policy
from model.documents.readers import reader_identity_policy
from model.names import (
    INLINE_ROLE_POLICY_LIMIT,
    MANAGED_POLICY_LIMIT,
    READER_ROLES_MAX,
    RESOURCE_POLICY_LIMIT,
    TRUST_POLICY_LIMIT,
)
from model.settings import Settings
from model.trust_policy import PolicyDocument, to_json


def largest_fitting_account_count(
    settings: Settings, build: Callable[[Settings], PolicyDocument | None], limit: int
) -> int:
    """How many secondary accounts (of the same shape) fit in one document under `limit`."""
    low, high = 0, len(settings.secondary_account_ids)
    while low < high:
        middle = (low + high + 1) // 2
        trial = replace(settings, secondary_account_ids=settings.secondary_account_ids[:middle])
        document = build(trial)
        if (len(to_json(document)) if document else 0) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def size_problems(settings: Settings) -> list[str]:
    """Documents over their AWS size limit, each as `key: rule`, naming what to change."""
    problems = []
    resource_policies = [("domain permissions policy", domain_permissions_policy)] + [
        (f"repository permissions policy of {repository}",
         lambda s, repository=repository: repository_permissions_policy(s, repository))
        for repository in settings.readable_repositories
    ]
    oversize = []
    for label, build in resource_policies:
        document = build(settings)
        size = len(to_json(document)) if document else 0
        if size > RESOURCE_POLICY_LIMIT:
            oversize.append(f"the {label} would be {size} characters")
    if oversize and settings.organization_mode:
        problems.append(f"organizationId: {'; '.join(oversize)}, over the {RESOURCE_POLICY_LIMIT} limit")
    elif oversize:
        fits = min(largest_fitting_account_count(settings, build, RESOURCE_POLICY_LIMIT)
                   for _, build in resource_policies)
        problems.append(
            f"secondaryAccountIds: {len(settings.secondary_account_ids)} accounts do not fit in an explicit "
            f"list ({'; '.join(oversize)}; the limit is {RESOURCE_POLICY_LIMIT}); at most {fits} accounts "
            "fit: set organizationId to grant the whole AWS Organization instead"
        )
    reader_size = len(to_json(reader_identity_policy(settings)))
    if reader_size > MANAGED_POLICY_LIMIT:
        problems.append(f"readerRoleName: the reader policy is {reader_size} characters, over {MANAGED_POLICY_LIMIT}")
    for key, readers, roles in (("githubReaders", settings.github_readers, settings.github_reader_roles),
                                ("dependabotReaders", settings.dependabot_readers, settings.dependabot_roles)):
        if len(roles) > READER_ROLES_MAX:
            problems.append(f"{key}: {len(readers)} repositories would need {len(roles)} reader roles, more than "
                            f"{READER_ROLES_MAX}; list fewer repositories or subjects")
        for role in roles:
            trust = len(to_json(github_reader_trust_policy(settings, role)))
            if trust > TRUST_POLICY_LIMIT:
                # Roles are filled one repository at a time, so only a repository alone can overflow one.
                (reader,) = role.readers
                problems.append(
                    f"{key}[{readers.index(reader)}].subjects: the subjects of {reader.repository} alone make a "
                    f"trust policy of {trust} characters, over the {TRUST_POLICY_LIMIT} limit; list fewer subjects"
                )
    for index, publisher in enumerate(settings.publishers):
        trust = len(to_json(publisher_trust_policy(settings, publisher)))
        if trust > TRUST_POLICY_LIMIT:
            problems.append(
                f"publishers[{index}].subjects: the trust policy of {publisher.repository} is {trust} "
                f"characters, over the {TRUST_POLICY_LIMIT} limit; list fewer subjects"
            )
        permissions = len(to_json(publisher_permissions_policy(settings, publisher)))
        if permissions > INLINE_ROLE_POLICY_LIMIT:
            problems.append(
                f"publishers[{index}].packages: the publish policy of {publisher.repository} is "
                f"{permissions} characters, over the {INLINE_ROLE_POLICY_LIMIT} limit; list fewer packages"
            )
    return problems
