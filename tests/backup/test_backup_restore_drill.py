"""`python -m backup.restore`: the drill (marker `clients`), and consumers pointed at the standby.

Distributions built as tests/pypi_login/test_clients_real.py builds them, backed up into a moto S3 bucket
with versioning and Object Lock in the layout the backup writes, restored with the real twine over HTTPS
into the CodeArtifact stand-in's `internal`, then installed with the real pip from the stand-in: the
installed files are the original bytes. A tampered object is refused before anything is uploaded, and a
second run uploads nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import boto3
import pytest

from backup import restore
from tests.backup.restore_support import BACKUP_REGION, BUCKET, PYTHON, back_up

# --- the drill: the real twine into the stand-in, then the real pip --------------------------------------


@pytest.fixture
def stub(tmp_path: Path):
    from tests.codeartifact_stub import Stub

    with Stub(tmp_path / "stand-in") as running:
        yield running
        assert running.registry.blocked == []  # nothing reached anything but the stand-in


@pytest.fixture
def built(tmp_path: Path) -> dict[tuple[str, str], list[Path]]:
    """What the primary's internal held: two versions of a library and a tool that needs the newer one."""
    from tests.codeartifact_stub.distributions import write_sdist, write_wheel

    dist = tmp_path / "dist"
    return {
        ("acme-core", "1.0.0"): [write_wheel(dist, "acme-core", "1.0.0"), write_sdist(dist, "acme-core", "1.0.0")],
        ("acme-core", "1.1.0"): [write_wheel(dist, "acme-core", "1.1.0", marker="the newer one")],
        ("acme-tools", "0.1.0"): [write_wheel(dist, "acme-tools", "0.1.0", ["acme-core>=1.1"])],
    }


def operator(stub, home: Path) -> dict[str, str]:
    """The operator's shell: the stand-in's network, twine on PATH, a token that may publish to internal."""
    from tests.codeartifact_stub import PRINCIPALS

    environment = stub.environment(home, "AKIDPUBLISHER")
    token = stub.registry.issue(PRINCIPALS["AKIDPUBLISHER"], datetime.now(timezone.utc) + timedelta(hours=1))
    return {**environment, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "TWINE_USERNAME": "aws", "TWINE_PASSWORD": token}


def restore_into(stub, s3, environment: dict[str, str], *extra: str, topic=None) -> tuple[int, str, str]:
    """The restore, as the operator runs it: urllib and twine see the operator's environment."""
    with mock.patch.dict(os.environ, environment):
        out, err = io.StringIO(), io.StringIO()
        code = restore.main(["--bucket", BUCKET, "--index-url", stub.registry.endpoint(), *extra], bucket=s3,
                            topic=topic, environ=dict(os.environ), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()


def uploads(stub) -> list[dict]:
    return [entry for entry in stub.registry.index_log if entry["method"] == "POST"]


def stored(stub) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in stub.packages.iterdir()}


@pytest.mark.clients
def test_drill_restore_into_the_stand_in_then_pip_installs_the_original_bytes(stub, s3, built, tmp_path):
    for (package, version), files in built.items():
        back_up(s3, package, version, files)
    originals = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for files in built.values() for path in files}
    environment = operator(stub, tmp_path / "operator")

    sns, sqs = boto3.client("sns", region_name=BACKUP_REGION), boto3.client("sqs", region_name=BACKUP_REGION)
    topic_arn = sns.create_topic(Name="pypi-registry-backup-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    code, out, err = restore_into(stub, s3, environment, "--topic-arn", topic_arn, topic=sns)
    assert code == 0, out + err
    assert stored(stub) == originals  # the stand-in's internal holds exactly the backed-up bytes
    # Operators see it: one 'restored' event naming every version.
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["event"] == "restored" and event["uploaded"] == 4
    assert sorted(event["versions"]) == sorted(f"{p}=={v}" for p, v in built)
    assert sorted((entry["path"], entry["status"], entry["auth"]) for entry in uploads(stub)) == [
        ("/pypi/internal/", 200, "valid")] * 4  # twine, one request per file
    assert all(entry["user_agent"].startswith("twine/") for entry in uploads(stub))
    assert "restored: 4 files uploaded, 0 already there; all 4 downloaded back" in out
    downloaded = {entry["path"].rsplit("/", 1)[-1] for entry in stub.registry.index_log
                  if entry["method"] == "GET" and entry["status"] == 200 and "/packages/" in entry["path"]}
    assert downloaded == set(originals)  # each file was read back through the index

    # A consumer installs from the restored index with the real pip.
    reader = stub.environment(tmp_path / "consumer", "AKIDREADER")
    from tests.codeartifact_stub import PRINCIPALS

    token = stub.registry.issue(PRINCIPALS["AKIDREADER"], datetime.now(timezone.utc) + timedelta(hours=1))
    index = stub.registry.index_url().replace("https://", f"https://aws:{token}@")
    target = tmp_path / "installed"
    installed = subprocess.run(
        [PYTHON, "-m", "pip", "install", "--no-input", "--target", str(target), "acme-tools"],
        env={**reader, "PIP_INDEX_URL": index, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"},
        capture_output=True, text=True, timeout=180, check=False, stdin=subprocess.DEVNULL)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    compared = 0
    for wheel in (built[("acme-tools", "0.1.0")][0], built[("acme-core", "1.1.0")][0]):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.endswith("/RECORD"):  # pip rewrites RECORD (it adds INSTALLER and REQUESTED)
                    continue
                assert (target / member).read_bytes() == archive.read(member), member
                compared += 1
    assert compared == 6
    assert "the newer one" in (target / "acme_core" / "__init__.py").read_text()


@pytest.mark.clients
def test_drill_a_second_restore_uploads_nothing(stub, s3, built, tmp_path):
    for (package, version), files in built.items():
        back_up(s3, package, version, files)
    environment = operator(stub, tmp_path / "operator")
    assert restore_into(stub, s3, environment)[0] == 0
    before = stored(stub)
    stub.registry.reset_logs()

    code, out, err = restore_into(stub, s3, environment)
    assert code == 0, out + err
    assert uploads(stub) == []
    assert stored(stub) == before
    assert "restored: 0 files uploaded, 4 already there; all 4 downloaded back" in out
    assert "already in the index: acme-core 1.0.0: acme_core-1.0.0-py3-none-any.whl, acme_core-1.0.0.tar.gz" in out


@pytest.mark.clients
def test_drill_a_tampered_object_is_refused_before_any_upload(stub, s3, built, tmp_path):
    for (package, version), files in built.items():
        back_up(s3, package, version, files)
    key = "packages/acme-core/1.1.0/acme_core-1.1.0-py3-none-any.whl"
    # Object Lock keeps the backed-up version; whoever can put writes a newer one over it.
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"a wheel someone else built")
    assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]) == 2

    code, _, err = restore_into(stub, s3, operator(stub, tmp_path / "operator"))
    assert code == 1
    assert f"{key}: sha256 {hashlib.sha256(b'a wheel someone else built').hexdigest()}" in err
    assert uploads(stub) == [] and stored(stub) == {}
    assert stub.registry.index_log == []  # refused before the index was even asked


