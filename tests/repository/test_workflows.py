"""The GitHub Actions workflows: schema, zizmor, pinning, permissions, pull request, deploy, drift and who reviews.

Everything runs offline: the linters are the ones in .venv. The reusable publish workflow is
test_workflows_publish.py, the access diff's jobs test_workflows_access_diff.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.repository.support import (
    BASE_SHA,
    NAMES,
    PINNED_USES,
    ROOT,
    WORKFLOWS,
    all_steps,
    checkouts,
    load,
    step_using,
    steps,
    tool,
)

# --- linters -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_workflow_matches_the_github_workflow_schema(name):
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOWS / name)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_reports_nothing_above_low():
    # The auditor persona shows everything; ignore comments are not honoured, so nothing is hidden.
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-ignores", "--persona", "auditor", "--format", "json", str(WORKFLOWS)],
        capture_output=True, text=True, check=False,
    )
    findings = json.loads(result.stdout)
    serious = [
        (finding["ident"], finding["determinations"]["severity"], finding["locations"][0]["concrete"]["feature"])
        for finding in findings
        if finding["determinations"]["severity"] not in ("Unknown", "Informational", "Low")
    ]
    assert serious == []
    for name in NAMES:
        assert f"completed {WORKFLOWS / name}" in result.stderr, f"zizmor did not audit {name}"


# --- pinning and permissions ----------------------------------------------------------


def test_every_action_is_pinned_to_a_full_sha_with_its_version_in_a_comment():
    pins: dict[str, set[tuple[str, str]]] = {}
    for name in NAMES:
        for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
            # `$/...` is this repository at the running commit: the reusable checks workflow.
            if re.match(r"^\s*(?:-\s+)?uses:", line) and not re.match(r"^\s*uses: \$/\.github/workflows/", line):
                match = PINNED_USES.match(line)
                assert match, f"{name}: not pinned to a commit SHA with a version comment: {line.strip()}"
                pins.setdefault(match["action"], set()).add((match["sha"], match["version"]))
    assert set(pins) == {
        "actions/checkout", "actions/setup-python", "aws-actions/configure-aws-credentials", "pulumi/actions",
        "actions/upload-artifact", "actions/download-artifact",
    }
    # One reviewed SHA per action: a second pin of the same action is a drift nobody reviewed.
    assert {action: len(versions) for action, versions in pins.items()} == dict.fromkeys(pins, 1)


@pytest.mark.parametrize("name", NAMES)
def test_permissions_are_empty_at_the_top_and_granted_per_job(name):
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{name}:{job_name} must say which permissions it needs"
        assert "write-all" not in str(job["permissions"]) and "read-all" not in str(job["permissions"])


def test_only_jobs_that_assume_a_role_may_request_an_oidc_token():
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            assumes_role = any(s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
                               for s in all_steps(job))
            assert (job["permissions"].get("id-token") == "write") == assumes_role, f"{name}:{job_name}"


def test_build_and_publish_are_separate_jobs_and_only_publish_can_reach_a_credential():
    jobs = load("publish-python-package.yml")["jobs"]
    assert set(jobs) == {"build", "publish"}
    # The library's build backend and its build dependencies run where no OIDC token can be had.
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert "environment" not in jobs["build"]
    build_runs = [step.get("run", "") for step in jobs["build"]["steps"]]
    assert "python -m build" in build_runs
    # The publish job holds the token and the environment, but checks out and builds nothing.
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert jobs["publish"]["needs"] == "build"
    publish_steps = jobs["publish"]["steps"]
    assert not any(step.get("uses", "").startswith("actions/checkout@") for step in publish_steps)
    assert not any("python -m build" in step.get("run", "") or "pip install ." in step.get("run", "")
                   for step in publish_steps)


def test_the_distributions_travel_as_a_short_lived_artifact_checked_against_the_build_digests():
    jobs = load("publish-python-package.yml")["jobs"]
    upload = step_using("publish-python-package.yml", "build", "actions/upload-artifact")
    download = step_using("publish-python-package.yml", "publish", "actions/download-artifact")
    assert upload["with"]["name"] == download["with"]["name"]
    assert upload["with"]["retention-days"] == 1 and upload["with"]["if-no-files-found"] == "error"
    assert jobs["build"]["outputs"]["digests"] == "${{ steps.digests.outputs.digests }}"
    names = [step.get("id") or step.get("uses", "").split("@")[0] for step in jobs["publish"]["steps"]]
    assert names.index("actions/download-artifact") < names.index("verify") < names.index("upload")
    verify = next(step for step in jobs["publish"]["steps"] if step.get("id") == "verify")
    assert verify["env"]["BUILT_DIGESTS"] == "${{ needs.build.outputs.digests }}"


PULL_REQUEST_CODE_PERMISSIONS = {"contents": "read", "id-token": "write"}


def runs_pull_request_code(job: dict) -> bool:
    """A job that calls a workflow of this repository (it checks out the pull request) or checks
    out anything but the base commit: assume it runs code of the pull request."""
    if job.get("uses", "").startswith("$/"):
        return True
    return any(step.get("uses", "").startswith("actions/checkout@") and step.get("with", {}).get("ref") != BASE_SHA
               for step in all_steps(job))


def pull_request_code_problems(job: dict) -> list[str]:
    """What lets a job that runs code of the pull request write: any scope but those above."""
    if not runs_pull_request_code(job):
        return []
    return [f"{scope}: {level}" for scope, level in job.get("permissions", {}).items()
            if PULL_REQUEST_CODE_PERMISSIONS.get(scope) != level]


def writer_problems(job: dict) -> list[str]:
    """What a job whose token can write (beyond an OIDC token) runs besides receiving an artifact."""
    if not {scope for scope, level in job.get("permissions", {}).items() if level == "write"} - {"id-token"}:
        return []
    found = ["calls a workflow"] if "uses" in job else []
    found += [step["uses"] for step in all_steps(job)
              if "uses" in step and not step["uses"].startswith("actions/download-artifact@")]
    found += [word for step in all_steps(job) for word in ("python", ".venv", "pip", "make", "./", "pulumi", "git ")
              if word in step.get("run", "")]
    return found


def test_no_job_that_runs_pull_request_code_holds_a_token_that_can_write():
    jobs = load("pull-request.yml")["jobs"]
    assert {name for name, job in jobs.items() if runs_pull_request_code(job)} == {"test", "preview", "access-diff"}
    for name, job in jobs.items():
        assert pull_request_code_problems(job) == [], name
    # The OIDC token only for the job that assumes the read-only preview role.
    assert jobs["preview"]["permissions"] == PULL_REQUEST_CODE_PERMISSIONS
    assert jobs["test"]["permissions"] == jobs["access-diff"]["permissions"] == {"contents": "read"}


def test_a_job_whose_token_can_write_runs_no_code_at_all():
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            assert writer_problems(job) == [], f"{name}:{job_name}"


def test_the_permission_checks_catch_a_preview_that_comments_and_a_commenter_that_checks_out():
    jobs = load("pull-request.yml")["jobs"]
    commenting_preview = {**jobs["preview"], "permissions": {**jobs["preview"]["permissions"],
                                                             "pull-requests": "write"}}
    assert pull_request_code_problems(commenting_preview) == ["pull-requests: write"]
    called = {**jobs["test"], "permissions": {"contents": "write"}}
    assert pull_request_code_problems(called) == ["contents: write"]
    checkout = {"uses": "actions/checkout@" + "0" * 40, "with": {"persist-credentials": False}}
    commenter = {**jobs["access-diff-comment"], "steps": [checkout, *jobs["access-diff-comment"]["steps"]]}
    assert pull_request_code_problems(commenter) == ["pull-requests: write"]
    assert writer_problems(commenter) == [checkout["uses"]]
    running = {**jobs["access-diff-comment"], "steps": [{"run": ".venv/bin/python -m audit"}]}
    assert writer_problems(running) == ["python", ".venv"]


def test_the_checks_preview_and_diff_jobs_write_nothing_back_to_github():
    # What they report travels as an artifact to a job that only comments.
    workflow = load("pull-request.yml")
    pulumi = step_using("pull-request.yml", "preview", "pulumi/actions")
    assert pulumi["with"]["comment-on-pr"] is False and "github-token" not in pulumi["with"]
    for job, artifact, comment_job in (("preview", "preview", "preview-comment"),
                                       ("access-diff", "access-diff", "access-diff-comment")):
        upload = step_using("pull-request.yml", job, "actions/upload-artifact")
        download = step_using("pull-request.yml", comment_job, "actions/download-artifact")
        assert upload["with"]["name"] == download["with"]["name"] == artifact
        assert upload["with"]["retention-days"] == 1 and upload["with"]["if-no-files-found"] == "error"
        assert workflow["jobs"][comment_job]["needs"] == job
        assert workflow["jobs"][comment_job]["permissions"] == {"pull-requests": "write"}
        assert "secrets." not in json.dumps(workflow["jobs"][comment_job])


def test_checkouts_never_persist_the_github_token():
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            for step in all_steps(job):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{name}:{job_name}"


def test_no_expression_is_interpolated_into_a_shell_script():
    # Inputs and variables reach scripts through `env:`, never as text spliced into bash.
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            for step in all_steps(job):
                assert "${{" not in step.get("run", ""), f"{name}:{job_name}:{step.get('name')}"


def test_no_long_lived_aws_keys_anywhere():
    for name in NAMES:
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, name


# --- pull request and deploy ---------------------------------------------------------


def test_pull_request_cancels_superseded_runs_of_the_same_pull_request():
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert "github.event.pull_request.number" in workflow["concurrency"]["group"]


def test_pull_request_tests_lint_and_audit_before_the_preview():
    workflow = load("pull-request.yml")
    assert workflow["jobs"]["test"]["uses"] == "$/.github/workflows/checks.yml"
    scripts = "\n".join(step.get("run", "") for step in steps("checks.yml", "checks"))
    assert "ruff check" in scripts
    assert "-m pytest" in scripts
    assert "-m audit --stack prod" in scripts
    assert workflow["jobs"]["preview"]["needs"] == "test"


def test_preview_assumes_the_preview_role_and_previews_prod_with_the_policy_pack():
    job = load("pull-request.yml")["jobs"]["preview"]
    # Fork pull requests get no OIDC token; the preview would only fail for them.
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    credentials = step_using("pull-request.yml", "preview", "aws-actions/configure-aws-credentials")["with"]
    assert credentials["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert credentials["aws-region"] == "${{ vars.AWS_REGION }}"
    pulumi = step_using("pull-request.yml", "preview", "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "prod"
    assert pulumi["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert pulumi["env"] == {"PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"}


def test_the_preview_runs_the_pull_requests_program_under_the_base_commits_policy_pack():
    trees = checkouts("pull-request.yml", "preview")
    assert set(trees) == {"pull-request", "base"}
    assert trees["base"]["ref"] == BASE_SHA and "ref" not in trees["pull-request"]
    pulumi = step_using("pull-request.yml", "preview", "pulumi/actions")["with"]
    assert pulumi["work-dir"] == "pull-request"
    # The pack the CLI runs is the base's; only its config file is the pull request's.
    assert pulumi["policyPacks"] == "${{ github.workspace }}/base/policies"
    assert pulumi["policyPackConfigs"] == "${{ github.workspace }}/pull-request/policies/policy-config.prod.json"
    # The pack's virtualenv (PulumiPolicy.yaml) is built in the base's folder from the base's lock.
    installs = {step.get("working-directory"): step["run"] for step in steps("pull-request.yml", "preview")
                if "pip install" in step.get("run", "")}
    assert set(installs) == {"pull-request", "base"}
    assert "-r policies/requirements.txt" in installs["base"]
    assert "policies/requirements" not in installs["pull-request"]


def test_the_preview_comment_is_written_even_when_the_preview_fails():
    job_steps = steps("pull-request.yml", "preview")
    names = [step.get("id") or step["name"] for step in job_steps]
    (write,) = [step for step in job_steps if step["name"] == "Write the comment"]
    upload = step_using("pull-request.yml", "preview", "actions/upload-artifact")
    assert names.index("preview") < names.index("Write the comment") < names.index(upload["name"])
    assert write["if"] == upload["if"] == "${{ !cancelled() }}"
    assert write["env"] == {"OUTCOME": "${{ steps.preview.outcome }}", "OUTPUT": "${{ steps.preview.outputs.output }}"}
    comment_job = load("pull-request.yml")["jobs"]["preview-comment"]
    assert "needs.preview.result == 'failure'" in comment_job["if"] and "!cancelled()" in comment_job["if"]


def write_preview_comment(tmp_path: Path, outcome: str, output: str) -> str:
    (write,) = [step for step in steps("pull-request.yml", "preview") if step.get("name") == "Write the comment"]
    script = tmp_path / "write.sh"
    script.write_text(write["run"])
    environment = {"PATH": "/usr/bin:/bin", "OUTCOME": outcome, "OUTPUT": output}
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=tmp_path, env=environment,
                   check=True, timeout=30)
    return (tmp_path / "preview.md").read_text()


def test_the_preview_comment_says_whether_the_preview_passed_and_carries_its_output(tmp_path):
    passed = write_preview_comment(tmp_path, "success", "\x1b[1mPreviewing update (prod)\x1b[0m\n+ 3 to create")
    assert passed.startswith("### Pulumi preview") and "passed the policy pack" in passed
    assert "Previewing update (prod)\n+ 3 to create" in passed and "\x1b" not in passed
    failed = write_preview_comment(tmp_path, "failure", "")
    assert "did not finish (failure)" in failed and "<details>" not in failed
    long = write_preview_comment(tmp_path, "success", "x" * 80000)
    assert len(long) < 56000


def test_deploy_runs_on_main_behind_the_protected_environment_and_is_never_cancelled():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job = workflow["jobs"]["deploy"]
    assert job["environment"] == "production"
    assert job["needs"] == "test"
    credentials = step_using("deploy.yml", "deploy", "aws-actions/configure-aws-credentials")["with"]
    assert credentials["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert credentials["aws-region"] == "${{ vars.AWS_REGION }}"
    pulumi = step_using("deploy.yml", "deploy", "pulumi/actions")["with"]
    assert (pulumi["command"], pulumi["stack-name"]) == ("up", "prod")
    assert (pulumi["policyPacks"], pulumi["policyPackConfigs"]) == ("policies", "policies/policy-config.prod.json")


def test_pulumi_runs_only_with_the_virtualenvs_its_project_files_name():
    pulumi_yaml = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    policy_yaml = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    venvs = (
        pulumi_yaml["runtime"]["options"]["virtualenv"],
        "policies/" + policy_yaml["runtime"]["options"]["virtualenv"],
    )
    for name, job in (("pull-request.yml", "preview"), ("deploy.yml", "deploy")):
        scripts = "\n".join(step.get("run", "") for step in steps(name, job))
        for venv in venvs:
            assert f"python -m venv {venv}\n" in scripts, (name, venv)


# --- drift ----------------------------------------------------------------------------------------


def test_drift_runs_daily_with_the_read_only_preview_role_and_fails_on_any_change():
    workflow = load("drift.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["drift"]
    assert job["environment"] == "preview"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    credentials = step_using("drift.yml", "drift", "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    (refresh,) = [step["run"] for step in job["steps"] if "pulumi refresh" in step.get("run", "")]
    for flag in ("--stack prod", "--run-program", "--preview-only", "--expect-no-changes", "--non-interactive"):
        assert flag in refresh
    cli = step_using("drift.yml", "drift", "pulumi/actions")
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", cli["with"]["pulumi-version"])


# --- CODEOWNERS: who reviews what judges a pull request --------------------------------------------------

CODEOWNERS = ROOT / ".github" / "CODEOWNERS"


def code_owners(path: str) -> list[str]:
    """The owners CODEOWNERS names for a repository path: the last matching line wins. Only the forms
    the file uses are read (an anchored `/dir/` or `/file`); any other pattern fails the test."""
    owners: list[str] = []
    for line in CODEOWNERS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, *names = line.split()
        assert pattern.startswith("/") and "*" not in pattern and names, f"unread CODEOWNERS line: {line}"
        if (pattern.endswith("/") and path.startswith(pattern[1:])) or path == pattern[1:]:
            owners = names
    return owners


@pytest.mark.parametrize("path", [
    "policies/guardrails.py", "policies/policy-config.prod.json", "policies/accepted-widening.prod.json",
    "policies/iam_action_levels.json", "policies/aws_managed_policies.json", "policies/requirements.txt",
    "audit/diff/judge.py", "audit/origin.py", "model/stack_file.py", ".github/workflows/pull-request.yml",
    ".github/CODEOWNERS",
    "requirements-dev.txt",
])
def test_what_judges_a_pull_request_has_a_code_owner(path):
    assert code_owners(path) == ["@your-org/registry-owners"]


def test_codeowners_is_an_example_whose_placeholder_says_to_replace_it():
    text = CODEOWNERS.read_text(encoding="utf-8")
    assert "replace @your-org/registry-owners" in text and "Require review from Code Owners" in text
    # The program itself is reviewed as usual: the matcher finds no owner there.
    assert code_owners("components/registry.py") == [] and code_owners("Pulumi.prod.yaml") == []
