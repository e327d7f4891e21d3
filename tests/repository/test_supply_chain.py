"""Deploy what was tested: hashed locks, installs that check them, one checks workflow, one CLI.

The requirement files are locks that `make lock` compiles from the short `.in` inputs: every line
an exact version with its digests. The Makefile and every workflow install only from them with
`--require-hashes`; pull requests and deploys run the same reusable checks on the oldest and the
newest Python; the Pulumi CLI is one exact release everywhere, the one of the locked SDK; and the
reusable publish workflow installs build and twine from an inline hashed list.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.repository.support import NAMES, WORKFLOWS, load

if sys.version_info >= (3, 11):
    import tomllib
else:  # requirements-dev.txt installs tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {  # input -> lock
    ROOT / "requirements.in": ROOT / "requirements.txt",
    ROOT / "requirements-preview.in": ROOT / "requirements-preview.txt",
    ROOT / "requirements-dev.in": ROOT / "requirements-dev.txt",
    ROOT / "policies" / "requirements.in": ROOT / "policies" / "requirements.txt",
}
DEV_LOCK = ROOT / "requirements-dev.txt"
PUBLISH = "publish-python-package.yml"
PUBLISH_TOOLS_FILE = '"$RUNNER_TEMP/publish-tools.txt"'
SHA256 = re.compile(r"--hash=sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class Locked:
    name: str  # canonical
    version: str
    marker: str
    hashes: frozenset[str]


def logical_lines(text: str) -> list[str]:
    """pip's view of a requirements text: continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n", " ", text)
    lines = [re.sub(r"(^|\s)#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line]


def parse_lock(text: str, where: str) -> list[Locked]:
    entries = []
    for line in logical_lines(text):
        requirement, _, options = line.partition(" --hash=")
        options = "--hash=" + options if options else ""
        assert not requirement.startswith("-"), f"{where}: only pinned requirements belong in a lock: {line}"
        parsed = Requirement(requirement)
        (specifier,) = parsed.specifier or [None]
        assert specifier is not None and specifier.operator == "==" and "*" not in specifier.version, (
            f"{where}: {parsed.name} is not pinned to one exact version"
        )
        assert parsed.url is None, f"{where}: {parsed.name} comes from a URL"
        hashes = SHA256.findall(options)
        assert hashes, f"{where}: {parsed.name} has no --hash"
        assert SHA256.sub("", options).strip() == "", f"{where}: unexpected options for {parsed.name}: {options}"
        entries.append(Locked(canonicalize_name(parsed.name), specifier.version, str(parsed.marker or ""),
                              frozenset(hashes)))
    assert entries, f"{where} is empty"
    return entries


def lock(path: Path) -> list[Locked]:
    return parse_lock(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))


def inputs(path: Path) -> list[Requirement]:
    """The requirements of an .in file, following its -r includes (relative to the file)."""
    found: list[Requirement] = []
    for line in logical_lines(path.read_text(encoding="utf-8")):
        if line.startswith("-r "):
            found += inputs(path.parent / line.removeprefix("-r ").strip())
        else:
            assert not line.startswith("-"), f"{path.name}: `{line}`; constraints belong on make lock's command line"
            found.append(Requirement(line))
    return found


def makefile_variable(name: str) -> str:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    (value,) = re.findall(rf"^{name} :=((?:[^\n]*\\\n)*[^\n]*)$", text, re.MULTILINE)
    return " ".join(value.replace("\\\n", " ").split())


def lock_pythons() -> list[str]:
    return makefile_variable("LOCK_PYTHONS").split()


def run_scripts() -> list[tuple[str, str]]:
    """Every `run:` script of the workflows and the composite actions, with where it is."""
    scripts = []
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            scripts += [(f"{name}:{job_name}:{step.get('name')}", step["run"])
                        for step in job.get("steps", []) if "run" in step]
    for action in sorted((ROOT / ".github" / "actions").glob("*/action.yml")):
        for step in yaml.safe_load(action.read_text(encoding="utf-8"))["runs"].get("steps", []):
            if "run" in step:
                scripts.append((f"{action.parent.name}:{step.get('name')}", step["run"]))
    return scripts


def pip_installs(script: str) -> list[list[str]]:
    """The argument lists of the `pip install` commands in a script (continuations joined)."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        if re.search(r"\bpip3?\s+install\b", line):
            commands.append(shlex.split(line, comments=True))
    return commands


def requirement_files(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("-r", "--requirement")]


# --- the locks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(LOCKS.values()), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_lock_line_is_an_exact_version_with_its_digests(path):
    entries = lock(path)
    # A name twice is only a fork by Python version, and then the markers tell them apart.
    by_name: dict[str, list[Locked]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    for name, forks in by_name.items():
        if len(forks) > 1:
            assert all(fork.marker for fork in forks), f"{path.name}: {name} is locked twice without markers"
    text = path.read_text(encoding="utf-8")
    # One index for everything, the one pip is configured with: a lock never names another.
    for option in ("--index-url", "--extra-index-url", "--find-links", "--trusted-host", "-e ", "git+", "file:"):
        assert option not in text, f"{path.name} names {option.strip()}"
    assert "#    make lock" in text, f"{path.name} was not written by `make lock`"


def test_the_lock_parser_refuses_what_pip_would_install_unchecked():
    for text in ("pulumi>=3.200\n    --hash=sha256:" + "0" * 64,  # a range
                 "pulumi==3.272.0\n",  # no digest
                 "pulumi==3.*  --hash=sha256:" + "0" * 64,  # a wildcard
                 "-r requirements.in\n"):  # an include
        with pytest.raises(AssertionError):
            parse_lock(text, "example")
    (entry,) = parse_lock("pulumi==3.272.0 ; python_version < '3.14' \\\n    --hash=sha256:" + "a" * 64 + "\n"
                          "    # via -r requirements.in\n", "example")
    assert (entry.name, entry.version, entry.marker, entry.hashes) == (
        "pulumi", "3.272.0", 'python_version < "3.14"', frozenset({"a" * 64}))


@pytest.mark.parametrize(("source", "path"), list(LOCKS.items()), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_input_is_locked_at_a_version_its_range_allows(source, path):
    locked: dict[str, list[Locked]] = {}
    for entry in lock(path):
        locked.setdefault(entry.name, []).append(entry)
    for requirement in inputs(source):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{source.name} asks for {requirement.name}, which {path.name} does not lock"
        for entry in locked[name]:
            assert entry.version in SpecifierSet(str(requirement.specifier), prereleases=True), (
                f"{path.name} locks {name} {entry.version}, outside {source.name}'s {requirement.specifier}"
            )


def test_the_dev_lock_is_a_superset_of_the_program_and_pack_locks_at_the_same_versions():
    dev = {(entry.name, entry.version): entry.hashes for entry in lock(DEV_LOCK)}
    for path in (ROOT / "requirements.txt", ROOT / "requirements-preview.txt", ROOT / "policies" / "requirements.txt"):
        for entry in lock(path):
            assert (entry.name, entry.version) in dev, (
                f"{path.relative_to(ROOT)} locks {entry.name} {entry.version}, which the tests never ran"
            )
            assert entry.hashes == dev[(entry.name, entry.version)], f"{entry.name}: different digests"


def test_the_dev_input_includes_the_program_input_and_pins_the_lock_tool():
    assert "-r requirements.in" in logical_lines((ROOT / "requirements-dev.in").read_text(encoding="utf-8"))
    (uv,) = [r for r in inputs(ROOT / "requirements-dev.in") if r.name == "uv"]
    assert str(uv.specifier).startswith("=="), "the lock tool is one exact version"
    assert makefile_variable("UV") == "UV_PYTHON_DOWNLOADS=never $(BIN)/uv"
    assert makefile_variable("COMPILE").startswith("$(UV) pip compile")


def test_make_lock_writes_universal_hashed_locks_from_the_oldest_python():
    compile_command = makefile_variable("COMPILE").split()
    assert "--universal" in compile_command
    assert makefile_variable("HASHED").startswith("$(COMPILE) --generate-hashes")
    assert compile_command[compile_command.index("--python-version") + 1] == oldest_python()
    recipe = re.search(r"^lock: .*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert recipe, "make lock"
    body = recipe.group(1)
    # The dev lock first; the program and the pack then take its versions.
    order = [body.index(f"{source} ") for source in ("requirements-dev.in", "requirements.in",
                                                       "policies/requirements.in")]
    assert order == sorted(order)
    assert "requirements.in -c requirements-dev.txt -o requirements.txt" in body
    assert "policies/requirements.in -c requirements-dev.txt -o policies/requirements.txt" in body
    assert "--only-binary :all:" in body and "$(LOCK_PYTHONS)" in body and "x86_64-manylinux" in body
    assert ".ci/publish_tools_lock.py" in body and ".ci/publish-tools.in" in body


# --- the installs ------------------------------------------------------------------------------


def oldest_python() -> str:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    (version,) = re.fullmatch(r">=(3\.\d+)", requires).groups()
    return version


def test_the_makefile_installs_only_the_hashed_dev_lock_or_its_preview_subset():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [shlex.split(line) for line in text.splitlines() if re.search(r"\bpip3?\s+install\b", line)]
    assert len(installs) == 2, "the Makefile installs the dev lock and the preview lock, nothing else"
    for argv, expected in zip(installs, ("requirements-dev.txt", "requirements-preview.txt"), strict=True):
        assert "--require-hashes" in argv, argv
        assert requirement_files(argv) == [expected], argv
        assert argv[-1] == expected, "nothing but the lock is installed"
    # The install rules rerun when a lock changes; make preview installs only the preview lock.
    assert re.search(r"^\$\(STAMP\): requirements\.txt requirements-dev\.txt$", text, re.MULTILINE)
    assert re.search(r"^\$\(PREVIEW_STAMP\): requirements-preview\.txt$", text, re.MULTILINE)
    assert re.search(r"^preview: \$\(PREVIEW_STAMP\)$", text, re.MULTILINE)


def test_every_workflow_install_checks_the_digests_of_a_lock():
    allowed = {"requirements.txt", "requirements-dev.txt", "policies/requirements.txt",
               "$RUNNER_TEMP/publish-tools.txt"}
    seen = set()
    for where, script in run_scripts():
        assert not re.search(r"\b(uv pip|uv add|pipx|uvx|poetry add|easy_install)\b", script), where
        for argv in pip_installs(script):
            assert "--require-hashes" in argv, f"{where}: {shlex.join(argv)}"
            files = requirement_files(argv)
            assert len(files) == 1 and files[0] in allowed, f"{where}: {shlex.join(argv)}"
            # Nothing named on the command line beside the lock: every package comes with a digest.
            operands = [arg for i, arg in enumerate(argv[argv.index("install") + 1:], argv.index("install") + 1)
                        if not arg.startswith("-") and argv[i - 1] not in ("-r", "--requirement", "--only-binary")]
            assert operands == [], f"{where}: {operands}"
            seen.add(files[0])
    assert seen == allowed


@pytest.mark.parametrize(("name", "job"), [("pull-request.yml", "preview"), ("deploy.yml", "deploy"),
                                           ("drift.yml", "drift"), ("checks.yml", "checks"),
                                           ("pull-request.yml", "access-diff")])
def test_each_venv_gets_its_own_lock(name, job):
    pairs = {(argv[0].split("/bin/")[0], requirement_files(argv)[0])
             for step in load(name)["jobs"][job]["steps"] for argv in pip_installs(step.get("run", ""))}
    expected = {"checks.yml": {(".venv", "requirements-dev.txt")}, "drift.yml": {(".venv", "requirements.txt")},
                "access-diff": {(".venv", "requirements-dev.txt")}}
    assert pairs == expected.get(name, expected.get(job, {(".venv", "requirements.txt"),
                                                          ("policies/venv", "policies/requirements.txt")}))


# --- permissions and the Pulumi CLI --------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_jobs_without_a_role_get_exactly_contents_read(name):
    for job_name, job in load(name)["jobs"].items():
        assumes_role = any(step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
                           for step in job.get("steps", []))
        if (name, job_name) in (("pull-request.yml", "access-diff-comment"), ("pull-request.yml", "preview-comment")):
            # Only posts a comment: no checkout, no code, no contents.
            assert job["permissions"] == {"pull-requests": "write"}
            assert not any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])
        elif not assumes_role:
            assert job["permissions"] == {"contents": "read"}, f"{name}:{job_name}"


def pulumi_steps() -> list[tuple[str, dict]]:
    return [(f"{name}:{job_name}", step)
            for name in NAMES for job_name, job in load(name)["jobs"].items()
            for step in job.get("steps", []) if step.get("uses", "").startswith("pulumi/actions@")]


def test_the_pulumi_cli_is_one_exact_release_everywhere_the_one_of_the_locked_sdk():
    steps = pulumi_steps()
    assert {where for where, _ in steps} == {"pull-request.yml:preview", "deploy.yml:deploy", "drift.yml:drift"}
    versions = set()
    for where, step in steps:
        version = step.get("with", {}).get("pulumi-version")
        assert isinstance(version, str) and re.fullmatch(r"\d+\.\d+\.\d+", version), (
            f"{where}: pulumi/actions must pin pulumi-version to an exact release, not {version!r}"
        )
        assert "pulumi-version-file" not in step.get("with", {}), where
        versions.add(version)
    assert len(versions) == 1, f"the workflows install different Pulumi CLIs: {sorted(versions)}"
    # The CLI and the SDK the program and the pack run with are the same release.
    for path in LOCKS.values():
        (sdk,) = {entry.version for entry in lock(path) if entry.name == "pulumi"}
        assert versions == {sdk}, f"{path.relative_to(ROOT)} locks pulumi {sdk}, the CLI is {versions}"


# --- the reusable checks -------------------------------------------------------------------------


def test_the_checks_workflow_runs_everything_on_the_oldest_and_the_newest_python():
    workflow = load("checks.yml")
    assert workflow["on"] == {"workflow_call": None}
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    matrix = job["strategy"]["matrix"]["python-version"]
    assert matrix == lock_pythons(), "the matrix and make lock's LOCK_PYTHONS name the same Pythons"
    assert matrix[0] == oldest_python(), "the oldest Python is the one pyproject.toml requires"
    assert len(matrix) == 2 and tuple(map(int, matrix[0].split("."))) < tuple(map(int, matrix[1].split(".")))
    assert job["strategy"]["fail-fast"] is False
    (setup,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    scripts = [step.get("run", "") for step in job["steps"]]
    for command in (".venv/bin/ruff check .", ".venv/bin/mypy", ".venv/bin/python -m pytest -q",
                    ".venv/bin/python -m audit --stack prod"):
        assert command in scripts, command


@pytest.mark.parametrize(("name", "job"), [("pull-request.yml", "preview"), ("deploy.yml", "deploy")])
def test_pull_request_and_deploy_both_call_the_checks_before_pulumi_runs(name, job):
    jobs = load(name)["jobs"]
    assert jobs["test"] == {"name": "Checks", "uses": "$/.github/workflows/checks.yml",
                            "permissions": {"contents": "read"}}
    assert jobs[job]["needs"] == "test"


@pytest.mark.parametrize(("name", "job"), [("pull-request.yml", "preview"), ("deploy.yml", "deploy"),
                                           ("drift.yml", "drift")])
def test_pulumi_runs_the_program_on_the_newest_python_the_checks_ran(name, job):
    (setup,) = [step for step in load(name)["jobs"][job]["steps"]
                if step.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == lock_pythons()[-1]


# --- build and twine in the reusable publish workflow --------------------------------------------------


def publish_tool_lists() -> list[str]:
    lists = []
    for job in ("build", "publish"):
        for step in load(PUBLISH)["jobs"][job]["steps"]:
            script = step.get("run", "")
            if "<<'PUBLISH_TOOLS'" in script:
                (body,) = re.findall(r"<<'PUBLISH_TOOLS'\n(.*?)^PUBLISH_TOOLS$", script, re.MULTILINE | re.DOTALL)
                lists.append(body)
    return lists


def test_both_publish_jobs_install_build_and_twine_from_one_hashed_list():
    lists = publish_tool_lists()
    assert len(lists) == 2 and lists[0] == lists[1]
    entries = parse_lock(lists[0], f"{PUBLISH} publish tools")
    for requirement in inputs(ROOT / ".ci" / "publish-tools.in"):
        (entry,) = [e for e in entries if e.name == canonicalize_name(requirement.name)]
        assert entry.version in requirement.specifier, f"{entry.name} {entry.version} is not {requirement}"
    for entry in entries:
        if entry.marker:
            Marker(entry.marker)  # pip must be able to read it
    for job in ("build", "publish"):
        (step,) = [s for s in load(PUBLISH)["jobs"][job]["steps"] if "<<'PUBLISH_TOOLS'" in s.get("run", "")]
        (argv,) = pip_installs(step["run"])
        assert argv[:4] == ["python", "-m", "pip", "install"]
        assert "--require-hashes" in argv
        assert argv[argv.index("--only-binary") + 1] == ":all:", "no library build backend runs at install"
        assert requirement_files(argv) == ["$RUNNER_TEMP/publish-tools.txt"]
        assert f'cat >{PUBLISH_TOOLS_FILE} <<' in step["run"]


def test_the_publish_python_range_is_the_one_the_list_was_written_for():
    oldest, newest = (tuple(int(part) for part in version.split(".")) for version in lock_pythons())
    check = f"(3, {oldest[1]}) <= sys.version_info[:2] <= (3, {newest[1]})"
    for job in ("build", "publish"):
        (step,) = [s for s in load(PUBLISH)["jobs"][job]["steps"] if "<<'PUBLISH_TOOLS'" in s.get("run", "")]
        assert check in step["run"]
        assert step["run"].index(check) < step["run"].index("pip install")
    described = load(PUBLISH)["on"]["workflow_call"]["inputs"]["python-version"]["description"]
    assert f"{lock_pythons()[0]} to {lock_pythons()[-1]}" in described


# --- the generator of the publish list ------------------------------------------------------------


def publish_tools_lock() -> ModuleType:
    path = ROOT / ".ci" / "publish_tools_lock.py"
    spec = importlib.util.spec_from_file_location("publish_tools_lock", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wheel(filename: str, digest: str) -> dict:
    return {"url": f"https://files.example/{filename}", "hashes": {"sha256": digest * 64}}


def test_the_generator_keeps_only_linux_x86_64_wheels_for_the_python_range():
    generator = publish_tools_lock()
    pythons = generator.minors("3.10", "3.14")
    lock_document = {"packages": [
        {"name": "native", "version": "1.0", "wheels": [
            *(wheel(f"native-1.0-cp3{minor}-cp3{minor}-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", str(minor - 10))
              for minor in range(10, 15)),
            wheel("native-1.0-cp314-cp314-manylinux_2_17_aarch64.whl", "a"),
            wheel("native-1.0-cp314-cp314-win_amd64.whl", "b"),
            wheel("native-1.0-cp314-cp314-musllinux_1_2_x86_64.whl", "c"),
            wheel("native-1.0-cp314-cp314t-manylinux_2_17_x86_64.whl", "d"),
        ]},
        {"name": "abi3", "version": "2.0", "wheels": [wheel("abi3-2.0-cp311-abi3-manylinux_2_34_x86_64.whl", "e"),
                                                       wheel("abi3-2.0-cp38-abi3-manylinux_2_28_x86_64.whl", "f"),
                                                       wheel("abi3-2.0-cp311-abi3-manylinux_2_40_x86_64.whl", "9")]},
        {"name": "old-only", "version": "3.0", "marker": "python_full_version < '3.11'",
         "wheels": [wheel("old_only-3.0-py3-none-any.whl", "7")]},
        {"name": "windows-only", "version": "4.0", "marker": "sys_platform == 'win32'",
         "wheels": [wheel("windows_only-4.0-py3-none-any.whl", "8")]},
    ]}
    text = generator.requirements(lock_document, pythons)
    entries = {entry.name: entry for entry in parse_lock(text, "generated")}
    assert set(entries) == {"native", "abi3", "old-only"}
    assert entries["native"].hashes == {str(i) * 64 for i in range(5)}
    # glibc 2.40 is newer than the ubuntu-24.04 runner's.
    assert entries["abi3"].hashes == {"e" * 64, "f" * 64}
    assert entries["native"].marker == "" and entries["old-only"].marker == 'python_version < "3.11"'


def test_the_generator_fails_when_a_python_in_the_range_has_no_wheel():
    generator = publish_tools_lock()
    lock_document = {"packages": [{"name": "native", "version": "1.0", "wheels": [
        wheel("native-1.0-cp310-cp310-manylinux_2_17_x86_64.whl", "0")]}]}
    with pytest.raises(SystemExit, match=r"no wheel for CPython 3\.11"):
        generator.requirements(lock_document, generator.minors("3.10", "3.14"))


def test_the_generator_rewrites_every_list_in_the_workflow_and_nothing_else():
    generator = publish_tools_lock()
    workflow = (WORKFLOWS / PUBLISH).read_text(encoding="utf-8")
    rewritten = generator.rewrite(workflow, "example==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert rewritten.count("example==1.0") == 2
    assert re.sub(r"<<'PUBLISH_TOOLS'\n.*?PUBLISH_TOOLS\n", "", rewritten, flags=re.DOTALL) == re.sub(
        r"<<'PUBLISH_TOOLS'\n.*?PUBLISH_TOOLS\n", "", workflow, flags=re.DOTALL)
    # Writing back the list the workflow holds changes nothing: the workflow is as make lock left it.
    assert generator.rewrite(workflow, publish_tool_lists()[0]) == workflow


def test_the_workflow_holds_exactly_the_list_the_generator_writes_from_the_committed_lock():
    generator = publish_tools_lock()
    pylock = tomllib.loads((ROOT / ".ci" / "pylock.publish-tools.toml").read_text(encoding="utf-8"))
    assert all(package.get("wheels") and "sdist" not in package for package in pylock["packages"]), "wheels only"
    text = generator.requirements(pylock, generator.minors(*lock_pythons()))
    assert publish_tool_lists() == [text, text], "run make lock"
