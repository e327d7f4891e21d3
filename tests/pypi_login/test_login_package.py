"""The login command as its own package (login/pyproject.toml), and the defaults it shares with the
CI action and the Docker recipe.

The wheel test builds the wheel from a copy of the repository's files with the lock's setuptools,
installs it into a fresh virtual environment with nothing but boto3's locked closure (hashes
required, so any other dependency fails the install), then logs in for real against the
CodeArtifact stand-in and installs with pip from what it wrote. It uses Python 3.10 when this
machine has it (the oldest the package supports), else this interpreter, and says which.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from model.stack_file import load_stack_config, stack_settings
from pypi_login import clients, config
from pypi_login.codeartifact import Login

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "login" / "pyproject.toml"
ACTION = ROOT / ".github" / "actions" / "codeartifact-install" / "action.yml"
BUILD_SH = ROOT / "examples" / "docker" / "build.sh"


def pyproject() -> dict:
    parser = clients._toml_parser()
    assert parser is not None
    return parser.loads(PACKAGE.read_text(encoding="utf-8"))


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_name_problem(name: str, prefixes: tuple[str, ...]) -> str | None:
    """Why `name` may not be the wheel's name: it must sit under an internal prefix, where the package
    group blocks every public package of that name (so it can never be shadowed from PyPI)."""
    if not any(normalise(name).startswith(prefix) for prefix in prefixes):
        return f"{name!r} is outside every internal prefix {list(prefixes)}: rename it in {PACKAGE}"
    return None


def test_the_distribution_name_sits_under_an_internal_prefix_of_the_prod_stack():
    prefixes = stack_settings(load_stack_config("prod")).internal_prefixes
    name = pyproject()["project"]["name"]
    assert distribution_name_problem(name, prefixes) is None, distribution_name_problem(name, prefixes)
    # The rule bites: the bare name (which anyone may register on PyPI) and another company's prefix.
    assert distribution_name_problem("pypi-login", prefixes)
    assert distribution_name_problem("globex-pypi-login", prefixes)
    assert distribution_name_problem("Acme_PyPI.Login", prefixes) is None  # compared normalised


def test_the_package_needs_boto3_only_and_supports_python_3_10():
    project = pyproject()["project"]
    assert project["requires-python"] == ">=3.10"
    assert project["scripts"] == {"pypi-login": "pypi_login.cli:main"}
    names = [re.match(r"[A-Za-z0-9_.-]+", requirement)[0] for requirement in project["dependencies"]]
    assert names == ["boto3", "tomli"]
    assert project["dependencies"][1] == "tomli>=2; python_version < '3.11'"  # tomllib's backport, 3.10 only
    # The package imports nothing outside the standard library but boto3/botocore (and tomli on 3.10).
    imported = set()
    for path in (ROOT / "pypi_login").glob("*.py"):
        imported |= set(re.findall(r"^\s*(?:from|import) ([a-z_0-9]+)", path.read_text(), re.MULTILINE))
    third_party = imported - set(sys.stdlib_module_names) - {"pypi_login", "mypy_boto3_codeartifact"}
    assert third_party == {"boto3", "botocore"}


def test_one_set_of_defaults_for_the_helper_the_action_and_the_docker_recipe():
    inputs = yaml.safe_load(ACTION.read_text(encoding="utf-8"))["inputs"]
    assert inputs["repository"]["default"] == config.DEFAULT_REPOSITORY
    assert inputs["source-name"]["default"] == config.DEFAULT_SOURCE_NAME
    # The action accepts the same source names as the helper, and turns them into the same variables.
    script = ACTION.read_text(encoding="utf-8")
    (rule,) = re.findall(r'\[\[ "\$SOURCE_NAME" =~ \^(.+?)\$ \]\]', script)
    assert rule == config.SOURCE_NAME.pattern
    login = Login("token", clients.parse_iso("2030-01-01T00:00:00Z"),  # type: ignore[arg-type]
                  "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/")
    helper = clients.environment(login, clients.TOOLS, config.DEFAULT_SOURCE_NAME)
    action = set(re.findall(r'^\s*"([A-Z_]+)(?:\$\{name\}([A-Z_]+))?=', script, re.MULTILINE))
    names = {prefix + ("INTERNAL" + suffix if suffix else "") for prefix, suffix in action}
    assert names == {name for name in helper if not name.startswith("CODEARTIFACT_TOKEN_EXPIRES_")}
    # The Docker recipe takes the index URL from what the helper and the action export.
    recipe = BUILD_SH.read_text(encoding="utf-8")
    assert 'PIP_INDEX_URL="${PIP_INDEX_URL:-${UV_DEFAULT_INDEX:-}}"' in recipe
    assert {"PIP_INDEX_URL", "UV_DEFAULT_INDEX"} <= set(helper)
    # The consumers' page (docs/consuming.md) names the same source.
    readme = (ROOT / "docs" / "consuming.md").read_text(encoding="utf-8")
    assert f"poetry source add --priority=primary {config.DEFAULT_SOURCE_NAME} <indexUrl>" in readme


# --- the wheel, installed alone --------------------------------------------------------------------------


def python_3_10() -> str:
    found = shutil.which("python3.10")
    candidates = [found] if found else []
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.10*" / "bin" / "python3.10")))
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "import sys, venv; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 10)":
            return candidate
    return sys.executable


def locked_closure(distribution: str) -> list[str]:
    """The lock's hashed entries for `distribution` and everything it needs (as installed here), plus tomli."""
    needed, queue = set(), [distribution]
    while queue:
        name = normalise(queue.pop())
        if name in needed:
            continue
        needed.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" not in requirement:
                queue.append(re.match(r"[A-Za-z0-9_.-]+", requirement)[0])
    needed.add("tomli")
    blocks, current = [], None
    for line in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = normalise(line.split("==")[0]) if "==" in line else None
            if current in needed:
                blocks.append(line)
        elif current in needed and line.strip().startswith("--hash"):
            blocks.append(line)
    found = {normalise(line.split("==")[0]) for line in blocks if "==" in line}
    assert found == needed, f"not in requirements-dev.txt: {needed - found}"
    return blocks


