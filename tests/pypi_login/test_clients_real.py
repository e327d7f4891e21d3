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
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from pypi_login.clients import fingerprint
from pypi_login.codeartifact import REFUSED_HINT
from tests.codeartifact_stub import Stub
from tests.codeartifact_stub.distributions import write_sdist, write_wheel

pytestmark = pytest.mark.clients

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STUB_DIR = ROOT / "tests" / "codeartifact_stub"
INTERNAL, PUBLIC = "acme-core", "publiclib"
CLIENTS = ("pip", "uv", "poetry")
VARIANTS = (401, 404)

# What each client prints when the index refuses the token, as observed in these tests. docs/consuming.md
# ("When an install fails") and the helper (REFUSED_HINT) quote exactly these; none of them says 404.
REFUSED = {
    ("pip", 401): "401 Error, Credentials not correct",
    ("pip", 404): "(from versions: none)",
    ("uv", 401): "lack of valid authentication credentials (401 Unauthorized)",
    ("uv", 404): "not found in the package registry",
    ("poetry", 401): "Authorization error accessing",
    ("poetry", 404): "doesn't match any versions",
}

PYPROJECT = """\
[project]
name = "consumer"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["acme-core"]

[tool.poetry]
package-mode = false
"""

# --- the matrix, printed in the terminal summary ---------------------------------------------

MATRIX: dict[tuple[str, str], str] = {}
WALL: dict[str, float] = {}


def record(client: str, mode: str, outcome: str) -> None:
    MATRIX[(client, mode)] = outcome


class _MatrixReport:
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not MATRIX:
            return
        terminalreporter.section("real clients x modes against the CodeArtifact stand-in")
        width = max(len(mode) for _, mode in MATRIX) + 2
        for (client, mode), outcome in sorted(MATRIX.items(), key=_row_order):
            terminalreporter.write_line(f"{client:<8}{mode:<{width}}{outcome}")
        if WALL:
            terminalreporter.write_line(f"(client runs: {len(WALL)}, {sum(WALL.values()):.1f} s in the clients)")


ORDER = {"pip": 0, "uv": 1, "poetry": 2, "twine": 3, "helper": 4}
MODES = ("printed", "--write", "keyring", "expired", "no token", "publish")


def _row_order(item: tuple[tuple[str, str], str]) -> tuple[int, int, str]:
    (client, mode), _ = item
    rank = next((index for index, prefix in enumerate(MODES) if mode.startswith(prefix)), len(MODES))
    return ORDER.get(client, len(ORDER)), rank, mode


