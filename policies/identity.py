"""Identity policies and what is attached to roles: bearer tokens, writes, AWS-managed and
undeclared policies, and the scope of every role that GitHub Actions can assume."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import partial

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from . import config as cfg
from . import grants
from . import iam_documents as iam
from . import props as props_
from .aws_facts import BEARER_TOKEN_ACTION, CODEARTIFACT_SERVICE, PUBLISH_ACTION
from .aws_managed import aws_managed_document, is_aws_managed
from .iam_actions import beyond_read_only, data_reads_anywhere, document_beyond_read_only
from .props import ATTACHMENT_PROPS, MANAGED_POLICY_ARN_PROPS, ROLE_TYPES
from .trust import GITHUB_SUB_KEY, subject_repository, trusts_github, trusts_pull_requests

# One package, named exactly: arn:aws:codeartifact:REGION:ACCOUNT:package/DOMAIN/REPOSITORY/pypi//NAME
EXACT_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:codeartifact:[a-z0-9-]+:[0-9]{12}:package/[a-z][a-z0-9-]*/[A-Za-z0-9._-]+/pypi//[a-z0-9._-]+$"
)
# Inline policies and managed-policy attachments: type -> property naming the role(s).
ROLE_REFERENCE_PROPS = {
    "aws:iam/rolePolicy:RolePolicy": "role",
    "aws-native:iam:RolePolicy": "roleName",
    "aws-native:iam:ManagedPolicy": "roles",
    **{t: keys[0] for t, (_, keys) in ATTACHMENT_PROPS.items() if keys and keys[0] in ("role", "roles", "roleName")},
}


# --- bearer tokens only for CodeArtifact, only in identity policies -------------------------


def validate_bearer_token(args: ResourceValidationArgs, report: cfg.Report) -> None:
    for what, document in props_.resource_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.statements(document)):
            named = [a for a in iam.actions(statement)
                     if a.lower().startswith("sts:") and iam.matches(a, BEARER_TOKEN_ACTION)]
            if named:
                report(f"{what} {iam.label(statement, index)} names {named[0]}: it has no effect in a "
                       "resource policy; grant it in the reader's identity policy")
    for what, document in props_.identity_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            if not iam.grants_action(statement, BEARER_TOKEN_ACTION):
                continue
            entries = iam.condition_entries(statement, "sts:AWSServiceName")
            pinned = [values for operator, values in entries if operator == "StringEquals"]
            if not pinned or len(entries) != len(pinned) or any(v != [CODEARTIFACT_SERVICE] for v in pinned):
                report(f"{what} {iam.label(statement, index)} allows {BEARER_TOKEN_ACTION} without the condition "
                       f'StringEquals sts:AWSServiceName = "{CODEARTIFACT_SERVICE}" (and nothing else)')


# --- no codeartifact write on every resource ----------------------------------------------------


def validate_no_wildcard_write(args: ResourceValidationArgs, report: cfg.Report) -> None:
    for what, document in props_.identity_policies(args.resource_type, args.props):
        for index, statement in enumerate(iam.allow_statements(document)):
            writes = grants.writes_granted(statement)
            if not writes:
                continue
            where = f"{what} {iam.label(statement, index)}"
            every_action = [a for a in iam.actions(statement) if a.lower() in ("*", "codeartifact:*")]
            if every_action or "NotAction" in statement:
                report(f"{where} allows {every_action[0] if every_action else 'NotAction'}, i.e. every "
                       "codeartifact write; list the actions needed")
            anywhere = [r for r in iam.resources(statement) if iam.is_any_resource(r)]
            if anywhere:
                report(f"{where} allows {grants.summary(writes)} on {anywhere[0]}; name the domain, "
                       "repository or package ARNs")


# --- attached managed policies --------------------------------------------------------------


def _declared_policies(args: StackValidationArgs) -> tuple[set[str], dict[str, PolicyResource]]:
    """(ARNs of the managed policies the stack declares, the same resources by URN)."""
    arns, by_urn = set(), {}
    for resource in args.resources:
        key = MANAGED_POLICY_ARN_PROPS.get(resource.resource_type)
        if key:
            by_urn[resource.urn] = resource
            arn = props_.known(resource.props, key)
            if isinstance(arn, str):
                arns.add(arn)
    return arns, by_urn


def _attached(resource: PolicyResource) -> Iterator[tuple[str | None, bool]]:
    """(policy ARN or None when unknown, whether it comes from a policy the stack declares) per attachment."""
    key, _ = ATTACHMENT_PROPS[resource.resource_type]
    from_declared = any(dep.resource_type in MANAGED_POLICY_ARN_PROPS
                        for dep in resource.property_dependencies.get(key, []))
    try:
        values = [str(v) for v in iam.as_list(resource.props.get(key))]
    except UnknownValueError:
        yield None, from_declared
        return
    for value in values:
        yield value, from_declared


def attachment_problem(policy_arn: str | None, declared: set[str], from_declared: bool) -> str | None:
    """Why a managed policy must not be attached to a principal the stack declares, or None."""
    if policy_arn is None:
        if from_declared:
            return None
        return ("attaches a policy ARN unknown during preview that no policy of this stack provides: its "
                "document cannot be checked, so it is treated as allowing everything")
    if policy_arn in declared:
        return None
    if not is_aws_managed(policy_arn):
        return (f"attaches {policy_arn}, which this stack does not declare: its document cannot be checked, "
                "so it is treated as allowing everything")
    document = aws_managed_document(policy_arn)
    if document is None:
        return (f"attaches the AWS-managed policy {policy_arn}, whose document cannot be read here: it is "
                "treated as allowing everything")
    beyond = document_beyond_read_only(document)
    if beyond:
        return (f"attaches the AWS-managed policy {policy_arn}, which grants write or admin access "
                f"({grants.summary(beyond)}); attach a policy the stack declares, with only what is needed")
    return None


def validate_attachments(args: StackValidationArgs, report: cfg.Report) -> None:
    declared, _ = _declared_policies(args)
    for resource in args.resources:
        if resource.resource_type not in ATTACHMENT_PROPS:
            continue
        for policy_arn, from_declared in _attached(resource):
            problem = attachment_problem(policy_arn, declared, from_declared)
            if problem:
                report(f"{resource.name} ({resource.resource_type}) {problem}", resource.urn)


# --- what a role that GitHub can assume may do ------------------------------------------------


def _names(role: PolicyResource) -> set[str]:
    return {str(v) for key in ("name", "roleName", "arn", "id") if isinstance(v := props_.known(role.props, key), str)}


class RoleReferences:
    """Which resources name a role in their role property, by value or by dependency: indexed once
    per stack check, so that finding a role's policies does not scan every resource for every role."""

    def __init__(self, resources: list[PolicyResource]) -> None:
        self._resources = resources
        self._by_urn: dict[str, set[int]] = {}
        # name -> account of the resource naming it (None: its provider is not pinned) -> resources. A role
        # name means the role of that name in the resource's own account: the readers of a thousand accounts
        # share one name, and each has only its own account's policies.
        self._by_name: dict[str, dict[str | None, set[int]]] = {}
        for index, resource in enumerate(resources):
            key = ROLE_REFERENCE_PROPS.get(resource.resource_type)
            if key is None:
                continue
            for dependency in resource.property_dependencies.get(key, []):
                self._by_urn.setdefault(dependency.urn, set()).add(index)
            try:
                values = {str(v) for v in iam.as_list(resource.props.get(key))}
            except UnknownValueError:
                continue  # unknown in a preview: only its dependencies tell
            account = cfg.provider_account(resource.provider)
            for value in values:
                self._by_name.setdefault(value, {}).setdefault(account, set()).add(index)

    def referring(self, role: PolicyResource, names: set[str]) -> list[PolicyResource]:
        """The resources naming `role` (known by `names`) from its account or an unknown one, in stack order;
        every account's when the role's own account is unknown."""
        found = set(self._by_urn.get(role.urn, set()))
        account = cfg.provider_account(role.provider)
        for name in names:
            by_account = self._by_name.get(name, {})
            if account is None:
                for indexes in by_account.values():
                    found |= indexes
            else:
                found |= by_account.get(account, set()) | by_account.get(None, set())
        return [self._resources[i] for i in sorted(found)]


