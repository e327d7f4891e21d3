"""Produce what the stack needs but must not manage: the owner account's two CI roles, a preview and a deploy
role and the reader's permissions boundary in every secondary account, and the state bucket's policy.

Without --json, a summary of what to create where and the commands to do it; with --json, one document by
account and role (trust policy, permission policy, boundary; the state bucket's policy under the owner
account). --output-dir writes the files those commands read: the CI roles' documents, the state bucket's
policy and one CloudFormation template for every secondary account.

Bad input is refused before anything is printed or written, every problem at once, with exit status 2: a role
ARN that is not a role of the owner account (an account root, a user, another account), the same role for
preview and deploy (IAM role names are unique ignoring case and path), a repository that is not OWNER/NAME, a
bucket name S3 refuses, an output path that is not a directory, a stack without a stack file or with invalid
settings.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from bootstrap.documents import (
    SECONDARY_STACK_NAME,
    ci_deploy_managed_policies,
    documents,
    owner_boundaries,
    reader_boundary_name,
    secondary_roles_template,
)
from bootstrap.state_bucket import bucket_name_problems
from model.github import GITHUB_ID, GITHUB_OWNER, GITHUB_REPO
from model.names import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST
from model.rules import ROLE_ARN, role_arn_problem
from model.settings import ConfigError, Settings
from model.stack_file import PROJECT_DIR, load_stack_config, stack_settings
from model.trust_policy import to_json

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
    parser.add_argument("--state-bucket", metavar="NAME", help="the S3 bucket of the Pulumi state (pulumi login "
                                                               "s3://NAME), in the owner account: adds its policy")
    parser.add_argument("--output-dir", metavar="DIR", type=Path, help="write the CI roles' documents, the state "
                        "bucket's policy and the secondary accounts' CloudFormation template into DIR")
    parser.add_argument("--json", action="store_true", help="print every document as one JSON document instead of "
                                                            "the summary")
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
    if args.state_bucket is not None:
        problems += [f"--state-bucket: {args.state_bucket!r} {rule}"
                     for rule in bucket_name_problems(args.state_bucket)]
    if args.output_dir is not None and args.output_dir.exists() and not args.output_dir.is_dir():
        problems.append(f"--output-dir: {str(args.output_dir)!r} exists and is not a directory")
    if problems:
        print("error: " + "\n       ".join(problems), file=sys.stderr)
        return EXIT_INVALID
    repository = f"{owner}@{args.owner_id}/{name}@{args.repository_id}" if all(ids) else args.repository
    ci_preview_role, ci_deploy_role = ci_roles["--ci-preview-role"], ci_roles["--ci-deploy-role"]
    docs = documents(settings, repository, ci_preview_role, ci_deploy_role, args.state_bucket)
    files = output_files(settings, docs, ci_preview_role, ci_deploy_role)
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        for file_name, content in files.items():
            (args.output_dir / file_name).write_text(content, encoding="utf-8")
    if args.json:
        print(json.dumps({account: {role: {k: json.loads(to_json(v)) for k, v in parts.items()}
                                    for role, parts in roles.items()} for account, roles in docs.items()}, indent=2))
    else:
        print(summary(settings, args.stack, (ci_preview_role, ci_deploy_role), args.state_bucket,
                      args.output_dir))
    return 0


SECONDARY_TEMPLATE = "secondary-roles.json"
STATE_BUCKET_POLICY = "state-bucket-policy.json"


def owner_boundary_names(settings: Settings) -> list[str]:
    return [boundary.rsplit("/", 1)[1] for _, boundary, _ in owner_boundaries(settings)]


def output_files(settings: Settings, docs: dict[str, Any], ci_preview_role: str, ci_deploy_role: str) -> dict[str, str]:
    """What --output-dir writes, by file name: the owner account's boundary of the stack's roles, each CI role's
    trust and policy, the state bucket's policy, and the one template of every secondary account."""
    owner = docs[settings.owner_account_id]
    files = {f"{boundary}.json": json.dumps(owner[boundary]["boundary"], indent=2) + "\n"
             for boundary in owner_boundary_names(settings)}
    files |= {f"{role}-trust.json": json.dumps(owner[role]["trust"], indent=2) + "\n"
              for role in ("ci-preview", "ci-deploy")}
    files["ci-preview-policy.json"] = json.dumps(owner["ci-preview"]["policy"], indent=2) + "\n"
    files |= {f"{name}.json": json.dumps(document, indent=2) + "\n"
              for name, document in owner["ci-deploy"]["policies"].items()}
    if "state-bucket" in owner:
        files[STATE_BUCKET_POLICY] = json.dumps(owner["state-bucket"]["bucketPolicy"], indent=2) + "\n"
    if settings.secondary_account_ids:
        template = secondary_roles_template(settings, ci_preview_role, ci_deploy_role)
        files[SECONDARY_TEMPLATE] = json.dumps(template, indent=2) + "\n"
    return files


