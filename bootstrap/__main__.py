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

from audit.stack_config import PROJECT_DIR, load_stack_config
from bootstrap.documents import documents
from components.policy_documents import to_json
from components.settings import (
    GITHUB_ID,
    GITHUB_OWNER,
    GITHUB_REPO,
    PROJECT,
    ROLE_ARN,
    ConfigError,
    parse_settings,
)

EXIT_INVALID = 2


def role_problems(key: str, arn: str, owner: str) -> list[str]:
    """Why an argument is not a role of the owner account."""
    match = ROLE_ARN.fullmatch(arn)
    if match is None:
        return [f"{key}: {arn!r} is not an IAM role ARN arn:aws:iam::<12 digits>:role/[PATH/]NAME (an account "
                "root, a user or a wildcard is refused: the secondary roles would trust more than one role)"]
    if match["account"] != owner:
        return [f"{key}: {arn} is a role of account {match['account']}, not of the owner account {owner}"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="prod", help="the stack whose settings name the accounts (default prod)")
    parser.add_argument("--repository", required=True, help="OWNER/NAME of this repository on GitHub")
    parser.add_argument("--owner-id", help="the GitHub ID of the repository's owner; with --repository-id, the CI "
                                           "roles trust the immutable subject repo:OWNER@ID/NAME@ID:... only")
    parser.add_argument("--repository-id", help="the repository's GitHub ID (gh api repos/OWNER/NAME --jq .id)")
    parser.add_argument("--ci-preview-role", required=True, help="ARN of the owner account's preview CI role")
    parser.add_argument("--ci-deploy-role", required=True, help="ARN of the owner account's deploy CI role")
    args = parser.parse_args(argv)
    try:
        values = load_stack_config(args.stack, PROJECT_DIR)
        raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{PROJECT}:")}
        settings = parse_settings(raw, values.get("aws:region"))
    except ConfigError as error:
        print(f"error: stack {args.stack}: invalid configuration:\n{error}", file=sys.stderr)
        return EXIT_INVALID
    problems = []
    owner, _, name = args.repository.partition("/")
    if not GITHUB_OWNER.fullmatch(owner) or not GITHUB_REPO.fullmatch(name) or name in (".", ".."):
        problems.append(f"--repository: {args.repository!r} is not OWNER/NAME")
    ids = (args.owner_id, args.repository_id)
    if any(ids) and not all(value and GITHUB_ID.fullmatch(value) for value in ids):
        problems.append("--owner-id, --repository-id: give both GitHub IDs as whole numbers, or neither "
                        "(gh api repos/OWNER/NAME --jq '.owner.id, .id')")
    problems += role_problems("--ci-preview-role", args.ci_preview_role, settings.owner_account_id)
    problems += role_problems("--ci-deploy-role", args.ci_deploy_role, settings.owner_account_id)
    preview, deploy = ROLE_ARN.fullmatch(args.ci_preview_role), ROLE_ARN.fullmatch(args.ci_deploy_role)
    if preview and deploy and preview["name"].lower() == deploy["name"].lower():
        problems.append("--ci-deploy-role: names the same role as --ci-preview-role (IAM role names are unique "
                        "ignoring case and path): a preview runs a pull request's code and must not hold the deploy "
                        "role's rights")
    if problems:
        print("error: " + "\n       ".join(problems), file=sys.stderr)
        return EXIT_INVALID
    repository = f"{owner}@{args.owner_id}/{name}@{args.repository_id}" if all(ids) else args.repository
    docs = documents(settings, repository, args.ci_preview_role, args.ci_deploy_role)
    print(json.dumps({account: {role: {k: json.loads(to_json(v)) for k, v in parts.items()}
                                for role, parts in roles.items()} for account, roles in docs.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