def _documents_of(policies: list[PolicyResource], where: str) -> list[tuple[str, dict[str, object] | None]]:
    found: list[tuple[str, dict[str, object] | None]] = []
    for policy in policies:
        try:
            found += [(where, document) for _, document in props_.identity_policies(policy.resource_type, policy.props)]
        except UnknownValueError:
            # Unknown during preview: cannot be read, so it counts as allowing everything.
            found.append((f"{where}, whose document in {policy.name} is unknown during preview,", None))
    return found


def _managed_by_arn(args: StackValidationArgs) -> dict[object, PolicyResource]:
    """The managed policies the stack declares, by their ARN (None while unknown in a preview)."""
    _, managed = _declared_policies(args)
    return {props_.known(p.props, MANAGED_POLICY_ARN_PROPS[p.resource_type]): p for p in managed.values()}


def role_documents(role: PolicyResource, references: RoleReferences,
                   by_arn: Mapping[object, PolicyResource]) -> list[tuple[str, dict[str, object] | None]]:
    """(where, document) of every identity policy in force for a role; None for one that cannot be read."""
    found: list[tuple[str, dict[str, object] | None]] = _documents_of([role], role.name)
    referring = references.referring(role, _names(role))
    # Inline policies, and managed policies that name the role themselves.
    found += [item for r in referring if r.resource_type in props_.IDENTITY_POLICY_PROPS
              for item in _documents_of([r], r.name)]
    for attachment in [role, *referring]:
        if attachment.resource_type not in ATTACHMENT_PROPS:
            continue
        key = ATTACHMENT_PROPS[attachment.resource_type][0]
        for policy_arn, from_declared in _attached(attachment):
            where = f"{attachment.name} attaching {policy_arn or '(unknown ARN)'}"
            if policy_arn in by_arn:
                found += _documents_of([by_arn[policy_arn]], where)
            elif policy_arn is None and from_declared:
                found += _documents_of(attachment.property_dependencies.get(key, []), where)
            elif policy_arn is not None and is_aws_managed(policy_arn):
                found.append((where, aws_managed_document(policy_arn)))
            else:
                found.append((where, None))
    return found


