"""The reusable publish workflow: its inputs and jobs, the README's caller example, and the publish script's
behaviour.

Everything runs offline: the linters are the ones in .venv, and the publish workflow's own bash
is extracted from the YAML and run against fake `aws` and `twine` executables.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.repository.support import FIXTURES, load, steps, tool

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
