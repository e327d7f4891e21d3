"""The IAM role keys: the names of the roles in each secondary account (deploy, preview, reader), and the owner
account's roles the settings name for people (break-glass, deploy principals, CI), none of which may be a role
the stack declares for GitHub or for an AWS service to assume."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.names import AIRLOCK_ROLE_NAMES, BACKUP_ROLE_NAMES, DEFAULTS, GITHUB_READER_ROLE_NAME, RETENTION_ROLE_NAMES
from model.parse_values import Problems, read_list, read_string, valid_role_arn
from model.rules import IAM_ROLE_NAME, READER_ROLE_NAME, reserved_role, role_arn_problem, role_name_of

SECONDARY_ROLE_KEYS = ("deployRoleName", "previewRoleName", "readerRoleName")


@dataclass(frozen=True)
class Principals:
    """The owner account's roles the settings name for people, each a valid role ARN (None: not given, or refused)."""

    break_glass: str | None
    deploy_principals: tuple[str, ...]
    ci_deploy: str | None
    ci_preview: str | None


def parse_role_names(raw: Mapping[str, Any], problems: Problems) -> dict[str, str | None]:
    """deployRoleName, previewRoleName and readerRoleName, by key (a name is kept even when refused: the keys after
    it are compared with it all the same)."""
    role_names: dict[str, str | None] = {}
    for key in SECONDARY_ROLE_KEYS:
        name = read_string(raw, key, problems, default=DEFAULTS[key])
        if name is not None and not IAM_ROLE_NAME.fullmatch(name):
            problems.add(key, f"{name!r} is not a valid IAM role name ({IAM_ROLE_NAME.pattern})")
        elif name is not None and (reserved := reserved_role(name)):
            problems.add(key, f"{name!r} is {reserved}: this stack would trust, rewrite or delete a role it does not "
                              "own; choose a name of its own")
        role_names[key] = name
    # All three roles live in each secondary account, and IAM role names are unique ignoring case.
    for index, key in enumerate(SECONDARY_ROLE_KEYS):
        name = role_names[key]
        for other_key in SECONDARY_ROLE_KEYS[:index]:
            other = role_names[other_key]
            if name is not None and other is not None and name.lower() == other.lower():
                problems.add(
                    key,
                    f"must differ from {other_key}, ignoring case: both roles live in each secondary account "
                    "and IAM role names are unique ignoring case",
                )
    return role_names


def parse_principals(raw: Mapping[str, Any], problems: Problems, owner: str | None) -> Principals:
    """breakGlassRoleArn, deployPrincipalArns, ciDeployRoleArn and ciPreviewRoleArn: roles of the owner account."""
    break_glass = read_string(raw, "breakGlassRoleArn", problems)
    if break_glass is not None:
        break_glass = valid_role_arn(break_glass, "breakGlassRoleArn", problems, owner)
    deploy_principals = _deploy_principals(raw, problems, owner)
    ci_deploy, ci_preview = _ci_roles(raw, problems, owner, deploy_principals, break_glass)
    return Principals(break_glass, tuple(deploy_principals), ci_deploy, ci_preview)


def _deploy_principals(raw: Mapping[str, Any], problems: Problems, owner: str | None) -> list[str]:
    deploy_principals: list[str] = []
    deploy_names: dict[str, int] = {}
    for i, value in enumerate(read_list(raw, "deployPrincipalArns", problems)):
        arn = valid_role_arn(value, f"deployPrincipalArns[{i}]", problems, owner)
        if arn is None:
            continue
        first = deploy_names.setdefault(role_name_of(arn).lower(), i)
        if first != i:
            problems.add(
                f"deployPrincipalArns[{i}]",
                f"{arn} names the same role as deployPrincipalArns[{first}] "
                "(IAM role names are unique in an account, ignoring case and path)",
            )
            continue
        deploy_principals.append(arn)
    return deploy_principals


