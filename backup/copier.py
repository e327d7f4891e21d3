"""Copying one version's files from CodeArtifact into the bucket, and reading the bucket's manifests back.

Each asset is read with GetPackageVersionAsset at the revision ListPackageVersionAssets named (a version that
changes meanwhile fails the read, and the copy is retried), spooled while its SHA-256 is computed, checked
against the SHA-256 CodeArtifact lists, and put with that checksum (S3 verifies it, and Object Lock requires a
checksum on every put). The manifest is written last: a version has a manifest only when every file is in the
bucket.

Rate: CodeArtifact's default quotas (AWS CodeArtifact user guide, "Quotas in AWS CodeArtifact",
https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html) are 50 GetPackageVersionAsset
requests a second, 200 a second for ListPackageVersionAssets, ListPackageVersions and ListPackages, and 800 read
requests a second per account, in each region. Every function here makes at most REQUESTS_PER_SECOND CodeArtifact
requests a second (a token bucket), and the program caps the copy function's concurrency at
MAX_CONCURRENT_COPIES, so all of them together stay under 50 asset reads a second; a throttled request is retried
by botocore (standard retry mode) with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, TypeVar

from botocore.exceptions import ClientError

from backup.config import BackupConfig
from backup.events import FORMAT
from backup.layout import (
    MANIFESTS,
    Asset,
    LayoutError,
    Manifest,
    event_key,
    iso,
    manifest_key,
    package_key,
)

if TYPE_CHECKING:
    from mypy_boto3_codeartifact.client import CodeArtifactClient

REQUESTS_PER_SECOND: Final = 10.0
# The copy function's reserved concurrency: 4 x 10 = 40 asset reads a second at most, under the default 50.
MAX_CONCURRENT_COPIES: Final = 4
CHUNK: Final = 1 << 20
_Page = TypeVar("_Page")
# Assets up to this size stay in memory while hashed; larger ones spill to the function's /tmp.
SPOOL_IN_MEMORY: Final = 64 << 20


class CopyError(RuntimeError):
    """CodeArtifact or the bucket did not give what the copy needs; nothing is recorded as backed up."""


class ObjectStore(Protocol):
    def put_object(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_object(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def list_objects_v2(self, **kwargs: Any) -> Mapping[str, Any]: ...


class RateLimiter:
    """A token bucket: at most `per_second` calls a second on average, bursts of at most `per_second`."""

    def __init__(
        self,
        per_second: float = REQUESTS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self.clock = clock
        self.sleep = sleep
        self.tokens = per_second
        self.last = clock()

    def wait(self) -> None:
        now = self.clock()
        self.tokens = min(self.per_second, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens < 1:
            pause = (1 - self.tokens) / self.per_second
            self.sleep(pause)
            self.last = self.clock()
            self.tokens = 1.0
        self.tokens -= 1


def sha256_base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _precondition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412")


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


@dataclass(frozen=True)
class Listed:
    """What ListPackageVersionAssets says of a version: its revision and each file's name, size and SHA-256."""

    revision: str
    assets: tuple[Asset, ...]


