"""`python -m bootstrap`: a summary of what to create where (or, with --json, the documents for the stack's
accounts), the files --output-dir writes, or, for bad input, every problem at once with exit status 2, nothing
printed on standard output and nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap.__main__ import EXIT_INVALID, main, summary
from bootstrap.documents import secondary_roles_template
from model.parse import parse_settings
from model.stack_file import PROJECT_DIR, load_stack_config, stack_settings
from tests.stacks import orgscale_raw_settings

OWNER = "111122223333"
# As Pulumi.prod.yaml sets ciPreviewRoleArn and ciDeployRoleArn.
PREVIEW = f"arn:aws:iam::{OWNER}:role/pypi-registry-ci-preview"
DEPLOY = f"arn:aws:iam::{OWNER}:role/pypi-registry-ci-deploy"


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def good(**changes: str) -> list[str]:
    values = {"--repository": "acme/pypi-registry", "--ci-preview-role": PREVIEW, "--ci-deploy-role": DEPLOY,
              **changes}
    return [part for key, value in values.items() for part in (key, value)]


def test_the_prod_documents_name_every_account_and_role(capsys):
    status, out, err = run(capsys, *good(), "--json")
    assert status == 0 and err == ""
    documents = json.loads(out)
    assert set(documents) == {OWNER, "012345678901", "444455556666", "777788889999"}
    assert set(documents[OWNER]) == {"ci-preview", "ci-deploy", "pypi-registry-github-roles-boundary"}
    assert set(documents["444455556666"]) == {"pypi-registry-preview", "pypi-registry-deploy",
                                              "codeartifact-pypi-reader-permissions-boundary"}


@pytest.mark.parametrize(("changes", "expected"), [
    ({"--ci-deploy-role": PREVIEW}, "--ci-deploy-role: names the same role as --ci-preview-role"),
    ({"--ci-deploy-role": f"arn:aws:iam::{OWNER}:role/ops/PyPI-Registry-CI-Preview"},
     "names the same role as --ci-preview-role"),
    ({"--ci-preview-role": f"arn:aws:iam::{OWNER}:root"}, "--ci-preview-role: 'arn:aws:iam::111122223333:root' "
     "must be an IAM role ARN"),
    ({"--ci-deploy-role": f"arn:aws:iam::{OWNER}:user/deployer"}, "--ci-deploy-role: "),
    ({"--ci-deploy-role": f"arn:aws:iam::{OWNER}:role/ci-*"}, "must be an IAM role ARN"),
    ({"--ci-preview-role": "arn:aws:iam::999988887777:role/pypi-registry-ci-preview"},
     "is a role in account 999988887777, not in the owner account 111122223333; the CI roles live in the owner "
     "account"),
    ({"--repository": "acme"}, "--repository: 'acme' is not OWNER/NAME"),
    ({"--repository": "acme/pypi-registry/extra"}, "is not OWNER/NAME"),
], ids=["same-role", "same-role-other-case-and-path", "root", "user", "wildcard", "other-account",
        "no-name", "three-parts"])
def test_bad_input_exits_2_naming_the_rule_and_prints_nothing(capsys, changes, expected):
    status, out, err = run(capsys, *good(**changes))
    assert status == EXIT_INVALID and out == ""
    assert expected in err, err


def test_every_problem_is_reported_at_once(capsys):
    status, _, err = run(capsys, *good(**{"--repository": "acme", "--ci-preview-role": f"arn:aws:iam::{OWNER}:root"}))
    assert status == EXIT_INVALID and "--repository" in err and "--ci-preview-role" in err


def test_an_unknown_stack_exits_2_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "bootstrap", "--stack", "nosuch", *good()], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=False)
    assert result.returncode == EXIT_INVALID and result.stdout == ""
    assert "no Pulumi.nosuch.yaml" in result.stderr and "Traceback" not in result.stderr


def test_the_help_ends_its_sentences(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "the reader's permissions boundary in every secondary account, and the state bucket's policy." in \
        " ".join(out.split())


def test_with_the_github_ids_the_ci_roles_trust_the_immutable_subject_only(capsys):
    status, out, _ = run(capsys, *good(), "--owner-id", "1342004", "--repository-id", "86712231", "--json")
    assert status == 0
    trust = json.loads(out)[OWNER]["ci-deploy"]["trust"]["Statement"][0]["Condition"]["StringEquals"]
    assert trust["token.actions.githubusercontent.com:sub"] == \
        "repo:acme@1342004/pypi-registry@86712231:environment:production"
    status, out, err = run(capsys, *good(), "--owner-id", "1342004")
    assert status == EXIT_INVALID and out == "" and "give both GitHub IDs" in err


# --- the state bucket ----------------------------------------------------------------------------------------


def test_the_state_bucket_policy_is_under_the_owner_account_only_when_named(capsys):
    _, out, _ = run(capsys, *good(), "--json")
    assert "state-bucket" not in json.loads(out)[OWNER]
    status, out, _ = run(capsys, *good(**{"--state-bucket": "acme-pulumi-state"}), "--json")
    assert status == 0
    documents = json.loads(out)
    policy = documents[OWNER]["state-bucket"]["bucketPolicy"]
    assert {s["Sid"] for s in policy["Statement"]} >= {"DenyInsecureTransport", "DenyWritesButDeployers"}
    assert "arn:aws:s3:::acme-pulumi-state/*" in json.dumps(policy)
    assert not any("state-bucket" in roles for account, roles in documents.items() if account != OWNER)


@pytest.mark.parametrize(("bucket", "rule"), [
    ("ab", "must be 3 to 63 characters long"),
    ("a" * 64, "must be 3 to 63 characters long"),
    ("Acme-State", "may hold only lowercase letters, digits, hyphens"),
    ("acme_state", "may hold only lowercase letters, digits, hyphens"),
    ("-acme-state", "must begin and end with a lowercase letter or a digit"),
    ("acme-state-", "must begin and end with a lowercase letter or a digit"),
    ("acme..state", "must not hold two adjacent periods"),
    ("192.168.5.4", "must not be formatted as an IP address"),
    ("xn--acme-state", "must not begin with 'xn--'"),
    ("sthree-acme", "must not begin with 'sthree-'"),
    ("amzn-s3-demo-state", "must not begin with 'amzn-s3-demo-'"),
    ("acme-s3alias", "must not end with '-s3alias'"),
    ("acme--ol-s3", "must not end with '--ol-s3'"),
    ("acme--x-s3", "must not end with '--x-s3'"),
    ("acme.state", "must not hold a period: the state bucket allows TLS only"),
])
def test_a_bad_bucket_name_exits_2_naming_the_rule(capsys, bucket, rule):
    status, out, err = run(capsys, *good(), f"--state-bucket={bucket}")  # "=": a name may start with "-"
    assert status == EXIT_INVALID and out == ""
    assert f"--state-bucket: {bucket!r} {rule}" in err, err


@pytest.mark.parametrize("bucket", ["abc", "acme-pulumi-state-111122223333", "0" * 63, "a1-b2"])
def test_a_good_bucket_name_passes(capsys, bucket):
    status, _, err = run(capsys, *good(**{"--state-bucket": bucket}))
    assert status == 0 and err == ""


# --- the summary and the files ----------------------------------------------------------------------------


def test_without_json_a_summary_says_what_to_create_where_and_how(capsys):
    status, out, err = run(capsys, *good(**{"--state-bucket": "acme-pulumi-state"}))
    assert status == 0 and err == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    assert "1. In the owner account 111122223333, as an operator (deployPrincipalArns), unless the account has it: " \
           "the GitHub OIDC provider" in out
    assert "aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com " \
           "--client-id-list sts.amazonaws.com" in out
    assert "2. In the owner account: the permissions boundary every role the stack declares there carries" in out
    assert "createGithubOidcProvider is true" not in out  # prod reuses the bootstrap's provider
    assert "aws iam create-policy --policy-name pypi-registry-github-roles-boundary --policy-document " \
           "file://DIR/pypi-registry-github-roles-boundary.json" in out
    assert "aws iam create-role --role-name pypi-registry-ci-preview --path / --assume-role-policy-document " \
           "file://DIR/ci-preview-trust.json" in out
    assert "aws s3api put-bucket-policy --bucket acme-pulumi-state --policy file://DIR/state-bucket-policy.json" in out
    assert "In each secondary account (012345678901, 444455556666, 777788889999)" in out
    assert "aws cloudformation deploy --template-file DIR/secondary-roles.json --stack-name pypi-registry-bootstrap " \
           "--capabilities CAPABILITY_NAMED_IAM --region eu-west-1" in out
    assert "StackSet" not in out


def test_a_role_path_is_passed_to_create_role():
    settings = stack_settings(load_stack_config("prod", PROJECT_DIR))
    text = summary(settings, "prod", (PREVIEW, f"arn:aws:iam::{OWNER}:role/ci/pypi/deployer"), None, None)
    assert "aws iam create-role --role-name deployer --path /ci/pypi/ " in text


def test_in_stack_set_mode_the_summary_gives_the_organization_commands_and_no_roles_in_the_units():
    settings = parse_settings(orgscale_raw_settings(), "eu-west-1")
    text = summary(settings, "orgscale", (PREVIEW, DEPLOY), None, Path("out"))
    assert "aws organizations enable-aws-service-access --service-principal " \
           "member.org.stacksets.cloudformation.amazonaws.com" in text
    assert f"aws organizations register-delegated-administrator --account-id {OWNER} " in text
    assert "In each secondary account (012345678901)" in text  # the management account, outside every StackSet
    assert "need no preview or deploy role" in text
    called_as_self = parse_settings(orgscale_raw_settings(stackSetCallAs="SELF", managementAccountId=OWNER),
                                    "eu-west-1")
    as_self = summary(called_as_self, "orgscale", (PREVIEW, DEPLOY), None, Path("out"))
    assert "register-delegated-administrator" not in as_self


def test_output_dir_writes_the_files_the_summary_reads(capsys, tmp_path):
    out_dir = tmp_path / "bootstrap"
    status, out, _ = run(capsys, *good(**{"--state-bucket": "acme-pulumi-state", "--output-dir": str(out_dir)}))
    assert status == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "ci-deploy-trust.json", "ci-preview-policy.json", "ci-preview-trust.json", "pypi-registry-ci-deploy-1.json",
        "pypi-registry-github-roles-boundary.json", "secondary-roles.json", "state-bucket-policy.json"]
    for name in sorted(p.name for p in out_dir.iterdir()):
        assert f"{out_dir}/{name}" in out, name
    _, as_json, _ = run(capsys, *good(**{"--state-bucket": "acme-pulumi-state"}), "--json")
    documents = json.loads(as_json)
    assert json.loads((out_dir / "ci-deploy-trust.json").read_text()) == documents[OWNER]["ci-deploy"]["trust"]
    assert json.loads((out_dir / "pypi-registry-ci-deploy-1.json").read_text()) == \
        documents[OWNER]["ci-deploy"]["policies"]["pypi-registry-ci-deploy-1"]
    assert json.loads((out_dir / "pypi-registry-github-roles-boundary.json").read_text()) == \
        documents[OWNER]["pypi-registry-github-roles-boundary"]["boundary"]
    assert json.loads((out_dir / "state-bucket-policy.json").read_text()) == \
        documents[OWNER]["state-bucket"]["bucketPolicy"]
    template = json.loads((out_dir / "secondary-roles.json").read_text())
    settings = stack_settings(load_stack_config("prod", PROJECT_DIR))
    assert template == secondary_roles_template(settings, PREVIEW, DEPLOY)


def test_bad_input_writes_nothing(capsys, tmp_path):
    out_dir = tmp_path / "bootstrap"
    status, out, _ = run(capsys, *good(**{"--state-bucket": "Bad", "--output-dir": str(out_dir)}))
    assert status == EXIT_INVALID and out == "" and not out_dir.exists()


def test_an_output_path_that_is_a_file_exits_2(capsys, tmp_path):
    existing = tmp_path / "file"
    existing.write_text("keep")
    status, out, err = run(capsys, *good(**{"--output-dir": str(existing)}))
    assert status == EXIT_INVALID and out == "" and "exists and is not a directory" in err
    assert existing.read_text() == "keep"


# --- the CI roles from the stack's settings -------------------------------------------------------------------


def test_the_ci_roles_default_to_the_stacks_settings_and_a_different_flag_is_refused(capsys):
    status, out, _ = run(capsys, "--repository", "acme/pypi-registry", "--json")
    assert status == 0
    assert json.loads(out) == json.loads(run(capsys, *good(), "--json")[1])
    other = f"arn:aws:iam::{OWNER}:role/ci-deploy"
    status, out, err = run(capsys, *good(**{"--ci-deploy-role": other}))
    assert status == EXIT_INVALID and out == ""
    assert f"--ci-deploy-role: {other} differs from the stack's ciDeployRoleArn {DEPLOY}" in err


def test_without_the_settings_the_ci_role_flags_are_required(capsys, monkeypatch, tmp_path):
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    stack = (PROJECT_DIR / "Pulumi.prod.yaml").read_text().splitlines()
    (tmp_path / "Pulumi.prod.yaml").write_text("\n".join(line for line in stack if ":ci" not in line) + "\n")
    monkeypatch.setattr("bootstrap.__main__.PROJECT_DIR", tmp_path)
    status, out, err = run(capsys, "--repository", "acme/pypi-registry")
    assert status == EXIT_INVALID and out == ""
    assert "--ci-preview-role: required while the stack sets no ciPreviewRoleArn" in err
    assert "--ci-deploy-role: required while the stack sets no ciDeployRoleArn" in err
    status, out, _ = run(capsys, *good(**{"--ci-deploy-role": f"arn:aws:iam::{OWNER}:role/ci-deploy"}), "--json")
    assert status == 0 and json.loads(out)[OWNER]["ci-deploy"]


def test_over_the_prod_json_an_operator_and_ci_deploy_run_preview_and_up_in_every_secondary_account(capsys):
    """The issue's proof: principalmapper over `python -m bootstrap --stack prod --json`, for every secondary
    account of Pulumi.prod.yaml."""
    from audit.access import Principal
    from audit.pmapper_compat import local_check_authorization_full
    from tests.expected import OPERATOR_ROLE, SECONDARIES

    status, out, _ = run(capsys, *good(), "--json")
    assert status == 0
    documents = json.loads(out)

    def may_assume(caller: str, account: str, role: str) -> bool:
        admin = Principal.role(caller, {"inline:admin": {"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}})
        arn = f"arn:aws:iam::{account}:role/{role}"
        return bool(local_check_authorization_full(admin.node(), "sts:AssumeRole", arn, {},
                                                   documents[account][role]["trust"], account))

    for account in SECONDARIES:
        for caller, may_preview, may_deploy in ((OPERATOR_ROLE, True, True), (DEPLOY, True, True),
                                                (PREVIEW, True, False),
                                                (f"arn:aws:iam::{OWNER}:role/Admin", False, False)):
            assert may_assume(caller, account, "pypi-registry-preview") is may_preview, (caller, account)
            assert may_assume(caller, account, "pypi-registry-deploy") is may_deploy, (caller, account)


def test_the_deploy_ci_roles_managed_policies_are_its_permissions_each_within_iams_limit():
    """In airlock mode the whole is over the 10,240 characters a role's inline policies may hold: it is delivered as
    managed policies, each within 6,144, that together allow exactly the whole."""
    from bootstrap.documents import ci_deploy_managed_policies, ci_deploy_policy
    from model.names import MANAGED_POLICY_LIMIT
    from model.trust_policy import to_json
    from tests.stacks import airlock

    settings = airlock().settings
    whole = ci_deploy_policy(settings)
    assert len(to_json(whole)) > 10240
    parts = ci_deploy_managed_policies(settings)
    assert 1 < len(parts) <= 10
    assert all(len(to_json(part)) <= MANAGED_POLICY_LIMIT for part in parts.values())
    assert [s for part in parts.values() for s in part["Statement"]] == whole["Statement"]
