"""The backup bucket as the restore reads it (`python -m backup.restore`): every manifest checked against the
layout the backup writes, every file staged and checked against its manifest before anything is uploaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from backup.layout import MANIFESTS, Asset, LayoutError, package_key
from backup.layout import Manifest as Recorded
from backup.restore_errors import RestoreError, UsageError

# A distribution's file name: one path segment, no dot-dot, what wheel and sdist names are made of.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")


class BackupBucket(Protocol):
    """The S3 calls the restore makes (boto3's S3 client)."""

    def get_paginator(self, operation_name: str) -> object: ...

    def get_object(self, **kwargs: object) -> object: ...


@dataclass(frozen=True)
class Manifest:
    """A version to restore: its manifest's key and what the manifest lists (read by backup/layout.py, the one
    reader of the format the backup writes)."""

    key: str
    package: str
    version: str
    assets: tuple[Asset, ...]

    def object_key(self, asset: Asset) -> str:
        return package_key(self.package, self.version, asset.name)


def parse_manifest(key: str, body: bytes) -> Manifest:
    """One manifest, checked against its key and the bucket layout; RestoreError naming the key otherwise."""
    segments = key.split("/")
    if len(segments) != 3 or f"{segments[0]}/" != MANIFESTS or not segments[2].endswith(".json"):
        raise RestoreError(f"s3 object {key} is not manifests/NAME/VERSION.json: refusing a bucket this restore "
                           "does not understand")
    name, version = segments[1], segments[2][: -len(".json")]
    try:
        recorded = Recorded.from_dict(json.loads(body))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RestoreError(f"manifest {key} is not JSON ({error})") from None
    except LayoutError as error:
        raise RestoreError(f"manifest {key} is not understood: {error}") from None
    if (recorded.package, recorded.version) != (name, version):
        raise RestoreError(f"manifest {key} names {recorded.package!r} {recorded.version!r}, "
                           f"not the {name!r} {version!r} of its key")
    if not recorded.assets:
        raise RestoreError(f"manifest {key} lists no assets")
    for asset in recorded.assets:
        if not FILE_NAME.fullmatch(asset.name) or ".." in asset.name:
            raise RestoreError(f"manifest {key}: asset name {asset.name!r} is not a distribution's file name")
        if asset.size < 0:
            raise RestoreError(f"manifest {key}: {asset.name} has no size (a whole number of bytes): {asset.size!r}")
    if len({asset.name for asset in recorded.assets}) != len(recorded.assets):
        raise RestoreError(f"manifest {key} lists a file twice")
    return Manifest(key=key, package=name, version=version, assets=recorded.assets)


def _client_error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        details = response.get("Error")
        if isinstance(details, Mapping):
            return str(details.get("Code", ""))
    return ""


def _object_body(bucket: BackupBucket, name: str, key: str) -> bytes:
    answer = bucket.get_object(Bucket=name, Key=key)
    stream = answer.get("Body") if isinstance(answer, Mapping) else None
    read = getattr(stream, "read", None)
    if not callable(read):
        raise RestoreError(f"s3://{name}/{key}: the answer has no body")
    data = read()
    if not isinstance(data, bytes):
        raise RestoreError(f"s3://{name}/{key}: the body is not bytes")
    return data


def _manifest_keys(bucket: BackupBucket, name: str, prefix: str) -> Iterator[str]:
    paginator = bucket.get_paginator("list_objects_v2")
    paginate = getattr(paginator, "paginate", None)
    if not callable(paginate):
        raise RestoreError("boto3's list_objects_v2 paginator has no paginate()")
    for page in paginate(Bucket=name, Prefix=MANIFESTS + prefix):
        contents = page.get("Contents", []) if isinstance(page, Mapping) else None
        if not isinstance(contents, list):
            raise RestoreError(f"s3://{name}: a ListObjectsV2 page without a list of contents")
        for entry in contents:
            key = entry.get("Key") if isinstance(entry, Mapping) else None
            if not isinstance(key, str):
                raise RestoreError(f"s3://{name}: a listed object without a key: {entry!r}")
            yield key


def read_manifests(bucket: BackupBucket, name: str, prefix: str) -> list[Manifest]:
    """Every manifest under manifests/PREFIX, sorted by package and version; UsageError when there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        manifests = [parse_manifest(key, _object_body(bucket, name, key))
                     for key in _manifest_keys(bucket, name, prefix)]
    except ClientError as error:
        code = _client_error_code(error)
        if code == "NoSuchBucket":
            raise UsageError(f"bucket {name!r} does not exist (check --bucket and the AWS account)") from None
        raise RestoreError(f"cannot read s3://{name}: {error}") from None
    except BotoCoreError as error:
        raise RestoreError(f"cannot read s3://{name}: {error}") from None
    if not manifests:
        where = f"manifests/{prefix}" if prefix else "manifests/"
        raise UsageError(f"bucket {name!r} holds no manifest under {where}: nothing to restore "
                         "(is it the backup bucket?)")
    return sorted(manifests, key=lambda manifest: (manifest.package, manifest.version))


def stage(bucket: BackupBucket, name: str, manifests: Sequence[Manifest], directory: Path) -> dict[str, Path]:
    """Download every file to `directory`, each checked against its manifest; RestoreError naming every mismatch.

    Nothing is uploaded until every file of the run has passed: a bucket that holds one altered file is
    not trusted for the others either.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    staged: dict[str, Path] = {}
    problems = []
    for manifest in manifests:
        version_directory = directory / manifest.package / manifest.version
        version_directory.mkdir(parents=True, exist_ok=True)
        for asset in manifest.assets:
            key = manifest.object_key(asset)
            try:
                data = _object_body(bucket, name, key)
            except (ClientError, BotoCoreError) as error:
                problems.append(f"{key}: cannot read it ({error})")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != asset.sha256:
                problems.append(f"{key}: sha256 {digest}, the manifest {manifest.key} says {asset.sha256}")
                continue
            if len(data) != asset.size:
                problems.append(f"{key}: {len(data)} bytes, the manifest {manifest.key} says {asset.size}")
                continue
            path = version_directory / asset.name
            path.write_bytes(data)
            staged[key] = path
    if problems:
        raise RestoreError("refused before any upload, the bucket's files do not match their manifests:\n  "
                           + "\n  ".join(problems))
    return staged
