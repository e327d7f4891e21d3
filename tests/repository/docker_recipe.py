"""The Docker recipe's files (examples/docker) and the checks its Dockerfiles must pass
(tests/repository/test_docker_recipe.py shows each rule bite).

No maintained Dockerfile parser is installed (dockerfile-parse is not in requirements-dev.txt, and
hadolint's JSON output carries findings only), so `parse_dockerfile` is a minimal instruction
splitter: parser directives (`# escape=`), comment lines (also inside a continued instruction),
continuation lines, leading `--flag=value` options. A heredoc (`RUN <<EOF`) is refused rather than
guessed at. A RUN's shell line is split into words and operators by the standard library's shlex.
"""

from __future__ import annotations

import csv
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