def summary(settings: Settings, stack: str, ci_roles: tuple[str, str], state_bucket: str | None,
            output_dir: Path | None) -> str:
    """What to create where, in order, and the commands that do it (reading the files --output-dir writes)."""
    owner = settings.owner_account_id
    here = shlex.quote(str(output_dir or "DIR"))
    lines = [f"Bootstrap of stack {stack} (owner account {owner}, {settings.region}); run in this order."]
    if output_dir is None:
        lines.append("The files below are written by the same command with --output-dir DIR; --json prints them "
                     "all as one document.")
    provider = (f"   aws iam create-open-id-connect-provider --url https://{GITHUB_OIDC_HOST} "
                f"--client-id-list {GITHUB_OIDC_AUDIENCE}")
    lines += ["", f"1. In the owner account {owner}, as an operator (deployPrincipalArns), unless the account has it: "
                  "the GitHub OIDC provider the CI roles trust (IAM refuses a trust in a provider that does not "
                  "exist yet, so it comes before them, not from the stack's first `pulumi up`).", provider]
    if settings.create_github_oidc_provider:
        lines.append("   The stack's createGithubOidcProvider is true: set it to false in the stack file, or its first "
                     "`pulumi up` fails creating a second provider for the same URL (a stack that created the "
                     "provider before keeps it: skip this step).")
    lines += ["", "2. In the owner account: the permissions boundary every role the stack declares there carries, then "
                  "the two CI roles."]
    lines += [f"   aws iam create-policy --policy-name {boundary} --policy-document file://{here}/{boundary}.json"
              for boundary in owner_boundary_names(settings)]
    for role, arn in zip(("ci-preview", "ci-deploy"), ci_roles, strict=True):
        role_path, role_name = _path_and_name(arn)
        lines.append(f"   aws iam create-role --role-name {role_name} --path {role_path} "
                     f"--assume-role-policy-document file://{here}/{role}-trust.json")
        if role == "ci-preview":
            lines.append(f"   aws iam put-role-policy --role-name {role_name} --policy-name {role_name} "
                         f"--policy-document file://{here}/{role}-policy.json")
            continue
        # The deploy role's permissions are several managed policies (over the inline limit in airlock mode).
        for name in ci_deploy_managed_policies(settings):
            lines += [f"   aws iam create-policy --policy-name {name} --policy-document file://{here}/{name}.json",
                      f"   aws iam attach-role-policy --role-name {role_name} --policy-arn "
                      f"arn:aws:iam::{owner}:policy/{name}"]
    step = 3
    if state_bucket is not None:
        bucket = state_bucket
        lines += ["", f"{step}. In the owner account, the state bucket {bucket} of `pulumi login s3://{bucket}`: "
                      "private, versioned, then its policy (it names the CI roles, so they must exist, and it denies "
                      "changing versioning or lifecycle rules, so set those first):",
                  f"   aws s3api create-bucket --bucket {bucket} --region {settings.region} "
                  f"--create-bucket-configuration LocationConstraint={settings.region}",
                  f"   aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
                  "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
                  f"   aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled",
                  f"   aws s3api put-bucket-policy --bucket {bucket} --policy file://{here}/{STATE_BUCKET_POLICY}"]
        step += 1
    if settings.secondary_account_ids:
        lines += ["", f"{step}. In each secondary account ({', '.join(settings.secondary_account_ids)}): roles "
                      f"{settings.preview_role_name} and {settings.deploy_role_name} and the managed policy "
                      f"{reader_boundary_name(settings)}, from one template (credentials of that account):",
                  f"   aws cloudformation deploy --template-file {here}/{SECONDARY_TEMPLATE} --stack-name "
                  f"{SECONDARY_STACK_NAME} --capabilities CAPABILITY_NAMED_IAM --region {settings.region}"]
        step += 1
    if settings.stack_set_mode:
        lines += ["", f"{step}. StackSet mode, from the organization's management account: trusted access for "
                      "StackSets, and the owner account as a delegated administrator unless it is the management "
                      "account (stackSetCallAs: SELF). The members of organizationalUnitIds need no preview or "
                      "deploy role: the stack reaches them only through its StackSet.",
                  "   aws organizations enable-aws-service-access --service-principal "
                  "member.org.stacksets.cloudformation.amazonaws.com"]
        if settings.stack_set_call_as == "DELEGATED_ADMIN":
            lines.append(f"   aws organizations register-delegated-administrator --account-id {owner} "
                         "--service-principal member.org.stacksets.cloudformation.amazonaws.com")
        step += 1
    backend = f"s3://{state_bucket}" if state_bucket else "s3://BUCKET (or file://~/.pulumi-state)"
    pack = f"--policy-pack policies --policy-pack-config policies/policy-config.{stack}.json"
    lines += ["", f"{step}. The first deployment, as an operator (deployPrincipalArns) in the owner account: a preview "
                  "assumes the preview roles above, the update the deploy roles.",
              f"   pulumi login {backend}",
              f"   pulumi stack select {stack} --create",
              f"   pulumi preview {pack}",
              f"   pulumi up {pack}",
              "", "Then CI: the GitHub environments preview and production, the variables and secret of "
                  "docs/operating.md's \"CI for this repository\"; pull requests preview as ci-preview, main deploys "
                  "as ci-deploy."]
    return "\n".join(lines)


def _path_and_name(role_arn: str) -> tuple[str, str]:
    match = ROLE_ARN.fullmatch(role_arn)
    if match is None:  # validated before anything is printed
        raise ValueError(f"not a role ARN: {role_arn}")
    return f"/{match['path']}", match["name"]


if __name__ == "__main__":
    sys.exit(main())
