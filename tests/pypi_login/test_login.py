"""`pypi-login` (`python -m pypi_login`): the token call (botocore Stubber, no network) and what it prints or writes."""

from __future__ import annotations

import configparser
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from pypi_login import clients
from pypi_login.cli import build_parser, main
from pypi_login.codeartifact import REFUSED_HINT, Login, LoginError

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
OWNER = "012345678901"  # a leading zero, as account IDs may have
DOMAIN = "acme"
HOST = f"acme-{OWNER}.d.codeartifact.{REGION}.amazonaws.com"
ENDPOINT = f"https://{HOST}/pypi/internal/"
INDEX = ENDPOINT + "simple/"
TOKEN = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.c2VjcmV0LXRva2Vu"
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
EXPIRES = NOW + timedelta(hours=12)
TARGET = ["--domain", DOMAIN, "--domain-owner", OWNER, "--region", REGION]


@pytest.fixture
def stubbed():
    """A real CodeArtifact client whose calls are answered by Stubber, never the network."""
    client = boto3.client(
        "codeartifact", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_login(stubber, *, duration=43200, repository="internal", token=TOKEN, expires=EXPIRES):
    stubber.add_response(
        "get_authorization_token",
        {"authorizationToken": token, "expiration": expires},
        {"domain": DOMAIN, "domainOwner": OWNER, "durationSeconds": duration},
    )
    stubber.add_response(
        "get_repository_endpoint",
        {"repositoryEndpoint": ENDPOINT.replace("/internal/", f"/{repository}/")},
        {"domain": DOMAIN, "domainOwner": OWNER, "repository": repository, "format": "pypi"},
    )


class Home:
    """A fake home directory and environment, so nothing touches the real user's files."""

    def __init__(self, root: Path):
        self.home = root / "home"
        self.config = root / "config"
        self.environ = {"XDG_CONFIG_HOME": str(self.config)}
        self.pip = self.config / "pip" / "pip.conf"
        self.uv = self.config / "uv" / "uv.toml"
        self.poetry = self.config / "pypoetry" / "auth.toml"

    def run(self, argv, client=None, *, now=NOW, environ=None, cwd=None, pip_files=None):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(
            argv,
            client_factory=lambda region, profile: client,
            environ=self.environ if environ is None else environ,
            home=self.home,
            platform="linux",
            now=lambda: now,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd or self.home,
            # The files pip reads, as `pip config debug` lists them (tests/pypi_login/test_clients_real.py asks the
            # real pip).
            pip_files=pip_files or (lambda environ: [self.pip]),
        )
        return code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path)


def read_toml(path: Path) -> dict:
    # tomllib is in the standard library from Python 3.11; on 3.10 its backport tomli (dev lock).
    parser = clients._toml_parser()
    assert parser is not None
    return parser.loads(path.read_text())