class Copier:
    def __init__(
        self,
        codeartifact: CodeArtifactClient,
        s3: ObjectStore,
        config: BackupConfig,
        limiter: RateLimiter,
        now: Callable[[], datetime],
    ) -> None:
        self.codeartifact = codeartifact
        self.s3 = s3
        self.config = config
        self.limiter = limiter
        self.now = now

    # CodeArtifact ----------------------------------------------------------------------------------------------

    def _paced(self, pages: Iterable[_Page]) -> Iterator[_Page]:
        """The pages of a paginated call, each request paced by the limiter (a page is fetched on demand)."""
        self.limiter.wait()
        for page in pages:
            yield page
            self.limiter.wait()

    def packages(self) -> list[str]:
        pages = self.codeartifact.get_paginator("list_packages").paginate(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            repository=self.config.repository,
            format=FORMAT,
        )
        return [
            entry["package"] for page in self._paced(pages) for entry in page.get("packages", []) if "package" in entry
        ]

    def versions(self, package: str) -> Iterator[Mapping[str, Any]]:
        """Every version of the package, whatever its status (ListPackageVersions lists all when not filtered)."""
        pages = self.codeartifact.get_paginator("list_package_versions").paginate(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            repository=self.config.repository,
            format=FORMAT,
            package=package,
        )
        for page in self._paced(pages):
            yield from page.get("versions", [])

    def published_time(self, package: str, version: str) -> datetime | None:
        self.limiter.wait()
        described = self.codeartifact.describe_package_version(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            repository=self.config.repository,
            format=FORMAT,
            package=package,
            packageVersion=version,
        )
        return described["packageVersion"].get("publishedTime")

    def listed(self, package: str, version: str) -> Listed:
        assets: list[Asset] = []
        revision: str | None = None
        pages = self.codeartifact.get_paginator("list_package_version_assets").paginate(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            repository=self.config.repository,
            format=FORMAT,
            package=package,
            packageVersion=version,
        )
        for page in self._paced(pages):
            revision = page.get("versionRevision", revision)
            for entry in page.get("assets", []):
                digest, size = entry.get("hashes", {}).get("SHA-256"), entry.get("size")
                if not digest or size is None:
                    raise CopyError(f"{package} {version}: CodeArtifact lists no SHA-256 or size for {entry['name']}")
                assets.append(Asset(entry["name"], digest.lower(), size))
        if not revision:
            raise CopyError(f"{package} {version}: ListPackageVersionAssets named no revision")
        if not assets:
            raise CopyError(f"{package} {version}: CodeArtifact lists no files")
        return Listed(revision, tuple(assets))

    # The bucket ------------------------------------------------------------------------------------------------

    def claim_event(self, event_id: str) -> bool:
        """Put the event's marker; False when it is there already (the event was delivered before)."""
        try:
            self._put(event_key(event_id), b"", IfNoneMatch="*")
        except ClientError as error:
            if _precondition_failed(error):
                return False
            raise
        return True

    def manifest(self, package: str, version: str) -> Manifest | None:
        key = manifest_key(package, version)
        try:
            body = self.s3.get_object(Bucket=self.config.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        return self._read_manifest(key, body)

    def manifests(self) -> dict[tuple[str, str], Manifest]:
        """Every manifest in the bucket, by (package, version)."""
        found: dict[tuple[str, str], Manifest] = {}
        token: str | None = None
        while True:
            page = self.s3.list_objects_v2(
                Bucket=self.config.bucket, Prefix=MANIFESTS, **({"ContinuationToken": token} if token else {})
            )
            for entry in page.get("Contents", []):
                key = entry["Key"]
                body = self.s3.get_object(Bucket=self.config.bucket, Key=key)["Body"].read()
                manifest = self._read_manifest(key, body)
                found[(manifest.package, manifest.version)] = manifest
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found

    def _read_manifest(self, key: str, body: bytes) -> Manifest:
        try:
            manifest = Manifest.from_dict(json.loads(body))
        except (ValueError, LayoutError) as error:
            raise CopyError(f"s3://{self.config.bucket}/{key} is not a manifest: {error}") from None
        if manifest_key(manifest.package, manifest.version) != key:
            raise CopyError(f"s3://{self.config.bucket}/{key} names {manifest.package} {manifest.version}")
        return manifest

    def put_json(self, key: str, document: Mapping[str, object]) -> None:
        self._put(key, json.dumps(document, sort_keys=True, indent=1).encode(), ContentType="application/json")

    def _put(self, key: str, body: bytes | IO[bytes], digest: str | None = None, **extra: Any) -> None:
        if digest is None:
            if not isinstance(body, bytes):
                raise TypeError("a streamed body needs its digest")
            digest = hashlib.sha256(body).hexdigest()
        # ChecksumAlgorithm sends x-amz-sdk-checksum-algorithm, which a put into an Object Lock bucket needs.
        self.s3.put_object(
            Bucket=self.config.bucket,
            Key=key,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=sha256_base64(digest),
            **extra,
        )

    # The copy --------------------------------------------------------------------------------------------------

    def copy(self, package: str, version: str, event_id: str | None, previous: Manifest | None,
             sequence_number: int | None = None) -> Manifest | None:
        """Copy every file of the version and write its manifest; None when the manifest already covers the
        version's current revision and files (nothing written)."""
        listed = self.listed(package, version)
        if previous is not None and previous.revision == listed.revision and previous.assets == listed.assets:
            return None
        held = set() if previous is None else set(previous.assets)
        copied: list[Asset] = []
        for asset in listed.assets:
            key = package_key(package, version, asset.name)
            if asset not in held:  # the same name, size and SHA-256 were put before, under Object Lock
                self._copy_asset(package, version, listed.revision, asset, key)
            copied.append(asset)
        manifest = Manifest(
            package=package,
            version=version,
            revision=listed.revision,
            assets=tuple(copied),
            event_deduplication_id=event_id,
            copied_at=iso(self.now()),
            sequence_number=sequence_number,
        )
        self.put_json(manifest_key(package, version), manifest.as_dict())
        return manifest

    def _copy_asset(self, package: str, version: str, revision: str, asset: Asset, key: str) -> None:
        self.limiter.wait()
        answer = self.codeartifact.get_package_version_asset(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            repository=self.config.repository,
            format=FORMAT,
            package=package,
            packageVersion=version,
            asset=asset.name,
            packageVersionRevision=revision,
        )
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            stream = answer["asset"]
            try:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    spool.write(chunk)
            finally:
                stream.close()
            if digest.hexdigest() != asset.sha256 or size != asset.size:
                raise CopyError(
                    f"{package} {version} {asset.name}: read {size} bytes with SHA-256 {digest.hexdigest()}, "
                    f"CodeArtifact lists {asset.size} bytes with SHA-256 {asset.sha256}"
                )
            spool.seek(0)
            self._put(key, spool, digest=asset.sha256)
