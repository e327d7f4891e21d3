"""`python -m pypi_login`: the token call (botocore Stubber, no network) and what it prints or writes."""

from __future__ import annotations

import configparser
import io
import json
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from pypi_login import clients
from pypi_login.cli import build_parser, main
from pypi_login.codeartifact import Login, LoginError

ROOT = Path(__file__).resolve().parents[1]
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

    def run(self, argv, client=None, *, now=NOW, environ=None):
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
    assert f"export UV_DEFAULT_INDEX={authenticated}" in out
    assert f"export UV_INDEX_ACME_PASSWORD={TOKEN}" in out
    assert "export POETRY_HTTP_BASIC_ACME_USERNAME=aws" in out
    assert f"export POETRY_HTTP_BASIC_ACME_PASSWORD={TOKEN}" in out
    assert "export CODEARTIFACT_TOKEN_EXPIRES=2026-11-25T18:00:00Z" in out
    assert "EXTRA" not in out.upper().replace("CODEARTIFACT", "")
    assert "expires 2026-11-25 18:00 UTC, in 12h 00m." in err
    assert f"poetry source add --priority=primary acme {INDEX}" in err
    assert "404" in err and "keyrings.codeartifact" in err
    assert not home.config.exists()  # printing writes nothing


def test_printed_exports_load_in_a_posix_shell(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber, token="tok'en with $pecial chars")
    code, out, _ = home.run(TARGET, client)
    assert code == 0
    loaded = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", 'eval "$EXPORTS"; printf "%s\\n%s" "$POETRY_HTTP_BASIC_ACME_PASSWORD" '
         '"$PIP_INDEX_URL"'],
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
        "export UV_DEFAULT_INDEX", "export UV_INDEX_ACME_USERNAME", "export UV_INDEX_ACME_PASSWORD",
        "export CODEARTIFACT_TOKEN_EXPIRES",
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
        assert resolve_target(args, {}).region == region


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
    assert uv["index"] == [{"name": "acme", "url": authenticated, "default": True}]

    poetry = read_toml(home.poetry)
    assert poetry["http-basic"]["acme"] == {"username": "aws", "password": TOKEN}

    for path in (home.pip, home.uv, home.poetry):
        assert mode(path) == 0o600, path
        assert "expires 2026-11-25T18:00:00Z" in path.read_text()
        assert f"wrote {path} (mode 0600)" in err


def test_write_keeps_other_pip_settings_replaces_the_old_token_and_tightens_the_mode(home, stubbed):
    client, stubber = stubbed
    home.pip.parent.mkdir(parents=True)
    home.pip.write_text(
        "# my settings\n[global]\ntimeout = 60\nindex-url = https://pypi.org/simple\n\n"
        "[install]\nextra-index-url = https://example.org/simple\n"
    )
    home.pip.chmod(0o644)
    expect_login(stubber, token="first-token")
    expect_login(stubber, token="second-token")
    assert home.run([*TARGET, "--write", "--tool", "pip"], client)[0] == 0
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip"], client)
    assert code == 0

    text = home.pip.read_text()
    assert text.startswith("# my settings\n[global]\n")
    assert text.count("\nindex-url = ") == 1 and "second-token" in text and "first-token" not in text
    assert text.count("pypi-login: token for") == 1
    parsed = configparser.ConfigParser()
    parsed.read_string(text)
    assert parsed["global"]["timeout"] == "60"
    assert parsed["install"]["extra-index-url"] == "https://example.org/simple"  # left alone, but flagged
    assert "warning: pip: [install] has extra-index-url" in err and "dependency confusion" in err
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
    client, stubber = stubbed
    home.uv.parent.mkdir(parents=True)
    original = '[[index]]\nname = "mirror"\nurl = "https://mirror.example/simple"\ndefault = true\n'
    home.uv.write_text(original)
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv"], client)
    assert code == 1
    assert "already declares a default index (mirror)" in err
    assert home.uv.read_text() == original


def test_write_poetry_refuses_credentials_it_did_not_write(home, stubbed):
    client, stubber = stubbed
    home.poetry.parent.mkdir(parents=True)
    home.poetry.write_text('[http-basic.acme]\nusername = "someone"\n')
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "poetry"], client)
    assert code == 1
    assert "poetry config --unset http-basic.acme" in err


# --- status: missing, valid, expired ----------------------------------------------------


def test_status_reports_missing_then_valid_then_expired_tokens(home, stubbed):
    client, stubber = stubbed
    code, out, _ = home.run(["--status", "--tool", "pip"])
    assert code == 1
    assert "pip: token missing" in out and "404 Not Found" in out

    expect_login(stubber)
    assert home.run([*TARGET, "--write"], client)[0] == 0
    code, out, _ = home.run(["--status", "--domain", DOMAIN])
    assert code == 0
    assert out.count("valid until 2026-11-25 18:00 UTC, in 12h 00m") == 3

    code, out, _ = home.run(["--status", "--tool", "poetry"], now=EXPIRES + timedelta(minutes=5))
    assert code == 1
    assert f"poetry: token in {home.poetry} expired 2026-11-25 18:00 UTC, 5m ago." in out
    assert "Run `python -m pypi_login --write --tool poetry` again" in out
    assert "404 Not Found" in out


def test_status_prefers_environment_variables_which_override_files(home):
    environ = {**home.environ, "PIP_INDEX_URL": f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/",
               "CODEARTIFACT_TOKEN_EXPIRES": "2026-11-25T05:00:00Z"}
    code, out, _ = home.run(["--status", "--tool", "pip"], environ=environ)
    assert code == 1
    assert "pip: token in $PIP_INDEX_URL expired" in out
    assert TOKEN not in out


# --- help, paths, module entry point --------------------------------------------------


def test_help_recommends_the_keyring_and_warns_against_extra_index_url():
    text = build_parser().format_help()
    assert "keyrings.codeartifact" in text
    assert "Never add the index with --extra-index-url" in text
    assert "404 Not Found" in text


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
    assert f"uv: token missing: no pypi-login token in {tmp_path / 'config' / 'uv' / 'uv.toml'}" in result.stdout