def trusted_repositories(github: list[Mapping[str, object]]) -> set[str] | None:
    """The GitHub repositories (owner/name, lower case, IDs dropped) whose subjects a role trusts; None
    when a subject cannot be read as one repository (the trust rule reports why)."""
    found = set()
    for statement in github:
        for _, values in iam.condition_entries(statement, GITHUB_SUB_KEY):
            for value in values:
                repository = subject_repository(value)
                if repository is None or any(c in value for c in "*?"):
                    return None
                found.add(repository[0])
    return found


def publishable_names(args: StackValidationArgs, repositories: set[str] | None) -> frozenset[str]:
    """The package names a role trusted by these repositories may publish: those every one of them claims
    in publisherPackages (a role two repositories share would let each publish the other's)."""
    configured = cfg.config(args, "publisherPackages")
    claimed = {str(k).lower(): frozenset(str(n) for n in iam.as_list(v))
               for k, v in (configured.items() if isinstance(configured, Mapping) else [])}
    if not repositories:
        return frozenset()
    return frozenset.intersection(*(claimed.get(repository, frozenset()) for repository in repositories))


def publisher_subjects(args: StackValidationArgs) -> frozenset[str]:
    """The exact subjects publisherSubjects gives the publishers, each under its own repository's key."""
    configured = cfg.config(args, "publisherSubjects")
    found = set()
    for key, values in (configured.items() if isinstance(configured, Mapping) else []):
        for subject in (str(v) for v in iam.as_list(values)):
            repository = subject_repository(subject)
            if repository and repository[0] == str(key).lower() and not any(c in subject for c in "*?"):
                found.add(subject)
    return frozenset(found)


