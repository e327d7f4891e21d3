"""The GitHub Actions workflows: schema, zizmor, pinning, permissions, and the publish script's behaviour.

Everything runs offline: the linters are the ones in .venv, and the publish workflow's own bash
is extracted from the YAML and run against fake `aws` and `twine` executables.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("pull-request.yml", "deploy.yml", "publish-python-package.yml", "drift.yml", "checks.yml")
VENV_BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).parents[1] / "fixtures_publish"

# owner/repo@<full commit SHA> # vMAJOR[.MINOR[.PATCH]]
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+(?:\.\d+){0,2})\s*$"
)


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(name: str, job: str) -> list[dict]:
    return load(name)["jobs"][job]["steps"]


def all_steps(job: dict) -> list[dict]:
    # A job that calls a reusable workflow has no steps of its own.
    return job.get("steps", [])


def step_using(name: str, job: str, action: str) -> dict:
    found = [step for step in steps(name, job) if step.get("uses", "").startswith(action + "@")]
    assert len(found) == 1, f"{name}:{job} should use {action} once"
    return found[0]


def tool(executable: str) -> str:
    path = VENV_BIN / executable
    assert path.exists(), f"{executable} is not installed next to {sys.executable} (requirements-dev.txt)"
    return str(path)


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
BASE_SHA = "${{ github.event.pull_request.base.sha }}"


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


def checkouts(name: str, job: str) -> dict[str, dict]:
    """The job's checkouts by the folder each fills."""
    found = [step["with"] for step in steps(name, job) if step.get("uses", "").startswith("actions/checkout@")]
    by_path = {options.get("path", "."): options for options in found}
    assert len(by_path) == len(found), f"{name}:{job}: two checkouts into one folder"
    return by_path


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


# --- the reusable publish workflow --------------------------------------------------


def test_publish_is_reusable_with_string_inputs_only():
    inputs = load("publish-python-package.yml")["on"]["workflow_call"]["inputs"]
    assert {name: spec["type"] for name, spec in inputs.items()} == dict.fromkeys(
        ["domain", "domain-owner", "repository", "region", "publisher-role-arn", "python-version", "environment"],
        "string",
    )
    assert {name for name, spec in inputs.items() if spec.get("required")} == {
        "domain", "domain-owner", "region", "publisher-role-arn",
    }
    assert inputs["repository"]["default"] == "internal"
    assert inputs["environment"]["default"] == "pypi"  # the default subject of a publisher role


def test_publish_builds_checks_then_assumes_the_role_with_the_inputs():
    build_steps = steps("publish-python-package.yml", "build")
    names = [step.get("run", step.get("uses", "")) for step in build_steps]
    check_inputs = next(i for i, step in enumerate(build_steps) if step.get("id") == "check-inputs")
    build = next(i for i, text in enumerate(names) if text == "python -m build")
    check = next(i for i, text in enumerate(names) if text.startswith("twine check --strict"))
    assert check_inputs < build < check
    publish_steps = steps("publish-python-package.yml", "publish")
    names = [step.get("run", step.get("uses", "")) for step in publish_steps]
    assume = next(i for i, text in enumerate(names) if text.startswith("aws-actions/configure-aws-credentials@"))
    upload = next(i for i, step in enumerate(publish_steps) if step.get("id") == "upload")
    assert assume < upload
    credentials = publish_steps[assume]["with"]
    assert credentials["role-to-assume"] == "${{ inputs.publisher-role-arn }}"
    assert credentials["aws-region"] == "${{ inputs.region }}"
    job = load("publish-python-package.yml")["jobs"]["publish"]
    assert job["environment"] == "${{ inputs.environment }}"


def test_publish_never_rewrites_pip_configuration_or_adds_an_index():
    scripts = "\n".join(step.get("run", "") for step in steps("publish-python-package.yml", "publish"))
    assert "aws codeartifact" in scripts
    for forbidden in ("codeartifact login", "pip config", "index-url", "PIP_INDEX_URL", "set -x"):
        assert forbidden not in scripts


