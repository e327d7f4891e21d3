"""The state the fake API and the front share: who may do what, the tokens issued, the packages.

Packages are whatever pypiserver holds in its directory, so an upload through the front is what
DescribePackageVersion and ListPackageVersionAssets see next.

With `airlock=True` the domain also has the airlock's repositories (issue #25): `pypi-store`, whose
external connection `public:pypi` reaches `public` (the stand-in for pypi.org: files and their
upload times), `pypi-vetted`, holding only what CopyPackageVersions put there, and `internal`, whose
own packages are still pypiserver's directory and whose upstream is `pypi-vetted`. What each
repository holds (`held`), with a status per version, follows the CodeArtifact User Guide:
- a version fetched through a repository with an external connection is retained there, and a
  version fetched from an upstream is retained in the most-downstream repository only
  ("Package retention from upstream repositories", repo-upstream-behavior.html);
- Published versions are listed and downloadable; Unlisted ones downloadable but not listed;
  Archived ones neither: "The package version's assets can no longer be downloaded. The package
  version will not be included in the list of versions returned to package managers"
  (packages-overview.html#package-version-status).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.version import Version

from tests.codeartifact_stub.distributions import normalise, write_sdist, write_wheel

STORE, VETTED, INTERNAL = "pypi-store", "pypi-vetted", "internal"
AIRLOCK_REPOSITORIES = (STORE, VETTED, INTERNAL)
# Statuses a package manager may download (Unlisted: downloadable, not listed) and that are listed.
DOWNLOADABLE = ("Published", "Unlisted")
LISTED = ("Published",)


class StubError(Exception):
    """An AWS error response: code (the model's error shape), message, optional HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Principal:
    """Who an access key ID stands for, and what its policies allow."""

    name: str
    may_get_token: bool = True  # codeartifact:GetAuthorizationToken + sts:GetServiceBearerToken
    may_read: bool = True  # codeartifact:ReadFromRepository (and the read-only Describe/List)
    may_publish: bool = False  # codeartifact:PublishPackageVersion
    may_read_store: bool = False  # ReadFromRepository on pypi-store too (airlock: the promoter only)
    may_copy: tuple[tuple[str, str], ...] = ()  # CopyPackageVersions (source, destination) pairs
    may_update_status: tuple[str, ...] = ()  # UpdatePackageVersionsStatus on these repositories
    session_seconds: int = 3600  # a token with durationSeconds=0 lasts this long; <= 0: the session has ended

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::012345678901:assumed-role/{self.name}/session"


# Access key IDs the tests use (secret keys are not checked).
PRINCIPALS = {
    "AKIDREADER": Principal("pypi-reader"),
    "AKIDPUBLISHER": Principal("gh-publish-acme-core", may_publish=True),
    "AKIDNOREAD": Principal("no-repository-read", may_read=False),
    "AKIDNOTOKEN": Principal("no-token-permission", may_get_token=False),
    "AKIDENDED": Principal("ended-session", session_seconds=0),
    # The airlock's promoter and pull-back: read the store, copy store -> vetted, archive anywhere.
    "AKIDPROMOTER": Principal("airlock-promoter", may_read_store=True, may_copy=((STORE, VETTED),),
                              may_update_status=AIRLOCK_REPOSITORIES),
}


@dataclass(frozen=True)
class PackageVersion:
    """One version of a package as one repository holds it (its files are the domain's, shared)."""

    name: str  # PEP 503 normalised
    version: str
    files: tuple[Path, ...]
    upload_time: datetime  # when the files were uploaded to their origin index (PyPI's time for public ones)
    published_time: datetime  # when this repository got it (CodeArtifact's publishedTime)
    origin: dict[str, Any]  # PackageVersionOrigin
    status: str = "Published"
    revision: str = ""

    def sort_key(self) -> Version:
        return Version(self.version)


@dataclass
class Token:
    principal: Principal
    expiration: datetime


@dataclass
class Registry:
    package_dir: Path
    domain: str = "acme"
    owner: str = "012345678901"
    region: str = "eu-west-1"
    repositories: tuple[str, ...] = ("internal",)
    # CodeArtifact is reported to answer a missing, wrong or expired token with 401 or with 404.
    unauthorized_status: int = 401
    tokens: dict[str, Token] = field(default_factory=dict)
    index_log: list[dict[str, Any]] = field(default_factory=list)
    api_log: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # anything a client tried to reach besides the stub
    lock: threading.Lock = field(default_factory=threading.Lock)
    airlock: bool = False
    public_dir: Path | None = None  # airlock: the files pypi.org would serve through public:pypi
    public: dict[tuple[str, str], tuple[tuple[Path, ...], datetime]] = field(default_factory=dict)
    held: dict[str, dict[tuple[str, str], PackageVersion]] = field(default_factory=dict)
    upstreams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    external_connections: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.airlock:
            self.repositories = AIRLOCK_REPOSITORIES
            self.upstreams = {INTERNAL: (VETTED,)}
            self.external_connections = {STORE: "public:pypi"}
            self.held = {repository: {} for repository in AIRLOCK_REPOSITORIES}
            if self.public_dir is None:
                self.public_dir = self.package_dir.parent / "public"
            self.public_dir.mkdir(parents=True, exist_ok=True)

    @property
    def host(self) -> str:
        return f"{self.domain}-{self.owner}.d.codeartifact.{self.region}.amazonaws.com"

    @property
    def domain_arn(self) -> str:
        return f"arn:aws:codeartifact:{self.region}:{self.owner}:domain/{self.domain}"

    def endpoint(self, repository: str = "internal") -> str:
        return f"https://{self.host}/pypi/{repository}/"

    def index_url(self, repository: str = "internal") -> str:
        return self.endpoint(repository) + "simple/"

    # --- control plane ------------------------------------------------------------

    def principal(self, access_key: str) -> Principal:
        try:
            return PRINCIPALS[access_key]
        except KeyError:
            raise StubError("UnrecognizedClientException", "The security token included in the request is invalid.",
                            403) from None

    def check_domain(self, domain: str, owner: str | None, region: str) -> None:
        if domain != self.domain or (owner is not None and owner != self.owner) or region != self.region:
            raise StubError("ResourceNotFoundException", f"Domain not found. Domain name: {domain}, owner: {owner}")

    def check_repository(self, repository: str) -> None:
        if repository not in self.repositories:
            raise StubError("ResourceNotFoundException", f"Repository not found. Repository name: {repository}")

    def issue(self, principal: Principal, expiration: datetime) -> str:
        token = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0." + secrets.token_urlsafe(48)
        with self.lock:
            self.tokens[token] = Token(principal, expiration)
        return token

    def expire(self, token: str) -> None:
        """The token's 12 hours are over (the front checks expiry on every request)."""
        with self.lock:
            self.tokens[token].expiration = datetime.now(timezone.utc)

    def record_api_call(self, operation: str, access_key: str, params: dict[str, str]) -> None:
        with self.lock:
            self.api_log.append({"operation": operation, "access_key": access_key, "params": params})

    # --- data plane -------------------------------------------------------------------

    def check_token(self, username: str | None, token: str | None) -> tuple[str, Principal | None]:
        """'valid', or why not: 'missing', 'not-aws-user', 'unknown', 'expired'."""
        if token is None:
            return "missing", None
        if username != "aws":
            return "not-aws-user", None
        with self.lock:
            found = self.tokens.get(token)
        if found is None:
            return "unknown", None
        if found.expiration <= datetime.now(timezone.utc):
            return "expired", found.principal
        return "valid", found.principal

    def files(self, package: str, version: str) -> list[Path]:
        """The files of one package version in pypiserver's directory (names compared normalised)."""
        wanted = normalise(package)
        found = []
        for path in sorted(self.package_dir.iterdir()):
            parsed = parse_file_name(path.name)
            if parsed and normalise(parsed[0]) == wanted and parsed[1] == version:
                found.append(path)
        return found

    @staticmethod
    def hashes(path: Path) -> dict[str, str]:
        data = path.read_bytes()
        return {"MD5": hashlib.md5(data).hexdigest(), "SHA-1": hashlib.sha1(data).hexdigest(),  # noqa: S324
                "SHA-256": hashlib.sha256(data).hexdigest(), "SHA-512": hashlib.sha512(data).hexdigest()}

    # --- the airlock's repositories ------------------------------------------------------

    def publish_public(self, name: str, version: str, upload_time: datetime) -> tuple[Path, ...]:
        """A release on the public index (a wheel and an sdist) that public:pypi can fetch."""
        assert self.airlock and self.public_dir is not None, "only the airlock's stand-in has a public index"
        files = (write_wheel(self.public_dir, name, version), write_sdist(self.public_dir, name, version))
        with self.lock:
            self.public[(normalise(name), version)] = (files, upload_time)
        return files

    def _own(self, repository: str, name: str) -> dict[str, PackageVersion]:
        """What `repository` itself holds of `name` (internal: also pypiserver's directory); lock held."""
        found = {version: held for (package, version), held in self.held[repository].items() if package == name}
        if repository == INTERNAL:
            by_version: dict[str, list[Path]] = {}
            for path in sorted(self.package_dir.iterdir()):
                parsed = parse_file_name(path.name)
                if parsed and normalise(parsed[0]) == name:
                    by_version.setdefault(parsed[1], []).append(path)
            for version, files in by_version.items():
                if version not in found:
                    when = datetime.fromtimestamp(min(path.stat().st_mtime for path in files), timezone.utc)
                    found[version] = PackageVersion(
                        name, version, tuple(files), when, when,
                        {"domainEntryPoint": {"repositoryName": INTERNAL}, "originType": "INTERNAL"},
                        revision=f"stub-{INTERNAL}-{version}")
        return found

    def _offered(self, repository: str, name: str) -> dict[str, PackageVersion]:
        """Every version a package manager could reach through `repository`, before statuses; lock held.

        A version the repository holds shadows the same version further up (CodeArtifact answers
        from the requested repository first, then its upstreams in order, then the external connection).
        """
        offered = self._own(repository, name)
        for upstream in self.upstreams.get(repository, ()):
            for version, candidate in self._offered(upstream, name).items():
                offered.setdefault(version, candidate)
        if repository in self.external_connections:
            for (package, version), (files, uploaded) in self.public.items():
                if package == name and version not in offered:
                    offered[version] = PackageVersion(
                        name, version, files, uploaded, uploaded,
                        {"domainEntryPoint": {"externalConnectionName": self.external_connections[repository]},
                         "originType": "EXTERNAL"})
        return offered

    def listed(self, repository: str, package: str) -> list[PackageVersion]:
        """The versions the repository's simple index lists for `package`, oldest first."""
        with self.lock:
            offered = self._offered(repository, normalise(package))
        return sorted((held for held in offered.values() if held.status in LISTED), key=PackageVersion.sort_key)

    def download(self, repository: str, package: str, version: str, file_name: str) -> Path | None:
        """The file a package manager asked for, or None (404); retains the version as CodeArtifact does."""
        name = normalise(package)
        now = datetime.now(timezone.utc)
        with self.lock:
            found = self._offered(repository, name).get(version)
            if found is None or found.status not in DOWNLOADABLE:
                return None
            path = next((path for path in found.files if path.name == file_name), None)
            if path is None:
                return None
            # Retained in the repository asked (the most downstream) and in the one with the
            # external connection it came through, never in an intermediate one.
            keep = [repository]
            if found.origin["originType"] == "EXTERNAL":
                keep += [held for held in self.external_connections if held != repository]
            for holder in keep:
                if (name, version) not in self._own(holder, name):
                    self.held[holder][(name, version)] = replace(
                        found, published_time=now, revision=f"stub-{holder}-{version}-{secrets.token_hex(4)}")
        return path

    def held_version(self, repository: str, package: str, version: str) -> PackageVersion | None:
        """The version as the repository itself holds it (not through an upstream), any status."""
        with self.lock:
            return self._own(repository, normalise(package)).get(version)

    def held_versions(self, repository: str, package: str) -> list[PackageVersion]:
        with self.lock:
            return sorted(self._own(repository, normalise(package)).values(), key=PackageVersion.sort_key)

    def copy_version(self, source: str, destination: str, package: str, version: str,
                     allow_overwrite: bool) -> tuple[PackageVersion | None, str, str]:
        """CopyPackageVersions for one version: (copied, "", "") or (None, errorCode, errorMessage)."""
        name = normalise(package)
        with self.lock:
            found = self._own(source, name).get(version)
            if found is None:
                return None, "NOT_FOUND", f"Package version {package} {version} not found in repository {source}"
            if version in self._own(destination, name) and not allow_overwrite:
                return None, "ALREADY_EXISTS", (f"Package version {package} {version} already exists in "
                                                f"repository {destination}")
            # The files and their upload time are the same assets (one copy per domain); the origin
            # and publishedTime are the destination's own.
            copied = replace(found, published_time=datetime.now(timezone.utc),
                             origin={"domainEntryPoint": {"repositoryName": destination}, "originType": "INTERNAL"},
                             revision=f"stub-{destination}-{version}-{secrets.token_hex(4)}")
            self.held[destination][(name, version)] = copied
        return copied, "", ""

    def set_status(self, repository: str, package: str, version: str, target: str, expected: str | None,
                   revision: str | None) -> tuple[PackageVersion | None, str, str]:
        """UpdatePackageVersionsStatus for one version: (updated, "", "") or (None, errorCode, errorMessage)."""
        name = normalise(package)
        with self.lock:
            found = self._own(repository, name).get(version)
            if found is None:
                return None, "NOT_FOUND", f"Package version {package} {version} not found in repository {repository}"
            if expected is not None and found.status != expected:
                return None, "MISMATCHED_STATUS", f"expected status {expected}, found {found.status}"
            if revision is not None and found.revision != revision:
                return None, "MISMATCHED_REVISION", f"expected revision {revision}, found {found.revision}"
            if found.status == "Disposed":
                return None, "NOT_ALLOWED", "a Disposed package version cannot change status"
            updated = replace(found, status=target)
            self.held[repository][(name, version)] = updated
        return updated, "", ""

    def reset_logs(self) -> None:
        with self.lock:
            self.index_log.clear()
            self.api_log.clear()
            self.blocked.clear()


def parse_file_name(name: str) -> tuple[str, str] | None:
    """(name, version) of a wheel or sdist file name, or None."""
    if name.endswith(".whl"):
        parts = name[: -len(".whl")].split("-")
        return (parts[0], parts[1]) if len(parts) >= 5 else None
    found = re.fullmatch(r"(?P<name>.+)-(?P<version>[^-]+)\.tar\.gz", name)
    return (found["name"], found["version"]) if found else None
