"""`python -m bootstrap`: the documents for the stack's accounts, or, for bad input, every problem at once
with exit status 2 and nothing printed on standard output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from audit.stack_config import PROJECT_DIR
from bootstrap.__main__ import EXIT_INVALID, main

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
    status, out, err = run(capsys, *good())
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
    assert "(trust policy, permission policy)." in " ".join(out.split())


def test_with_the_github_ids_the_ci_roles_trust_the_immutable_subject_only(capsys):
    status, out, _ = run(capsys, *good(), "--owner-id", "1342004", "--repository-id", "86712231")
    assert status == 0
    trust = json.loads(out)[OWNER]["ci-deploy"]["trust"]["Statement"][0]["Condition"]["StringEquals"]
    assert trust["token.actions.githubusercontent.com:sub"] == \
        "repo:acme@1342004/pypi-registry@86712231:environment:production"
    status, out, err = run(capsys, *good(), "--owner-id", "1342004")
    assert status == EXIT_INVALID and out == "" and "give both GitHub IDs" in err


def test_the_ci_roles_default_to_the_stacks_settings_and_a_different_flag_is_refused(capsys):
    status, out, _ = run(capsys, "--repository", "acme/pypi-registry")
    assert status == 0
    assert json.loads(out) == json.loads(run(capsys, *good())[1])
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
    status, out, _ = run(capsys, *good(**{"--ci-deploy-role": f"arn:aws:iam::{OWNER}:role/ci-deploy"}))
    assert status == 0 and json.loads(out)[OWNER]["ci-deploy"]
