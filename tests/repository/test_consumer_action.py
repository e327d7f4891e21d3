"""The composite action that lets a consuming repository's CI install from the registry: linted
like the workflows, pinned, and its script run as GitHub would with a fake aws: the token reaches
only $GITHUB_ENV (which lives as long as the job), is masked, and every tool gets the one index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.repository.support import FIXTURES, PINNED_USES, tool

ACTION = Path(__file__).resolve().parents[2] / ".github" / "actions" / "codeartifact-install" / "action.yml"
OWNER = "012345678901"
TOKEN = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.cmVhZGVyLXRva2Vu"
ENDPOINT = f"https://acme-{OWNER}.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/"


def action() -> dict:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def test_action_passes_the_schema_and_zizmor():
    schema = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)],
                            capture_output=True, text=True, check=False)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    zizmor = subprocess.run([tool("zizmor"), "--offline", "--persona", "pedantic", "--format", "json", str(ACTION)],
                            capture_output=True, text=True, check=False)
    assert json.loads(zizmor.stdout) == [], zizmor.stdout


def test_every_step_is_pinned_and_no_expression_reaches_a_script():
    for line in ACTION.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith(("uses:", "- uses:")):
            assert PINNED_USES.match(line), line
    for step in action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


def run_steps(tmp_path: Path, deny: list[str] | None = None, token: str = TOKEN, endpoint: str = ENDPOINT,
              **inputs: str) -> tuple[subprocess.CompletedProcess, str, str]:
    """The action's script steps in order, as GitHub runs them (the `uses:` step is left out: the
    fake aws needs no credentials), stopping at the first that fails; stdout and stderr of all."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "aws"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FIXTURES / "fake_aws.py"}" "$@"\n')
    wrapper.chmod(0o755)
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"token": token, "endpoint": endpoint, "published": {}, "deny": deny or []}))
    github_env, github_output = tmp_path / "github_env", tmp_path / "github_output"
    github_env.write_text("")
    github_output.write_text("")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path),
        "GITHUB_ENV": str(github_env), "GITHUB_OUTPUT": str(github_output), "GITHUB_EVENT_NAME": "pull_request",
        "FAKE_REGISTRY": str(registry), "FAKE_CALLS": str(tmp_path / "calls.jsonl"),
        "CODEARTIFACT_DOMAIN": "acme", "CODEARTIFACT_DOMAIN_OWNER": OWNER, "CODEARTIFACT_REGION": "eu-west-1",
        "CODEARTIFACT_REPOSITORY": "internal", "SOURCE_NAME": "internal", "TOKEN_DURATION": "3600",
        **inputs,
    }
    stdout = stderr = ""
    for number, step in enumerate(action()["runs"]["steps"]):
        if "run" not in step:
            continue
        script = tmp_path / f"step-{number}.sh"
        script.write_text(step["run"])
        # GitHub's bash: `bash --noprofile --norc -eo pipefail {0}`
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=tmp_path,
                                env=env, capture_output=True, text=True, check=False, timeout=60)
        stdout, stderr = stdout + result.stdout, stderr + result.stderr
        if result.returncode != 0:
            break
    return (subprocess.CompletedProcess(result.args, result.returncode, stdout, stderr), github_env.read_text(),
            github_output.read_text())