@pytest.mark.clients
def test_drill_other_bytes_already_at_the_target_are_refused_not_overwritten(stub, s3, built, tmp_path):
    from tests.codeartifact_stub.distributions import write_wheel

    for (package, version), files in built.items():
        back_up(s3, package, version, files)
    other = write_wheel(stub.packages, "acme-core", "1.1.0", marker="published differently at the standby")
    code, _, err = restore_into(stub, s3, operator(stub, tmp_path / "operator"))
    assert code == 1
    assert "a version cannot be overwritten" in err
    assert f"{other.name}: the target has sha256 {hashlib.sha256(other.read_bytes()).hexdigest()}" in err
    assert uploads(stub) == []


@pytest.mark.clients
@pytest.mark.parametrize("variant", [401, 404])
def test_drill_a_refused_token_fails_naming_the_token(stub, s3, built, tmp_path, variant):
    # CodeArtifact is reported to answer a bad token with 401 or 404: a 404 project page reads as "not
    # there yet", and twine's upload then fails; either way the message says to check the token.
    stub.registry.unauthorized_status = variant
    for (package, version), files in built.items():
        back_up(s3, package, version, files)
    environment = {**operator(stub, tmp_path / "operator"), "TWINE_PASSWORD": "an-expired-token"}
    code, _, err = restore_into(stub, s3, environment)
    assert code == 1
    assert "check the token" in err
    assert stored(stub) == {}
    assert all(entry["auth"] == "unknown" for entry in stub.registry.index_log)


# --- consumers pointed at the standby ----------------------------------------------------------------------


def test_pypi_login_pointed_at_the_standbys_outputs_sends_the_token_to_the_standby_only(tmp_path):
    """docs/backup.md, "Restore and standby": `pypi-login --stack-outputs standby.json` needs no change to the
    helper."""
    from botocore.stub import Stubber

    from pypi_login.cli import main as pypi_login

    standby_host = "acme-012345678901.d.codeartifact.eu-central-1.amazonaws.com"
    outputs = tmp_path / "standby.json"
    outputs.write_text(json.dumps({"domainName": "acme", "domainOwner": "012345678901", "region": "eu-central-1",
                                   "repositoryEndpoint": f"https://{standby_host}/pypi/internal/"}))
    expires = datetime.now(timezone.utc) + timedelta(hours=12)

    def login(named_endpoint: str) -> tuple[int, str, str, list[str]]:
        regions: list[str] = []
        client = boto3.client("codeartifact", region_name="eu-central-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        with Stubber(client) as stubber:
            stubber.add_response("get_authorization_token", {"authorizationToken": "standby-token",
                                                             "expiration": expires})
            stubber.add_response("get_repository_endpoint", {"repositoryEndpoint": named_endpoint})
            out, err = io.StringIO(), io.StringIO()
            code = pypi_login(["--stack-outputs", str(outputs), "--tool", "pip"],
                              client_factory=lambda region, profile: regions.append(region) or client,
                              environ={"XDG_CONFIG_HOME": str(tmp_path / "config")}, home=tmp_path / "home",
                              platform="linux", stdout=out, stderr=err, cwd=tmp_path)
        return code, out.getvalue(), err.getvalue(), regions

    code, out, err, regions = login(f"https://{standby_host}/pypi/internal/")
    assert code == 0, err
    assert regions == ["eu-central-1"]  # the token is asked of the standby's region
    assert f"export PIP_INDEX_URL=https://aws:standby-token@{standby_host}/pypi/internal/simple/\n" in out
    # An answer naming any other host (the primary's, say) still gets no token.
    primary = standby_host.replace("eu-central-1", "eu-west-1")
    code, out, err, _ = login(f"https://{primary}/pypi/internal/")
    assert code == 1 and out == ""
    assert "refusing to send the token to any other host" in err
