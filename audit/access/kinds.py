"""The kinds of principal the report holds each to its job, what the airlock's and the backup's roles may do
outside CodeArtifact, the permissions boundary a role of a bounded kind must carry, and every principal the
stack declares or stands in for, with its kind (subjects_from_rendering)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from audit.access.principals import Principal
from audit.access.trust import pull_requests_may_assume
from audit.grants import (
    ADMINISTRATOR_POLICY,
    ROLE,
    Role,
    RoleGrants,
    StackSetMember,
    role_grants,
    stack_set_members,
)
from audit.render import Rendering
from bootstrap.documents import ci_deploy_policy
from model.names import (
    PROMOTE_SCHEDULE_ROLE_NAME,
    PULL_BACK_SCHEDULE_ROLE_NAME,
    RECONCILE_SCHEDULE_ROLE_NAME,
    RETENTION_SCHEDULE_ROLE_NAME,
)
from model.settings import Settings
from policies import iam_actions

# The worst case inside an account is a principal with ADMINISTRATOR_POLICY (Allow * on *),
# so only the registry's resource policies stand between it and the registry.
ADMINISTRATOR_ROLE = "administrator"
# How the report names the deploy CI role's permissions, which live outside the stack.
CI_DEPLOY_POLICY = "inline:ci-deploy (python -m bootstrap)"
AIRLOCK_SCHEDULE_ROLE_NAMES = (PROMOTE_SCHEDULE_ROLE_NAME, PULL_BACK_SCHEDULE_ROLE_NAME)

READER = "reader role"
OTHER_ROLE = "other role"
GITHUB_READER = "GitHub CI reader"
DEPENDABOT_READER = "Dependabot reader"
SECONDARY_ADMIN = "admin (Action *)"
ORGANIZATION_MEMBER = "organization member, admin (Action *)"
OUTSIDER = "outsider, admin (Action *)"
PUBLISHER = "publisher"
OWNER_ADMIN = "owner admin (Action *)"
DEPLOY_ROLE = "deploy role"
BREAK_GLASS = "break-glass role"
# The curation airlock's roles (publicIngest: airlock).
PROMOTER = "promoter"
PULL_BACK = "pull-back job"
SCHEDULE_ROLE = "airlock schedule"
# The backup's roles (backupRegion set): read-only on CodeArtifact but for the retention job, which archives in
# internal only.
BACKUP_COPIER = "backup copier"
BACKUP_RECONCILER = "backup reconciler"
RETENTION_JOB = "retention job"
BACKUP_REPLICATION = "backup replication"
BACKUP_SCHEDULE = "backup schedule"
KIND_ORDER = (READER, GITHUB_READER, DEPENDABOT_READER, OTHER_ROLE, SECONDARY_ADMIN, ORGANIZATION_MEMBER, OUTSIDER,
              PUBLISHER, OWNER_ADMIN, DEPLOY_ROLE, BREAK_GLASS, PROMOTER, PULL_BACK, SCHEDULE_ROLE, BACKUP_COPIER,
              BACKUP_RECONCILER, RETENTION_JOB, BACKUP_REPLICATION, BACKUP_SCHEDULE)
_FUNCTION_WRITES = frozenset({"sns:Publish", "logs:CreateLogStream", "logs:PutLogEvents"})
# The backup keys, used through S3 only (the pack's backup-roles-hold-what-they-need holds the condition).
_BACKUP_KEY_WRITES = frozenset({"kms:GenerateDataKey", "kms:Encrypt"})
# What each service role may do outside CodeArtifact beyond Read and List (each on the resources the pack's
# airlock and backup rules hold it to). The backup's roles put objects and never delete one: no s3:Delete*, no
# s3:BypassGovernanceRetention here, so a grant of one is reported.
AIRLOCK_OTHER_ACTIONS = {
    PROMOTER: frozenset({"s3:PutObject"}) | _FUNCTION_WRITES,
    PULL_BACK: frozenset({"s3:PutObject"}) | _FUNCTION_WRITES,
    SCHEDULE_ROLE: frozenset({"lambda:InvokeFunction"}),
    BACKUP_COPIER: frozenset({"s3:PutObject", "sqs:ReceiveMessage", "sqs:DeleteMessage", "kms:Decrypt"})
    | _FUNCTION_WRITES | _BACKUP_KEY_WRITES,
    BACKUP_RECONCILER: frozenset({"s3:PutObject", "kms:Decrypt"}) | _FUNCTION_WRITES | _BACKUP_KEY_WRITES,
    RETENTION_JOB: frozenset({"s3:PutObject"}) | _FUNCTION_WRITES | _BACKUP_KEY_WRITES,
    BACKUP_REPLICATION: frozenset({"s3:ReplicateObject", "s3:ReplicateTags", "kms:Decrypt"}) | _BACKUP_KEY_WRITES,
    BACKUP_SCHEDULE: frozenset({"lambda:InvokeFunction"}),
}


@dataclass(frozen=True)
class Subject:
    """One row of the report: a principal, what kind it is, and what it may do beyond Read and List."""

    label: str
    kind: str
    principal: Principal
    own_packages: tuple[str, ...] = ()  # a publisher may publish these into internal
    role: Role | None = None  # the IAM role behind the row; None for a stand-in such as an admin
    may_write: bool = False  # an owner-account administrator: the registry is its own
    may_reopen: bool = False  # a deploy role: manages package groups, origin controls and upstreams
    may_lose: bool = False  # the break-glass role: exempt from the Denies of deletes, overwrites, key loss
    may_copy: bool = False  # the promoter: copies into the vetted repository
    may_archive: bool = False  # the pull-back job: changes version statuses in the vetted and internal repositories
    may_archive_internal: bool = False  # the retention job: changes version statuses in internal only


# Held to Read and List in every service, as in CodeArtifact.
READ_ONLY_KINDS = frozenset({READER, GITHUB_READER, DEPENDABOT_READER, OTHER_ROLE, PUBLISHER})


def beyond_codeartifact(subject: Subject) -> list[str]:
    """What a role held to Read and List may do in other services beyond them, and the data or secret reads it
    holds on every resource, from each identity policy in force for it (access levels from the action table;
    an unreadable policy counts as Action "*"); an airlock role may also do what its job needs
    (AIRLOCK_OTHER_ACTIONS). CodeArtifact's actions are decided one by one above."""
    if subject.kind not in READ_ONLY_KINDS and subject.kind not in AIRLOCK_OTHER_ACTIONS:
        return []
    allowed = AIRLOCK_OTHER_ACTIONS.get(subject.kind, frozenset())
    found = []
    for source, text in subject.principal.policies:
        beyond, leaks = _beyond_read_only_outside_codeartifact(text)
        beyond = [action for action in beyond if action not in allowed]
        if beyond:
            found.append(f"{subject.label} ({subject.principal.arn}) holds {', '.join(beyond[:6])}"
                         f"{f' and {len(beyond) - 6} more' if len(beyond) > 6 else ''} through {source}: beyond Read "
                         "and List outside CodeArtifact")
        if leaks:
            found.append(f"{subject.label} ({subject.principal.arn}) may {', '.join(leaks)} on every resource through "
                         f"{source}: data and secrets must be named by ARN")
    return found


