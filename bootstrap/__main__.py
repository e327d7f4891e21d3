"""Print the documents of the roles that deploy the registry, which the stack must not manage: the owner
account's two CI roles, and a preview and a deploy role in every secondary account, as JSON by account
and role (trust policy, permission policy).

Bad input is refused before anything is printed, every problem at once, with exit status 2: a role ARN
that is not a role of the owner account (an account root, a user, another account), the same role for
preview and deploy (IAM role names are unique ignoring case and path), a repository that is not
OWNER/NAME, a stack without a stack file or with invalid settings.
"""

from __future__ import annotations

import argparse
import json
import sys

from audit.stack_config import PROJECT_DIR, load_stack_config, stack_settings
from bootstrap.documents import documents
from components.policy_documents import to_json
from components.settings import (
    GITHUB_ID,
    GITHUB_OWNER,
    GITHUB_REPO,
    ROLE_ARN,
    ConfigError,
    role_arn_problem,
)

EXIT_INVALID = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="prod", help="the stack whose settings name the accounts (default prod)")
    parser.add_argument("--repository", required=True, help="OWNER/NAME of this repository on GitHub")
    parser.add_argument("--owner-id", help="the GitHub ID of the repository's owner; with --repository-id, the CI "
                                           "roles trust the immutable subject repo:OWNER@ID/NAME@ID:... only")
    parser.add_argument("--repository-id", help="the repository's GitHub ID (gh api repos/OWNER/NAME --jq .id)")
    parser.add_argument("--ci-preview-role", help="ARN of the owner account's preview CI role (default: the stack's "
                                                  "ciPreviewRoleArn)")
    parser.add_argument("--ci-deploy-role", help="ARN of the owner account's deploy CI role (default: the stack's "
                                                 "ciDeployRoleArn)")
    args = parser.parse_args(argv)
    try:
        settings = stack_settings(load_stack_config(args.stack, PROJECT_DIR))
    except ConfigError as error:
        print(f"error: stack {args.stack}: invalid configuration:\n{error}", file=sys.stderr)
        return EXIT_INVALID
    problems = []
    ci_roles = {}
    for flag, key, configured in (("--ci-preview-role", "ciPreviewRoleArn", settings.ci_preview_role_arn),
                                  ("--ci-deploy-role", "ciDeployRoleArn", settings.ci_deploy_role_arn)):
        given = getattr(args, flag[2:].replace("-", "_"))
        if given and configured and given != configured:
            problems.append(f"{flag}: {given} differs from the stack's {key} {configured}: the stack's access report "
                            "and pack config are derived from the setting; change it there")
        elif not (given or configured):
            problems.append(f"{flag}: required while the stack sets no {key}")
        ci_roles[flag] = given or configured or ""
    owner, _, name = args.repository.partition("/")
    if not GITHUB_OWNER.fullmatch(owner) or not GITHUB_REPO.fullmatch(name) or name in (".", ".."):
        problems.append(f"--repository: {args.repository!r} is not OWNER/NAME")
    ids = (args.owner_id, args.repository_id)
    if any(ids) and not all(value and GITHUB_ID.fullmatch(value) for value in ids):
        problems.append("--owner-id, --repository-id: give both GitHub IDs as whole numbers, or neither "
                        "(gh api repos/OWNER/NAME --jq '.owner.id, .id')")
    for flag, arn in ci_roles.items():
        if not arn:
            continue
        problem = role_arn_problem(arn, settings.owner_account_id, "the CI roles live in the owner account")
        if problem:
            problems.append(f"{flag}: {problem}")
    preview, deploy = (ROLE_ARN.fullmatch(ci_roles[flag]) for flag in ("--ci-preview-role", "--ci-deploy-role"))
    if preview and deploy and preview["name"].lower() == deploy["name"].lower():
        problems.append("--ci-deploy-role: names the same role as --ci-preview-role (IAM role names are unique "
                        "ignoring case and path): a preview runs a pull request's code and must not hold the deploy "
                        "role's rights")
    if problems:
        print("error: " + "\n       ".join(problems), file=sys.stderr)
        return EXIT_INVALID
    repository = f"{owner}@{args.owner_id}/{name}@{args.repository_id}" if all(ids) else args.repository
    docs = documents(settings, repository, ci_roles["--ci-preview-role"], ci_roles["--ci-deploy-role"])
    print(json.dumps({account: {role: {k: json.loads(to_json(v)) for k, v in parts.items()}
                                for role, parts in roles.items()} for account, roles in docs.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