def _ci_roles(raw: Mapping[str, Any], problems: Problems, owner: str | None, deploy_principals: list[str],
              break_glass: str | None) -> tuple[str | None, str | None]:
    """The owner account's CI roles: the deploy one must be a deploy principal (it runs `pulumi up`, which the
    domain policy lets change package groups only for those); the preview one runs a pull request's code, so it
    must be none of them, nor the break-glass role, nor the deploy one."""
    why = "the CI roles live in the owner account"
    found: dict[str, str | None] = {}
    for key in ("ciDeployRoleArn", "ciPreviewRoleArn"):
        value = read_string(raw, key, problems)
        problem = role_arn_problem(value, owner, why) if value else None
        if problem:
            problems.add(key, problem)
        found[key] = value if value and not problem else None
    deploy, preview = found["ciDeployRoleArn"], found["ciPreviewRoleArn"]
    deploy_names = {role_name_of(arn).lower() for arn in deploy_principals}
    if deploy and role_name_of(deploy).lower() not in deploy_names:
        problems.add("ciDeployRoleArn", f"{deploy} must also be listed in deployPrincipalArns: it runs `pulumi up`, "
                                        "which the domain policy lets change package groups only for those roles")
    if preview:
        for other_key, other in (("ciDeployRoleArn", deploy), ("breakGlassRoleArn", break_glass)):
            if other and role_name_of(preview).lower() == role_name_of(other).lower():
                problems.add("ciPreviewRoleArn", f"{preview} names the same role as {other_key} (IAM role names are "
                                                 "unique ignoring case and path): a preview runs a pull request's "
                                                 "code and must not hold that role's rights")
        if role_name_of(preview).lower() in deploy_names:
            problems.add("ciPreviewRoleArn", f"{preview} is listed in deployPrincipalArns: a preview runs a pull "
                                             "request's code and must not be exempt from the domain policy's Denies")
    return deploy, preview


def check_principals_are_not_github_roles(principals: Principals, publisher_roles: Mapping[str, str],
                                          problems: Problems) -> None:
    """No role named for people (but the CI deploy role, a deploy principal itself) is one GitHub can assume: a
    publisher's role (`publisher_roles`: lower-case name to repository) or a CI or Dependabot reader's."""
    for key, arns in (("breakGlassRoleArn", [principals.break_glass] if principals.break_glass else []),
                      ("ciPreviewRoleArn", [principals.ci_preview] if principals.ci_preview else []),
                      *((f"deployPrincipalArns[{i}]", [arn]) for i, arn in enumerate(principals.deploy_principals))):
        for arn in arns:
            repository = publisher_roles.get(role_name_of(arn).lower())
            if repository:
                problems.add(key, f"{arn} names the publisher role of {repository}, which GitHub can assume")
            elif READER_ROLE_NAME.fullmatch(name := role_name_of(arn)):
                who = ("the GitHub CI reader role", "pull request jobs of the githubReaders repositories") if (
                    name.lower().startswith(GITHUB_READER_ROLE_NAME)) else (
                    "the Dependabot reader role", "Dependabot's update jobs of the dependabotReaders repositories")
                problems.add(key, f"{arn} names {who[0]} ({name}), which {who[1]} can assume")


def check_principals_are_not_service_roles(principals: Principals, airlock_mode: bool, backup_mode: bool,
                                           problems: Problems) -> None:
    """The roles the stack declares for AWS services to assume: none may be a role the settings name for people."""
    service_roles = {
        **({name.lower(): ("the airlock's", name) for name in AIRLOCK_ROLE_NAMES} if airlock_mode else {}),
        **({name.lower(): ("the backup's", name) for name in (*BACKUP_ROLE_NAMES, *RETENTION_ROLE_NAMES)}
           if backup_mode else {}),
    }
    for key, arn in (("breakGlassRoleArn", principals.break_glass), ("ciDeployRoleArn", principals.ci_deploy),
                     ("ciPreviewRoleArn", principals.ci_preview),
                     *((f"deployPrincipalArns[{i}]", arn) for i, arn in enumerate(principals.deploy_principals))):
        if arn and (found := service_roles.get(role_name_of(arn).lower())):
            whose, name = found
            problems.add(key, f"{arn} names {whose} role {name}, which the stack declares for AWS Lambda, "
                              "EventBridge Scheduler or S3 to assume; choose a role of its own")