# The caller workflow docs/publishing.md shows, kept here so it is linted like the workflows themselves.
CALLER_EXAMPLE = FIXTURES / "library-release.yml"


def test_readme_caller_example_passes_both_linters():
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(CALLER_EXAMPLE)],
        capture_output=True, text=True, check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-ignores", "--persona", "auditor", "--format", "json", str(CALLER_EXAMPLE)],
        capture_output=True, text=True, check=False,
    )
    assert json.loads(zizmor.stdout) == []


def test_readme_caller_example_passes_every_required_input_as_a_string_and_grants_enough():
    caller = yaml.safe_load(CALLER_EXAMPLE.read_text(encoding="utf-8"))["jobs"]["publish"]
    declared = load("publish-python-package.yml")["on"]["workflow_call"]["inputs"]
    required = {name for name, spec in declared.items() if spec.get("required")}
    assert required <= set(caller["with"]) <= set(declared)
    assert all(isinstance(value, str) for value in caller["with"].values())
    assert caller["with"]["domain-owner"] == "111122223333"
    assert caller["uses"].split("@")[0].endswith("/.github/workflows/publish-python-package.yml")
    assert re.fullmatch(r"[0-9a-f]{40}", caller["uses"].split("@")[1])
    # A called workflow cannot hold more permissions than its caller grants: the union of its jobs'.
    granted: dict[str, str] = {}
    for job in load("publish-python-package.yml")["jobs"].values():
        granted.update(job["permissions"])
    assert caller["permissions"] == granted


def script_of(step_id: str) -> str:
    (step,) = [s for job in ("build", "publish") for s in steps("publish-python-package.yml", job)
               if s.get("id") == step_id]
    assert step["shell"] == "bash"
    return step["run"]


OWNER = "012345678901"  # a leading zero, as account IDs may have
TOKEN = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.c2VjcmV0LXRva2Vu"
ENDPOINT = f"https://acme-{OWNER}.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/"
WHEEL, SDIST = "acme_core-1.0.0-py3-none-any.whl", "acme_core-1.0.0.tar.gz"


