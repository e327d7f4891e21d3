"""What the tests of the readers' access share (tests/audit/test_access_readers.py, the StackSet's moto deployment in
tests/components/test_stackset_moto.py, the reader migration in tests/bootstrap/test_reader_migration.py): roles
deployed into moto with the evaluator of the stack's resource policies, every codeartifact request a principal is
allowed on the domain, each repository and a package in each, and the read path those requests must equal."""

from __future__ import annotations

from dataclasses import dataclass

from audit.access import AccessEvaluator, Check, Principal, Registry, access_level, codeartifact_actions
from audit.render import Rendering
from tests.expected import DOMAIN_READ, REPOSITORY_READ
from tests.moto_iam import DeployedRole

PACKAGE_NAMES = ("acme-core", "requests")  # an internal and a public name

# The read path, written out independently of the policy builders (tests/expected.py), so that a grant added to
# them shows up here as a difference: the token on the domain (plus two read-only views of it), and on repositories
# and their packages what pip and `aws codeartifact login` need (ReadFromRepository, GetRepositoryEndpoint) with the
# read-only Describe/List/Get actions.
DOMAIN_READ_PATH = set(DOMAIN_READ)
REPOSITORY_READ_PATH = set(REPOSITORY_READ)


@dataclass
class Deployment:
    rendering: Rendering
    evaluator: AccessEvaluator
    roles: dict[str, dict[str, DeployedRole]]  # account -> role ARN -> role, as moto returns them
    org_ids: dict[str, str | None]  # account -> aws:PrincipalOrgID, as Organizations answers it

    @property
    def registry(self) -> Registry:
        return self.evaluator.registry

    def principal(self, account: str, role_name: str) -> Principal:
        role = self.roles[account][f"arn:aws:iam::{account}:role/{role_name}"]
        return role.principal(self.org_ids.get(account))


def checked_resources(registry: Registry) -> list[str]:
    """The domain, each repository, and a package ARN per name in each repository."""
    repositories = sorted(registry.repository_arns)
    return ([registry.domain_arn] + [registry.repository_arns[r] for r in repositories]
            + [registry.package_arn(r, name) for r in repositories for name in PACKAGE_NAMES])


def allowed_requests(deployment: Deployment, principal: Principal) -> set[tuple[str, str]]:
    """Every (action, resource) among all codeartifact actions on the checked resources that is allowed."""
    checks = tuple(Check(action, resource) for resource in checked_resources(deployment.registry)
                   for action in codeartifact_actions())
    decisions = deployment.evaluator.decide(principal, checks)
    return {(c.action, c.resource) for c, allowed in zip(checks, decisions, strict=True) if allowed}


def read_path(registry: Registry) -> set[tuple[str, str]]:
    expected = {(action, registry.domain_arn) for action in DOMAIN_READ_PATH}
    for resource in checked_resources(registry)[1:]:
        expected |= {(action, resource) for action in REPOSITORY_READ_PATH}
    return expected


def non_read_actions() -> list[str]:
    return [a for a in codeartifact_actions() if access_level(a) not in ("Read", "List")]