@pytest.fixture(scope="module", autouse=True)
def _matrix_report(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("client-matrix"):
        manager.register(_MatrixReport(), "client-matrix")


# --- one user's machine ------------------------------------------------------------------------


@pytest.fixture
def stub(tmp_path: Path):
    with Stub(tmp_path / "stand-in") as running:
        write_wheel(running.packages, PUBLIC, "2.0.0")
        write_wheel(running.packages, INTERNAL, "1.0.0", [f"{PUBLIC}>=2"])
        yield running
        # Nothing any client did tried to reach anything but the stand-in.
        assert running.registry.blocked == []


class Machine:
    """A private home with its own configuration, caches and network (the stand-in only)."""

    def __init__(self, stub: Stub, root: Path, access_key: str = "AKIDREADER", keyring: bool = False):
        self.stub = stub
        self.root = root
        self.env = stub.environment(root, access_key)
        if not keyring:
            # Printed and written modes must work on their own, without any keyring answering.
            self.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        self.outputs = root / "outputs.json"
        self.outputs.write_text(json.dumps(stub.stack_outputs()))
        self.target = root / "target"
        self.project = root / "project"
        self.project.mkdir()
        (self.project / "pyproject.toml").write_text(PYPROJECT)

    def run(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
            label: str = "") -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(argv, env={**self.env, **(env or {})}, cwd=cwd or self.root, capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, timeout=180, check=False)
        if label:
            WALL[label] = time.monotonic() - started
        return result

    def helper(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`python -m pypi_login --stack-outputs outputs.json ARGS` (the helper lives in this repository)."""
        return self.run([PYTHON, "-m", "pypi_login", "--stack-outputs", str(self.outputs), *args],
                        env={"PYTHONPATH": str(ROOT), **(env or {})}, cwd=self.project)

    def shell(self, script: str, env: dict[str, str] | None = None,
              label: str = "") -> subprocess.CompletedProcess[str]:
        return self.run(["bash", "--noprofile", "--norc", "-c", script], env=env, cwd=self.project, label=label)

    def install_command(self, client: str) -> str:
        if client == "pip":
            return f"python -m pip install --target {shlex.quote(str(self.target))} {INTERNAL}"
        if client == "uv":
            return f"uv pip install --python {shlex.quote(PYTHON)} --target {shlex.quote(str(self.target))} {INTERNAL}"
        return "poetry install --no-root"

    def add_poetry_source(self, url: str) -> None:
        result = self.run(["poetry", "source", "add", "--priority=primary", "internal", url], cwd=self.project)
        assert result.returncode == 0, result.stdout + result.stderr

    def installed(self, client: str) -> bool:
        if client == "poetry":
            roots = list((self.project / ".venv" / "lib").glob("python*/site-packages"))
        else:
            roots = [self.target]
        return any((root / "acme_core" / "__init__.py").is_file() and (root / "publiclib").is_dir() for root in roots)


def through_the_one_index(stub: Stub) -> None:
    """Both packages were served, authenticated, by the one index."""
    served = {entry["path"] for entry in stub.registry.index_log if entry["status"] == 200 and entry["auth"] == "valid"}
    assert f"/pypi/internal/simple/{INTERNAL}/" in served
    assert f"/pypi/internal/simple/{PUBLIC}/" in served


def exported(exports: str) -> dict[str, str]:
    """The variables of `export NAME=VALUE` lines, as the shell sees them."""
    variables = {}
    for line in exports.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            variables[name] = shlex.split(value)[0] if value else ""
    return variables


def outcome(client: str, machine: Machine, result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode == 0 and machine.installed(client):
        return "installed"
    output = result.stdout + result.stderr
    if "EOFError" in output:
        return "fails: EOFError traceback at pip's password prompt"
    quoted = [phrase for (name, _), phrase in REFUSED.items() if name == client and phrase in output]
    return "fails: " + " + ".join(f'"{phrase}"' for phrase in quoted) if quoted else f"fails (exit {result.returncode})"


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
}


@pytest.mark.parametrize("client", CLIENTS)
def test_write_refuses_what_would_send_the_client_elsewhere_then_it_installs_from_the_registry_only(
        stub, tmp_path, client):
    machine = Machine(stub, tmp_path / "machine")
    relative, text, where = ELSEWHERE[client]
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
    result = machine.shell(machine.install_command(client), label=f"{client} write after a fix")
    record(client, "--write, another index planted", "refused, then " + outcome(client, machine, result))
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
    record(client, "action defaults, project from the helper", outcome(client, machine, result))
    assert result.returncode == 0, result.stdout + result.stderr
    if client == "uv":
        assert list((machine.project / ".venv").glob("lib/python*/site-packages/acme_core/__init__.py"))
    else:
        assert machine.installed(client)
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


# --- the helper's own checks, against the real boto3 path ------------------------------------------


def test_status_without_arguments_after_eval_of_the_exports_sees_every_token(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine")
    helper = machine.helper()
    script = 'eval "$EXPORTS"\npython -m pypi_login --status'
    result = machine.shell(script, env={"EXPORTS": helper.stdout, "PYTHONPATH": str(ROOT)})
    record("helper", "--status after eval (documented usage)", "ok" if result.returncode == 0 else "fails")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "poetry: token in $POETRY_HTTP_BASIC_INTERNAL_PASSWORD valid until" in result.stdout
    assert result.stdout.count("valid until") == 3


def test_a_token_that_has_already_expired_is_refused(stub, tmp_path):
    # The session behind the access key has ended: CodeArtifact's token is dead on arrival.
    machine = Machine(stub, tmp_path / "machine", access_key="AKIDENDED")
    machine.add_poetry_source(stub.registry.index_url())  # else --write refuses before asking for a token
    for mode in ((), ("--write",)):
        result = machine.helper(*mode, "--duration-seconds", "0")
        assert result.returncode == 1
        assert result.stdout == ""
        assert "CodeArtifact returned a token that already expired" in result.stderr
        assert "Nothing was printed or written" in result.stderr
    assert not (Path(machine.env["XDG_CONFIG_HOME"]) / "pip").exists()
    record("helper", "token already expired", "refused (exit 1, nothing printed or written)")


def doctor(machine: Machine, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return machine.run([PYTHON, "-m", "pypi_login", "--doctor", *args],
                       env={"PYTHONPATH": str(ROOT), **(env or {})}, cwd=machine.project)


def test_doctor_after_the_printed_exports_says_ok_for_every_tool(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine")
    helper = machine.helper()
    machine.add_poetry_source(stub.registry.index_url())
    result = doctor(machine, "--package", INTERNAL, env=exported(helper.stdout))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0:2] for line in lines] == [["pip", " ok"], ["uv", " ok"], ["poetry", " ok"]]
    token = exported(helper.stdout)["UV_INDEX_INTERNAL_PASSWORD"]
    assert token not in result.stdout + result.stderr
    record("helper", "--doctor after eval", "ok for pip, uv, poetry")


def test_doctor_after_write_reads_the_files(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine")
    machine.add_poetry_source(stub.registry.index_url())
    assert machine.helper("--write").returncode == 0
    result = doctor(machine, "--package", PUBLIC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pip: ok: token from " + machine.env["XDG_CONFIG_HOME"] in result.stdout


def test_doctor_names_each_problem_in_one_line(stub, tmp_path):
    index = stub.registry.index_url()
    cases = {}

    def verdict(result: subprocess.CompletedProcess[str]) -> str:
        assert result.returncode == 1, result.stdout + result.stderr
        return result.stdout.splitlines()[0]

    # Nothing configured.
    machine = Machine(stub, tmp_path / "none")
    cases["no token"] = verdict(doctor(machine, "--tool", "pip"))
    # The recorded expiry has passed.
    cases["expired"] = verdict(doctor(machine, "--tool", "pip", env={
        "PIP_INDEX_URL": index.replace("https://", "https://aws:whatever@"),
        "CODEARTIFACT_TOKEN_EXPIRES_PIP": f"2020-01-01T00:00:00Z {fingerprint('whatever')}"}))
    # A repository that does not exist (a typo), and a URL that is not CodeArtifact's shape.
    typo = index.replace("/internal/", "/internl/").replace("https://", "https://aws:whatever@")
    cases["wrong URL (repository)"] = verdict(doctor(machine, "--tool", "pip", env={"PIP_INDEX_URL": typo}))
    cases["wrong URL (extra index)"] = verdict(doctor(machine, "--tool", "pip", env={
        "PIP_INDEX_URL": index.replace("https://", "https://aws:whatever@"),
        "PIP_EXTRA_INDEX_URL": "https://pypi.org/simple/"}))
    # A token whose role may not read the repository.
    reader_less = Machine(stub, tmp_path / "no-read", access_key="AKIDNOREAD")
    exports = exported(reader_less.helper().stdout)
    cases["no permission"] = verdict(doctor(reader_less, "--tool", "pip", "--package", INTERNAL, env=exports))
    # A valid token and a package that is not there.
    ok = Machine(stub, tmp_path / "ok")
    exports = exported(ok.helper().stdout)
    cases["package missing"] = verdict(doctor(ok, "--tool", "pip", "--package", "acme-nothing", env=exports))
    # A token revoked before its recorded expiry: 401 says so directly.
    stub.registry.expire(exports["UV_INDEX_INTERNAL_PASSWORD"])
    cases["token refused (401)"] = verdict(doctor(ok, "--tool", "uv", "--package", INTERNAL, env=exports))

    assert cases["no token"].startswith("pip: no token: $PIP_INDEX_URL is not set")
    assert cases["expired"].startswith("pip: expired: token in $PIP_INDEX_URL expired 2020-01-01")
    assert cases["wrong URL (repository)"].startswith("pip: wrong URL: $PIP_INDEX_URL names ")
    assert "CodeArtifact found no domain" in cases["wrong URL (repository)"]
    assert cases["wrong URL (extra index)"].startswith("pip: wrong URL: $PIP_EXTRA_INDEX_URL adds a second index")
    assert cases["no permission"].startswith("pip: no permission: ")
    assert "codeartifact:ReadFromRepository" in cases["no permission"]
    assert cases["package missing"].startswith("pip: package missing: 'acme-nothing' is not in internal")
    assert cases["token refused (401)"].startswith("uv: token refused: ")
    for name, line in cases.items():
        record("helper", f"--doctor: {name}", line.split(":")[1].strip())


def test_doctor_tells_a_refused_token_from_a_missing_package_behind_404(stub, tmp_path):
    stub.registry.unauthorized_status = 404
    machine = Machine(stub, tmp_path / "machine")
    exports = exported(machine.helper().stdout)
    stub.registry.expire(exports["UV_INDEX_INTERNAL_PASSWORD"])
    # With AWS credentials: a new token gets 200, so this one is refused.
    refused = doctor(machine, "--tool", "pip", "--package", INTERNAL, env=exports)
    assert refused.stdout.startswith("pip: token refused: "), refused.stdout + refused.stderr
    assert "but 200 to a new one" in refused.stdout
    # A new token gets 404 too: the package is missing.
    fresh = exported(machine.helper().stdout)
    missing = doctor(machine, "--tool", "pip", "--package", "acme-nothing", env=fresh)
    assert missing.stdout.startswith("pip: package missing: "), missing.stdout
    # Without AWS credentials, 404 and 404 cannot be told apart: it says so instead of guessing.
    no_aws = {**exports, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    unsure = doctor(machine, "--tool", "pip", "--package", INTERNAL, env=no_aws)
    assert unsure.returncode == 1
    assert unsure.stdout.startswith("pip: token refused or package missing: "), unsure.stdout
    assert "aws: not checked: no AWS credentials" in unsure.stdout
    record("helper", "--doctor: refused token behind 404", "token refused (a new token gets 200)")
    record("helper", "--doctor: 404 without AWS credentials", "token refused or package missing (says so)")


# --- publishing: the workflow's upload step with the real twine --------------------------------------


WORKFLOW = ROOT / ".github" / "workflows" / "publish-python-package.yml"


def upload_step() -> str:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (step,) = [step for step in document["jobs"]["publish"]["steps"] if step.get("id") == "upload"]
    return step["run"]


class Publisher:
    """The publish job's upload step as GitHub runs it: bash, the real twine, and `aws` made of boto3."""

    def __init__(self, stub: Stub, root: Path, access_key: str = "AKIDPUBLISHER"):
        self.stub = stub
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        aws = self.bin / "aws"
        aws.write_text(f'#!/bin/sh\nexec {shlex.quote(PYTHON)} {shlex.quote(str(STUB_DIR / "aws_cli.py"))} "$@"\n')
        aws.chmod(0o755)
        self.work = root / "work"
        self.dist = self.work / "dist"
        self.dist.mkdir(parents=True)
        self.summary = root / "summary.md"
        self.script = root / "upload.sh"
        self.script.write_text(upload_step())
        self.env = stub.environment(root / "runner", access_key)
        self.env.update({
            "PATH": f"{self.bin}{os.pathsep}{self.env['PATH']}",  # twine is the venv's own, the real one
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CODEARTIFACT_DOMAIN": "acme", "CODEARTIFACT_DOMAIN_OWNER": stub.registry.owner,
            "CODEARTIFACT_REPOSITORY": "internal", "CODEARTIFACT_REGION": stub.registry.region,
            "GITHUB_STEP_SUMMARY": str(self.summary),
        })

    def build(self, marker: str = "") -> list[Path]:
        return [write_wheel(self.dist, "acme-tools", "1.0.0", [PUBLIC], marker=marker),
                write_sdist(self.dist, "acme-tools", "1.0.0", [PUBLIC], marker=marker)]

    def run(self, label: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        # GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(self.script)],
                                cwd=self.work, env=self.env, capture_output=True, text=True, timeout=180, check=False,
                                stdin=subprocess.DEVNULL)
        WALL[label] = time.monotonic() - started
        return result

    def uploads(self) -> list[dict]:
        return [entry for entry in self.stub.registry.index_log if entry["method"] == "POST"]


def published(stub: Stub) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in stub.packages.glob("acme_tools*")}


def test_publish_step_uploads_then_skips_an_identical_rerun_then_refuses_a_changed_file(stub, tmp_path):
    publisher = Publisher(stub, tmp_path / "publisher")
    files = publisher.build()

    first = publisher.run("twine publish")
    record("twine", "publish step: new version", "uploaded" if first.returncode == 0 else "fails")
    assert first.returncode == 0, first.stdout + first.stderr
    built = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
    assert published(stub) == built  # byte for byte, through the front into pypiserver
    assert [(entry["path"], entry["status"], entry["auth"]) for entry in publisher.uploads()] == [
        ("/pypi/internal/", 200, "valid")] * 2  # twine uploads one file per request
    assert all(entry["user_agent"].startswith("twine/") for entry in publisher.uploads())
    token_calls = [call for call in stub.registry.api_log if call["operation"] == "GetAuthorizationToken"]
    assert [call["params"]["durationSeconds"] for call in token_calls] == ["900"]
    assert "published `acme_tools-1.0.0-py3-none-any.whl`" in publisher.summary.read_text()

    stub.registry.reset_logs()
    again = publisher.run("twine publish re-run")
    record("twine", "publish step: identical re-run", "skipped" if again.returncode == 0 else "fails")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already published with this exact file, skipping") == 2
    assert "Nothing to upload" in again.stdout
    assert publisher.uploads() == []
    assert [call["operation"] for call in stub.registry.api_log] == [
        "DescribePackageVersion", "ListPackageVersionAssets"] * 2

    stub.registry.reset_logs()
    publisher.build(marker="rebuilt differently")
    changed = publisher.run("twine publish changed file")
    record("twine", "publish step: changed file", "refused" if changed.returncode == 1 else "fails")
    assert changed.returncode == 1
    assert "::error::acme-tools 1.0.0 is already published with a different acme_tools-1.0.0-py3-none-any.whl" \
        in changed.stdout
    assert publisher.uploads() == []
    assert published(stub) == built  # nothing overwritten


def test_publish_step_with_a_role_that_may_not_publish_fails_in_twine(stub, tmp_path):
    # The reader's token is valid but may not publish: CodeArtifact's 403 reaches twine.
    publisher = Publisher(stub, tmp_path / "publisher", access_key="AKIDREADER")
    publisher.build()
    result = publisher.run("twine publish denied")
    record("twine", "publish step: role may not publish", "refused" if result.returncode == 1 else "fails")
    assert result.returncode == 1
    assert "::error::twine upload failed." in result.stdout
    assert "403 Forbidden" in result.stdout + result.stderr
    assert published(stub) == {}


def test_twine_asks_keyrings_codeartifact_for_the_token(stub, tmp_path):
    # A developer's manual upload: TWINE_USERNAME=aws and no password; twine asks the keyring.
    machine = Machine(stub, tmp_path / "machine", access_key="AKIDPUBLISHER", keyring=True)
    files = [write_wheel(machine.root / "dist", "acme-tools", "1.0.0", [PUBLIC])]
    env = {"TWINE_USERNAME": "aws", "TWINE_REPOSITORY_URL": stub.registry.endpoint(), "TWINE_NON_INTERACTIVE": "1"}
    result = machine.run(["twine", "upload", "--disable-progress-bar", *map(str, files)], env=env,
                         label="twine keyring")
    record("twine", "keyring upload", "uploaded" if result.returncode == 0 else "fails")
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(published(stub)) == [files[0].name]


@pytest.mark.parametrize("variant", VARIANTS)
def test_twine_with_a_refused_token_names_the_status(stub, tmp_path, variant):
    stub.registry.unauthorized_status = variant
    machine = Machine(stub, tmp_path / "machine", access_key="AKIDPUBLISHER")
    wheel = write_wheel(machine.root / "dist", "acme-tools", "1.0.0")
    env = {"TWINE_USERNAME": "aws", "TWINE_PASSWORD": "an-expired-token",
           "TWINE_REPOSITORY_URL": stub.registry.endpoint()}
    result = machine.run(["twine", "upload", "--non-interactive", "--disable-progress-bar", str(wheel)], env=env,
                         label=f"twine refused {variant}")
    said = {401: "HTTPError: 401 Unauthorized", 404: "HTTPError: 404 Not Found"}[variant]
    record("twine", f"expired token ({variant})", f'fails: "{said}"' if said in result.stdout + result.stderr
           else f"fails (exit {result.returncode})")
    assert result.returncode == 1
    assert said in result.stdout + result.stderr
    assert published(stub) == {}


def test_the_stub_answers_bad_credentials_with_401_or_404_as_configured(stub, tmp_path):
    # The two variants the tests above run under, checked at the HTTP level with the same client
    # the doctor uses (urllib through the proxy, the test authority trusted through SSL_CERT_FILE).
    machine = Machine(stub, tmp_path / "machine")
    page = stub.registry.index_url() + f"{INTERNAL}/"
    script = (
        "import sys\nfrom pypi_login.doctor import fetch\n"
        "for credentials in ((None, None), ('aws', 'wrong'), ('someone', 'wrong')):\n"
        "    print(fetch(sys.argv[1], *credentials))\n"
    )
    for variant in VARIANTS:
        stub.registry.unauthorized_status = variant
        result = machine.run([PYTHON, "-c", script, page], env={"PYTHONPATH": str(ROOT)})
        assert result.stdout.split() == [str(variant)] * 3, result.stderr
    denied = machine.run([PYTHON, "-c", "import urllib.request as u; u.urlopen('https://pypi.org/simple/')"])
    assert denied.returncode != 0 and "Tunnel connection failed: 403" in denied.stderr
    assert stub.registry.blocked == ["CONNECT pypi.org:443"]
    stub.registry.blocked.clear()


def test_the_fake_api_answers_boto3_in_botocores_shapes(stub):
    import boto3
    from botocore.exceptions import ClientError

    def client(access_key: str):
        return boto3.client("codeartifact", region_name=stub.registry.region, endpoint_url=stub.api.url,
                            aws_access_key_id=access_key, aws_secret_access_key="stub-secret")

    reader = client("AKIDREADER")
    domain = {"domain": "acme", "domainOwner": stub.registry.owner}
    package = {**domain, "repository": "internal", "format": "pypi", "package": INTERNAL, "packageVersion": "1.0.0"}
    token = reader.get_authorization_token(**domain, durationSeconds=900)
    lifetime = token["expiration"] - datetime.now(timezone.utc)
    assert 890 <= lifetime.total_seconds() <= 900
    assert reader.get_repository_endpoint(**domain, repository="internal", format="pypi")["repositoryEndpoint"] == \
        stub.registry.endpoint()
    assert reader.describe_package_version(**package)["packageVersion"]["status"] == "Published"
    (asset,) = reader.list_package_version_assets(**package)["assets"]
    wheel = stub.packages / "acme_core-1.0.0-py3-none-any.whl"
    assert asset == {"name": wheel.name, "size": wheel.stat().st_size,
                     "hashes": stub.registry.hashes(wheel)}
    errors = {
        "AccessDeniedException": lambda: client("AKIDNOTOKEN").get_authorization_token(**domain),
        "ResourceNotFoundException": lambda: reader.describe_package_version(**{**package, "packageVersion": "9"}),
        "UnrecognizedClientException": lambda: client("AKIDUNKNOWN").get_authorization_token(**domain),
        "ValidationException": lambda: reader.get_authorization_token(**domain, durationSeconds=60),
    }
    for code, call in errors.items():
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == code


def test_the_stand_in_stops_everything_it_started(tmp_path):
    import socket

    running = Stub(tmp_path / "stand-in")
    ports = (running.front.port, running.pypiserver.port, int(running.api.url.rsplit(":", 1)[1]))
    running.stop()
    assert running.pypiserver.process.poll() is not None
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, port


def test_the_keyring_backend_needs_only_an_empty_configuration_file(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine", keyring=True)
    ask = ["keyring", "get", stub.registry.index_url(), "aws"]
    warned = machine.run(ask)
    assert warned.returncode == 0 and warned.stdout.startswith("eyJ")
    assert "python_keyring/keyringrc.cfg does not exist!" in warned.stderr
    config = Path(machine.env["XDG_CONFIG_HOME"]) / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.touch()
    quiet = machine.run(ask)
    assert quiet.returncode == 0 and quiet.stdout.startswith("eyJ")
    assert "does not exist" not in quiet.stderr


def test_readme_names_the_client_versions_these_tests_ran():
    from importlib.metadata import version

    uv = subprocess.run(["uv", "--version"], env={"PATH": str(Path(PYTHON).parent)}, capture_output=True, text=True,
                        check=True).stdout.split()[1]
    tested = (f"tested with pip {version('pip')}, uv {uv}, poetry {version('poetry')} and twine {version('twine')}")
    readme = " ".join((ROOT / "docs" / "consuming.md").read_text(encoding="utf-8").split())
    assert tested in readme, f"update the keyring paragraph of docs/consuming.md after re-checking it: {tested}"
