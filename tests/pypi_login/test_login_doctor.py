"""`pypi-login` (`python -m pypi_login`): --status and --doctor.

The token call is answered by botocore's Stubber (no network); the fixtures are in tests/pypi_login/conftest.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pypi_login import clients
from tests.pypi_login.login_support import (
    DOMAIN,
    EXPIRES,
    HOST,
    INDEX,
    NOW,
    TARGET,
    TOKEN,
    Index,
    expect_login,
    exports_of,
    run_doctor,
    write_outputs,
)

# --- status: missing, valid, expired ----------------------------------------------------


def test_status_reports_missing_then_valid_then_expired_tokens(home, stubbed):
    client, stubber = stubbed
    code, out, _ = home.run(["--status", "--tool", "pip"])
    assert code == 1
    assert "pip: token missing" in out and "pypi-login --write --tool pip" in out

    expect_login(stubber)
    assert home.run([*TARGET, "--write"], client)[0] == 0
    code, out, _ = home.run(["--status", "--domain", DOMAIN])
    assert code == 0
    assert out.count("valid until 2026-11-25 18:00 UTC, in 12h 00m") == 3

    code, out, _ = home.run(["--status", "--tool", "poetry"], now=EXPIRES + timedelta(minutes=5))
    assert code == 1
    assert f"poetry: token in {home.poetry} expired 2026-11-25 18:00 UTC, 5m ago; run `pypi-login --write --tool " \
        "poetry`" in out


def test_status_prefers_environment_variables_which_override_files(home):
    environ = {**home.environ, "PIP_INDEX_URL": f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/",
               "CODEARTIFACT_TOKEN_EXPIRES_PIP": f"2026-11-25T05:00:00Z {clients.fingerprint(TOKEN)}"}
    code, out, _ = home.run(["--status", "--tool", "pip"], environ=environ)
    assert code == 1
    assert "pip: token in $PIP_INDEX_URL expired" in out
    assert TOKEN not in out


@pytest.mark.parametrize("record", [
    None,  # a token set by hand, or by a tool that records nothing (the CI action)
    "2026-11-25T18:00:00Z",  # an expiry without the token it belongs to
    f"2026-11-25T18:00:00Z {clients.fingerprint('another-token')}",  # the record of an earlier token
    "tomorrow sha256:0",
])
def test_status_calls_a_token_of_unknown_expiry_not_ok(home, record):
    environ = {**home.environ, "UV_DEFAULT_INDEX": f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/"}
    if record is not None:
        environ["CODEARTIFACT_TOKEN_EXPIRES_UV"] = record
    code, out, _ = home.run(["--status", "--tool", "uv"], environ=environ)
    assert code == 1
    assert out.startswith("uv: expiry unknown: no pypi-login record of when the token in $UV_DEFAULT_INDEX expires")
    # With the record of this very token, the same setting is OK.
    environ["CODEARTIFACT_TOKEN_EXPIRES_UV"] = f"2026-11-25T18:00:00Z {clients.fingerprint(TOKEN)}"
    assert home.run(["--status", "--tool", "uv"], environ=environ)[0] == 0


def test_status_keeps_each_tools_expiry_apart(home, stubbed):
    # pip's token from one login, uv's from a later one: each is judged by its own record.
    client, stubber = stubbed
    expect_login(stubber, expires=NOW + timedelta(hours=1))
    environ = {**home.environ, **exports_of(home.run([*TARGET, "--tool", "pip"], client)[1])}
    expect_login(stubber, token="a-later-token", expires=NOW + timedelta(hours=12))
    environ.update(exports_of(home.run([*TARGET, "--tool", "uv"], client)[1]))
    _, out, _ = home.run(["--status", "--tool", "pip", "--tool", "uv"], now=NOW + timedelta(hours=2),
                         environ=environ)
    assert out.splitlines()[0].startswith("pip: token in $PIP_INDEX_URL expired 2026-11-25 07:00 UTC")
    assert out.splitlines()[1].startswith("uv: token in $UV_DEFAULT_INDEX valid until 2026-11-25 18:00 UTC")


def test_status_of_a_file_edited_by_hand_is_unknown(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber)
    assert home.run([*TARGET, "--write", "--tool", "pip"], client)[0] == 0
    home.pip.write_text(home.pip.read_text().replace(TOKEN, "pasted-by-hand"))
    code, out, _ = home.run(["--status", "--tool", "pip"])
    assert code == 1 and out.startswith("pip: expiry unknown: ")


# --- status after `eval "$(pypi-login ...)"` ------------------------------------------


def test_status_without_arguments_finds_the_printed_poetry_variable(home, stubbed):
    # The documented usage (docs/consuming.md): eval the exports, then `--status` with no arguments. The source name is
    # not passed again, so poetry's variable is found by looking for POETRY_HTTP_BASIC_*_PASSWORD.
    client, stubber = stubbed
    expect_login(stubber)
    code, out, _ = home.run(TARGET, client)
    environ = {**home.environ, **exports_of(out)}
    code, status_out, _ = home.run(["--status"], environ=environ)
    assert code == 0, status_out
    assert "poetry: token in $POETRY_HTTP_BASIC_INTERNAL_PASSWORD valid until 2026-11-25 18:00 UTC" in status_out
    assert "POETRY_HTTP_BASIC__PASSWORD" not in status_out
    assert status_out.count("valid until") == 3


def test_status_without_any_poetry_variable_names_the_pattern_it_looked_for(home):
    code, out, _ = home.run(["--status", "--tool", "poetry"])
    assert code == 1
    assert "$POETRY_HTTP_BASIC_INTERNAL_PASSWORD is not set" in out


# --- the doctor, against a scripted index ------------------------------------------------------------


def printed_environment(home, stubbed) -> dict[str, str]:
    client, stubber = stubbed
    expect_login(stubber)
    code, out, _ = home.run(TARGET, client)
    assert code == 0
    return exports_of(out)


def poetry_project(root: Path, name: str = "internal", url: str = INDEX, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "consumer"\nversion = "0"\n\n'
        f'[[tool.poetry.source]]\nname = "{name}"\nurl = "{url}"\npriority = "primary"\n{extra}'
    )
    return root


def test_doctor_says_ok_for_each_tool_after_eval_and_never_prints_the_token(home, stubbed, tmp_path):
    environ = printed_environment(home, stubbed)
    index = Index({TOKEN: 200})
    code, out, err = run_doctor(home, ["--package", "Acme_Core"], environ=environ, index=index,
                                cwd=poetry_project(tmp_path / "project"))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == (f"pip: ok: token from $PIP_INDEX_URL, valid until 2026-11-25 18:00 UTC, in 12h 00m; "
                        f"{INDEX}acme-core/ answered 200")
    assert lines[1].startswith("uv: ok: token from $UV_DEFAULT_INDEX") and lines[2].startswith(
        "poetry: ok: token from $POETRY_HTTP_BASIC_INTERNAL_PASSWORD")
    assert lines[3].startswith("aws: not checked: no AWS credentials")
    assert TOKEN not in out + err
    assert index.calls == [(f"{INDEX}acme-core/", "aws")] * 3  # PEP 503 name, user aws


def test_doctor_reads_the_files_written_by_write(home, stubbed, tmp_path):
    client, stubber = stubbed
    expect_login(stubber)
    assert home.run([*TARGET, "--write"], client)[0] == 0
    code, out, _ = run_doctor(home, [], index=Index({TOKEN: 200}), cwd=poetry_project(tmp_path / "p"))
    assert code == 0, out
    assert f"pip: ok: token from {home.pip}, valid until" in out
    assert f"uv: ok: token from {home.uv}, valid until" in out
    assert f"poetry: ok: token from {home.poetry}, valid until" in out


def test_doctor_with_nothing_configured_says_no_token(home):
    code, out, _ = run_doctor(home, [])
    assert code == 1
    assert out.splitlines()[:3] == [
        f"pip: no token: $PIP_INDEX_URL is not set and {home.pip} has no index-url; run `pypi-login "
        "--write --tool pip` (or eval the printed exports)",
        f"uv: no token: $UV_DEFAULT_INDEX is not set and {home.uv} declares no default index; run `"
        "pypi-login --write --tool uv` (or eval the printed exports)",
        f"poetry: no token: $POETRY_HTTP_BASIC_INTERNAL_PASSWORD is not set and {home.poetry} holds no credentials "
        "for source 'internal'; run `pypi-login --write --tool poetry` (or eval the printed exports)",
    ]


def test_doctor_behind_404_compares_with_a_new_token(home, stubbed):
    client, stubber = stubbed
    environ = printed_environment(home, stubbed)
    expect_login(stubber, duration=900, token="fresh-token")
    # The configured token gets 404, a new one 200: the configured one is refused.
    code, out, _ = run_doctor(home, ["--tool", "pip", "--stack-outputs", str(write_outputs(home))],
                              environ=environ, index=Index({"fresh-token": 200}), client=client)
    assert code == 1
    assert out.startswith("pip: token refused: ") and "but 200 to a new one" in out
    assert "fresh-token" not in out


def test_doctor_behind_404_says_package_missing_when_a_new_token_gets_404_too(home, stubbed):
    client, stubber = stubbed
    environ = printed_environment(home, stubbed)
    expect_login(stubber, duration=900, token="fresh-token")
    code, out, _ = run_doctor(home, ["--tool", "pip", "--package", "acme-nothing"], environ=environ,
                              index=Index({}), client=client)
    assert code == 1
    assert out.startswith("pip: package missing: 'acme-nothing' is not in internal or its upstreams")


@pytest.mark.parametrize(("invalid", "verdict"), [
    (401, "pip: package missing: "),  # the index tells an invalid token apart, so this one was accepted
    (404, "pip: token refused or package missing: "),  # it does not: say so, do not guess
])
def test_doctor_without_aws_uses_an_invalid_token_to_read_a_404(home, stubbed, invalid, verdict):
    environ = printed_environment(home, stubbed)
    index = Index({"pypi-login-doctor-invalid-token": invalid})
    code, out, _ = run_doctor(home, ["--tool", "pip"], environ=environ, index=index)
    assert code == 1
    assert out.startswith(verdict), out
    assert [password for _, password in index.calls] == ["aws", "aws"]


@pytest.mark.parametrize(("answer", "verdict"), [
    (401, "pip: token refused: "),
    (403, "pip: no permission: "),
    (500, "pip: index error: "),
    ("cannot reach the host: timed out", "pip: unreachable: cannot reach the host"),
])
def test_doctor_names_each_answer_of_the_index(home, stubbed, answer, verdict):
    environ = printed_environment(home, stubbed)
    code, out, _ = run_doctor(home, ["--tool", "pip"], environ=environ, index=Index({TOKEN: answer}))
    assert code == 1
    assert out.startswith(verdict), out


def test_doctor_reports_an_expired_token_without_asking_the_index(home, stubbed):
    environ = {**printed_environment(home, stubbed),
               "CODEARTIFACT_TOKEN_EXPIRES_UV": f"2026-11-25T05:00:00Z {clients.fingerprint(TOKEN)}"}
    index = Index({TOKEN: 200})
    code, out, _ = run_doctor(home, ["--tool", "uv"], environ=environ, index=index)
    assert code == 1
    assert out.startswith("uv: expired: token in $UV_DEFAULT_INDEX expired 2026-11-25 05:00 UTC, 1h 00m ago")
    assert index.calls == []


@pytest.mark.parametrize(("variables", "verdict"), [
    ({"PIP_INDEX_URL": "https://pypi.org/simple/"},
     "pip: wrong URL: $PIP_INDEX_URL names https://pypi.org/simple/, not a CodeArtifact PyPI index"),
    ({"PIP_INDEX_URL": f"https://aws:{TOKEN}@{HOST}/pypi/staging/simple/"},
     f"pip: wrong URL: $PIP_INDEX_URL names https://{HOST}/pypi/staging/simple/, but the registry's index is "
     f"{INDEX}"),
    ({"PIP_INDEX_URL": f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/", "PIP_EXTRA_INDEX_URL": "https://x/"},
     "pip: wrong URL: $PIP_EXTRA_INDEX_URL adds a second index (dependency confusion)"),
    ({"PIP_INDEX_URL": f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/", "PIP_FIND_LINKS": "https://x/"},
     "pip: wrong URL: $PIP_FIND_LINKS adds a link page beside the index (dependency confusion)"),
    ({"PIP_INDEX_URL": f"https://me:{TOKEN}@{HOST}/pypi/internal/simple/"},
     "pip: token refused: $PIP_INDEX_URL sends user 'me'; CodeArtifact accepts only 'aws'"),
    ({"PIP_INDEX_URL": INDEX}, f"pip: no token: $PIP_INDEX_URL names {INDEX} without a token"),
])
def test_doctor_checks_the_configuration_against_the_registry(home, stubbed, variables, verdict):
    client, stubber = stubbed
    if "pypi.org" not in variables["PIP_INDEX_URL"]:
        expect_login(stubber, duration=900, token="fresh-token")
    code, out, _ = run_doctor(home, ["--tool", "pip", "--stack-outputs", str(write_outputs(home))],
                              environ=variables, index=Index({TOKEN: 200}), client=client)
    assert code == 1
    assert out.startswith(verdict), out
    assert TOKEN not in out


def test_doctor_follows_poetrys_source_name_from_the_project(home, stubbed, tmp_path):
    environ = printed_environment(home, stubbed)  # POETRY_HTTP_BASIC_INTERNAL_*
    project = poetry_project(tmp_path / "project", name="corp")
    code, out, _ = run_doctor(home, ["--tool", "poetry"], environ=environ, index=Index({TOKEN: 200}), cwd=project)
    assert code == 1
    assert out.startswith("poetry: no token: $POETRY_HTTP_BASIC_CORP_PASSWORD is not set")
    assert "a token is in $POETRY_HTTP_BASIC_INTERNAL_PASSWORD, for another source name: pass --source-name" in out


def test_doctor_flags_a_second_poetry_source(home, stubbed, tmp_path):
    environ = printed_environment(home, stubbed)
    extra = '\n[[tool.poetry.source]]\nname = "pypi-mirror"\nurl = "https://mirror.example/simple/"\n' \
            'priority = "supplemental"\n'
    project = poetry_project(tmp_path / "project", extra=extra)
    code, out, _ = run_doctor(home, ["--tool", "poetry"], environ=environ, index=Index({TOKEN: 200}), cwd=project)
    assert code == 1
    assert out.startswith("poetry: wrong URL: ") and "also declares source 'pypi-mirror'" in out


def test_doctor_without_a_poetry_project_checks_the_token_against_the_registry(home, stubbed):
    client, stubber = stubbed
    environ = printed_environment(home, stubbed)
    code, out, _ = run_doctor(home, ["--tool", "poetry"], environ=environ, index=Index({TOKEN: 200}))
    assert code == 1 and "no pyproject.toml in this directory names poetry's source" in out
    expect_login(stubber, duration=900, token="fresh-token")
    code, out, _ = run_doctor(home, ["--tool", "poetry", "--stack-outputs", str(write_outputs(home))],
                              environ=environ, index=Index({TOKEN: 200}), client=client)
    assert code == 0, out
    assert f"(token only, against {INDEX})" in out


def test_doctor_reads_uv_credentials_of_a_named_default_index(home, tmp_path):
    home.uv.parent.mkdir(parents=True)
    home.uv.write_text(f'[[index]]\nname = "corp"\nurl = "{INDEX}"\ndefault = true\n')
    environ = {"UV_INDEX_CORP_USERNAME": "aws", "UV_INDEX_CORP_PASSWORD": TOKEN}
    code, out, _ = run_doctor(home, ["--tool", "uv"], environ=environ, index=Index({TOKEN: 200}))
    assert code == 0, out
    assert out.startswith(f"uv: ok: token from {home.uv} (expiry unknown)")


def test_doctor_reports_aws_refusing_a_new_token(home, stubbed):
    client, stubber = stubbed
    environ = printed_environment(home, stubbed)
    stubber.add_client_error("get_authorization_token", service_error_code="AccessDeniedException",
                             http_status_code=403)
    code, out, _ = run_doctor(home, ["--tool", "pip"], environ=environ, index=Index({TOKEN: 200}), client=client)
    assert code == 1
    assert out.splitlines()[0].startswith("pip: ok: ")
    assert out.splitlines()[1].startswith("aws: no permission: token request denied")
