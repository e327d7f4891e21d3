"""The local CodeArtifact stand-in itself (tests/codeartifact_stub), and the client versions the README
names.

Every test starts its own stand-in on 127.0.0.1 and stops it (the fixture `stub`, tests/pypi_login/conftest.py);
the machine the clients run on is tests/pypi_login/clients_support.py.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.codeartifact_stub import Stub
from tests.pypi_login.clients_support import INTERNAL, PYTHON, ROOT, VARIANTS, Machine

pytestmark = pytest.mark.clients


def test_the_stub_answers_bad_credentials_with_401_or_404_as_configured(stub, tmp_path):
    # The two variants the tests above run under, checked at the HTTP level with the same client
    # the doctor uses (urllib through the proxy, the test authority trusted through SSL_CERT_FILE).
    machine = Machine(stub, tmp_path / "machine")
    page = stub.registry.index_url() + f"{INTERNAL}/"
    script = (
        "import sys\nfrom pypi_login.doctor import fetch\n"
        "for credentials in ((None, None), ('aws', 'wrong'), ('someone', 'wrong')):\n"
        "    print(fetch(sys.argv[1], *credentials))\n"
    )
    for variant in VARIANTS:
        stub.registry.unauthorized_status = variant
        result = machine.run([PYTHON, "-c", script, page], env={"PYTHONPATH": str(ROOT)})
        assert result.stdout.split() == [str(variant)] * 3, result.stderr
    denied = machine.run([PYTHON, "-c", "import urllib.request as u; u.urlopen('https://pypi.org/simple/')"])
    assert denied.returncode != 0 and "Tunnel connection failed: 403" in denied.stderr
    assert stub.registry.blocked == ["CONNECT pypi.org:443"]
    stub.registry.blocked.clear()


def test_the_fake_api_answers_boto3_in_botocores_shapes(stub):
    import boto3
    from botocore.exceptions import ClientError

    def client(access_key: str):
        return boto3.client("codeartifact", region_name=stub.registry.region, endpoint_url=stub.api.url,
                            aws_access_key_id=access_key, aws_secret_access_key="stub-secret")

    reader = client("AKIDREADER")
    domain = {"domain": "acme", "domainOwner": stub.registry.owner}
    package = {**domain, "repository": "internal", "format": "pypi", "package": INTERNAL, "packageVersion": "1.0.0"}
    token = reader.get_authorization_token(**domain, durationSeconds=900)
    lifetime = token["expiration"] - datetime.now(timezone.utc)
    assert 890 <= lifetime.total_seconds() <= 900
    assert reader.get_repository_endpoint(**domain, repository="internal", format="pypi")["repositoryEndpoint"] == \
        stub.registry.endpoint()
    assert reader.describe_package_version(**package)["packageVersion"]["status"] == "Published"
    (asset,) = reader.list_package_version_assets(**package)["assets"]
    wheel = stub.packages / "acme_core-1.0.0-py3-none-any.whl"
    assert asset == {"name": wheel.name, "size": wheel.stat().st_size,
                     "hashes": stub.registry.hashes(wheel)}
    errors = {
        "AccessDeniedException": lambda: client("AKIDNOTOKEN").get_authorization_token(**domain),
        "ResourceNotFoundException": lambda: reader.describe_package_version(**{**package, "packageVersion": "9"}),
        "UnrecognizedClientException": lambda: client("AKIDUNKNOWN").get_authorization_token(**domain),
        "ValidationException": lambda: reader.get_authorization_token(**domain, durationSeconds=60),
    }
    for code, call in errors.items():
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == code


def test_the_stand_in_stops_everything_it_started(tmp_path):
    import socket

    running = Stub(tmp_path / "stand-in")
    ports = (running.front.port, running.pypiserver.port, int(running.api.url.rsplit(":", 1)[1]))
    running.stop()
    assert running.pypiserver.process.poll() is not None
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, port


def test_the_keyring_backend_needs_only_an_empty_configuration_file(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine", keyring=True)
    ask = ["keyring", "get", stub.registry.index_url(), "aws"]
    warned = machine.run(ask)
    assert warned.returncode == 0 and warned.stdout.startswith("eyJ")
    assert "python_keyring/keyringrc.cfg does not exist!" in warned.stderr
    config = Path(machine.env["XDG_CONFIG_HOME"]) / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.touch()
    quiet = machine.run(ask)
    assert quiet.returncode == 0 and quiet.stdout.startswith("eyJ")
    assert "does not exist" not in quiet.stderr


def test_readme_names_the_client_versions_these_tests_ran():
    from importlib.metadata import version

    uv = subprocess.run(["uv", "--version"], env={"PATH": str(Path(PYTHON).parent)}, capture_output=True, text=True,
                        check=True).stdout.split()[1]
    tested = (f"tested with pip {version('pip')}, uv {uv}, poetry {version('poetry')} and twine {version('twine')}")
    readme = " ".join((ROOT / "docs" / "consuming.md").read_text(encoding="utf-8").split())
    assert tested in readme, f"update the keyring paragraph of docs/consuming.md after re-checking it: {tested}"