@cache
def _beyond_read_only_outside_codeartifact(text: str) -> tuple[list[str], list[str]]:
    """(non-Read/List actions of other services, data reads on every resource) of one policy, by its text:
    the readers of a thousand accounts share one document."""
    document = json.loads(text)
    beyond = [a for a in iam_actions.document_beyond_read_only(document) if not a.lower().startswith("codeartifact:")]
    return beyond, iam_actions.data_reads_anywhere(document)


def _unused_account(settings: Settings, start: int, members: Iterable[StackSetMember] = ()) -> str:
    taken = {settings.owner_account_id, *settings.secondary_account_ids, *(m.account for m in members),
             *([settings.management_account_id] if settings.management_account_id else [])}
    candidate = start
    while f"{candidate:012d}" in taken:
        candidate -= 1
    return f"{candidate:012d}"


def administrator(account: str, org_id: str | None = None) -> Principal:
    """A principal in `account` whose identity policy allows everything."""
    arn = f"arn:aws:iam::{account}:role/{ADMINISTRATOR_ROLE}"
    return Principal.role(arn, {"inline:everything": ADMINISTRATOR_POLICY}, org_id)


def expected_boundary(settings: Settings, arn: str) -> str | None:
    """The bootstrap's permissions boundary a role the stack declares must carry, or None for a role without one:
    what keeps a deploy role (or an operator) from making it more than its job, whatever its policies say."""
    from fnmatch import fnmatchcase

    account = arn.split(":")[4]
    if account in settings.secondary_account_ids and arn == settings.reader_role_arn(account):
        return settings.reader_boundary_arn(account)
    if any(fnmatchcase(arn, pattern) for pattern in settings.github_role_patterns):
        return settings.github_roles_boundary_arn
    if arn in settings.airlock_role_arns:
        return settings.airlock_roles_boundary_arn
    if arn in settings.backup_role_arns:
        return settings.backup_roles_boundary_arn
    return None


