"""Rules over the whole stack: what only the resources together show."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial

from pulumi_policy import PolicyResource, StackValidationArgs

from . import config as cfg
from . import grants
from . import iam_documents as iam
from . import props as props_
from .aws_facts import IRREVERSIBLE_ACTIONS, OVERWRITE_ACTIONS, PUBLISH_ACTION, REOPEN_ACTIONS, STATUS_ACTIONS
from .codeartifact import external_connections
from .props import (
    DOMAIN_POLICY_TYPES,
    DOMAIN_TYPES,
    KMS_KEY_TYPES,
    PACKAGE_GROUP_TYPE,
    REPOSITORY_TYPES,
)

PYPI_GROUP_PATTERN = re.compile(r"^/pypi//(?P<name>[^/~$*]*)(?P<kind>[~$])$")
EVERY_PYPI_PACKAGE = ("/pypi//*", "/pypi/*", "/*")


def can_start_with(pattern: str, text: str) -> bool:
    """Can some string that starts with `text` match the IAM pattern (`*` and `?` wildcards)?

    Used to ask whether a Resource pattern covers any package of a repository, i.e.
    any ARN under `arn:...:package/DOMAIN/REPOSITORY/`.
    """

    def closure(states: set[int]) -> set[int]:
        # A `*` may match nothing, so the position after it is reachable too.
        pending, reached = list(states), set(states)
        while pending:
            position = pending.pop()
            if position < len(pattern) and pattern[position] == "*" and position + 1 not in reached:
                reached.add(position + 1)
                pending.append(position + 1)
        return reached

    states = closure({0})
    for char in text:
        following = set()
        for position in states:
            if position < len(pattern):
                wanted = pattern[position]
                if wanted == "*":
                    following.add(position)
                elif wanted in ("?", char):
                    following.add(position + 1)
        states = closure(following)
        if not states:
            return False
    # Whatever is left of the pattern, some package name matches it.
    return True


def _repository_packages(repository: PolicyResource) -> tuple[str | None, str]:
    """(ARN prefix of every package in the repository, or None when unknown; resource-part prefix).

    A name unknown during preview shortens the resource-part prefix to what is known,
    so that an unknown never hides a grant.
    """
    props = repository.props
    domain = props_.known(props, "domain") or props_.known(props, "domainName")
    name = props_.known(props, "repository") or props_.known(props, "repositoryName")
    resource_prefix = "package/" + "".join(f"{part}/" for part in (domain, name) if part)
    if domain is None and name is not None:
        resource_prefix = "package/"
    arn = props_.known(props, "arn")
    if isinstance(arn, str) and ":repository/" in arn:
        return arn.replace(":repository/", ":package/", 1) + "/", resource_prefix
    region = props_.known(repository.provider.props, "region") if repository.provider else None
    account = props_.known(props, "domainOwner") or cfg.provider_account(repository.provider)
    if region and account and domain and name:
        return f"arn:aws:codeartifact:{region}:{account}:{resource_prefix}", resource_prefix
    return None, resource_prefix


def _covers_packages(pattern: str, arn_prefix: str | None, resource_prefix: str) -> bool:
    """Does a Resource pattern cover any package of the repository?"""
    if pattern == iam.WILDCARD:
        return True
    if arn_prefix is not None:
        return can_start_with(pattern, arn_prefix)
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        # A wildcard spanning the ARN's colons: it may cover anything.
        return "*" in pattern
    return can_start_with(parts[5], resource_prefix)


def _granted_repository(resource: PolicyResource) -> str | None:
    """The one repository a resource policy applies to; None for a domain policy (all of them)."""
    if resource.resource_type == "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy":
        return props_.known_str(resource.props, "repository")
    if resource.resource_type == "aws-native:codeartifact:Repository":
        return props_.known_str(resource.props, "repositoryName")
    return None


def _known_connections(args: StackValidationArgs, report: cfg.Report) -> list[tuple[PolicyResource, list[str]]]:
    """Every repository with its external connections; one whose connections are unknown during preview is
    reported and left out."""
    found = []
    for repository in props_.of_type(args, REPOSITORY_TYPES):
        connections = cfg.when_known(partial(external_connections, repository.resource_type, repository.props),
                                     report, repository, "external connection")
        if connections is not None:
            found.append((repository, connections))
    return found


def validate_store_has_no_publishers(args: StackValidationArgs, report: cfg.Report) -> None:
    stores = []
    for repository, connections in _known_connections(args, report):
        if connections:
            name = props_.known(repository.props, "repository") or props_.known(repository.props, "repositoryName")
            stores.append((name, connections, *_repository_packages(repository)))
    if not stores:
        return
    for resource in args.resources:
        documents = cfg.when_known(partial(props_.all_policies, resource.resource_type, resource.props),
                                   report, resource, "policy document")
        if documents is None:
            continue
        granted_repository = _granted_repository(resource)
        for what, document in documents:
            for index, statement in enumerate(iam.allow_statements(document)):
                if not iam.grants_action(statement, PUBLISH_ACTION):
                    continue
                for name, connections, arn_prefix, resource_prefix in stores:
                    if granted_repository is not None and name is not None and granted_repository != name:
                        continue
                    if any(_covers_packages(r, arn_prefix, resource_prefix) for r in iam.resources(statement)):
                        report(
                            f"{resource.name}: {what} {iam.label(statement, index)} allows {PUBLISH_ACTION} "
                            f"into {name or 'a repository'} with external connection {connections[0]}; publish "
                            "only to the internal repository",
                            resource.urn,
                        )


def validate_registry_protected(args: StackValidationArgs, report: cfg.Report) -> None:
    for resource in props_.of_type(args, DOMAIN_TYPES + REPOSITORY_TYPES + KMS_KEY_TYPES):
        if not resource.opts.protect:
            report(f"{resource.name} ({resource.resource_type}) is not protected: deleting or replacing it "
                   "loses every package; set protect=True and retain_on_delete=True", resource.urn)


def _external_upstream_mode(group: PolicyResource) -> str | None:
    return props_.known_str(group.props, "originConfiguration", "restrictions", "externalUpstream",
                            "restrictionMode")


def _covers_group(parent: str, child: str) -> bool:
    """Does package group pattern `parent` cover every name of pattern `child` (another pattern)?"""
    if parent == child:
        return False
    if parent in EVERY_PYPI_PACKAGE:
        return parent == "/*" or child.startswith(parent[:-1])
    outer, inner = PYPI_GROUP_PATTERN.match(parent), PYPI_GROUP_PATTERN.match(child)
    return bool(outer and inner and outer["kind"] == "~" and inner["name"].startswith(outer["name"]))


def _inherited_mode(pattern: str, groups: list[tuple[str, PolicyResource]]) -> tuple[str | None, str]:
    """(external upstream mode in force, the pattern it comes from) for the group of `pattern`: INHERIT
    takes its parent's, the most specific other group covering it; the domain's root group `/*`, when the
    stack declares none, allows external upstreams."""
    seen = {pattern}
    while True:
        mode = next((_external_upstream_mode(g) for p, g in groups if p == pattern), None)
        if mode != "INHERIT":
            return mode, pattern
        parents = sorted((p for p, _ in groups if _covers_group(p, pattern) and p not in seen), key=len)
        if not parents:
            return "ALLOW", "/* (the root group)"
        pattern = parents[-1]
        seen.add(pattern)


def _mode_text(pattern: str, groups: list[tuple[str, PolicyResource]]) -> str | None:
    """Why the group of `pattern` does not block external upstreams, or None when it does."""
    mode, source = _inherited_mode(pattern, groups)
    if mode == "BLOCK":
        return None
    return str(mode) if source == pattern else f"INHERIT ({mode} from {source})"


def validate_prefixes_block_external(args: StackValidationArgs, report: cfg.Report) -> None:
    groups = []
    for group in props_.of_type(args, PACKAGE_GROUP_TYPE):
        pattern = props_.known(group.props, "pattern")
        if pattern is not None:
            groups.append((str(pattern), group))
    prefixes = sorted(cfg.config_set(args, "internalPrefixes"))
    if not prefixes:
        report("internalPrefixes is not configured: the dependency-confusion guard cannot be checked; set it in "
               "the pack config (policies/policy-config.<stack>.json)")
    for prefix in prefixes:
        covering = []  # groups whose pattern covers every name under the prefix
        narrower = []  # groups for names under the prefix: they override the covering one
        for pattern, group in groups:
            match = PYPI_GROUP_PATTERN.match(pattern)
            if pattern in EVERY_PYPI_PACKAGE or (match and match["kind"] == "~" and prefix.startswith(match["name"])):
                covering.append((len(pattern), pattern, group))
            elif match and match["name"].startswith(prefix):
                narrower.append((pattern, group))
        if not covering:
            report(f"internal prefix {prefix!r} has no package group (/pypi//{prefix}~): its names could "
                   "come from public PyPI (dependency confusion)")
            continue
        # CodeArtifact applies the most specific matching group.
        _, pattern, group = max(covering, key=lambda found: found[0])
        mode = _mode_text(pattern, groups)
        if mode is not None:
            report(f"package group {pattern} for internal prefix {prefix!r} has external upstream {mode}, "
                   "not BLOCK", group.urn)
        for pattern, group in narrower:
            mode = _mode_text(pattern, groups)
            if mode is not None:
                report(f"package group {pattern} under internal prefix {prefix!r} has external upstream "
                       f"{mode}, not BLOCK", group.urn)


# --- package groups belong to the registry and publish only into repositories without a connection ----


def _publish_mode(group: PolicyResource) -> tuple[str | None, list[str]]:
    restriction = props_.known(group.props, "originConfiguration", "restrictions", "publish")
    mode = props_.known_str(restriction, "restrictionMode") if isinstance(restriction, Mapping) else None
    repositories = props_.known(restriction, "repositories") if isinstance(restriction, Mapping) else None
    return mode, [str(r) for r in iam.as_list(repositories)]


def _named_domain(group: PolicyResource) -> tuple[object]:
    # A 1-tuple, so that a group naming no domain is told apart from one whose domain is unknown.
    return (group.props.get("domainName"),)


def validate_package_groups_in_registry(args: StackValidationArgs, report: cfg.Report) -> None:
    owner = cfg.config_str(args, "ownerAccountId")
    domains = {name for d in props_.of_type(args, DOMAIN_TYPES) if (name := props_.domain_name(d.props))}
    internal: dict[str, set[str]] = {}  # domain -> repositories without an external connection
    for repository, connections in _known_connections(args, report):
        domain, name = props_.domain_name(repository.props), props_.repository_name(repository.props)
        if domain and name and not connections:
            internal.setdefault(domain, set()).add(name)
    for group in props_.of_type(args, PACKAGE_GROUP_TYPE):
        pattern = props_.known_str(group.props, "pattern") or "(unknown pattern)"
        named = cfg.when_known(partial(_named_domain, group), report, group, "domain")
        if named is None:
            continue
        group_domain = str(named[0] or "")
        if not group_domain:
            report(f"package group {pattern} names no domain: which domain it guards cannot be told", group.urn)
            continue
        if group_domain not in domains:
            report(f"package group {pattern} is declared in domain {group_domain}, not in a domain this stack declares "
                   f"({', '.join(sorted(domains)) or 'none'}): it guards nothing here", group.urn)
        domain_owner = props_.known_str(group.props, "domainOwner")
        if owner and domain_owner and domain_owner != owner:
            report(f"package group {pattern} names domain owner {domain_owner}, not the owner account {owner}",
                   group.urn)
        mode, repositories = _publish_mode(group)
        if mode == "BLOCK":
            continue
        allowed = internal.get(group_domain, set())
        if mode != "ALLOW_SPECIFIC_REPOSITORIES" or not repositories:
            report(f"package group {pattern} sets publishing to {mode or 'nothing (the parent group decides)'}: "
                   "set ALLOW_SPECIFIC_REPOSITORIES with the repositories that have no external connection, or "
                   "BLOCK", group.urn)
        elif outside := sorted(set(repositories) - allowed):
            report(f"package group {pattern} allows publishing into {outside}, which "
                   f"{'is not a repository' if len(outside) == 1 else 'are not repositories'} "
                   f"of domain {group_domain} without an external connection ({', '.join(sorted(allowed)) or 'none'})",
                   group.urn)


# --- the Deny of irreversible deletes -------------------------------------------------------------


def _domain_documents(domain: PolicyResource, args: StackValidationArgs,
                      report: cfg.Report) -> list[dict[str, object]] | None:
    """The permissions policies in force for a domain: its own (aws-native) or a DomainPermissions on it;
    None when one of them is unknown during preview (reported)."""
    name = props_.known(domain.props, "domain") or props_.known(domain.props, "domainName")
    account = cfg.provider_account(domain.provider)
    found = []
    for resource in props_.of_type(args, DOMAIN_POLICY_TYPES):
        depends = any(dep.urn == domain.urn for dep in resource.property_dependencies.get("domain", []))
        # A policy found by name counts only in the domain's own account: a domain of the same name
        # elsewhere, or in an account that cannot be told, has a policy of its own.
        policy_account = props_.known_str(resource.props, "domainOwner") or cfg.provider_account(resource.provider)
        named = bool(name) and props_.known(resource.props, "domain") == name
        if resource.urn == domain.urn or depends or (named and account is not None and policy_account == account):
            documents = cfg.when_known(partial(props_.resource_policies, resource.resource_type, resource.props),
                                       report, resource, "permissions policy")
            if documents is None:
                return None
            found += [document for _, document in documents]
    return found


def validate_domain_denies_loss(args: StackValidationArgs, report: cfg.Report) -> None:
    from .airlock import airlock_mode, carve_out_problems
    from .backup import retention_carve_out_problems

    break_glass = {cfg.config_str(args, "breakGlassRoleArn")} - {""}
    deployers = cfg.config_set(args, "deployPrincipalArns")
    # Airlock mode: the promoter may be exempt from the Deny of copies, the pull-back role from the Deny of status
    # changes, provided further Denies confine each to its repositories (carve_out_problems).
    airlock = airlock_mode(args)
    promoter = {cfg.config_str(args, "promoterRoleArn")} - {""} if airlock else set()
    pull_back = {cfg.config_str(args, "pullBackRoleArn")} - {""} if airlock else set()
    # Backup with retention: the retention role may be exempt from the Deny of status changes, provided a further
    # Deny confines it to internal (retention_carve_out_problems).
    retention = {cfg.config_str(args, "retentionRoleArn")} - {""}
    # (actions, who may be exempt, what is at stake)
    required = [
        (IRREVERSIBLE_ACTIONS, break_glass, "a published version could be deleted"),
        (OVERWRITE_ACTIONS, break_glass | promoter, "a published version could be overwritten"),
        (REOPEN_ACTIONS, break_glass | deployers, "internal names could be reopened to public PyPI"),
        (STATUS_ACTIONS, break_glass | deployers | pull_back | retention,
         "every version could be archived or unlisted"),
    ]
    for domain in props_.of_type(args, DOMAIN_TYPES):
        documents = _domain_documents(domain, args, report)
        if documents is None:
            continue
        if not documents:
            report(f"{domain.name} has no domain permissions policy, so nothing denies deleting, overwriting or "
                   "reopening packages to any principal with IAM rights", domain.urn)
            continue
        statements = [s for document in documents for s in iam.statements(document)]
        for actions, exempt, stake in required:
            missing = [a for a in actions if not any(iam.denies_everyone(s, a, exempt) for s in statements)]
            if missing:
                allowed = f"except {sorted(exempt)}" if exempt else "without any exception"
                report(f"{domain.name}: the domain permissions policy does not Deny {grants.summary(missing, 6)} to "
                       f'every principal ("*", Resource "*", {allowed}): {stake}', domain.urn)
        if airlock:
            for problem in carve_out_problems(args, statements, report):
                report(f"{domain.name}: {problem}", domain.urn)
        if retention:
            for problem in retention_carve_out_problems(args, statements):
                report(f"{domain.name}: {problem}", domain.urn)

# --- one permissions policy per domain and per repository ------------------------------------------


def _target(resource: PolicyResource, key: str, targets: list[PolicyResource], *names: str) -> tuple[str, ...] | None:
    """What a permissions policy applies to: the declared resource it depends on or names (by URN), else
    (account, name...) as written; None when its name is unknown during preview and no dependency tells."""
    for dependency in resource.property_dependencies.get(key, []):
        if any(dependency.urn == target.urn for target in targets):
            return (dependency.urn,)
    known = tuple(props_.known_str(resource.props, name) for name in names)
    if any(name is None for name in known):
        return None
    account = props_.known_str(resource.props, "domainOwner") or cfg.provider_account(resource.provider) or ""
    for target in targets:
        target_names = (props_.domain_name(target.props),
                        *([props_.known_str(target.props, "repository")] if len(names) > 1 else []))
        target_account = cfg.provider_account(target.provider) or ""
        # An account that cannot be told (an unpinned provider), on either side, may be the other one:
        # the worst case here is two policies for one target.
        if target_names == known and (target_account == account or not account or not target_account):
            return (target.urn,)
    return (account, *(name or "" for name in known))


def validate_one_permissions_policy(args: StackValidationArgs, report: cfg.Report) -> None:
    domains = props_.of_type(args, "aws:codeartifact/domain:Domain")
    repositories = props_.of_type(args, "aws:codeartifact/repository:Repository")
    found: dict[tuple[str, ...], list[PolicyResource]] = {}
    for resource in args.resources:
        if resource.resource_type in ("aws-native:codeartifact:Domain", "aws-native:codeartifact:Repository"):
            if props_.known(resource.props, "permissionsPolicyDocument") is not None:
                found.setdefault((resource.urn,), []).append(resource)
            continue
        if resource.resource_type == "aws:codeartifact/domainPermissions:DomainPermissions":
            target = _target(resource, "domain", domains, "domain")
        elif resource.resource_type == "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy":
            target = _target(resource, "repository", repositories, "domain", "repository")
        else:
            continue
        if target is None:
            report(f"{resource.name}: the domain or repository it applies to is unknown during preview and no "
                   "dependency tells, so a second policy for the same one could not be seen; name it with a known "
                   "value", resource.urn)
            continue
        found.setdefault(target, []).append(resource)
    for policies in found.values():
        if len(policies) > 1:
            names = ", ".join(p.name for p in policies)
            report(f"{names} are {len(policies)} permissions policies for one CodeArtifact domain or repository: AWS "
                   "keeps only the last one written, so which one is in force depends on the order of the update; "
                   "keep exactly one", policies[-1].urn)


POLICIES: list[cfg.Guardrail] = [
    cfg.stack_policy(
        "external-connection-repository-has-no-publishers",
        "Nothing may publish into a repository that has an external connection.",
        validate_store_has_no_publishers,
    ),
    cfg.stack_policy(
        "registry-resources-protected",
        "The CodeArtifact domain, its repositories and KMS keys are protected against deletion.",
        validate_registry_protected,
    ),
    cfg.stack_policy(
        "internal-prefixes-block-external-upstream",
        "Every internal package name prefix (required in the pack config) has a package group that blocks "
        "external upstreams.",
        validate_prefixes_block_external, "internalPrefixes",
    ),
    cfg.stack_policy(
        "domain-denies-loss-and-reopening",
        "Every domain's permissions policy denies the irreversible deletes and CopyPackageVersions to every "
        "principal but the break-glass role, and package-group, origin-control, upstream, repository-policy and "
        "version-status changes to every principal but the deploy roles and the break-glass role. In airlock mode "
        "the promoter may copy into the vetted repository only, the pull-back role change statuses in the vetted "
        "and internal repositories only, nobody else read a repository with an external connection or publish into "
        "the vetted one.",
        validate_domain_denies_loss, "breakGlassRoleArn", "deployPrincipalArns", "publicIngest", "promoterRoleArn",
        "pullBackRoleArn", "vettedRepositoryName", "internalRepositoryName", "retentionRoleArn",
    ),
    cfg.stack_policy(
        "one-permissions-policy-per-domain-and-repository",
        "A CodeArtifact domain or repository has at most one permissions policy (AWS keeps only the last one "
        "written).",
        validate_one_permissions_policy,
    ),
    cfg.stack_policy(
        "package-groups-guard-the-registry",
        "Every package group belongs to a domain this stack declares, in the owner account, and allows publishing "
        "only into repositories of that domain without an external connection (ALLOW_SPECIFIC_REPOSITORIES) or "
        "blocks it.",
        validate_package_groups_in_registry, "ownerAccountId",
    ),
]
