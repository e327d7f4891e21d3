"""What the tests of the real clients share (tests/pypi_login/test_clients_*.py, test_login_package.py):
one user's machine against the CodeArtifact stand-in, what each client prints when refused, and the client x
mode matrix printed at the end of the run (tests/pypi_login/conftest.py writes it)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.codeartifact_stub import Stub

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


def write_matrix(terminalreporter: pytest.TerminalReporter) -> None:
    """The outcomes recorded in this run, client by client (tests/pypi_login/conftest.py calls it last)."""
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


# --- one user's machine ------------------------------------------------------------------------


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


def outcome(client: str, machine: Machine, result: subprocess.CompletedProcess[str],
            installed: bool | None = None) -> str:
    """The matrix's word for a run: `installed` when it exited 0 and the package is where this mode installs it
    (`installed`, when given; else where machine.installed looks)."""
    if result.returncode == 0 and (machine.installed(client) if installed is None else installed):
        return "installed"
    output = result.stdout + result.stderr
    if "EOFError" in output:
        return "fails: EOFError traceback at pip's password prompt"
    quoted = [phrase for (name, _), phrase in REFUSED.items() if name == client and phrase in output]
    return "fails: " + " + ".join(f'"{phrase}"' for phrase in quoted) if quoted else f"fails (exit {result.returncode})"