def test_configure_points_every_tool_at_the_one_index_for_the_job_only(tmp_path):
    result, github_env, github_output = run_steps(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    authenticated = f"https://aws:{TOKEN}@acme-{OWNER}.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/simple/"
    assert dict(line.split("=", 1) for line in github_env.splitlines()) == {
        "PIP_INDEX_URL": authenticated,
        "PIP_NO_INPUT": "1",
        "UV_DEFAULT_INDEX": authenticated,
        "UV_INDEX_INTERNAL_USERNAME": "aws",
        "UV_INDEX_INTERNAL_PASSWORD": TOKEN,
        "POETRY_HTTP_BASIC_INTERNAL_USERNAME": "aws",
        "POETRY_HTTP_BASIC_INTERNAL_PASSWORD": TOKEN,
    }
    assert "EXTRA_INDEX" not in github_env
    assert github_output == f"index-url={ENDPOINT}simple/\n"
    # The token is masked before anything else could print it, and never printed in clear.
    masks = [line for line in result.stdout.splitlines() if line.startswith("::add-mask::")]
    assert masks[0] == f"::add-mask::{TOKEN}"
    assert TOKEN not in result.stdout.replace(masks[0], "").replace(masks[1], "")
    assert TOKEN not in result.stderr
    assert not any(tmp_path.joinpath(name).exists() for name in (".pypirc", ".config", ".netrc"))


@pytest.mark.parametrize(("name", "value", "message"), [
    ("CODEARTIFACT_DOMAIN_OWNER", "12345678901", "domain-owner"),
    ("CODEARTIFACT_DOMAIN", "Acme", "domain must be"),
    ("CODEARTIFACT_REPOSITORY", "-internal", "repository must be"),
    ("SOURCE_NAME", "my source", "source-name"),
    ("TOKEN_DURATION", "60", "token-duration-seconds"),
    ("TOKEN_DURATION", "99999", "token-duration-seconds"),
    ("CODEARTIFACT_DOMAIN_OWNER", OWNER + "\n", "domain-owner"),
    ("SOURCE_NAME", "internal\nPIP_EXTRA_INDEX_URL=https://pypi.org/simple/", "source-name"),
    # fork code that may be issued the same repo:OWNER/REPO:pull_request subject
    ("GITHUB_EVENT_NAME", "pull_request_target", "refused on pull_request_target"),
    ("GITHUB_EVENT_NAME", "", "GITHUB_EVENT_NAME is not set"),
    # a second index left in force by the job: dependency confusion
    ("PIP_EXTRA_INDEX_URL", "https://pypi.org/simple/", "PIP_EXTRA_INDEX_URL is set"),
    ("UV_EXTRA_INDEX_URL", "https://pypi.org/simple/", "UV_EXTRA_INDEX_URL is set"),
    ("UV_INDEX", "pypi=https://pypi.org/simple/", "UV_INDEX is set"),
    ("UV_INDEX_URL", "https://pypi.org/simple/", "UV_INDEX_URL is set"),
    ("PIP_FIND_LINKS", "https://example.com/wheels/", "PIP_FIND_LINKS is set"),
    ("UV_FIND_LINKS", "https://example.com/wheels/", "UV_FIND_LINKS is set"),
])
def test_refuses_bad_runs_and_inputs_before_asking_for_a_token(tmp_path, name, value, message):
    result, github_env, github_output = run_steps(tmp_path, **{name: value})
    assert result.returncode == 1 and f"::error::{message}" in result.stdout, result.stdout
    assert github_env == github_output == "" and not (tmp_path / "calls.jsonl").exists()


@pytest.mark.parametrize("event", ["pull_request", "push", "merge_group", "workflow_dispatch"])
def test_other_events_and_an_empty_extra_index_pass(tmp_path, event):
    result, github_env, _ = run_steps(tmp_path, GITHUB_EVENT_NAME=event, PIP_EXTRA_INDEX_URL="", UV_INDEX="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert github_env.startswith("PIP_INDEX_URL=https://aws:")


@pytest.mark.parametrize(("token", "endpoint", "what"), [
    (TOKEN + "\nPIP_EXTRA_INDEX_URL=https://pypi.org/simple/", ENDPOINT, "authorization token"),
    (TOKEN + "\rPIP_EXTRA_INDEX_URL=https://pypi.org/simple/", ENDPOINT, "authorization token"),
    (TOKEN, ENDPOINT + "\nPIP_EXTRA_INDEX_URL=https://pypi.org/simple/", "repository endpoint"),
])
def test_a_value_with_a_line_break_is_never_written(tmp_path, token, endpoint, what):
    result, github_env, github_output = run_steps(tmp_path, token=token, endpoint=endpoint)
    assert result.returncode == 1 and f"::error::the {what} holds a line break" in result.stdout, result.stdout
    assert github_env == github_output == ""
    # and no part of it was printed: ::add-mask:: would have masked only its first line
    assert "pypi.org" not in result.stdout + result.stderr
    if what == "authorization token":
        assert TOKEN not in result.stdout + result.stderr


def test_configure_explains_a_denied_token(tmp_path):
    result, github_env, _ = run_steps(tmp_path, deny=["get-authorization-token"])
    assert result.returncode == 1 and "githubReaders" in result.stdout
    assert github_env == ""