def boundary_problems(rendering: Rendering) -> list[str]:
    """Every role of a bounded kind the stack declares carries its boundary (a changed program that drops or swaps
    it would pass the proof otherwise, which evaluates identity policies without boundaries)."""
    problems = []
    for role in rendering.of_type(ROLE):
        arn = role.outputs.get("arn") or f"arn:aws:iam::{role.account}:role/{role.inputs.get('name')}"
        expected = expected_boundary(rendering.settings, str(arn))
        actual = role.inputs.get("permissionsBoundary")
        if expected is not None and actual != expected:
            problems.append(f"role {role.inputs.get('name')} in {role.account} has the permissions boundary "
                            f"{actual!r}, not the bootstrap's {expected}: nothing would keep it to its job")
    return problems


def subjects_from_rendering(rendering: Rendering, grants: RoleGrants | None = None,
                            members: list[StackSetMember] | None = None) -> list[Subject]:
    """Every role the stack declares or attaches a policy to (the reader and publisher roles the
    settings name, and any other role, held to Read and List), an administrator in each secondary
    account and in each StackSet member (one synthetic account per OU), an organization member (in
    organization mode), an outsider, an administrator of the owner account, and the break-glass role
    when one is set. Nominated accounts and the owner are taken to be members of the organization in
    organization mode."""
    settings = rendering.settings
    grants = grants if grants is not None else role_grants(rendering)
    members = members if members is not None else stack_set_members(rendering)
    org = settings.organization_id
    owner = settings.owner_account_id
    break_glass = settings.break_glass_role_arn
    readers = {settings.reader_role_arn(account): f"reader {account}" for account in settings.secondary_account_ids}
    readers.update({settings.stack_set_reader_role_arn(m.account): f"reader in {m.label}" for m in members})
    publishers = {settings.publisher_role_arn(publisher): publisher for publisher in settings.publishers}
    deployers = set(settings.deploy_principal_arns)

    def role_subject(arn: str, label: str, kind: str, **rules: Any) -> Subject:
        principal = Principal.role(arn, grants.policies.get(arn, {}), org)
        return Subject(label, kind, principal, role=grants.roles.get(arn), **rules)

    subjects = [role_subject(arn, label, READER) for arn, label in readers.items()]
    # Every CI and Dependabot reader role, held to Read and List like the readers above.
    github_readers = {settings.owner_role_arn(role.name): (f"{kind} {role.name}", kind)
                      for kind, roles in ((GITHUB_READER, settings.github_reader_roles),
                                          (DEPENDABOT_READER, settings.dependabot_roles)) for role in roles}
    subjects += [role_subject(arn, label, kind) for arn, (label, kind) in github_readers.items()]
    # Airlock mode: the promoter, the pull-back job and the schedules' roles, each held to its job.
    airlock = {}
    if settings.airlock_mode:
        airlock = {settings.promoter_role_arn: (PROMOTER, {"may_copy": True}),
                   settings.pull_back_role_arn: (PULL_BACK, {"may_archive": True}),
                   **{settings.owner_role_arn(name): (SCHEDULE_ROLE, {}) for name in AIRLOCK_SCHEDULE_ROLE_NAMES}}
        subjects += [role_subject(arn, f"{kind} {arn.rsplit('/', 1)[1]}", kind, **rules)
                     for arn, (kind, rules) in airlock.items()]
    # Backup on: the copier and the reconciler read-only on CodeArtifact, the retention job archiving in internal
    # only, S3's replication role and the schedules' roles, each held to its job.
    backup: dict[str, tuple[str, dict[str, bool]]] = {}
    if settings.backup_mode:
        backup = {settings.backup_role_arn: (BACKUP_COPIER, {}), settings.reconcile_role_arn: (BACKUP_RECONCILER, {}),
                  settings.replication_role_arn: (BACKUP_REPLICATION, {}),
                  settings.owner_role_arn(RECONCILE_SCHEDULE_ROLE_NAME): (BACKUP_SCHEDULE, {})}
        if settings.retention_mode:
            backup |= {settings.retention_role_arn: (RETENTION_JOB, {"may_archive_internal": True}),
                       settings.owner_role_arn(RETENTION_SCHEDULE_ROLE_NAME): (BACKUP_SCHEDULE, {})}
        subjects += [role_subject(arn, f"{kind} {arn.rsplit('/', 1)[1]}", kind, **rules)
                     for arn, (kind, rules) in backup.items()]
    for arn, role in grants.roles.items():
        if (arn not in readers and arn not in publishers and arn != break_glass and arn not in deployers
                and arn not in github_readers and arn not in airlock and arn not in backup):
            where = "" if role.declared else ", not declared here"
            subjects.append(role_subject(arn, f"role {role.name} in {role.account}{where}", OTHER_ROLE))
    subjects += [Subject(f"admin in {account}", SECONDARY_ADMIN, administrator(account, org))
                 for account in settings.secondary_account_ids]
    subjects += [Subject(f"admin in {m.label}", SECONDARY_ADMIN, administrator(m.account, org)) for m in members
                 if m.account not in settings.secondary_account_ids]
    if org:
        member = _unused_account(settings, 888888888888, members)
        subjects.append(Subject(f"{org} member {member}", ORGANIZATION_MEMBER, administrator(member, org)))
    outsider = _unused_account(settings, 999999999999, members)
    subjects.append(Subject(f"outsider {outsider}", OUTSIDER, administrator(outsider)))
    # A publisher a pull request job can assume (any branch can open one) is held to Read and List.
    subjects += [role_subject(arn, f"publisher {publisher.repository}", PUBLISHER, own_packages=() if (
                     pull_requests_may_assume(grants.roles.get(arn), settings.github_oidc_provider_arn))
                     else publisher.packages)
                 for arn, publisher in publishers.items()]
    subjects.append(Subject(f"admin in {owner} (owner)", OWNER_ADMIN, administrator(owner, org), may_write=True))

    def outside_role(arn: str, kind: str, **rules: Any) -> Subject:
        label = f"role {arn.rsplit('/', 1)[-1]} in {arn.split(':')[4]}"
        role = grants.roles.get(arn)
        policies = dict(grants.policies.get(arn, {}))
        if (role is None or not role.declared) and arn == settings.ci_deploy_role_arn:
            # The deploy CI role holds what `python -m bootstrap` writes for it, derived from the resource
            # types' handler permissions: the report proves that document, not a guess.
            policies[CI_DEPLOY_POLICY] = ci_deploy_policy(settings)
        elif role is None or not role.declared:
            # Its policies live outside the stack: assume the worst of them.
            policies["inline:everything"] = ADMINISTRATOR_POLICY
        return Subject(label, kind, Principal.role(arn, policies, org), role=role,
                       may_write=arn.split(":")[4] == owner, **rules)

    subjects += [outside_role(arn, DEPLOY_ROLE, may_reopen=True) for arn in settings.deploy_principal_arns
                 if arn != break_glass]
    if break_glass:
        subjects.append(outside_role(break_glass, BREAK_GLASS, may_lose=True))
    return subjects