def non_publisher_subject(github: list[Mapping[str, object]], publishers: frozenset[str]) -> str | None:
    """Why a role GitHub can assume is not a publisher (it trusts a subject no publisher declares, or a statement
    that pins none), or None when every trust statement lets in only publishers' subjects. Conditions are
    ANDed: one StringEquals or StringLike on `sub` whose every value is a publisher's subject bounds a statement."""
    for statement in github:
        pinned = [values for operator, values in iam.condition_entries(statement, GITHUB_SUB_KEY)
                  if operator in ("StringEquals", "StringLike")]
        if any(values and all(v in publishers for v in values) for values in pinned):
            continue
        others = [v for values in pinned for v in values if v not in publishers]
        return (f"trusts {others[0]!r}, which publisherSubjects gives no publisher," if others
                else "has a GitHub trust statement that pins no subject,")
    return None


def publisher_problems(statement: Mapping[str, object], own: frozenset[str] = frozenset(),
                       prefixes: frozenset[str] = frozenset()) -> list[str]:
    """Why an Allow statement gives a GitHub-assumable role more than reading and publishing its own
    packages (`own`, each inside an internal prefix) by exact ARN."""
    if "NotAction" in statement:
        return ["NotAction (everything it does not list)"]
    if "NotResource" in statement:
        return ["NotResource (everything it does not list)"]
    problems = []
    for pattern in iam.actions(statement):
        for action in beyond_read_only(pattern):
            if action.lower() != PUBLISH_ACTION.lower():
                problems.append(action if action == pattern else f"{action} (through {pattern})")
                continue
            loose = [r for r in iam.resources(statement) if not EXACT_PACKAGE_ARN.match(r)]
            if loose:
                problems.append(f"{PUBLISH_ACTION} on {loose[0]} (only exact package ARNs "
                                ".../package/DOMAIN/REPOSITORY/pypi//NAME, no wildcard)")
            names = [r.rsplit("/pypi//", 1)[1] for r in iam.resources(statement) if EXACT_PACKAGE_ARN.match(r)]
            for name in names:
                if name not in own:
                    problems.append(f"{PUBLISH_ACTION} on {name!r}, which is not one of the packages publisherPackages "
                                    f"gives the repositories it trusts ({', '.join(sorted(own)) or 'none'})")
                elif not name.startswith(tuple(prefixes)):
                    problems.append(f"{PUBLISH_ACTION} on {name!r}, which is outside every internal prefix: it could "
                                    "shadow a public package for every consumer")
    return problems


def validate_github_role_scope(args: StackValidationArgs, report: cfg.Report) -> None:
    prefixes = cfg.config_set(args, "internalPrefixes")
    publishers = publisher_subjects(args)
    by_arn = _managed_by_arn(args)
    references = RoleReferences(args.resources)
    for role in args.resources:
        if role.resource_type not in ROLE_TYPES:
            continue
        trust = cfg.when_known(partial(props_.trust_policy, role.resource_type, role.props), report, role,
                               "trust policy")
        if trust is None:
            continue
        github = [s for _, document in trust for s in iam.allow_statements(document) if trusts_github(s)]
        if not github:
            continue
        # Any branch of the repository can open a pull request: such a role may only read. So may one that trusts
        # anything but publishers' subjects (a CI or Dependabot reader, or a role the config does not know).
        pull_requests = any(trusts_pull_requests(s) for s in github)
        not_publisher = None if pull_requests else non_publisher_subject(github, publishers)
        read_only = pull_requests or not_publisher is not None
        own = publishable_names(args, trusted_repositories(github))
        for where, document in role_documents(role, references, by_arn):
            if document is None:
                report(f"GitHub-assumable role {role.name}: {where} cannot be read, so it is treated as allowing "
                       "everything", role.urn)
                continue
            for index, statement in enumerate(iam.allow_statements(document)):
                problems = publisher_problems(statement, own, prefixes)
                if read_only:
                    beyond = ["NotAction"] if "NotAction" in statement else [
                        a for pattern in iam.actions(statement) for a in beyond_read_only(pattern)]
                    if beyond and pull_requests:
                        report(f"GitHub-assumable role {role.name} trusts pull_request subjects, yet {where} "
                               f"{iam.label(statement, index)} allows {grants.summary(beyond)}: a role pull "
                               "requests can assume may only read", role.urn)
                    elif beyond:
                        report(f"GitHub-assumable role {role.name} {not_publisher} yet {where} "
                               f"{iam.label(statement, index)} allows "
                               f"{grants.summary(beyond)}: a role that is not a publisher (a CI or Dependabot "
                               "reader) may only read", role.urn)
                    continue
                if problems:
                    report(
                        f"GitHub-assumable role {role.name}: {where} {iam.label(statement, index)} allows "
                        f"{grants.summary(problems)}; a publisher may only read and PublishPackageVersion on its own "
                        "exact package ARNs (no copy, status, origin-control, delete or permissions actions)",
                        role.urn,
                    )