class Runner:
    """Runs one of the publish workflow's bash steps as GitHub would, with fake aws and twine."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.work = root / "work"
        (self.work / "dist").mkdir(parents=True)
        self.bin.mkdir()
        for program in ("aws", "twine"):
            wrapper = self.bin / program
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FIXTURES / f"fake_{program}.py"}" "$@"\n')
            wrapper.chmod(0o755)
        self.calls_file = root / "calls.jsonl"
        self.calls_file.touch()
        self.summary = root / "summary.md"
        self.state = {"token": TOKEN, "endpoint": ENDPOINT, "published": {}, "deny": []}

    def dist(self, name: str, content: bytes) -> str:
        (self.work / "dist" / name).write_bytes(content)
        return hashlib.sha256(content).hexdigest()

    def run(self, step_id: str, twine_status: int = 0, **inputs: str) -> subprocess.CompletedProcess:
        (self.root / "registry.json").write_text(json.dumps(self.state))
        script = self.root / f"{step_id}.sh"
        script.write_text(script_of(step_id))
        env = {
            "PATH": f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(self.root),
            "CODEARTIFACT_DOMAIN": "acme",
            "CODEARTIFACT_DOMAIN_OWNER": OWNER,
            "CODEARTIFACT_REPOSITORY": "internal",
            "CODEARTIFACT_REGION": "eu-west-1",
            "PUBLISHER_ROLE_ARN": f"arn:aws:iam::{OWNER}:role/gh-publish-acme-acme-core",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "FAKE_REGISTRY": str(self.root / "registry.json"),
            "FAKE_CALLS": str(self.calls_file),
            "FAKE_TWINE_STATUS": str(twine_status),
            **inputs,
        }
        # GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.work, env=env, capture_output=True, text=True, check=False, timeout=60,
        )

    @property
    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]

    def aws_operations(self) -> list[str]:
        return [call["argv"][1] for call in self.calls if call["program"] == "aws"]

    def twine_calls(self) -> list[dict]:
        return [call for call in self.calls if call["program"] == "twine"]


@pytest.fixture
def runner(tmp_path) -> Runner:
    return Runner(tmp_path)


def test_upload_publishes_a_new_version_with_the_token_only_in_twine_environment(runner):
    runner.dist(WHEEL, b"wheel bytes")
    runner.dist(SDIST, b"sdist bytes")
    result = runner.run("upload")
    assert result.returncode == 0, result.stdout + result.stderr

    (twine,) = runner.twine_calls()
    assert twine["argv"][0] == "upload" and "--non-interactive" in twine["argv"]
    assert sorted(twine["argv"][-2:]) == sorted([f"dist/{WHEEL}", f"dist/{SDIST}"])
    assert twine["env"] == {"TWINE_USERNAME": "aws", "TWINE_PASSWORD": TOKEN, "TWINE_REPOSITORY_URL": ENDPOINT}
    # The token is masked before anything could print it, and never printed otherwise.
    assert result.stdout.splitlines().count(f"::add-mask::{TOKEN}") == 1
    assert (result.stdout + result.stderr).count(TOKEN) == 1
    # Existence is checked before a token is even requested; the token lives 15 minutes.
    assert runner.aws_operations() == [
        "describe-package-version", "describe-package-version", "get-authorization-token", "get-repository-endpoint",
    ]
    token_call = next(c["argv"] for c in runner.calls if c["argv"][1] == "get-authorization-token")
    assert token_call[token_call.index("--duration-seconds") + 1] == "900"
    assert token_call[token_call.index("--domain-owner") + 1] == OWNER
    assert f"published `{WHEEL}`" in runner.summary.read_text()


def test_upload_rerun_skips_files_already_published_byte_for_byte(runner):
    runner.state["published"] = {"acme-core": {"1.0.0": {
        WHEEL: runner.dist(WHEEL, b"wheel bytes"), SDIST: runner.dist(SDIST, b"sdist bytes"),
    }}}
    result = runner.run("upload")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("already published with this exact file, skipping") == 2
    assert "Nothing to upload" in result.stdout
    assert runner.twine_calls() == []
    assert "get-authorization-token" not in runner.aws_operations()
    assert f"skipped `{SDIST}`" in runner.summary.read_text()


def test_upload_fails_clearly_when_an_existing_version_has_a_different_file(runner):
    published = runner.dist(WHEEL, b"the wheel that was published")
    runner.dist(WHEEL, b"a rebuilt, different wheel")
    runner.state["published"] = {"acme-core": {"1.0.0": {WHEEL: published}}}
    result = runner.run("upload")
    assert result.returncode == 1
    assert f"::error::acme-core 1.0.0 is already published with a different {WHEEL}" in result.stdout
    assert "raise the version number" in result.stdout
    assert runner.twine_calls() == []


def test_upload_fails_before_uploading_anything_when_a_version_lacks_one_file(runner):
    runner.state["published"] = {"acme-core": {"1.0.0": {WHEEL: runner.dist(WHEEL, b"wheel bytes")}}}
    runner.dist(SDIST, b"sdist bytes")
    runner.dist("acme_core_extras-0.1.0-py3-none-any.whl", b"a new package")
    result = runner.run("upload")
    assert result.returncode == 1
    assert f"::error::acme-core 1.0.0 is already published without {SDIST}" in result.stdout
    # The new package is not uploaded either: a release is never half published.
    assert runner.twine_calls() == []


def test_upload_normalises_package_names_from_wheel_and_legacy_sdist_file_names(runner):
    runner.dist("Acme.Core_Utils-2.0.0.tar.gz", b"legacy sdist")
    runner.dist("acme_core_utils-2.0.0-1-py3-none-any.whl", b"wheel with a build tag")
    result = runner.run("upload")
    assert result.returncode == 0, result.stdout + result.stderr
    looked_up = {
        (c["argv"][c["argv"].index("--package") + 1], c["argv"][c["argv"].index("--package-version") + 1])
        for c in runner.calls if c["program"] == "aws" and c["argv"][1] == "describe-package-version"
    }
    assert looked_up == {("acme-core-utils", "2.0.0")}


def test_upload_fails_when_the_build_produced_nothing(runner):
    result = runner.run("upload")
    assert result.returncode == 1
    assert "no wheel or sdist in dist/" in result.stdout
    assert runner.calls == []


def test_upload_explains_a_package_the_role_may_not_publish(runner):
    runner.dist(WHEEL, b"wheel bytes")
    runner.state["deny"] = ["describe-package-version"]
    result = runner.run("upload")
    assert result.returncode == 1
    assert "the publisher role may not read acme-core" in result.stdout
    assert "publishers[].packages" in result.stdout
    assert runner.twine_calls() == []


def test_upload_names_the_permission_needed_to_compare_existing_files(runner):
    runner.state["published"] = {"acme-core": {"1.0.0": {WHEEL: runner.dist(WHEEL, b"wheel bytes")}}}
    runner.state["deny"] = ["list-package-version-assets"]
    result = runner.run("upload")
    assert result.returncode == 1
    assert "codeartifact:ListPackageVersionAssets" in result.stdout


def test_upload_explains_a_denied_token_request(runner):
    runner.dist(WHEEL, b"wheel bytes")
    runner.state["deny"] = ["get-authorization-token"]
    result = runner.run("upload")
    assert result.returncode == 1
    assert "token request denied" in result.stdout and "sts:GetServiceBearerToken" in result.stdout
    assert runner.twine_calls() == []


def test_upload_failure_says_a_404_means_check_the_token(runner):
    runner.dist(WHEEL, b"wheel bytes")
    result = runner.run("upload", twine_status=1)
    assert result.returncode == 1
    assert "404 Not Found" in result.stdout and "check the token" in result.stdout
    assert TOKEN not in result.stderr


def test_input_check_accepts_the_stack_outputs(runner):
    result = runner.run("check-inputs")
    assert result.returncode == 0, result.stdout
    assert f"owner {OWNER}" in result.stdout


GOOD_INPUTS = {
    "CODEARTIFACT_DOMAIN_OWNER": OWNER,
    "CODEARTIFACT_REGION": "eu-west-1",
    "CODEARTIFACT_DOMAIN": "acme",
    "CODEARTIFACT_REPOSITORY": "internal",
    "PUBLISHER_ROLE_ARN": f"arn:aws:iam::{OWNER}:role/gh-publish-acme-acme-core",
}
INPUT_RULES = {
    "CODEARTIFACT_DOMAIN_OWNER": "domain-owner must be a 12-digit AWS account ID",
    "CODEARTIFACT_REGION": "region must be an AWS region where CodeArtifact is offered",
    "CODEARTIFACT_DOMAIN": "domain must be a CodeArtifact domain name",
    "CODEARTIFACT_REPOSITORY": "repository must be a CodeArtifact repository name",
    "PUBLISHER_ROLE_ARN": "publisher-role-arn must be an IAM role ARN",
}


@pytest.mark.parametrize(("variable", "value", "message"), [
    # What a YAML number does to 012345678901.
    ("CODEARTIFACT_DOMAIN_OWNER", "12345678901", INPUT_RULES["CODEARTIFACT_DOMAIN_OWNER"]),
    ("CODEARTIFACT_REGION", "Ireland", INPUT_RULES["CODEARTIFACT_REGION"]),
    ("CODEARTIFACT_REGION", "us-gov-west-1", INPUT_RULES["CODEARTIFACT_REGION"]),
    ("CODEARTIFACT_REGION", "cn-north-1", INPUT_RULES["CODEARTIFACT_REGION"]),
    ("CODEARTIFACT_REGION", "ap-east-1", INPUT_RULES["CODEARTIFACT_REGION"]),  # a region without CodeArtifact
    ("CODEARTIFACT_DOMAIN", "Acme_Domain", INPUT_RULES["CODEARTIFACT_DOMAIN"]),
    ("CODEARTIFACT_REPOSITORY", "-internal", INPUT_RULES["CODEARTIFACT_REPOSITORY"]),
    ("PUBLISHER_ROLE_ARN", "role/not-an-arn", INPUT_RULES["PUBLISHER_ROLE_ARN"]),
    ("PUBLISHER_ROLE_ARN", f"arn:aws-us-gov:iam::{OWNER}:role/gh-publish-acme-acme-core",
     INPUT_RULES["PUBLISHER_ROLE_ARN"]),
    ("PUBLISHER_ROLE_ARN", f"arn:aws:iam::{OWNER}:role/gh-publish-*", INPUT_RULES["PUBLISHER_ROLE_ARN"]),
    ("PUBLISHER_ROLE_ARN", "arn:aws:iam::444455556666:role/gh-publish-acme-acme-core",
     "publisher-role-arn must be a role in the domain-owner account"),
])
def test_input_check_rejects_each_malformed_input(runner, variable, value, message):
    result = runner.run("check-inputs", **{variable: value})
    assert result.returncode == 1
    assert result.stdout.count("::error::") == 1
    assert f"::error::{message}" in result.stdout
    assert value not in result.stdout  # values are described, never echoed as workflow commands


@pytest.mark.parametrize("variable", sorted(GOOD_INPUTS))
def test_input_check_refuses_a_trailing_newline_in_every_input(runner, variable):
    # A `with:` block scalar (`region: |`) ends in a newline; [[ =~ ^...$ ]] must not accept it.
    assert runner.run("check-inputs", **GOOD_INPUTS).returncode == 0
    result = runner.run("check-inputs", **{**GOOD_INPUTS, variable: GOOD_INPUTS[variable] + "\n"})
    assert result.returncode == 1
    assert f"::error::{INPUT_RULES[variable]}" in result.stdout


def test_input_check_lists_exactly_the_regions_botocore_offers_codeartifact_in():
    import botocore.session

    script = script_of("check-inputs")
    (listed,) = re.findall(r"^\s*(ap-northeast-1 \|[^)]*)\) ;;$", script, re.MULTILINE)
    offered = botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")
    assert sorted(region.strip() for region in listed.split("|")) == sorted(offered), (
        "update the region list of the publish workflow's input check from botocore's endpoint data"
    )


# --- the hand-over from the build job to the publish job ------------------------------------------


def built_digests(runner: Runner) -> str:
    """What the build job's `digests` step writes to its output, run on the runner's dist/."""
    output = runner.root / "github_output"
    output.write_text("")
    result = runner.run("digests", GITHUB_OUTPUT=str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    text = output.read_text()
    assert text.startswith("digests<<DIGESTS_END\n") and text.endswith("DIGESTS_END\n")
    return text.removeprefix("digests<<DIGESTS_END\n").removesuffix("DIGESTS_END\n")


def test_the_build_digests_name_every_distribution(runner):
    wheel = runner.dist(WHEEL, b"wheel bytes")
    sdist = runner.dist(SDIST, b"sdist bytes")
    assert sorted(built_digests(runner).splitlines()) == sorted([f"{wheel}  {WHEEL}", f"{sdist}  {SDIST}"])


def test_the_build_digests_step_fails_when_nothing_was_built(runner):
    result = runner.run("digests", GITHUB_OUTPUT=str(runner.root / "out"))
    assert result.returncode == 1 and "no wheel or sdist" in result.stdout


def test_verify_accepts_exactly_the_files_built(runner):
    runner.dist(WHEEL, b"wheel bytes")
    runner.dist(SDIST, b"sdist bytes")
    digests = built_digests(runner)
    result = runner.run("verify", BUILT_DIGESTS=digests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verified 2 files" in result.stdout


@pytest.mark.parametrize("tamper", ["changed", "added", "dropped", "no-digests"])
def test_verify_refuses_files_changed_added_or_dropped_in_transit(runner, tamper):
    runner.dist(WHEEL, b"wheel bytes")
    runner.dist(SDIST, b"sdist bytes")
    digests = built_digests(runner)
    if tamper == "changed":
        runner.dist(WHEEL, b"wheel bytes, then a payload")
    elif tamper == "added":
        runner.dist("evil-9.9.9-py3-none-any.whl", b"extra")
    elif tamper == "dropped":
        (runner.work / "dist" / SDIST).unlink()
    else:
        digests = ""
    result = runner.run("verify", BUILT_DIGESTS=digests)
    assert result.returncode == 1
    assert "::error::the distributions received are not exactly the ones the build job produced" in result.stdout


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


# --- the access diff on pull requests ----------------------------------------------------------------


def test_the_access_diff_is_judged_by_the_base_commits_audit():
    job = load("pull-request.yml")["jobs"]["access-diff"]
    assert job["permissions"] == {"contents": "read"}
    assert "environment" not in job and "needs" not in job
    text = json.dumps(job)
    assert "secrets." not in text and "aws-actions/" not in text and "id-token" not in text
    trees = checkouts("pull-request.yml", "access-diff")
    assert set(trees) == {"base", "pull-request"}
    assert trees["base"]["ref"] == BASE_SHA and "ref" not in trees["pull-request"]
    assert all(tree["persist-credentials"] is False for tree in trees.values())
    # Installed from the base's lock, run from the base's folder: the pull request brings its program only.
    (install,) = [step for step in job["steps"] if "pip install" in step.get("run", "")]
    assert install["working-directory"] == "base"
    assert "pip install --disable-pip-version-check --require-hashes -r requirements-dev.txt" in install["run"]
    (run,) = [step for step in job["steps"] if "--diff-against" in step.get("run", "")]
    assert run["working-directory"] == "base"
    command = " ".join(run["run"].replace("\\\n", " ").split())
    assert ('.venv/bin/python -m audit --stack prod --diff-against "$BASE_SHA" --program-from ../pull-request '
            "--markdown ../access-diff.md") in command
    assert run["env"] == {"BASE_SHA": BASE_SHA}
    upload = step_using("pull-request.yml", "access-diff", "actions/upload-artifact")
    assert upload["with"] == {"name": "access-diff", "path": "access-diff.md", "retention-days": 1,
                              "if-no-files-found": "error"}
    # The job fails on widening or disagreement, but only after the comment is handed over.
    names = [step.get("uses", "").split("@")[0] or step["name"] for step in job["steps"]]
    assert names.index("actions/upload-artifact") < names.index("Fail on widening or disagreement") == len(names) - 1
    fail = job["steps"][-1]
    assert fail["env"] == {"STATUS": "${{ steps.diff.outputs.status }}"} and run["id"] == "diff"


COMMENT_JOBS = {"access-diff-comment": ("<!-- pypi-registry access diff -->", "access-diff.md"),
                "preview-comment": ("<!-- pypi-registry preview -->", "preview.md")}


@pytest.mark.parametrize("job_name", sorted(COMMENT_JOBS))
def test_the_comment_jobs_run_no_code_of_the_pull_request_and_may_only_comment(job_name):
    job = load("pull-request.yml")["jobs"][job_name]
    assert job["permissions"] == {"pull-requests": "write"}
    assert "!cancelled()" in job["if"]
    uses = [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]
    assert uses == ["actions/download-artifact"]  # no checkout, no setup-python, no repository code
    (post,) = [step for step in job["steps"] if "run" in step]
    assert post["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert (post["env"]["MARKER"], post["env"]["COMMENT_FILE"]) == COMMENT_JOBS[job_name]
    assert "python" not in post["run"] and ".venv" not in post["run"] and "pip" not in post["run"]
    assert post["run"] == comment_script()
    jobs = load("pull-request.yml")["jobs"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in (
        job["if"] if job_name == "access-diff-comment" else jobs["preview"]["if"])


def comment_script(job: str = "access-diff-comment") -> str:
    (post,) = [step for step in steps("pull-request.yml", job) if "run" in step]
    return post["run"]


FAKE_GH = '''#!/usr/bin/env python3
import json, os, subprocess, sys
args = sys.argv[1:]
entry = {"argv": args, "token": os.environ.get("GH_TOKEN")}
if "--input" in args:
    entry["payload"] = json.load(open(args[args.index("--input") + 1]))
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
if "--jq" in args:
    comments = open(os.environ["FAKE_COMMENTS"]).read()
    out = subprocess.run(["jq", "-r", args[args.index("--jq") + 1]], input=comments, capture_output=True,
                         text=True, check=True).stdout
    sys.stdout.write(out)
else:
    print("{}")
'''


def post_comment(tmp_path: Path, comments: list[dict], markdown: str) -> list[dict]:
    """Runs the comment step as GitHub would, against a fake `gh` (and the real jq)."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "access-diff.md").write_text(markdown)
    (tmp_path / "comments.json").write_text(json.dumps(comments))
    script = tmp_path / "post.sh"
    script.write_text(comment_script())
    log = tmp_path / "gh.jsonl"
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path),
        "GH_TOKEN": "ghs_example", "REPOSITORY": "acme/pypi-registry", "PR_NUMBER": "42",
        "FAKE_GH_LOG": str(log), "FAKE_COMMENTS": str(tmp_path / "comments.json"),
        "MARKER": MARKER, "COMMENT_FILE": "access-diff.md",
    }
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=work,
                            env=environment, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


