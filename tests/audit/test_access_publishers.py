"""Each GitHub repository publishes its own packages into `internal`, and nothing else.

The OIDC provider and the publisher roles the program records are created in moto in the
owner account and read back; trust policies are decided against GitHub token claims, and
permissions by principalmapper for every codeartifact action (policy_sentry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from audit.access import (
    ADMINISTRATOR_POLICY,
    BEARER_TOKEN_ACTION,
    SERVICE_NAME_KEY,
    AccessEvaluator,
    Check,
    Registry,
    codeartifact_actions,
    github_claims,
    web_identity_may_assume,
)
from audit.render import Rendering, render
from model.settings import Publisher
from tests.expected import OWNER, REGION, SECONDARIES
from tests.moto_iam import (
    DeployedRole,
    OidcProvider,
    add_role,
    deploy_iam,
    moto_aws,
    read_oidc_providers,
    read_roles,
)

pytestmark = pytest.mark.moto

GITHUB_HOST = "token.actions.githubusercontent.com"
UNCLAIMED = "acme-unclaimed"
REPOSITORIES = ("acme/acme-core", "acme/data-tools")


@dataclass
class Deployment:
    rendering: Rendering
    evaluator: AccessEvaluator
    owner_roles: dict[str, DeployedRole]
    providers: dict[str, dict[str, OidcProvider]]  # account -> provider ARN -> provider

    @property
    def registry(self) -> Registry:
        return self.evaluator.registry

    def publisher(self, repository: str) -> Publisher:
        return next(p for p in self.rendering.settings.publishers if p.repository == repository)

    def role(self, repository: str) -> DeployedRole:
        return self.owner_roles[self.rendering.settings.publisher_role_arn(self.publisher(repository))]

    @property
    def provider_arn(self) -> str:
        (arn,) = self.providers[OWNER]
        return arn


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    # A stack that creates the GitHub OIDC provider itself (prod's bootstrap creates it instead).
    prod = render("prod", overrides={"pypi-registry:createGithubOidcProvider": True})
    with moto_aws(REGION, prod.settings.deploy_role_name) as aws:
        deploy_iam(aws, prod)
        add_role(aws, OWNER, "administrator", {"everything": ADMINISTRATOR_POLICY})
        owner_roles = read_roles(aws, OWNER)
        providers = {account: read_oidc_providers(aws, account) for account in (OWNER, *SECONDARIES)}
    return Deployment(prod, AccessEvaluator(Registry.from_rendering(prod)), owner_roles, providers)


def may_assume(deployment: Deployment, repository: str, claims: dict[str, str],
               provider_arn: str | None = None) -> bool:
    role = deployment.role(repository)
    return web_identity_may_assume(role.trust_policy, provider_arn or deployment.provider_arn, claims, role.arn)


def every_package_resource(registry: Registry, claimed: list[str]) -> list[str]:
    """The domain, each repository, and every claimed package and an unclaimed one in each repository."""
    repositories = sorted(registry.repository_arns)
    return ([registry.domain_arn] + [registry.repository_arns[r] for r in repositories]
            + [registry.package_arn(r, name) for r in repositories for name in [*claimed, UNCLAIMED]])


def allowed_requests(deployment: Deployment, repository: str) -> set[tuple[str, str]]:
    claimed = [name for p in deployment.rendering.settings.publishers for name in p.packages]
    checks = tuple(Check(action, resource) for resource in every_package_resource(deployment.registry, claimed)
                   for action in codeartifact_actions())
    decisions = deployment.evaluator.decide(deployment.role(repository).principal(), checks)
    return {(c.action, c.resource) for c, allowed in zip(checks, decisions, strict=True) if allowed}


# --- who may assume a publisher role ---------------------------------------------------------


def test_github_oidc_provider_exists_once_in_the_owner_account_for_the_sts_audience(deployment):
    (provider,) = deployment.providers[OWNER].values()
    assert provider.arn == f"arn:aws:iam::{OWNER}:oidc-provider/{GITHUB_HOST}"
    assert provider.url.removeprefix("https://") == GITHUB_HOST
    assert provider.client_ids == ("sts.amazonaws.com",)
    assert all(not deployment.providers[account] for account in SECONDARIES)


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_publisher_role_lives_in_the_owner_account_with_its_publish_policy(deployment, repository):
    role = deployment.role(repository)
    assert role.arn.startswith(f"arn:aws:iam::{OWNER}:role/gh-publish-")
    assert list(role.policies) == ["inline:publish-own-packages"]


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_each_listed_subject_with_the_sts_audience_may_assume_its_role(deployment, repository):
    subjects = deployment.publisher(repository).subjects
    assert subjects
    for subject in subjects:
        assert may_assume(deployment, repository, github_claims(subject)), subject


def _other_publisher(deployment: Deployment, repository: str) -> Publisher:
    return next(p for p in deployment.rendering.settings.publishers if p.repository != repository)


# Each rejected token: (claims, provider ARN or None for the real one) for a repository.
RejectedToken = Callable[[Deployment, str], tuple[dict[str, str], str | None]]
REJECTED_TOKENS: dict[str, RejectedToken] = {
    "other-publishers-subject": lambda d, repo: (github_claims(_other_publisher(d, repo).subjects[0]), None),
    "pull-request": lambda d, repo: (github_claims(f"repo:{repo}:pull_request"), None),
    "another-branch": lambda d, repo: (github_claims(f"repo:{repo}:ref:refs/heads/feature"), None),
    "main-branch-outside-the-environment": lambda d, repo: (
        github_claims(f"repo:{repo}:ref:refs/heads/main"), None),
    "another-environment": lambda d, repo: (github_claims(f"repo:{repo}:environment:staging"), None),
    "another-owner-same-repository-name": lambda d, repo: (
        github_claims(f"repo:someone-else/{repo.split('/')[1]}:environment:pypi"), None),
    "missing-aud": lambda d, repo: (github_claims(d.publisher(repo).subjects[0], audience=None), None),
    "another-aud": lambda d, repo: (
        github_claims(d.publisher(repo).subjects[0], audience="https://github.com/acme"), None),
    "missing-sub": lambda d, repo: (github_claims(None), None),
    "provider-in-another-account": lambda d, repo: (
        github_claims(d.publisher(repo).subjects[0]), f"arn:aws:iam::{SECONDARIES[0]}:oidc-provider/{GITHUB_HOST}"),
}


@pytest.mark.parametrize("case", REJECTED_TOKENS)
@pytest.mark.parametrize("repository", REPOSITORIES)
def test_publisher_role_rejects_other_tokens(deployment, repository, case):
    claims, provider = REJECTED_TOKENS[case](deployment, repository)
    assert not may_assume(deployment, repository, claims, provider)


# --- what a publisher role may do ------------------------------------------------------------


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_publisher_may_publish_its_own_packages_into_internal_and_nothing_else(deployment, repository):
    registry = deployment.registry
    own = deployment.publisher(repository).packages
    internal = registry.repository_arns["internal"]
    # Written out: the token, the endpoint and reads of internal, and on its own packages in
    # internal: publish, and see whether a version already exists (safe re-runs).
    expected = {
        ("codeartifact:GetAuthorizationToken", registry.domain_arn),
        ("codeartifact:GetRepositoryEndpoint", internal),
        ("codeartifact:ReadFromRepository", internal),
    }
    for name in own:
        package = registry.package_arn("internal", name)
        expected |= {
            ("codeartifact:PublishPackageVersion", package),
            ("codeartifact:DescribePackageVersion", package),
            ("codeartifact:ListPackageVersions", package),
            ("codeartifact:ListPackageVersionAssets", package),
        }
    assert allowed_requests(deployment, repository) == expected


FORBIDDEN_TO_PUBLISHERS = (
    "codeartifact:DeletePackage",
    "codeartifact:DeletePackageVersions",
    "codeartifact:DisposePackageVersions",
    "codeartifact:UpdatePackageVersionsStatus",
    "codeartifact:CopyPackageVersions",
    "codeartifact:PutPackageOriginConfiguration",
    "codeartifact:PutRepositoryPermissionsPolicy",
    "codeartifact:DeleteRepositoryPermissionsPolicy",
    "codeartifact:PutDomainPermissionsPolicy",
    "codeartifact:DeleteDomainPermissionsPolicy",
    "codeartifact:AssociateExternalConnection",
    "codeartifact:DisassociateExternalConnection",
    "codeartifact:UpdateRepository",
)


@pytest.mark.parametrize("action", FORBIDDEN_TO_PUBLISHERS)
@pytest.mark.parametrize("repository", REPOSITORIES)
def test_publisher_may_not_change_remove_or_repoint_anything(deployment, repository, action):
    registry = deployment.registry
    own_package = registry.package_arn("internal", deployment.publisher(repository).packages[0])
    principal = deployment.role(repository).principal()
    for resource in (own_package, *registry.repository_arns.values(), registry.domain_arn):
        assert not deployment.evaluator.allowed(principal, action, resource), resource


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_publisher_may_not_publish_another_publishers_package_or_into_the_store(deployment, repository):
    registry = deployment.registry
    principal = deployment.role(repository).principal()
    for name in _other_publisher(deployment, repository).packages:
        assert not deployment.evaluator.allowed(principal, "codeartifact:PublishPackageVersion",
                                                registry.package_arn("internal", name))
    for name in deployment.publisher(repository).packages:
        assert not deployment.evaluator.allowed(principal, "codeartifact:PublishPackageVersion",
                                                registry.package_arn("pypi-store", name))


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_publisher_gets_a_bearer_token_for_codeartifact_only(deployment, repository):
    principal = deployment.role(repository).principal()
    evaluator = deployment.evaluator
    assert evaluator.allowed(principal, BEARER_TOKEN_ACTION, context={SERVICE_NAME_KEY: "codeartifact.amazonaws.com"})
    assert not evaluator.allowed(principal, BEARER_TOKEN_ACTION, context={SERVICE_NAME_KEY: "ecr-public.amazonaws.com"})


# --- the owner account itself ---------------------------------------------------------------

IRREVERSIBLE = (
    "codeartifact:DeleteDomain",
    "codeartifact:DeleteRepository",
    "codeartifact:DeletePackage",
    "codeartifact:DeletePackageVersions",
    "codeartifact:DisposePackageVersions",
)


def test_owner_account_administrator_may_not_delete_or_dispose_anything(deployment):
    registry = deployment.registry
    principal = deployment.owner_roles[f"arn:aws:iam::{OWNER}:role/administrator"].principal()
    package = registry.package_arn("internal", "acme-core")
    resources = (registry.domain_arn, *registry.repository_arns.values(), package)
    for action in IRREVERSIBLE:
        for resource in resources:
            assert not deployment.evaluator.allowed(principal, action, resource), (action, resource)
    # Only the irreversible actions are denied: the same administrator may still publish.
    assert deployment.evaluator.allowed(principal, "codeartifact:PublishPackageVersion", package)