# --- every service, for every role reachable from outside the owner account -------------------------


def _role_identity(role: PolicyResource) -> tuple[str | None, str | None]:
    """(account, lower-case name) of a declared role; None where unknown."""
    arn = props_.known_str(role.props, "arn")
    name = props_.known_str(role.props, "name") or props_.known_str(role.props, "roleName")
    account = iam.principal_account(arn) if arn else cfg.provider_account(role.provider)
    return account, (name or (arn.rsplit("/", 1)[-1] if arn else None) or "").lower() or None


def _outside_reason(statement: Mapping[str, object], owner: str, reached: Mapping[tuple[str, str], str]) -> str | None:
    """Why a trust statement lets someone outside the owner account in (directly or through a role already
    so reachable), or None."""
    for kind, value in iam.principals(statement):
        if kind == "Federated":
            return f"the federated identity {value}"
        if kind != "AWS":
            continue  # a service principal acts for the account itself
        if value == "*":
            return "anyone (AWS *)"
        account = iam.principal_account(value)
        if account is None or account != owner:
            return f"{value} (another account)"
        if ":role/" in value:
            via = reached.get((account, value.rsplit("/", 1)[-1].lower()))
            if via:
                return f"{value}, which {via}"
    if "NotPrincipal" in statement:
        return "everyone outside NotPrincipal"
    return None


UNKNOWN_TRUST = "a trust policy unknown during preview"


def roles_reached_from_outside(args: StackValidationArgs) -> dict[str, tuple[PolicyResource, str, bool]]:
    """{role URN: (role, why, trusts GitHub directly)} for every declared role that someone outside the owner
    account can assume: a role in another account, one whose trust names another account, anyone or a
    federated identity (GitHub), or one that trusts a role already so reachable (to a fixpoint)."""
    owner = cfg.config_str(args, "ownerAccountId")
    roles = [r for r in args.resources if r.resource_type in ROLE_TYPES]
    trusts: dict[str, list[Mapping[str, object]] | None] = {}
    for role in roles:
        try:
            trusts[role.urn] = [s for _, d in props_.trust_policy(role.resource_type, role.props)
                                for s in iam.allow_statements(d)]
        except UnknownValueError:
            trusts[role.urn] = None  # reported by the rules that read trust; reachable until known
    found: dict[str, tuple[PolicyResource, str, bool]] = {}
    reached: dict[tuple[str, str], str] = {}
    changed = True
    while changed:
        changed = False
        for role in roles:
            if role.urn in found:
                continue
            account, name = _role_identity(role)
            statements = trusts[role.urn]
            why: str | None
            if statements is None:
                why = UNKNOWN_TRUST
            elif not owner or account != owner:
                why = f"its account {account or '(unknown)'}, not the owner account {owner or '(not configured)'}"
            else:
                why = next((w for s in statements if (w := _outside_reason(s, owner, reached))), None)
            if why is None:
                continue
            github = any(trusts_github(s) for s in statements or [])
            found[role.urn] = (role, why, github)
            if account and name:
                reached[(account, name)] = f"can be assumed through {why}"
            changed = True
    return found


