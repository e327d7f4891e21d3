"""The publish workflow's upload step with the real twine, against a local CodeArtifact stand-in
(tests/codeartifact_stub).

Every test starts its own stand-in on 127.0.0.1 and stops it (the fixture `stub`, tests/pypi_login/conftest.py);
the machine the clients run on is tests/pypi_login/clients_support.py.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.codeartifact_stub import Stub
from tests.codeartifact_stub.distributions import write_sdist, write_wheel
from tests.pypi_login.clients_support import PUBLIC, PYTHON, ROOT, STUB_DIR, VARIANTS, WALL, Machine, record

pytestmark = pytest.mark.clients


# --- publishing: the workflow's upload step with the real twine --------------------------------------


WORKFLOW = ROOT / ".github" / "workflows" / "publish-python-package.yml"


def upload_step() -> str:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (step,) = [step for step in document["jobs"]["publish"]["steps"] if step.get("id") == "upload"]
    return step["run"]


class Publisher:
    """The publish job's upload step as GitHub runs it: bash, the real twine, and `aws` made of boto3."""

    def __init__(self, stub: Stub, root: Path, access_key: str = "AKIDPUBLISHER"):
        self.stub = stub
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        aws = self.bin / "aws"
        aws.write_text(f'#!/bin/sh\nexec {shlex.quote(PYTHON)} {shlex.quote(str(STUB_DIR / "aws_cli.py"))} "$@"\n')
        aws.chmod(0o755)
        self.work = root / "work"
        self.dist = self.work / "dist"
        self.dist.mkdir(parents=True)
        self.summary = root / "summary.md"
        self.script = root / "upload.sh"
        self.script.write_text(upload_step())
        self.env = stub.environment(root / "runner", access_key)
        self.env.update({
            "PATH": f"{self.bin}{os.pathsep}{self.env['PATH']}",  # twine is the venv's own, the real one
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CODEARTIFACT_DOMAIN": "acme", "CODEARTIFACT_DOMAIN_OWNER": stub.registry.owner,
            "CODEARTIFACT_REPOSITORY": "internal", "CODEARTIFACT_REGION": stub.registry.region,
            "GITHUB_STEP_SUMMARY": str(self.summary),
        })

    def build(self, marker: str = "") -> list[Path]:
        return [write_wheel(self.dist, "acme-tools", "1.0.0", [PUBLIC], marker=marker),
                write_sdist(self.dist, "acme-tools", "1.0.0", [PUBLIC], marker=marker)]

    def run(self, label: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        # GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(self.script)],
                                cwd=self.work, env=self.env, capture_output=True, text=True, timeout=180, check=False,
                                stdin=subprocess.DEVNULL)
        WALL[label] = time.monotonic() - started
        return result

    def uploads(self) -> list[dict]:
        return [entry for entry in self.stub.registry.index_log if entry["method"] == "POST"]


def published(stub: Stub) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in stub.packages.glob("acme_tools*")}


def test_publish_step_uploads_then_skips_an_identical_rerun_then_refuses_a_changed_file(stub, tmp_path):
    publisher = Publisher(stub, tmp_path / "publisher")
    files = publisher.build()

    first = publisher.run("twine publish")
    record("twine", "publish step: new version", "uploaded" if first.returncode == 0 else "fails")
    assert first.returncode == 0, first.stdout + first.stderr
    built = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
    assert published(stub) == built  # byte for byte, through the front into pypiserver
    assert [(entry["path"], entry["status"], entry["auth"]) for entry in publisher.uploads()] == [
        ("/pypi/internal/", 200, "valid")] * 2  # twine uploads one file per request
    assert all(entry["user_agent"].startswith("twine/") for entry in publisher.uploads())
    token_calls = [call for call in stub.registry.api_log if call["operation"] == "GetAuthorizationToken"]
    assert [call["params"]["durationSeconds"] for call in token_calls] == ["900"]
    assert "published `acme_tools-1.0.0-py3-none-any.whl`" in publisher.summary.read_text()

    stub.registry.reset_logs()
    again = publisher.run("twine publish re-run")
    record("twine", "publish step: identical re-run", "skipped" if again.returncode == 0 else "fails")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already published with this exact file, skipping") == 2
    assert "Nothing to upload" in again.stdout
    assert publisher.uploads() == []
    assert [call["operation"] for call in stub.registry.api_log] == [
        "DescribePackageVersion", "ListPackageVersionAssets"] * 2

    stub.registry.reset_logs()
    publisher.build(marker="rebuilt differently")
    changed = publisher.run("twine publish changed file")
    record("twine", "publish step: changed file", "refused" if changed.returncode == 1 else "fails")
    assert changed.returncode == 1
    assert "::error::acme-tools 1.0.0 is already published with a different acme_tools-1.0.0-py3-none-any.whl" \
        in changed.stdout
    assert publisher.uploads() == []
    assert published(stub) == built  # nothing overwritten


def test_publish_step_with_a_role_that_may_not_publish_fails_in_twine(stub, tmp_path):
    # The reader's token is valid but may not publish: CodeArtifact's 403 reaches twine.
    publisher = Publisher(stub, tmp_path / "publisher", access_key="AKIDREADER")
    publisher.build()
    result = publisher.run("twine publish denied")
    record("twine", "publish step: role may not publish", "refused" if result.returncode == 1 else "fails")
    assert result.returncode == 1
    assert "::error::twine upload failed." in result.stdout
    assert "403 Forbidden" in result.stdout + result.stderr
    assert published(stub) == {}


def test_twine_asks_keyrings_codeartifact_for_the_token(stub, tmp_path):
    # A developer's manual upload: TWINE_USERNAME=aws and no password; twine asks the keyring.
    machine = Machine(stub, tmp_path / "machine", access_key="AKIDPUBLISHER", keyring=True)
    files = [write_wheel(machine.root / "dist", "acme-tools", "1.0.0", [PUBLIC])]
    env = {"TWINE_USERNAME": "aws", "TWINE_REPOSITORY_URL": stub.registry.endpoint(), "TWINE_NON_INTERACTIVE": "1"}
    result = machine.run(["twine", "upload", "--disable-progress-bar", *map(str, files)], env=env,
                         label="twine keyring")
    record("twine", "keyring upload", "uploaded" if result.returncode == 0 else "fails")
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(published(stub)) == [files[0].name]


@pytest.mark.parametrize("variant", VARIANTS)
def test_twine_with_a_refused_token_names_the_status(stub, tmp_path, variant):
    stub.registry.unauthorized_status = variant
    machine = Machine(stub, tmp_path / "machine", access_key="AKIDPUBLISHER")
    wheel = write_wheel(machine.root / "dist", "acme-tools", "1.0.0")
    env = {"TWINE_USERNAME": "aws", "TWINE_PASSWORD": "an-expired-token",
           "TWINE_REPOSITORY_URL": stub.registry.endpoint()}
    result = machine.run(["twine", "upload", "--non-interactive", "--disable-progress-bar", str(wheel)], env=env,
                         label=f"twine refused {variant}")
    said = {401: "HTTPError: 401 Unauthorized", 404: "HTTPError: 404 Not Found"}[variant]
    record("twine", f"expired token ({variant})", f'fails: "{said}"' if said in result.stdout + result.stderr
           else f"fails (exit {result.returncode})")
    assert result.returncode == 1
    assert said in result.stdout + result.stderr
    assert published(stub) == {}
