"""The state the fake API and the front share: who may do what, the tokens issued, the packages.

Packages are whatever pypiserver holds in its directory, so an upload through the front is what
DescribePackageVersion and ListPackageVersionAssets see next.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.codeartifact_stub.distributions import normalise


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
}


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
