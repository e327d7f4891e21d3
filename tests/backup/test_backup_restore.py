"""`python -m backup.restore`: the backup bucket replayed into a repository with twine, every file verified.

The drill (marker `clients`): distributions built as tests/pypi_login/test_clients_real.py builds them, backed up
into a moto S3 bucket with versioning and Object Lock in the layout the backup writes, restored with
the real twine over HTTPS into the CodeArtifact stand-in's `internal`, then installed with the real pip
from the stand-in: the installed files are the original bytes. A tampered object is refused before
anything is uploaded, and a second run uploads nothing. The other tests are quick: the input the
command refuses (exit 2), the manifests it does not understand, and the project pages it reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from backup import restore
from backup.layout import Asset
from pypi_login import config as login_config

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BUCKET = "acme-pypi-backup-eu-central-1"
BACKUP_REGION = "eu-central-1"
STANDARD = "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/"


# --- the backup bucket, as the backup writes it ---------------------------------------------------


@pytest.fixture
def s3() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3", region_name=BACKUP_REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": BACKUP_REGION},
                             ObjectLockEnabledForBucket=True)
        client.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
        yield client


def back_up(s3, package: str, version: str, files: list[Path], **extra: object) -> dict:
    """The asset bytes and the manifest, at the keys of the shared layout."""
    assets = []
    for path in files:
        data = path.read_bytes()
        s3.put_object(Bucket=BUCKET, Key=f"packages/{package}/{version}/{path.name}", Body=data)
        assets.append({"name": path.name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    manifest = {"package": package, "version": version, "revision": f"rev-{package}-{version}", "assets": assets,
                "eventDeduplicationId": None, "copiedAt": "2026-07-01T00:00:00Z", "sequenceNumber": None, **extra}
    s3.put_object(Bucket=BUCKET, Key=f"manifests/{package}/{version}.json", Body=json.dumps(manifest).encode())
    return manifest


def run(argv: list[str], s3=None, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = restore.main(argv, bucket=s3, environ=environ if environ is not None else {}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


class NoBucket:
    """A bucket client that fails the test if the restore reaches S3 at all."""

    def get_paginator(self, operation_name: str) -> object:
        raise AssertionError("the restore read the bucket after bad input")

    def get_object(self, **kwargs: object) -> object:
        raise AssertionError("the restore read the bucket after bad input")


WITH_TOKEN = {"TWINE_PASSWORD": "a-token", "PATH": str(Path(PYTHON).parent)}


# --- the input it refuses -------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    STANDARD,
    STANDARD + "simple/",
    "https://vpce-0a1b2c3d4e5f-abcdefgh.d.codeartifact.eu-west-1.vpce.amazonaws.com/pypi/d/acme-012345678901/internal/",
])
def test_a_codeartifact_endpoint_is_the_target_and_twine_gets_the_repository_url(url):
    target = restore.parse_index_url(url)
    assert target.repository_url == url.removesuffix("simple/")
    assert target.simple_url == target.repository_url + "simple/"
    assert target.repository == "internal" and target.region == "eu-west-1"


@pytest.mark.parametrize("url", [
    "http://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",  # not https
    "https://aws:token@acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",  # credentials
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com:8443/pypi/internal/",  # a port
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com.example.com/pypi/internal/",  # another host
    "https://pypi.org/pypi/internal/",
    "https://acme-12345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",  # 11-digit owner
    "https://acme-012345678901.d.codeartifact.cn-north-1.amazonaws.com/pypi/internal/",  # no CodeArtifact there
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/npm/internal/",  # not pypi
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/simple/acme-core/",
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/?x=1",
    "https://vpce-0a1b2c3d4e5f-abcdefgh.d.codeartifact.eu-west-1.vpce.amazonaws.com/pypi/internal/",  # no /d/
    "acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",
])
def test_anything_but_a_codeartifact_endpoint_exits_2_before_the_bucket_is_read(url):
    code, out, err = run(["--bucket", BUCKET, "--index-url", url], NoBucket(), WITH_TOKEN)
    assert code == 2
    assert err.startswith("error: ") and "nothing was uploaded" in err
    assert out == ""


def test_the_names_it_accepts_follow_the_login_helpers_rules():
    assert login_config.ACCOUNT_ID.pattern == restore.ACCOUNT_ID
    assert login_config.DOMAIN_NAME.pattern == restore.DOMAIN_NAME
    assert login_config.REPOSITORY_NAME.pattern == restore.REPOSITORY_NAME
    assert restore.VPCE_HOST.pattern == login_config.ENDPOINT_HOST.pattern


@pytest.mark.parametrize(("argv", "environ", "said"), [
    (["--bucket", "Not_A_Bucket"], WITH_TOKEN, "--bucket must be an S3 bucket name"),
    (["--bucket", BUCKET, "--prefix", "../x"], WITH_TOKEN, "--prefix must be a package name"),
    (["--bucket", BUCKET], {"PATH": WITH_TOKEN["PATH"]}, "no token: set TWINE_PASSWORD"),
    (["--bucket", BUCKET], {**WITH_TOKEN, "TWINE_USERNAME": "someone"}, "TWINE_USERNAME must be 'aws'"),
    (["--bucket", BUCKET], {"TWINE_PASSWORD": "a-token", "PATH": "/nonexistent"}, "twine is not installed"),
    (["--bucket", BUCKET, "--topic-arn", "arn:aws:sqs:eu-west-1:111122223333:not-a-topic"], WITH_TOKEN,
     "--topic-arn must be an SNS topic ARN"),
])
def test_bad_input_exits_2_naming_it(argv, environ, said):
    code, _, err = run([*argv, "--index-url", STANDARD], NoBucket(), environ)
    assert code == 2
    assert said in err


def test_an_empty_bucket_exits_2(s3):
    s3.put_object(Bucket=BUCKET, Key="events/some-dedup-id", Body=b"")  # no manifest
    code, _, err = run(["--bucket", BUCKET, "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 2
    assert f"bucket {BUCKET!r} holds no manifest under manifests/" in err


def test_a_missing_bucket_exits_2(s3):
    code, _, err = run(["--bucket", "no-such-backup-bucket", "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 2
    assert "bucket 'no-such-backup-bucket' does not exist" in err


def test_a_prefix_that_matches_nothing_exits_2(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0")])
    code, _, err = run(["--bucket", BUCKET, "--index-url", STANDARD, "--prefix", "acme-tools"], s3, WITH_TOKEN)
    assert code == 2
    assert "holds no manifest under manifests/acme-tools" in err


def test_the_command_runs_as_a_module_and_its_help_says_twine_is_needed():
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    shown = subprocess.run([PYTHON, "-m", "backup.restore", "--help"], capture_output=True, text=True, cwd=ROOT,
                           env=environment, check=False)
    assert shown.returncode == 0
    assert "python -m pip install boto3 twine" in shown.stdout
    no_bucket = subprocess.run([PYTHON, "-m", "backup.restore", "--index-url", STANDARD], capture_output=True,
                               text=True, cwd=ROOT, env=environment, check=False)
    assert no_bucket.returncode == 2
    assert "the following arguments are required: --bucket" in no_bucket.stderr


def test_a_dry_run_prints_the_plan_without_a_token_or_twine(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_sdist, write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0"),
                                       write_sdist(tmp_path, "acme-core", "1.0.0")])
    back_up(s3, "acme-tools", "0.1.0", [write_wheel(tmp_path, "acme-tools", "0.1.0")])
    code, out, _ = run(["--bucket", BUCKET, "--index-url", STANDARD, "--dry-run"], s3, {"PATH": "/nonexistent"})
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"s3://{BUCKET}: 2 versions, 3 files -> {STANDARD}"
    assert lines[1].startswith("would restore acme-core 1.0.0: acme_core-1.0.0-py3-none-any.whl (")
    assert "acme_core-1.0.0.tar.gz" in lines[1]
    assert lines[2].startswith("would restore acme-tools 0.1.0: acme_tools-0.1.0-py3-none-any.whl (")
    assert "nothing was downloaded or uploaded" in lines[3]


# --- the manifests it does not understand ------------------------------------------------------------


GOOD_ASSET = {"name": "acme_core-1.0.0-py3-none-any.whl", "sha256": "a" * 64, "size": 10}


def recorded(**fields: object) -> dict:
    """A manifest as the backup writes it (backup/layout.py), with `fields` changed."""
    return {"package": "acme-core", "version": "1.0.0", "revision": "rev-1", "assets": [GOOD_ASSET],
            "eventDeduplicationId": None, "copiedAt": "2026-07-01T00:00:00Z", "sequenceNumber": None, **fields}


KEY = "manifests/acme-core/1.0.0.json"


@pytest.mark.parametrize(("key", "manifest", "said"), [
    (KEY, recorded(), None),
    (KEY, recorded(version="1.0.1"), "not the 'acme-core' '1.0.0' of its key"),
    (KEY, recorded(status="Deleted"), "is not understood: not a manifest: expected exactly the keys"),
    (KEY, recorded(assets=[]), "lists no assets"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "name": "../../etc/passwd"}]), "is not a distribution's file name"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "sha256": "A" * 64}]), "is not understood: not a manifest: asset"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "size": True}]), "is not understood: not a manifest: asset"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "size": -1}]), "has no size"),
    (KEY, recorded(assets=[GOOD_ASSET, GOOD_ASSET]), "lists a file twice"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "md5": "x"}]), "is not understood: not a manifest: asset"),
    ("manifests/acme-core/old/1.0.0.json", {}, "is not manifests/NAME/VERSION.json"),
    ("manifests/acme-core/1.0.0.txt", {}, "is not manifests/NAME/VERSION.json"),
])
def test_a_manifest_is_read_only_when_it_is_understood(key, manifest, said):
    if said is None:
        parsed = restore.parse_manifest(key, json.dumps(manifest).encode())
        assert parsed.assets == (Asset(GOOD_ASSET["name"], "a" * 64, 10),)
        return
    with pytest.raises(restore.RestoreError) as raised:
        restore.parse_manifest(key, json.dumps(manifest).encode())
    assert key in str(raised.value) and said in str(raised.value)


def test_a_bucket_with_a_manifest_it_does_not_understand_fails_before_any_download(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0")])
    back_up(s3, "acme-tools", "0.1.0", [write_wheel(tmp_path, "acme-tools", "0.1.0")], deleted=True)
    code, out, err = run(["--bucket", BUCKET, "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 1
    assert "manifests/acme-tools/0.1.0.json is not understood: not a manifest: expected exactly the keys" in err
    assert out == ""


def test_a_tampered_file_is_refused_before_the_index_is_asked(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0")])
    back_up(s3, "acme-tools", "0.1.0", [write_wheel(tmp_path, "acme-tools", "0.1.0")])
    key = "packages/acme-tools/0.1.0/acme_tools-0.1.0-py3-none-any.whl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"not the wheel that was backed up")
    # No stand-in runs: reaching the index would fail the test with another message.
    code, _, err = run(["--bucket", BUCKET, "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 1
    assert "refused before any upload" in err
    assert f"{key}: sha256 {hashlib.sha256(b'not the wheel that was backed up').hexdigest()}" in err
    assert "acme_core" not in err  # only the altered file is named
    assert "0 files were uploaded" in err


# --- the project pages it reads ------------------------------------------------------------------------


def test_project_pages_in_html_and_json_give_each_files_url_and_sha256():
    page = "https://host/pypi/internal/simple/acme-core/"
    html = (b'<html><body><a href="../../packages/acme_core-1.0.0-py3-none-any.whl#sha256=' + b"b" * 64 + b'">x</a>'
            b'<a href="1.0.0/acme_core-1.0.0.tar.gz">y</a></body></html>')
    listed = restore.parse_project_page(page, "text/html; charset=utf-8", html)
    assert listed == {
        "acme_core-1.0.0-py3-none-any.whl": restore.Listed(
            "https://host/pypi/internal/packages/acme_core-1.0.0-py3-none-any.whl", "b" * 64),
        "acme_core-1.0.0.tar.gz": restore.Listed(page + "1.0.0/acme_core-1.0.0.tar.gz", None),
    }
    document = {"meta": {"api-version": "1.1"}, "name": "acme-core", "files": [
        {"filename": "acme_core-1.0.0.tar.gz", "url": "1.0.0/acme_core-1.0.0.tar.gz", "hashes": {"sha256": "c" * 64}}]}
    assert restore.parse_project_page(page, "application/vnd.pypi.simple.v1+json", json.dumps(document).encode()) == {
        "acme_core-1.0.0.tar.gz": restore.Listed(page + "1.0.0/acme_core-1.0.0.tar.gz", "c" * 64)}


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


def test_verification_names_each_file_the_index_serves_with_other_bytes_or_not_at_all():
    target = restore.parse_index_url(STANDARD)
    wheel, sdist = b"the backed-up wheel", b"the backed-up sdist"
    manifest = restore.Manifest("manifests/acme-core/1.0.0.json", "acme-core", "1.0.0", (
        restore.Asset("acme_core-1.0.0-py3-none-any.whl", hashlib.sha256(wheel).hexdigest(), len(wheel)),
        restore.Asset("acme_core-1.0.0.tar.gz", hashlib.sha256(sdist).hexdigest(), len(sdist))))
    page = target.simple_url + "acme-core/"
    served = {page: b'<a href="acme_core-1.0.0-py3-none-any.whl">w</a>',
              page + "acme_core-1.0.0-py3-none-any.whl": wheel}
    asked: list[str] = []

    def fetch(url: str, accept: str | None) -> restore.Response:
        asked.append(url)
        return restore.Response(200, "text/html", served[url]) if url in served else restore.Response(404, "", b"")

    with pytest.raises(restore.RestoreError) as missing:
        restore.verify([manifest], restore.Index(target, "token", fetch))
    assert str(missing.value).endswith("acme_core-1.0.0.tar.gz: not in the index after the restore")
    assert asked == [page, page + "acme_core-1.0.0-py3-none-any.whl"]  # the listed file was downloaded

    served[page] += b'<a href="acme_core-1.0.0.tar.gz">s</a>'
    served[page + "acme_core-1.0.0.tar.gz"] = sdist
    restore.verify([manifest], restore.Index(target, "token", fetch))  # both served byte-identical
    served[page + "acme_core-1.0.0.tar.gz"] = b"other bytes"
    with pytest.raises(restore.RestoreError) as differs:
        restore.verify([manifest], restore.Index(target, "token", fetch))
    other = hashlib.sha256(b"other bytes").hexdigest()
    assert f"acme_core-1.0.0.tar.gz: downloaded sha256 {other}" in str(differs.value)
    assert "acme_core-1.0.0-py3-none-any.whl" not in str(differs.value)


def test_the_readmes_restore_commands_parse():
    import shlex

    readme = (ROOT / "docs" / "backup.md").read_text(encoding="utf-8")
    section = readme.split("## Restore and standby\n", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("#", 1)[0] for line in section.splitlines() if line.startswith("python -m backup.restore")]
    assert len(commands) == 3
    for command in commands:
        args = restore.build_parser().parse_args(shlex.split(command)[3:])
        assert args.bucket and args.index_url
    assert "python -m pip install boto3 twine" in " ".join(section.split())  # as --help says