@pytest.mark.clients
def test_the_wheel_alone_logs_in_against_the_stand_in(tmp_path):
    from tests.codeartifact_stub import Stub
    from tests.codeartifact_stub.distributions import write_wheel
    from tests.pypi_login.clients_support import INTERNAL, PUBLIC, Machine

    # Build from a copy: setuptools writes its build directory and egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "login", source / "login", ignore=shutil.ignore_patterns("build"))
    shutil.copytree(ROOT / "pypi_login", source / "pypi_login", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path / "dist"), str(source / "login")], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    name = normalise(pyproject()["project"]["name"]).replace("-", "_")
    (wheel,) = (tmp_path / "dist").glob(f"{name}-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        metadata = archive.read(next(file for file in files if file.endswith(".dist-info/METADATA"))).decode()
    assert sorted(file for file in files if ".dist-info/" not in file) == sorted(
        f"pypi_login/{path.name}" for path in (ROOT / "pypi_login").glob("*.py"))
    assert re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE) == [
        "boto3<2,>=1.35", 'tomli>=2; python_version < "3.11"']

    # A fresh environment with the wheel and boto3's locked closure, hashes required, nothing else.
    python = python_3_10()
    print(f"wheel installed with {python}")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join([*locked_closure("boto3"), f"{wheel} --hash=sha256:{digest}", ""]))
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--require-hashes",
                                "--no-input", "-r", str(requirements)], capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, check=True).stdout
    assert {normalise(line.split("==")[0]) for line in listed.split()} - {"pip", "setuptools"} == \
        {normalise(entry.split("==")[0]) for entry in locked_closure("boto3") if "==" in entry
         if not (entry.startswith("tomli") and python == sys.executable)} | {normalise(name)}
    command = str(venv / "bin" / "pypi-login")
    helped = subprocess.run([command, "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: pypi-login"), helped.stderr

    with Stub(tmp_path / "stand-in") as stub:
        write_wheel(stub.packages, PUBLIC, "2.0.0")
        write_wheel(stub.packages, INTERNAL, "1.0.0", [f"{PUBLIC}>=2"])
        machine = Machine(stub, tmp_path / "machine")
        # The laptop journey of docs/consuming.md: the config once from the stack outputs, then --write each day.
        configured = machine.run([command, "--configure", "--stack-outputs", str(machine.outputs)])
        assert configured.returncode == 0, configured.stderr
        wrote = machine.run([command, "--write", "--tool", "pip"], cwd=machine.project)
        assert wrote.returncode == 0, wrote.stderr
        status = machine.run([command, "--status", "--tool", "pip"])
        assert status.returncode == 0 and status.stdout.startswith("pip: token in "), status.stdout
        result = machine.shell(machine.install_command("pip"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert machine.installed("pip")
        assert stub.registry.blocked == []


def test_the_login_commands_naming_rules_are_the_programs():
    """pypi-login ships alone (boto3 only), so it keeps its own copy of the rules the program validates the same
    names by; they must not drift apart."""
    from model import rules

    for name in ("ACCOUNT_ID", "DOMAIN_NAME", "REPOSITORY_NAME"):
        assert getattr(config, name).pattern == getattr(rules, name).pattern, name