def validate_reachable_roles_read_only(args: StackValidationArgs, report: cfg.Report) -> None:
    by_arn = _managed_by_arn(args)
    references = RoleReferences(args.resources)
    exempt: dict[tuple[str | None, str | None], str] = {
        (iam.principal_account(arn), arn.rsplit("/", 1)[-1].lower()): key for key, arns in (
        ("deployPrincipalArns", cfg.config_set(args, "deployPrincipalArns")),
        ("breakGlassRoleArn", {cfg.config_str(args, "breakGlassRoleArn")} - {""})) for arn in arns}
    for role, why, github in roles_reached_from_outside(args).values():
        exempted = exempt.get(_role_identity(role))
        if exempted:
            report(f"role {role.name} is named by {exempted}, so the domain's Denies exempt it, yet it is reachable "
                   f"from outside the owner account through {why}", role.urn)
        if why == UNKNOWN_TRUST:
            report(f"{role.name}: its trust policy is unknown during preview, so whether someone outside the owner "
                   "account can assume it cannot be told: it is held to Read and List until it is known", role.urn)
        for where, document in role_documents(role, references, by_arn):
            if document is None:
                report(f"role {role.name} (reachable from outside the owner account through {why}): {where} cannot "
                       "be read, so it is treated as allowing everything", role.urn)
                continue
            # A role GitHub assumes directly is held by github-roles-publish-only-own-packages (it may publish
            # its own packages); every other one may only read.
            beyond = [] if github else document_beyond_read_only(document)
            if beyond:
                report(f"role {role.name} is reachable from outside the owner account through {why}, yet {where} "
                       f"allows {grants.summary(beyond)}: such a role may hold only Read and List actions of any "
                       "service", role.urn)
            leaks = data_reads_anywhere(document)
            if leaks:
                report(f"role {role.name} is reachable from outside the owner account through {why}, yet {where} "
                       f"allows {grants.summary(leaks)} on every resource: data and secrets must be named by ARN, "
                       "never granted on *", role.urn)


POLICIES: list[cfg.Guardrail] = [
    cfg.resource_policy(
        "bearer-token-codeartifact-only",
        "sts:GetServiceBearerToken is allowed only with sts:AWSServiceName = codeartifact.amazonaws.com, "
        "and only in identity policies.",
        validate_bearer_token,
    ),
    cfg.resource_policy(
        "no-codeartifact-write-on-any-resource",
        'Identity policies never allow codeartifact:* or a codeartifact write action on Resource "*".',
        validate_no_wildcard_write,
    ),
    cfg.stack_policy(
        "managed-policy-attachments-checked",
        "Only managed policies the stack declares, or AWS-managed policies proven read-only from their "
        "documents, are attached; an unreadable one counts as allowing everything.",
        validate_attachments,
    ),
    cfg.stack_policy(
        "github-roles-publish-only-own-packages",
        "A role GitHub Actions can assume may only read, and, when it trusts only subjects publisherSubjects gives "
        "publishers (never a CI or Dependabot reader), PublishPackageVersion on the exact package ARNs of the names "
        "publisherPackages gives the repositories it trusts (inside an internal prefix), through every policy in "
        "force for it (inline, attached, AWS-managed).",
        validate_github_role_scope, "publisherPackages", "publisherSubjects", "internalPrefixes",
    ),
    cfg.stack_policy(
        "reachable-roles-read-only",
        "A role someone outside the owner account can assume (a role in another account; one whose trust names "
        "another account, anyone or a federated identity such as GitHub; or one that trusts such a role) holds "
        "only Read and List actions of any service through every policy in force for it, and no data or secret "
        "read (s3:GetObject, ssm:GetParameter*, secretsmanager:GetSecretValue) on every resource; nor is it a "
        "deploy or break-glass role.",
        validate_reachable_roles_read_only, "ownerAccountId", "deployPrincipalArns", "breakGlassRoleArn",
    ),
]
