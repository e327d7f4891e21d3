"""`pypi-login` (`python -m pypi_login`): the token call, what it prints, its errors and help.

The token call is answered by botocore's Stubber (no network); the fixtures are in tests/pypi_login/conftest.py.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from pypi_login import clients
from pypi_login.cli import build_parser, main
from pypi_login.codeartifact import REFUSED_HINT, Login, LoginError
from tests.pypi_login.login_support import (
    DOMAIN,
    ENDPOINT,
    EXPIRES,
    HOST,
    INDEX,
    NOW,
    OWNER,
    REGION,
    ROOT,
    TARGET,
    TOKEN,
    expect_login,
)


def test_without_a_toml_parser_nothing_is_written(home, monkeypatch):
    # The checks that protect the user's own settings need a parser: without one, fail closed.
    monkeypatch.setattr(clients, "_toml_parser", lambda: None)
    path = home.uv
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('index-url = "https://pypi.org/simple/"\n')
    with pytest.raises(LoginError, match=r"needs Python 3\.11"):
        clients._toml(path.read_text(), path)


# --- printing exports ------------------------------------------------------------------


def test_prints_one_index_for_pip_uv_and_poetry_and_shows_the_expiry(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber)
    code, out, err = home.run(TARGET, client)
    assert code == 0, err
    authenticated = f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/"
    assert f"export PIP_INDEX_URL={authenticated}" in out
    assert "export PIP_NO_INPUT=1" in out  # no EOFError traceback at a password prompt without a terminal
    assert f"export UV_DEFAULT_INDEX={authenticated}" in out
    assert f"export UV_INDEX_INTERNAL_PASSWORD={TOKEN}" in out
    assert "export POETRY_HTTP_BASIC_INTERNAL_USERNAME=aws" in out
    assert f"export POETRY_HTTP_BASIC_INTERNAL_PASSWORD={TOKEN}" in out
    # Each tool's expiry is recorded beside its token, with the token's fingerprint (never the token).
    record = f"'2026-11-25T18:00:00Z {clients.fingerprint(TOKEN)}'"
    for tool in ("PIP", "UV", "POETRY"):
        assert f"export CODEARTIFACT_TOKEN_EXPIRES_{tool}={record}" in out
    assert "EXTRA" not in out.upper().replace("CODEARTIFACT", "")
    assert "expires 2026-11-25 18:00 UTC, in 12h 00m." in err
    assert f"poetry source add --priority=primary internal {INDEX}" in err
    assert "pypi-login --doctor" in err
    assert "404" not in err  # no client prints 404 (tests/pypi_login/test_clients_real.py)
    assert not home.config.exists()  # printing writes nothing


def test_printed_exports_load_in_a_posix_shell(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber, token="tok'en with $pecial chars")
    code, out, _ = home.run(TARGET, client)
    assert code == 0
    loaded = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c",
         'eval "$EXPORTS"; printf "%s\\n%s" "$POETRY_HTTP_BASIC_INTERNAL_PASSWORD" "$PIP_INDEX_URL"'],
        env={"EXPORTS": out, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
    )
    password, index = loaded.stdout.split("\n")
    assert password == "tok'en with $pecial chars"
    # In a URL the token is percent-encoded, so it cannot break out of the user-info part.
    assert index == f"https://aws:tok%27en%20with%20%24pecial%20chars@{HOST}/pypi/internal/simple/"


def test_tool_selection_prints_only_that_tools_settings(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber)
    code, out, err = home.run([*TARGET, "--tool", "uv"], client)
    assert code == 0
    names = [line.split("=", 1)[0] for line in out.splitlines() if line.startswith("export ")]
    assert names == [
        "export UV_DEFAULT_INDEX", "export UV_INDEX_INTERNAL_USERNAME", "export UV_INDEX_INTERNAL_PASSWORD",
        "export CODEARTIFACT_TOKEN_EXPIRES_UV",
    ]
    assert "poetry source add" not in err


def test_duration_repository_and_region_reach_the_api(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber, duration=900, repository="staging")
    regions = []

    def factory(region, profile):
        regions.append((region, profile))
        return client

    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(
        [*TARGET, "--duration-seconds", "900", "--repository", "staging", "--profile", "dev"],
        client_factory=factory, environ=home.environ, home=home.home, platform="linux",
        now=lambda: NOW, stdout=stdout, stderr=stderr,
    )
    assert code == 0, stderr.getvalue()
    assert regions == [(REGION, "dev")]
    assert "/pypi/staging/simple/" in stdout.getvalue()


def test_stack_outputs_file_supplies_the_defaults(home, stubbed, tmp_path):
    client, stubber = stubbed
    expect_login(stubber)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({
        "domainName": DOMAIN, "domainOwner": OWNER, "region": REGION,
        "repositoryEndpoint": ENDPOINT, "indexUrl": INDEX,
    }))
    code, out, err = home.run(["--stack-outputs", str(outputs)], client)
    assert code == 0, err
    assert f"@{HOST}/pypi/internal/simple/" in out


def test_a_number_typed_domain_owner_is_rejected_before_any_call(home, stubbed, tmp_path):
    client, _ = stubbed  # no response queued: any AWS call would fail the test
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"domainName": DOMAIN, "domainOwner": 12345678901, "region": REGION}))
    code, _, err = home.run(["--stack-outputs", str(outputs)], client)
    assert code == 2
    assert "--domain-owner must be the 12-digit account ID as a string" in err


REGION_RULE = "--region must be an AWS region where CodeArtifact is offered (ap-northeast-1"


@pytest.mark.parametrize(("argv", "message"), [
    ([*TARGET, "--duration-seconds", "60"], "--duration-seconds must be 0 or 900-43200"),
    (["--domain", DOMAIN, "--domain-owner", OWNER, "--region", "Ireland"], REGION_RULE),
    (["--domain", "Acme", "--domain-owner", OWNER, "--region", REGION], "--domain must be a CodeArtifact domain"),
    # A trailing newline (a value pasted from a file or a YAML block scalar) is refused everywhere.
    (["--domain", DOMAIN + "\n", "--domain-owner", OWNER, "--region", REGION], "--domain must be a CodeArtifact"),
    (["--domain", DOMAIN, "--domain-owner", OWNER + "\n", "--region", REGION], "--domain-owner must be the 12-digit"),
    ([*TARGET, "--repository", "internal\n"], "--repository must match"),
    (["--domain", DOMAIN, "--domain-owner", OWNER, "--region", REGION + "\n"], REGION_RULE),
    # CodeArtifact is offered only in commercial regions, and not in all of them.
    (["--domain", DOMAIN, "--domain-owner", OWNER, "--region", "us-gov-west-1"], REGION_RULE),
    (["--domain", DOMAIN, "--domain-owner", OWNER, "--region", "cn-north-1"], REGION_RULE),
    (["--domain", DOMAIN, "--domain-owner", OWNER, "--region", "ap-east-1"], REGION_RULE),
])
def test_bad_arguments_exit_2_naming_the_rule(home, stubbed, argv, message):
    client, _ = stubbed
    code, out, err = home.run(argv, client)
    assert (code, out) == (2, "")
    assert message in err
    assert err.count("must") == 1  # only the broken rule is reported


def test_every_region_botocore_offers_codeartifact_in_is_accepted():
    import botocore.session

    from pypi_login.cli import codeartifact_regions, resolve_target

    regions = botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")
    assert codeartifact_regions() == tuple(sorted(regions))
    for region in regions:
        args = build_parser().parse_args(["--domain", DOMAIN, "--domain-owner", OWNER, "--region", region])
        assert resolve_target(args, {}, Path("/nonexistent/config.json"))[0].region == region


# --- errors from AWS -----------------------------------------------------------------


def test_denied_token_request_names_both_permissions(home, stubbed):
    client, stubber = stubbed
    stubber.add_client_error(
        "get_authorization_token", service_error_code="AccessDeniedException", http_status_code=403,
        service_message="User is not authorized to perform: codeartifact:GetAuthorizationToken",
    )
    code, out, err = home.run(TARGET, client)
    assert (code, out) == (1, "")
    assert "token request denied: check your role has codeartifact:GetAuthorizationToken" in err
    assert f"arn:aws:codeartifact:{REGION}:{OWNER}:domain/{DOMAIN}" in err
    assert "sts:GetServiceBearerToken" in err


def test_denied_endpoint_request_names_its_permission(home, stubbed):
    client, stubber = stubbed
    stubber.add_response("get_authorization_token", {"authorizationToken": TOKEN, "expiration": EXPIRES})
    stubber.add_client_error("get_repository_endpoint", service_error_code="AccessDeniedException",
                             http_status_code=403)
    code, _, err = home.run(TARGET, client)
    assert code == 1
    assert "GetRepositoryEndpoint denied: check your role has codeartifact:GetRepositoryEndpoint" in err
    assert TOKEN not in err


def test_unknown_domain_points_at_the_owner_and_region(home, stubbed):
    client, stubber = stubbed
    stubber.add_client_error("get_authorization_token", service_error_code="ResourceNotFoundException",
                             http_status_code=404, service_message="Domain not found")
    code, _, err = home.run(TARGET, client)
    assert code == 1
    assert "--domain-owner (12 digits, leading zeros included)" in err


def test_expired_aws_session_says_sign_in_again(home, stubbed):
    client, stubber = stubbed
    stubber.add_client_error(
        "get_authorization_token", service_error_code="ExpiredTokenException", http_status_code=403,
        service_message="The security token included in the request is expired",
    )
    code, _, err = home.run(TARGET, client)
    assert code == 1
    assert "your AWS credentials are expired or invalid: sign in again" in err


def test_no_credentials_is_reported_as_such(home, monkeypatch, tmp_path):
    # A real client with no credentials anywhere: botocore refuses to sign, before any request.
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                     "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(TARGET, environ=home.environ, home=home.home, platform="linux", stdout=stdout, stderr=stderr)
    assert code == 1
    assert "error: no AWS credentials" in stderr.getvalue()


def test_unknown_profile_is_named(home, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main([*TARGET, "--profile", "nope"], environ=home.environ, home=home.home, platform="linux",
                stdout=stdout, stderr=stderr)
    assert code == 1
    assert "AWS profile 'nope' is not in your AWS config" in stderr.getvalue()


# --- help, paths, module entry point --------------------------------------------------


def test_help_recommends_the_keyring_and_warns_against_extra_index_url():
    text = build_parser().format_help()
    assert "keyrings.codeartifact" in text
    assert "Never add the index with --extra-index-url" in text
    # What each client prints for a refused token (quoted from tests/pypi_login/test_clients_real.py), and how
    # each asks a keyring: not "404 Not Found", which no client prints.
    words = " ".join(text.split())
    assert " ".join(REFUSED_HINT.split()) in words
    assert "404 Not Found" not in text
    assert "--keyring-provider import" in words and "--keyring-provider subprocess and `aws@`" in words
    assert "--doctor" in text


def test_login_repr_never_shows_the_token():
    login = Login(token=TOKEN, expiration=EXPIRES, repository_endpoint=ENDPOINT)
    assert TOKEN not in repr(login)


def test_config_paths_follow_each_tool_per_platform(tmp_path):
    home = tmp_path / "home"
    windows = clients.config_paths({"APPDATA": str(tmp_path / "roaming")}, home, "win32")
    assert windows.pip == tmp_path / "roaming" / "pip" / "pip.ini"
    assert windows.poetry == tmp_path / "roaming" / "pypoetry" / "auth.toml"
    mac = clients.config_paths({}, home, "darwin")
    assert mac.uv == home / ".config" / "uv" / "uv.toml"
    assert mac.poetry == home / "Library" / "Application Support" / "pypoetry" / "auth.toml"
    overridden = clients.config_paths(
        {"PIP_CONFIG_FILE": str(tmp_path / "p.conf"), "UV_CONFIG_FILE": str(tmp_path / "u.toml"),
         "POETRY_CONFIG_DIR": str(tmp_path / "poetry")}, home, "linux",
    )
    assert (overridden.pip, overridden.uv, overridden.poetry) == (
        tmp_path / "p.conf", tmp_path / "u.toml", tmp_path / "poetry" / "auth.toml",
    )


def test_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pypi_login", "--status", "--tool", "uv"],
        cwd=ROOT, env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1, result.stderr
    assert f"uv: token missing: $UV_DEFAULT_INDEX is not set and {tmp_path / 'config' / 'uv' / 'uv.toml'}" \
        in result.stdout


# --- a token CodeArtifact returns already expired -------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--write"]])
def test_an_already_expired_token_is_refused_and_nothing_is_printed_or_written(home, stubbed, mode):
    client, stubber = stubbed
    expect_login(stubber, duration=0, expires=NOW - timedelta(minutes=1))
    code, out, err = home.run([*TARGET, "--duration-seconds", "0", *mode], client)
    assert (code, out) == (1, "")
    assert "error: CodeArtifact returned a token that already expired (2026-11-25 05:59 UTC, 1m ago" in err
    assert "with --duration-seconds 0 a token ends with your AWS session" in err
    assert TOKEN not in err
    assert not home.config.exists()


def test_a_token_about_to_expire_is_written_with_a_warning(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber, duration=0, expires=NOW + timedelta(minutes=4))
    code, out, err = home.run([*TARGET, "--duration-seconds", "0"], client)
    assert code == 0 and "export PIP_INDEX_URL=" in out
    assert "warning: the token expires in 4m; sign in to AWS again" in err


def test_a_fifteen_minute_token_comes_without_a_warning(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber, duration=900, expires=NOW + timedelta(seconds=899))
    code, _, err = home.run([*TARGET, "--duration-seconds", "900"], client)
    assert code == 0 and "warning" not in err


# --- PowerShell ------------------------------------------------------------------------------------------

HOSTILE = ["tok'en", "a\u2019b\u2018c\u201ad\u201be", "$(Remove-Item -Recurse ~)", "`n`$env:X='y'", 'x"; exit 1; "',
           "line\nbreak", "semi;colon|pipe&amp", "'; Remove-Item C:\\ -Recurse; '"]


def powershell_assignments(script: str) -> dict[str, str]:
    """PowerShell's reading of `$env:NAME = '...'` statements: a single-quoted string ends at any of the
    four quote characters not doubled, each doubled one stands for one, everything else (a newline
    too) is literal (about_Quoting_Rules). Anything else in the script fails the test."""
    quotes = clients.POWERSHELL_QUOTES
    values, index = {}, 0
    while index < len(script):
        comment = re.compile(r"#[^\n]*\n").match(script, index)
        if comment:
            index = comment.end()
            continue
        start = re.compile(r"\$env:([A-Z][A-Z0-9_]*) = (['\u2018\u2019\u201a\u201b])").match(script, index)
        assert start, f"not an assignment at {index}: {script[index:index + 40]!r}"
        index, value = start.end(), []
        while True:
            char = script[index]
            if char in quotes and script[index + 1: index + 2] and script[index + 1] in quotes:
                value.append(char)
                index += 2
            elif char in quotes:
                index += 1
                break
            else:
                value.append(char)
                index += 1
        assert script[index] == "\n", f"the statement goes on after its string at {index}"
        values[start[1]] = "".join(value)
        index += 1
    return values


@pytest.mark.parametrize("token", HOSTILE)
def test_powershell_mode_quotes_hostile_values_safely(home, stubbed, token):
    client, stubber = stubbed
    expect_login(stubber, token=token)
    code, out, err = home.run([*TARGET, "--shell", "powershell"], client)
    assert code == 0, err
    assert out.startswith("# pypi-login: token for ")
    values = powershell_assignments(out)
    assert values["UV_INDEX_INTERNAL_PASSWORD"] == token
    assert values["POETRY_HTTP_BASIC_INTERNAL_PASSWORD"] == token
    assert values["PIP_INDEX_URL"] == f"https://aws:{quote(token, safe='')}@{HOST}/pypi/internal/simple/"
    assert values == clients.environment(Login(token, EXPIRES, ENDPOINT), clients.TOOLS, "internal")


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="PowerShell (pwsh) is not installed")
@pytest.mark.parametrize("token", HOSTILE)
def test_powershell_itself_reads_the_hostile_values_back(home, stubbed, token):
    client, stubber = stubbed
    expect_login(stubber, token=token)
    _, out, _ = home.run([*TARGET, "--shell", "powershell"], client)
    script = out + "\n[Console]::Write($env:UV_INDEX_INTERNAL_PASSWORD)"
    result = subprocess.run(["pwsh", "-NoProfile", "-Command", script], capture_output=True, text=True, check=True)
    assert result.stdout == token


@pytest.mark.parametrize("token", HOSTILE)
def test_posix_mode_reads_the_hostile_values_back(home, stubbed, token):
    client, stubber = stubbed
    expect_login(stubber, token=token)
    _, out, _ = home.run(TARGET, client)
    script = 'eval "$EXPORTS"; printf %s "$UV_INDEX_INTERNAL_PASSWORD"'
    loaded = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], capture_output=True, text=True,
                            env={"EXPORTS": out, "PATH": "/usr/bin:/bin"}, check=True)
    assert loaded.stdout == token
