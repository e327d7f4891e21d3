"""What the restore's tests share (tests/backup/test_backup_restore*.py): the backup bucket filled as the backup
writes it, and the command run in-process. The bucket itself is the `s3` fixture (tests/backup/conftest.py)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

from backup import restore

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BUCKET = "acme-pypi-backup-eu-central-1"
BACKUP_REGION = "eu-central-1"
STANDARD = "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/"


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
