"""Who may assume a role through GitHub's OIDC provider, decided by principalmapper on its trust policy: a token
carrying given claims, a pull request job; and the roles that name a repository only in the classic subject form.
"""

from __future__ import annotations

from collections.abc import Mapping

from audit.access.principals import Document, condition_strings, listify, statements
from audit.grants import Role, RoleGrants
from audit.pmapper_compat import CaseInsensitiveDict, policy_has_matching_statement
from policies import iam_documents as iam
from policies.aws_facts import GITHUB_OIDC_HOST
from policies.trust import GITHUB_SUBJECT, subject_repository

WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
AUDIENCE_CLAIM = f"{GITHUB_OIDC_HOST}:aud"
SUBJECT_CLAIM = f"{GITHUB_OIDC_HOST}:sub"


def web_identity_may_assume(trust_policy: Document, provider_arn: str, claims: Mapping[str, str],
                            role_arn: str) -> bool:
    """Whether a token from `provider_arn` carrying `claims` may assume the role.

    principalmapper does not understand `Principal.Federated`, so the statements that name the
    provider are picked here; principalmapper then matches their Action and Condition against
    the token's claims (a claim that is absent is absent, not empty).
    """

    def names_provider(statement: Document) -> bool:
        principal = statement.get("Principal")
        if principal == "*":
            return True
        federated = listify(principal.get("Federated", [])) if isinstance(principal, dict) else []
        return provider_arn in federated or "*" in federated

    relevant = {"Statement": [
        {k: v for k, v in s.items() if k != "Principal"}
        for s in statements(condition_strings(trust_policy)) if names_provider(s)
    ]}
    context = CaseInsensitiveDict(dict(claims))
    if policy_has_matching_statement(relevant, "Deny", WEB_IDENTITY_ACTION, role_arn, context):
        return False
    # principalmapper is untyped (its annotations are not exported): say what it returns.
    return bool(policy_has_matching_statement(relevant, "Allow", WEB_IDENTITY_ACTION, role_arn, context))


def pull_requests_may_assume(role: Role | None, provider_arn: str) -> bool:
    """Whether a GitHub pull request job may assume the role, by principalmapper on its trust policy: a job
    of a repository a `sub` value names (a wildcard standing for any name), or of any other. A trust policy
    that is unreadable, or that the stack does not declare, is taken to let them in."""
    if role is None or role.trust_policy is None:
        return True
    trust = role.trust_policy
    named = [GITHUB_SUBJECT.match(value) for statement in statements(trust)
             for _, key, values in iam.conditions(statement) if key == SUBJECT_CLAIM.lower() for value in values]
    repositories = [f"{m['owner']}/{m['repo']}".replace("*", "x").replace("?", "x") for m in named if m]
    providers = {provider_arn, *(value for statement in statements(trust) for kind, value in iam.principals(statement)
                                 if kind == "Federated" and GITHUB_OIDC_HOST in value)}
    return any(web_identity_may_assume(trust, provider, github_claims(f"repo:{repository}:pull_request"), role.arn)
               for provider in sorted(providers)
               for repository in dict.fromkeys([*repositories, "any-owner/any-repository"]))


def github_claims(subject: str | None, audience: str | None = "sts.amazonaws.com") -> dict[str, str]:
    """The claims of a GitHub Actions OIDC token that trust policies test (None leaves a claim out).

    The default audience is the one aws-actions/configure-aws-credentials asks GitHub for."""
    claims = {}
    if subject is not None:
        claims[SUBJECT_CLAIM] = subject
    if audience is not None:
        claims[AUDIENCE_CLAIM] = audience
    return claims


def classic_only_github_trusts(grants: RoleGrants) -> list[tuple[str, list[str]]]:
    """(role name, its repositories) for every declared role whose GitHub trust names some repository only in the
    classic `repo:OWNER/REPO:` form, never in the immutable `repo:OWNER@ID/REPO@ID:` one. Shown, not failed: an
    older repository may well still send the classic form."""
    found = []
    for role in grants.roles.values():
        repositories: dict[str, bool] = {}  # owner/name -> named in the immutable form too
        for statement in iam.allow_statements(role.trust_policy):
            for _, values in iam.condition_entries(statement, SUBJECT_CLAIM):
                for repository, immutable in filter(None, map(subject_repository, values)):
                    repositories[repository] = repositories.get(repository, False) or immutable
        classic = sorted(key for key, immutable in repositories.items() if not immutable)
        if classic:
            found.append((role.name, classic))
    return found
