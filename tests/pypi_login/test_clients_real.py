"""Real pip, uv, poetry and twine against a local CodeArtifact stand-in (tests/codeartifact_stub).

Every test starts its own stand-in on 127.0.0.1 (pypiserver, the CodeArtifact-like front and the
fake CodeArtifact API) and stops it. The internal package acme-core depends on the public package
publiclib; both come through the one index URL. The helper runs for real (`python -m pypi_login`,
its boto3 path against the fake API), then each client installs in the mode a user would use:

- printed: `eval "$(python -m pypi_login --stack-outputs outputs.json)"`, then the client;
- write:   `python -m pypi_login --stack-outputs outputs.json --write`, then the client;
- keyring: no token anywhere; keyrings.codeartifact asks the fake API for one when the client asks;
- expired: printed mode, then the token expires before the install.

Each runs with the front answering a bad token with 401 and with 404 (both are reported for
CodeArtifact). What each client prints is asserted here and quoted by docs/consuming.md and the helper;
the outcome of every run is collected into the client x mode matrix printed at the end of the run.

The machine each client runs on, and the matrix, are tests/pypi_login/clients_support.py; the stand-in
fixture `stub` is in tests/pypi_login/conftest.py.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from pypi_login.codeartifact import REFUSED_HINT
from tests.pypi_login.clients_support import (
    CLIENTS,
    PYTHON,
    REFUSED,
    ROOT,
    STUB_DIR,
    VARIANTS,
    Machine,
    exported,
    outcome,
    record,
    through_the_one_index,
)

pytestmark = pytest.mark.clients


# --- printed and --write modes ------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_printed_mode_installs_internal_and_public_packages(stub, tmp_path, client, variant):
    stub.registry.unauthorized_status = variant
    machine = Machine(stub, tmp_path / "machine")
    helper = machine.helper()
    assert helper.returncode == 0, helper.stderr
    exports = exported(helper.stdout)
    assert exports["PIP_NO_INPUT"] == "1"
    assert "PIP_EXTRA_INDEX_URL" not in exports and "UV_INDEX" not in exports
    source_add = f"poetry source add --priority=primary internal {stub.registry.index_url()}"
    assert source_add in helper.stderr  # the command the helper tells poetry users to run, run here
    if client == "poetry":
        machine.add_poetry_source(stub.registry.index_url())
    # The documented usage (docs/consuming.md): eval the exports in the shell, then install.
    result = machine.shell(f'eval "$EXPORTS"\n{machine.install_command(client)}', env={"EXPORTS": helper.stdout},
                           label=f"{client} printed {variant}")
    record(client, f"printed ({variant})", outcome(client, machine, result))
    assert result.returncode == 0, result.stdout + result.stderr
    assert machine.installed(client)
    through_the_one_index(stub)
    # The helper's real boto3 path reached the fake API: one token, one endpoint.
    assert [call["operation"] for call in stub.registry.api_log] == ["GetAuthorizationToken", "GetRepositoryEndpoint"]
    assert stub.registry.api_log[0]["params"]["durationSeconds"] == "43200"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_write_mode_installs_from_the_users_configuration(stub, tmp_path, client, variant):
    stub.registry.unauthorized_status = variant
    machine = Machine(stub, tmp_path / "machine")
    if client == "poetry":
        # Without its source the project would install from PyPI: --write refuses until it is there.
        refused = machine.helper("--write", "--tool", client)
        assert refused.returncode == 1 and "has no source named 'internal'" in refused.stderr
        machine.add_poetry_source(stub.registry.index_url())
    helper = machine.helper("--write", "--tool", client)
    assert helper.returncode == 0, helper.stderr
    assert helper.stdout == ""
    written = {"pip": Path(machine.env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf",
               "uv": Path(machine.env["XDG_CONFIG_HOME"]) / "uv" / "uv.toml",
               "poetry": Path(machine.env["POETRY_CONFIG_DIR"]) / "auth.toml"}[client]
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    # A new shell: nothing in the environment, only the files the helper wrote.
    result = machine.shell(machine.install_command(client), label=f"{client} write {variant}")
    record(client, f"--write ({variant})", outcome(client, machine, result))
    assert result.returncode == 0, result.stdout + result.stderr
    assert machine.installed(client)
    through_the_one_index(stub)


# Settings of higher precedence that would send each client elsewhere, planted where the real client
# reads them: --write refuses naming the file and line, --fix (or the user) removes them, and then the
# client resolves from the registry only (the front records any other host it is asked for).
ELSEWHERE = {
    # pip applies [install] over [global], from whichever file: the legacy user file here.
    "pip": ("home/.pip/pip.conf", "[install]\nindex-url = https://pypi.org/simple/\n", ":2 [install] index-url"),
    # A project's uv.toml is read over the user's, and a non-default index is searched first.
    "uv": ("project/uv.toml", '[[index]]\nname = "mirror"\nurl = "https://pypi.org/simple/"\n',
           ":1 [[index]] 'mirror'"),
    # A supplemental source is a second index; only the user can remove it from the project.
    "poetry": ("project/pyproject.toml", None, ":16 also declares source 'mirror'"),
    # A link page beside the index: the client fetches it (shown below) and may install from it.
    "pip find-links": ("home/.pip/pip.conf", "[global]\nfind-links = https://links.example/\n",
                       ":2 [global] find-links"),
    "uv find-links": ("project/uv.toml", 'find-links = [\n  "https://links.example/",\n]\n', ":1 find-links"),
}


@pytest.mark.parametrize("case", ELSEWHERE)
def test_write_refuses_what_would_send_the_client_elsewhere_then_it_installs_from_the_registry_only(
        stub, tmp_path, case):
    machine = Machine(stub, tmp_path / "machine")
    client = case.split()[0]
    relative, text, where = ELSEWHERE[case]
    planted = machine.root / relative
    if client == "poetry":
        machine.add_poetry_source(stub.registry.index_url())
        added = machine.run(["poetry", "source", "add", "--priority=supplemental", "mirror",
                             "https://pypi.org/simple/"], cwd=machine.project)
        assert added.returncode == 0, added.stderr
    else:
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text(text)
    before = planted.read_text()
    if case.endswith("find-links"):
        # The real client honours the planted setting: it asks for the link page (refused by the front).
        tried = machine.shell(machine.install_command(client), env={"PIP_RETRIES": "0", "UV_HTTP_RETRIES": "0"})
        assert tried.returncode != 0
        assert any("links.example" in request for request in stub.registry.blocked), stub.registry.blocked
        stub.registry.blocked.clear()
    refused = machine.helper("--write", "--tool", client)
    assert refused.returncode == 1, refused.stderr
    assert f"error: {client}: {planted}{where}" in refused.stderr
    assert planted.read_text() == before and stub.registry.api_log == []  # nothing written, no token asked
    if client == "poetry":
        assert machine.run(["poetry", "source", "remove", "mirror"], cwd=machine.project).returncode == 0
        fixed = machine.helper("--write", "--tool", client)
    else:
        fixed = machine.helper("--write", "--tool", client, "--fix")
        assert "fixed: commented out line" in fixed.stderr
    assert fixed.returncode == 0, fixed.stderr
    result = machine.shell(machine.install_command(client), label=f"{case} write after a fix")
    planted_what = "a link page" if case.endswith("find-links") else "another index"
    record(client, f"--write, {planted_what} planted", "refused, then " + outcome(client, machine, result))
    assert result.returncode == 0, result.stdout + result.stderr
    assert machine.installed(client)
    through_the_one_index(stub)
    assert stub.registry.blocked == []  # pypi.org was never asked


# --- a project configured with the helper, installed with the CI action's defaults --------------------

ACTION = ROOT / ".github" / "actions" / "codeartifact-install" / "action.yml"


@pytest.mark.parametrize("client", CLIENTS)
def test_a_project_configured_with_the_helper_installs_with_the_actions_defaults(stub, tmp_path, client):
    from pypi_login import config

    machine = Machine(stub, tmp_path / "machine")
    # The developer's side: the helper's defaults and its printed poetry command name the project's source;
    # a uv project names the same index, without credentials.
    helper = machine.helper()
    assert helper.returncode == 0, helper.stderr
    if client == "poetry":
        (line,) = [line for line in helper.stderr.splitlines() if "poetry source add" in line]
        command = line.split(": ", 2)[-1]
        added = machine.run(shlex.split(command), cwd=machine.project)
        assert added.returncode == 0, added.stderr
    if client == "uv":
        with (machine.project / "pyproject.toml").open("a") as pyproject:
            pyproject.write(f'\n[[tool.uv.index]]\nname = "{config.DEFAULT_SOURCE_NAME}"\n'
                            f'url = "{stub.registry.index_url()}"\ndefault = true\n')
    # CI's side: the action's configure step with every default, `aws` made of boto3 against the fake API.
    document = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    defaults = {name: spec["default"] for name, spec in document["inputs"].items() if "default" in spec}
    (step,) = [step for step in document["runs"]["steps"] if step.get("id") == "configure"]
    runner = tmp_path / "runner"
    (runner / "bin").mkdir(parents=True)
    aws = runner / "bin" / "aws"
    aws.write_text(f'#!/bin/sh\nexec {shlex.quote(PYTHON)} {shlex.quote(str(STUB_DIR / "aws_cli.py"))} "$@"\n')
    aws.chmod(0o755)
    (runner / "configure.sh").write_text(step["run"])
    github_env = runner / "github_env"
    github_env.write_text("")
    env = {**stub.environment(runner / "home"), "PATH": f"{runner / 'bin'}{os.pathsep}{machine.env['PATH']}",
           "GITHUB_ENV": str(github_env), "GITHUB_OUTPUT": str(runner / "github_output"),
           "CODEARTIFACT_DOMAIN": "acme", "CODEARTIFACT_DOMAIN_OWNER": stub.registry.owner,
           "CODEARTIFACT_REGION": stub.registry.region, "CODEARTIFACT_REPOSITORY": defaults["repository"],
           "SOURCE_NAME": defaults["source-name"], "TOKEN_DURATION": defaults["token-duration-seconds"]}
    configured = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(runner / "configure.sh")],
                                env=env, capture_output=True, text=True, check=False, timeout=120)
    assert configured.returncode == 0, configured.stdout + configured.stderr
    job = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    if client == "uv":  # uv sync, the project's own command: the index by its name, credentials by that name
        command = f"uv sync --python {shlex.quote(PYTHON)} --no-install-project"
        job.pop("UV_DEFAULT_INDEX")
    else:
        command = machine.install_command(client)
    result = machine.shell(command, env=job, label=f"{client} action defaults")
    # uv sync installs into the project's .venv, the others where machine.installed looks.
    installed = (bool(list((machine.project / ".venv").glob("lib/python*/site-packages/acme_core/__init__.py")))
                 if client == "uv" else machine.installed(client))
    record(client, "action defaults, project from the helper", outcome(client, machine, result, installed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed
    through_the_one_index(stub)


# --- keyring mode ---------------------------------------------------------------------------------

# What each client needs to ask keyrings.codeartifact (installed in this venv with keyring, so the
# `keyring` command on PATH has it too). docs/consuming.md documents exactly these settings.
KEYRING_SETTINGS = {
    "pip": lambda index: {"PIP_INDEX_URL": index},
    "uv": lambda index: {"UV_DEFAULT_INDEX": index.replace("https://", "https://aws@"),
                         "UV_KEYRING_PROVIDER": "subprocess"},
    "poetry": lambda index: {},
}
# pip asks a keyring only after a 401 (pip's handle_401): with the 404 variant it never asks.
KEYRING_WORKS = {("pip", 401): True, ("pip", 404): False, ("uv", 401): True, ("uv", 404): True,
                 ("poetry", 401): True, ("poetry", 404): True}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_keyring_mode_gets_a_token_from_keyrings_codeartifact(stub, tmp_path, client, variant):
    stub.registry.unauthorized_status = variant
    machine = Machine(stub, tmp_path / "machine", keyring=True)
    index = stub.registry.index_url()
    if client == "poetry":
        machine.add_poetry_source(index)  # the same URL, no credentials anywhere
    result = machine.shell(machine.install_command(client), env=KEYRING_SETTINGS[client](index),
                           label=f"{client} keyring {variant}")
    record(client, f"keyring ({variant})", outcome(client, machine, result))
    output = result.stdout + result.stderr
    if KEYRING_WORKS[(client, variant)]:
        assert result.returncode == 0, output
        assert machine.installed(client)
        through_the_one_index(stub)
        # The token came from the fake API through keyrings.codeartifact (boto3), for this domain.
        calls = [call for call in stub.registry.api_log if call["operation"] == "GetAuthorizationToken"]
        assert calls and calls[0]["params"]["domain"] == "acme" and calls[0]["params"]["domainOwner"] == "012345678901"
    else:
        assert result.returncode != 0
        assert REFUSED[(client, variant)] in output
        assert stub.registry.api_log == []  # no keyring was ever asked


def test_pip_without_a_terminal_asks_the_keyring_only_with_an_explicit_provider(stub, tmp_path):
    # In CI or a Docker build pip has no input: PIP_NO_INPUT=1 turns off the default keyring
    # provider ("auto"), so the keyring must be named: --keyring-provider import (or
    # PIP_KEYRING_PROVIDER=import), with keyring and keyrings.codeartifact in pip's environment.
    machine = Machine(stub, tmp_path / "machine", keyring=True)
    index = stub.registry.index_url()
    auto = machine.shell(machine.install_command("pip"), env={"PIP_INDEX_URL": index, "PIP_NO_INPUT": "1"},
                         label="pip keyring no-input auto")
    record("pip", "keyring, PIP_NO_INPUT=1 (401)", outcome("pip", machine, auto))
    assert auto.returncode == 1 and REFUSED[("pip", 404)] in auto.stdout + auto.stderr
    assert stub.registry.api_log == []

    imported = machine.shell(machine.install_command("pip"), label="pip keyring no-input import",
                             env={"PIP_INDEX_URL": index, "PIP_NO_INPUT": "1", "PIP_KEYRING_PROVIDER": "import"})
    record("pip", "keyring, PIP_NO_INPUT=1, provider import (401)", outcome("pip", machine, imported))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert machine.installed("pip")


def test_uv_asks_the_keyring_only_with_a_user_name_in_the_index_url(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine", keyring=True)
    result = machine.shell(machine.install_command("uv"), label="uv keyring no user",
                           env={"UV_DEFAULT_INDEX": stub.registry.index_url(), "UV_KEYRING_PROVIDER": "subprocess"})
    record("uv", "keyring without aws@ in the URL (401)", outcome("uv", machine, result))
    assert result.returncode != 0
    assert REFUSED[("uv", 401)] in result.stdout + result.stderr
    assert stub.registry.api_log == []


def test_pip_without_a_terminal_and_without_a_token_stops_with_a_traceback_unless_no_input(stub, tmp_path):
    # An index URL without a token (a build where the secret was not mounted): pip prompts for a
    # user name on the 401 and, with no terminal, dies with EOFError. PIP_NO_INPUT=1, which the
    # printed exports set, makes it report the failure instead.
    machine = Machine(stub, tmp_path / "machine")
    index = {"PIP_INDEX_URL": stub.registry.index_url(), "PIP_KEYRING_PROVIDER": "disabled"}
    prompt = machine.shell(machine.install_command("pip"), env=index, label="pip no token no terminal")
    record("pip", "no token, no terminal (401)", outcome("pip", machine, prompt))
    assert prompt.returncode == 2
    assert "EOFError" in prompt.stderr and "User for " in prompt.stdout + prompt.stderr

    quiet = machine.shell(machine.install_command("pip"), env={**index, "PIP_NO_INPUT": "1"},
                          label="pip no token no input")
    record("pip", "no token, PIP_NO_INPUT=1 (401)", outcome("pip", machine, quiet))
    assert quiet.returncode == 1
    assert "Traceback" not in quiet.stderr and REFUSED[("pip", 404)] in quiet.stdout + quiet.stderr


# --- an expired token: what each client says -----------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_an_expired_token_fails_with_the_words_the_readme_quotes(stub, tmp_path, client, variant):
    stub.registry.unauthorized_status = variant
    machine = Machine(stub, tmp_path / "machine")
    helper = machine.helper()
    assert helper.returncode == 0, helper.stderr
    stub.registry.expire(exported(helper.stdout)["UV_INDEX_INTERNAL_PASSWORD"])
    if client == "poetry":
        machine.add_poetry_source(stub.registry.index_url())
    result = machine.shell(f'eval "$EXPORTS"\n{machine.install_command(client)}', env={"EXPORTS": helper.stdout},
                           label=f"{client} expired {variant}")
    record(client, f"expired token ({variant})", outcome(client, machine, result))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert REFUSED[(client, variant)] in output
    assert "Traceback" not in output
    assert "404" not in output  # whatever the index answers, no client says 404
    if client == "pip" and variant == 401:
        assert REFUSED[("pip", 404)] in output  # pip says both


def test_readme_and_helper_quote_what_the_clients_print():
    readme = (ROOT / "docs" / "consuming.md").read_text(encoding="utf-8")
    section = readme[readme.index("## On a laptop"):readme.index("## In a consuming repository's CI")]
    for phrase in REFUSED.values():
        assert phrase in section, phrase
        assert phrase in REFUSED_HINT, phrase
    assert "404 means" not in section  # no client prints 404