def test_without_a_toml_parser_nothing_is_written(home, monkeypatch):
    # The checks that protect the user's own settings need a parser: without one, fail closed.
    monkeypatch.setattr(clients, "_toml_parser", lambda: None)
    path = home.uv
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('index-url = "https://pypi.org/simple/"\n')
    with pytest.raises(LoginError, match=r"needs Python 3\.11"):
        clients._toml(path.read_text(), path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


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


# --- writing configuration files ------------------------------------------------------


def test_write_creates_private_settings_for_every_tool(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber)
    code, out, err = home.run([*TARGET, "--write"], client)
    assert code == 0, err
    assert out == ""
    authenticated = f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/"

    pip = configparser.ConfigParser()
    pip.read(home.pip)
    assert pip["global"]["index-url"] == authenticated
    assert "extra-index-url" not in pip["global"]

    uv = read_toml(home.uv)
    assert uv["index"] == [{"name": "internal", "url": authenticated, "default": True}]

    poetry = read_toml(home.poetry)
    assert poetry["http-basic"]["internal"] == {"username": "aws", "password": TOKEN}

    for path in (home.pip, home.uv, home.poetry):
        assert mode(path) == 0o600, path
        assert "expires 2026-11-25T18:00:00Z" in path.read_text()
        assert f"wrote {path} (mode 0600)" in err


def test_write_keeps_other_pip_settings_replaces_the_old_token_and_tightens_the_mode(home, stubbed):
    client, stubber = stubbed
    home.pip.parent.mkdir(parents=True)
    original = ("# my settings\n[global]\ntimeout = 60\nindex-url = https://pypi.org/simple\n\n"
                "[install]\nextra-index-url = https://example.org/simple\n    https://example.net/simple\n")
    home.pip.write_text(original)
    home.pip.chmod(0o644)
    # A second index: refused before any AWS call, the file untouched, the line and the fix named.
    code, out, err = home.run([*TARGET, "--write", "--tool", "pip"], client)
    assert (code, out) == (1, "")
    assert f"error: pip: {home.pip}:7 [install] extra-index-url adds a second index (dependency confusion): " \
        "remove line 7" in err
    assert "Nothing was written" in err and home.pip.read_text() == original
    # --fix comments it out (its continuation line too), then writes.
    expect_login(stubber, token="first-token")
    expect_login(stubber, token="second-token")
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip", "--fix"], client)
    assert code == 0, err
    assert f"fixed: commented out lines 7, 8 of {home.pip}" in err
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip"], client)
    assert code == 0, err

    text = home.pip.read_text()
    assert text.startswith("# my settings\n[global]\n")
    assert text.count("\nindex-url = ") == 1 and "second-token" in text and "first-token" not in text
    assert text.count("pypi-login: token for") == 1
    parsed = configparser.ConfigParser()
    parsed.read_string(text)
    assert parsed["global"]["timeout"] == "60"
    assert "extra-index-url" not in parsed["install"]
    assert "# disabled by pypi-login --fix: extra-index-url = https://example.org/simple" in text
    assert mode(home.pip) == 0o600
    assert not (home.uv.exists() or home.poetry.exists())


def test_write_uv_rewrites_its_own_block_and_keeps_the_users_settings(home, stubbed):
    client, stubber = stubbed
    home.uv.parent.mkdir(parents=True)
    home.uv.write_text('native-tls = true\n\n[pip]\ncompile-bytecode = true\n')
    expect_login(stubber, token="first-token")
    expect_login(stubber, token="second-token")
    for _ in range(2):
        code, _, err = home.run([*TARGET, "--write", "--tool", "uv"], client)
        assert code == 0, err
    settings = read_toml(home.uv)
    assert settings["native-tls"] is True and settings["pip"] == {"compile-bytecode": True}
    assert [index["url"] for index in settings["index"]] == [f"https://aws:second-token@{HOST}/pypi/internal/simple/"]


def test_write_uv_refuses_a_second_default_index_and_writes_nothing(home, stubbed):
    client, _ = stubbed
    home.uv.parent.mkdir(parents=True)
    original = '[[index]]\nname = "mirror"\nurl = "https://mirror.example/simple"\ndefault = true\n'
    home.uv.write_text(original)
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv"], client)  # refused before any AWS call
    assert code == 1
    assert f"{home.uv}:1 [[index]] 'mirror' is read over the default index pypi-login writes: remove lines 1-4" in err
    assert home.uv.read_text() == original
    # The last guard, should the check before it miss one: the edit itself refuses and writes nothing.
    with pytest.raises(LoginError, match=r"already declares a default index \(mirror\)"):
        clients.write_settings("uv", home.uv, Login(TOKEN, EXPIRES, ENDPOINT), "internal")
    assert home.uv.read_text() == original


def test_write_poetry_refuses_credentials_it_did_not_write(home, stubbed):
    client, stubber = stubbed
    home.poetry.parent.mkdir(parents=True)
    home.poetry.write_text('[http-basic.internal]\nusername = "someone"\n')
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "poetry"], client)
    assert code == 1
    assert "poetry config --unset http-basic.internal" in err


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


