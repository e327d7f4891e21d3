"""`pypi-login` (`python -m pypi_login`): where the registry comes from, and the one host the token goes to.

The token call is answered by botocore's Stubber (no network); the fixtures are in tests/pypi_login/conftest.py.
"""

from __future__ import annotations

import json

import pytest

from tests.pypi_login.login_support import (
    DOMAIN,
    EXPIRES,
    HOST,
    OWNER,
    REGION,
    TARGET,
    TOKEN,
    Index,
    expect_login,
    exports_of,
    run_doctor,
    write_outputs,
)

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