MARKER = "<!-- pypi-registry access diff -->"


def test_the_comment_is_posted_once_with_the_marker_and_the_diff(tmp_path):
    calls = post_comment(tmp_path, [{"id": 7, "user": {"login": "someone"}, "body": MARKER + " copied"}],
                         "### Access diff\n\n- reader 444455556666: +PublishPackageVersion on internal/acme-core\n")
    listing, posting = calls
    assert listing["argv"][:3] == ["api", "--paginate", "repos/acme/pypi-registry/issues/42/comments"]
    assert posting["argv"][:4] == ["api", "--method", "POST", "repos/acme/pypi-registry/issues/42/comments"]
    body = posting["payload"]["body"]
    assert body.startswith(MARKER + "\n### Access diff") and "+PublishPackageVersion on internal/acme-core" in body
    assert {call["token"] for call in calls} == {"ghs_example"}


def test_the_comment_is_updated_in_place_on_the_next_push(tmp_path):
    comments = [{"id": 5, "user": {"login": "github-actions[bot]"}, "body": "Pulumi preview ..."},
                {"id": 9, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nold diff"}]
    calls = post_comment(tmp_path, comments, "x" * 70000)
    posting = calls[-1]
    assert posting["argv"][:4] == ["api", "--method", "PATCH", "repos/acme/pypi-registry/issues/comments/9"]
    # Within GitHub's 65536-character limit for a comment.
    assert len(posting["payload"]["body"]) == len(MARKER) + 1 + 60000


def test_of_two_marked_comments_the_first_is_updated(tmp_path):
    comments = [{"id": 3, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nfirst"},
                {"id": 4, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nsecond"}]
    calls = post_comment(tmp_path, comments, "### Access diff\n")
    assert [call["argv"][2] for call in calls[1:]] == ["PATCH"]
    assert calls[-1]["argv"][3] == "repos/acme/pypi-registry/issues/comments/3"


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