# --- status after `eval "$(pypi-login ...)"` ------------------------------------------


def exports_of(text: str) -> dict[str, str]:
    import shlex

    return {line[7:].split("=", 1)[0]: shlex.split(line.split("=", 1)[1])[0]
            for line in text.splitlines() if line.startswith("export ")}


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


# --- token files: private from the moment they exist ------------------------------------------------


class SpyOs:
    """os, as clients.write_private sees it, recording each write and mode change in order."""

    def __init__(self, final: Path, events: list):
        self.final, self.events = final, events

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, descriptor, data):
        opened = os.fstat(descriptor)
        at_final = self.final.exists() and os.stat(self.final).st_ino == opened.st_ino
        self.events.append(("write", stat.S_IMODE(opened.st_mode), at_final))
        return os.write(descriptor, data)

    def fchmod(self, descriptor, mode):
        self.events.append(("fchmod", mode))
        return os.fchmod(descriptor, mode)

    def chmod(self, *args, **kwargs):
        self.events.append(("chmod",))
        return os.chmod(*args, **kwargs)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_token_files_are_private_from_the_moment_they_exist(tmp_path, monkeypatch, umask):
    path = tmp_path / "pip" / "pip.conf"
    path.parent.mkdir()
    path.write_text("[global]\nindex-url = https://old.example/simple/\n")
    path.chmod(0o644)
    old_inode = path.stat().st_ino
    events: list = []
    real_mkstemp = clients.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        descriptor, name = real_mkstemp(*args, **kwargs)
        events.append(("created", stat.S_IMODE(os.fstat(descriptor).st_mode), name))
        return descriptor, name

    monkeypatch.setattr(clients, "os", SpyOs(path, events))
    monkeypatch.setattr(clients.tempfile, "mkstemp", mkstemp)
    previous = os.umask(umask)
    try:
        clients.write_private(path, "[global]\nindex-url = https://aws:secret@host/simple/\n")
    finally:
        os.umask(previous)

    created, *rest = events
    # Created by mkstemp: exclusive, in the same directory, with no permission for group or others.
    assert created[0] == "created" and Path(created[2]).parent == path.parent
    assert created[1] & 0o077 == 0
    writes = [event for event in rest if event[0] == "write"]
    assert writes, "nothing was written"
    first_write = rest.index(writes[0])
    # Exactly 0600 before the first byte, whatever the umask; never a mode change after it.
    assert [event for event in rest[:first_write] if event[0] != "write"] == [("fchmod", 0o600)]
    assert all(event[0] == "write" for event in rest[first_write:]), rest
    assert all(mode == 0o600 and not at_final for _, mode, at_final in writes)
    # Renamed over the old file: a new file (new inode), private, with the new text only.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != old_inode
    assert "secret" in path.read_text() and "old.example" not in path.read_text()
    assert [entry.name for entry in path.parent.iterdir()] == ["pip.conf"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "uv.toml"
    path.write_text("native-tls = true\n")

    class Full(SpyOs):
        def write(self, descriptor, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(clients, "os", Full(path, []))
    with pytest.raises(OSError, match="No space left"):
        clients.write_private(path, "token")
    assert path.read_text() == "native-tls = true\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["uv.toml"]


# --- the doctor, against a scripted index ------------------------------------------------------------


class Index:
    """Answers like the index: a status per token (None: no token), 404 for anything else."""

    def __init__(self, answers: dict):
        self.answers = answers
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, url, username, password):
        self.calls.append((url, username))
        return self.answers.get(password, 404)


def no_aws(region, profile):
    raise LoginError("no AWS credentials: sign in first", "no-credentials")


def run_doctor(home, argv, *, environ=None, index=None, client=None, cwd=None):
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(
        ["--doctor", *argv],
        client_factory=(lambda region, profile: client) if client is not None else no_aws,
        environ={**home.environ, **(environ or {})}, home=home.home, platform="linux", now=lambda: NOW,
        stdout=stdout, stderr=stderr, cwd=cwd or home.home, fetch=index or Index({}),
    )
    return code, stdout.getvalue(), stderr.getvalue()


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


def write_outputs(home) -> Path:
    outputs = home.home / "outputs.json"
    outputs.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text(json.dumps({"domainName": DOMAIN, "domainOwner": OWNER, "region": REGION,
                                   "repositoryEndpoint": ENDPOINT}))
    return outputs


@pytest.mark.parametrize(("variables", "verdict"), [
    ({"PIP_INDEX_URL": "https://pypi.org/simple/"},
     "pip: wrong URL: $PIP_INDEX_URL names https://pypi.org/simple/, not a CodeArtifact PyPI index"),
    ({"PIP_INDEX_URL": f"https://aws:{TOKEN}@{HOST}/pypi/staging/simple/"},
     f"pip: wrong URL: $PIP_INDEX_URL names https://{HOST}/pypi/staging/simple/, but the registry's index is "
     f"{INDEX}"),
    ({"PIP_INDEX_URL": f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/", "PIP_EXTRA_INDEX_URL": "https://x/"},
     "pip: wrong URL: $PIP_EXTRA_INDEX_URL adds a second index (dependency confusion)"),
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


# --- where the registry comes from: flags, stack outputs, PYPI_LOGIN_*, the config file ----------------


def test_configure_writes_the_config_file_once_and_later_runs_need_no_flags(home, stubbed, tmp_path):
    client, stubber = stubbed
    code, out, err = home.run(["--configure", "--stack-outputs", str(write_outputs(home))])
    assert (code, out) == (0, "")
    saved = home.config / "pypi-login" / "config.json"
    assert json.loads(saved.read_text()) == {"domain": DOMAIN, "domain-owner": OWNER, "region": REGION,
                                             "repository": "internal", "source-name": "internal"}
    assert f"wrote {saved}" in err and not home.pip.exists()  # no token, no AWS call
    expect_login(stubber)
    code, out, err = home.run([], client)
    assert code == 0, err
    assert f"export PIP_INDEX_URL=https://aws:{TOKEN}@{HOST}/pypi/internal/simple/" in out


def test_flags_over_variables_over_the_config_file(home, stubbed):
    client, stubber = stubbed
    saved = home.config / "pypi-login" / "config.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"domain": "other", "domain-owner": "999999999999", "region": REGION}))
    environ = {**home.environ, "PYPI_LOGIN_DOMAIN": DOMAIN, "PYPI_LOGIN_DOMAIN_OWNER": "111111111111"}
    expect_login(stubber)
    code, _, err = home.run(["--domain-owner", OWNER], client, environ=environ)
    assert code == 0, err  # expect_login asserts domain acme (variable) and owner OWNER (flag)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not JSON"),
    ('["acme"]', "must hold a JSON object"),
    ('{"domain": "acme", "domian-owner": "012345678901"}', "unknown keys ['domian-owner']"),
    ('{"domain": "acme", "domain-owner": 12345678901, "region": "eu-west-1"}',
     "--domain-owner must be the 12-digit account ID as a string (a number loses leading zeros), got 12345678901 "
     "(from {path} (domain-owner))"),
    ('{"domain": "acme", "domain-owner": "012345678901", "region": "eu-west-1", "source-name": "my source"}',
     "--source-name must be letters, digits, - and _"),
])
def test_a_bad_config_file_is_refused_and_nothing_is_written(home, stubbed, content, message):
    client, _ = stubbed  # no response queued: any AWS call would fail the test
    saved = home.config / "pypi-login" / "config.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(content)
    for mode in ([], ["--write"], ["--configure"]):
        code, out, err = home.run(mode, client)
        assert (code, out) == (2, ""), err
        assert message.format(path=saved) in err
        assert saved.read_text() == content and not home.pip.exists()


def test_a_missing_region_says_how_to_give_one(home, stubbed):
    client, _ = stubbed
    code, out, err = home.run(["--domain", DOMAIN, "--domain-owner", OWNER], client,
                              environ={**home.environ, "AWS_CONFIG_FILE": "/nonexistent"})
    assert (code, out) == (2, "")
    assert "no region: pass --region or set AWS_REGION" in err


def test_without_any_registry_it_says_how_to_name_one(home, stubbed):
    client, _ = stubbed
    code, _, err = home.run(["--region", REGION], client)
    assert code == 2
    assert "no domain: pass --stack-outputs FILE (or run `pypi-login --configure --stack-outputs FILE` once)" in err


# --- the token goes only to the domain's own host -------------------------------------------------------


@pytest.mark.parametrize("endpoint", [
    "https://evil.example/pypi/internal/",
    f"http://{HOST}/pypi/internal/",
    f"https://{HOST}:8443/pypi/internal/",
    f"https://acme-{OWNER}.d.codeartifact.us-east-1.amazonaws.com/pypi/internal/",
    f"https://{HOST}.evil.example/pypi/internal/",
    f"https://{HOST}/pypi/other/",
])
def test_a_repository_endpoint_on_any_other_host_gets_no_token(home, stubbed, endpoint):
    client, stubber = stubbed
    stubber.add_response("get_authorization_token", {"authorizationToken": TOKEN, "expiration": EXPIRES})
    stubber.add_response("get_repository_endpoint", {"repositoryEndpoint": endpoint})
    for mode in ([], ["--write"]):
        if mode:
            stubber.add_response("get_authorization_token", {"authorizationToken": TOKEN, "expiration": EXPIRES})
            stubber.add_response("get_repository_endpoint", {"repositoryEndpoint": endpoint})
        code, out, err = home.run([*TARGET, *mode], client)
        assert (code, out) == (1, "")
        assert "refusing to send the token to any other host" in err
        assert TOKEN not in err and not home.config.exists()


VPCE = "vpce-0743fe535b883ffff-76ddffff.d.codeartifact.eu-west-1.vpce.amazonaws.com"


def test_a_configured_vpc_endpoint_host_receives_the_token_instead(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber)
    code, out, err = home.run([*TARGET, "--endpoint-host", VPCE], client)
    assert code == 0, err
    exports = exports_of(out)
    assert exports["PIP_INDEX_URL"] == f"https://aws:{TOKEN}@{VPCE}/pypi/d/acme-{OWNER}/internal/simple/"
    assert HOST not in out
    # The doctor sends a token to that VPC endpoint only when it is configured.
    index = Index({TOKEN: 200})
    code, doctor_out, _ = run_doctor(home, ["--tool", "pip"], environ=exports, index=index)
    assert code == 1 and "on the VPC endpoint " + VPCE + " that is not configured" in doctor_out
    assert index.calls == []
    code, doctor_out, _ = run_doctor(home, ["--tool", "pip", "--endpoint-host", VPCE, *TARGET],
                                     environ=exports, index=index)
    assert doctor_out.startswith("pip: ok: "), doctor_out
    assert index.calls and all(url.startswith(f"https://{VPCE}/") for url, _ in index.calls)


@pytest.mark.parametrize(("host", "message"), [
    ("evil.example", "--endpoint-host must be a CodeArtifact repositories VPC endpoint's DNS name"),
    ("127.0.0.1", "--endpoint-host must be"),
    (VPCE + ".evil.example", "--endpoint-host must be"),
    (VPCE.replace("eu-west-1", "us-east-1"), "is in us-east-1, the domain in 'eu-west-1'"),
])
def test_a_bad_endpoint_host_is_refused_before_any_call(home, stubbed, host, message):
    client, _ = stubbed
    code, out, err = home.run([*TARGET, "--endpoint-host", host], client)
    assert (code, out) == (2, "")
    assert message in err


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


# --- --write never leaves a client elsewhere ------------------------------------------------------------


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("tool", "setup", "message"), [
    ("pip", lambda home, project: {"PIP_INDEX_URL": "https://pypi.org/simple/"},
     "pip: $PIP_INDEX_URL is read over {home.pip}: unset PIP_INDEX_URL"),
    ("pip", lambda home, project: {"PIP_EXTRA_INDEX_URL": "https://pypi.org/simple/"},
     "pip: $PIP_EXTRA_INDEX_URL adds a second index (dependency confusion): unset it"),
    # A per-venv file is read over the user's; [install] in any file over every [global].
    ("pip", lambda home, project: {"VIRTUAL_ENV": str(write_file(
        project / ".venv" / "pip.conf", "[global]\nindex-url = https://mirror.example/simple/\n").parent)},
     "pip: {project}/.venv/pip.conf:2 [global] index-url is read over {home.pip} (a file pip loads later): "
     "remove line 2"),
    ("uv", lambda home, project: {"UV_DEFAULT_INDEX": "https://pypi.org/simple/"},
     "uv: $UV_DEFAULT_INDEX is read over {home.uv}: unset UV_DEFAULT_INDEX"),
    ("uv", lambda home, project: {"UV_INDEX_URL": "https://pypi.org/simple/"}, "uv: $UV_INDEX_URL is read over"),
    ("uv", lambda home, project: {"UV_NO_CONFIG": "1"}, "uv: $UV_NO_CONFIG makes uv ignore {home.uv}"),
    ("uv", lambda home, project: write_file(project / "uv.toml", '[[index]]\nname = "corp"\nurl = '
                                            '"https://mirror.example/simple/"\ndefault = true\n') and {},
     "uv: {project}/uv.toml:1 [[index]] 'corp' is read over the default index pypi-login writes: remove lines 1-4"),
    ("uv", lambda home, project: write_file(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.uv]\n'
                                            'extra-index-url = ["https://pypi.org/simple/"]\n') and {},
     "uv: {project}/pyproject.toml:5 tool.uv.extra-index-url adds a second index (dependency confusion): "
     "remove line 5"),
    ("uv", lambda home, project: write_file(home.uv, '[[index]]\nname = "mirror"\nurl = "https://m.example/simple/"\n')
     and {}, "uv: {home.uv}:1 [[index]] 'mirror' is searched before the default index (dependency confusion)"),
    ("poetry", lambda home, project: {"POETRY_HTTP_BASIC_INTERNAL_PASSWORD": "old"},
     "poetry: $POETRY_HTTP_BASIC_INTERNAL_PASSWORD is read over {home.poetry}: unset"),
    ("poetry", lambda home, project: {"POETRY_REPOSITORIES_INTERNAL_URL": "https://mirror.example/simple/"},
     "poetry: $POETRY_REPOSITORIES_INTERNAL_URL sends source 'internal' to another URL"),
    ("poetry", lambda home, project: write_file(project / "pyproject.toml", '[tool.poetry]\npackage-mode = false\n')
     and {}, "poetry: {project}/pyproject.toml has no source named 'internal': run `poetry source add "
     "--priority=primary internal <index URL>`"),
    ("poetry", lambda home, project: write_file(project / "pyproject.toml", f'[tool.poetry]\npackage-mode = false\n\n'
                                                f'[[tool.poetry.source]]\nname = "internal"\nurl = "{INDEX}"\n\n'
                                                '[[tool.poetry.source]]\nname = "mirror"\nurl = "https://m.example/"\n'
                                                'priority = "supplemental"\n') and {},
     "poetry: {project}/pyproject.toml:8 also declares source 'mirror' (priority supplemental): a second index"),
    ("poetry", lambda home, project: write_file(project / "pyproject.toml", f'[tool.poetry]\npackage-mode = false\n\n'
                                                f'[[tool.poetry.source]]\nname = "internal"\nurl = "{INDEX}"\n'
                                                'priority = "explicit"\n') and {},
     "poetry: {project}/pyproject.toml:4 declares source 'internal' with priority explicit: poetry then installs "
     "from PyPI"),
])
def test_write_refuses_a_setting_that_would_send_the_tool_elsewhere(home, stubbed, tmp_path, tool, setup, message):
    client, _ = stubbed  # no response queued: refused before any AWS call
    project = tmp_path / "project"
    project.mkdir()
    environ = {**home.environ, **setup(home, project)}
    before = {path: path.read_text() for path in (home.pip, home.uv, home.poetry) if path.exists()}
    code, out, err = home.run([*TARGET, "--write", "--tool", tool], client, environ=environ, cwd=project)
    assert (code, out) == (1, "")
    assert f"error: {message.format(home=home, project=project)}" in err
    assert "Nothing was written" in err
    assert {path: path.read_text() for path in (home.pip, home.uv, home.poetry) if path.exists()} == before


@pytest.mark.parametrize("setup", [
    lambda home, project: write_file(project / "uv.toml", f'[[index]]\nname = "internal"\nurl = "{INDEX}"\n'
                                     'default = true\n'),  # the project names the registry's own index
    lambda home, project: write_file(project / "uv.toml", '[[index]]\nname = "torch"\nurl = "https://t.example/"\n'
                                     'explicit = true\n'),  # explicit: only for packages pinned to it
    lambda home, project: write_file(Path(home.environ["XDG_CONFIG_HOME"]) / "uv" / "uv.toml",
                                     'index-url = "https://pypi.org/simple/"\n'),  # in our file: replaced below
])
def test_write_accepts_settings_that_keep_uv_on_the_registry(home, stubbed, tmp_path, setup):
    client, stubber = stubbed
    project = tmp_path / "project"
    project.mkdir()
    setup(home, project)
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv", "--fix"], client, cwd=project)
    assert code == 0, err


def test_write_fix_comments_out_a_second_uv_index_and_refuses_what_it_cannot_fix(home, stubbed, tmp_path):
    client, stubber = stubbed
    write_file(home.uv, 'native-tls = true\n\n[[index]]\nname = "mirror"\nurl = "https://m.example/simple/"\n\n'
                        '[pip]\ncompile-bytecode = true\n')
    environ = {**home.environ, "UV_INDEX": "https://x.example/simple/"}
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv", "--fix"], client, environ=environ)
    assert code == 1
    assert f"fixed: commented out lines 3, 4, 5, 6 of {home.uv}" in err
    assert "error: uv: $UV_INDEX adds a second index (dependency confusion): unset UV_INDEX" in err
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv"], client)
    assert code == 0, err
    settings = read_toml(home.uv)
    assert [index["name"] for index in settings["index"]] == ["internal"]
    assert settings["native-tls"] is True and settings["pip"] == {"compile-bytecode": True}


@pytest.mark.parametrize(("files", "message"), [
    ("no pip on PATH to ask which configuration files it reads (`pip config debug`)",
     "pip: no pip on PATH to ask which configuration files it reads"),
    ([Path("/etc/pip.conf")], "pip: pip does not read {home.pip}"),
])
def test_write_refuses_pip_when_pip_cannot_say_what_it_reads(home, stubbed, files, message):
    client, _ = stubbed
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip"], client, pip_files=lambda environ: files)
    assert code == 1
    assert message.format(home=home) in err and not home.pip.exists()


def test_write_refuses_an_install_section_in_a_file_of_lower_precedence(home, stubbed, tmp_path):
    client, _ = stubbed
    system = write_file(tmp_path / "etc" / "pip.conf", "[install]\nindex-url = https://mirror.example/simple/\n")
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip"], client,
                            pip_files=lambda environ: [system, home.pip])
    assert code == 1
    assert f"error: pip: {system}:2 [install] index-url is read over [global] index-url in {home.pip}" in err


def test_fix_goes_with_write(home):
    code, _, err = home.run([*TARGET, "--fix"])
    assert code == 2 and "--fix goes with --write" in err
