"""The CodeArtifact side: which versions a repository holds, ingesting a version through the store repository,
copying it into the vetted repository without overwrite, and archiving (never deleting) a pulled-back version."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urljoin, urlsplit

from botocore.exceptions import ClientError

from promoter.config import PromoterConfig
from promoter.sources import USER_AGENT, Release

if TYPE_CHECKING:
    from mypy_boto3_codeartifact.client import CodeArtifactClient

FORMAT: Final = "pypi"
TOKEN_SECONDS: Final = 900  # the shortest token CodeArtifact issues; one run needs no more
DOWNLOAD_TIMEOUT_SECONDS: Final = 120
CHUNK: Final = 1 << 20


class RepositoryError(RuntimeError):
    """CodeArtifact did not do what the promoter asked; nothing is recorded as done."""


class RepositoryClient:
    def __init__(self, client: CodeArtifactClient, config: PromoterConfig) -> None:
        self.client = client
        self.config = config

    def versions(self, repository: str, package: str) -> dict[str, str]:
        """Every version of `package` in `repository` with its status; empty when the repository has no such package."""
        found: dict[str, str] = {}
        pages = self.client.get_paginator("list_package_versions").paginate(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            repository=repository,
            format=FORMAT,
            package=package,
        )
        try:
            for page in pages:
                for entry in page["versions"]:
                    found[entry["version"]] = entry["status"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException" and not found:
                return {}
            raise
        return found

    def packages(self, repository: str) -> list[str]:
        pages = self.client.get_paginator("list_packages").paginate(
            domain=self.config.domain, domainOwner=self.config.domain_owner, repository=repository, format=FORMAT
        )
        return [entry["package"] for page in pages for entry in page.get("packages", []) if "package" in entry]

    def endpoint(self, repository: str) -> str:
        return self.client.get_repository_endpoint(
            domain=self.config.domain, domainOwner=self.config.domain_owner, repository=repository, format=FORMAT
        )["repositoryEndpoint"]

    def token(self) -> str:
        return self.client.get_authorization_token(
            domain=self.config.domain, domainOwner=self.config.domain_owner, durationSeconds=TOKEN_SECONDS
        )["authorizationToken"]

    def copy_to_vetted(self, package: str, version: str) -> str:
        """Copy one version from the store into the vetted repository, never overwriting.

        Returns "copied", or "already present" when a concurrent run copied it first (CodeArtifact answers
        ALREADY_EXISTS, which is the outcome wanted); any other failure raises.
        """
        answer = self.client.copy_package_versions(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            sourceRepository=self.config.store_repository,
            destinationRepository=self.config.vetted_repository,
            format=FORMAT,
            package=package,
            versions=[version],
            allowOverwrite=False,
        )
        if version in answer.get("successfulVersions", {}):
            return "copied"
        failure = answer.get("failedVersions", {}).get(version)
        if failure is not None and failure.get("errorCode") == "ALREADY_EXISTS":
            return "already present"
        raise RepositoryError(f"copying {package} {version} into {self.config.vetted_repository} failed: {failure}")

    def archive(self, repository: str, package: str, versions: Sequence[str]) -> list[str]:
        """Set Published versions to Archived (expectedStatus Published: a version someone changed meanwhile is
        left as it is and reported); returns the versions archived."""
        if not versions:
            return []
        answer = self.client.update_package_versions_status(
            domain=self.config.domain,
            domainOwner=self.config.domain_owner,
            repository=repository,
            format=FORMAT,
            package=package,
            versions=list(versions),
            expectedStatus="Published",
            targetStatus="Archived",
        )
        failed = answer.get("failedVersions", {})
        if failed:
            raise RepositoryError(f"archiving {package} {sorted(failed)} in {repository} failed: {failed}")
        return sorted(answer.get("successfulVersions", {}))


class _Links(HTMLParser):
    """The file links of a PEP 503 simple page: filename -> href."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            filename = urlsplit(href).path.rsplit("/", 1)[-1]
            self.links[unquote(filename)] = href


class _SameHostAuthRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but never sends the CodeArtifact token to another host (a file redirect goes to a
    pre-signed URL, which must not receive it)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: object,
        code: int,
        msg: str,
        headers: object,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_SameHostAuthRedirects())


def _get(url: str, token: str) -> urllib.request.Request:
    credentials = base64.b64encode(f"aws:{token}".encode()).decode()
    return urllib.request.Request(  # noqa: S310 (the endpoint CodeArtifact names, https)
        url, headers={"Authorization": f"Basic {credentials}", "User-Agent": USER_AGENT}
    )


def ingest(endpoint: str, token: str, package: str, release: Release) -> None:
    """Request every file of the version through the store repository's endpoint: CodeArtifact fetches each from
    PyPI through the external connection and keeps it. Each file's SHA-256 must be the one PyPI's JSON API names."""
    index = urljoin(endpoint if endpoint.endswith("/") else endpoint + "/", f"simple/{package}/")
    parser = _Links()
    parser.feed(_read(index, token).decode("utf-8", errors="replace"))
    for file in release.files:
        href = parser.links.get(file.filename)
        if href is None:
            raise RepositoryError(f"{index} lists no {file.filename}")
        digest = hashlib.sha256()
        url = urljoin(index, href)
        try:
            with _OPENER.open(_get(url, token), timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
        except (urllib.error.URLError, OSError) as error:
            raise RepositoryError(f"fetching {file.filename} through {index}: {_explain(error)}") from None
        if digest.hexdigest() != file.sha256:
            raise RepositoryError(
                f"{file.filename} through {index} has SHA-256 {digest.hexdigest()}, PyPI names {file.sha256}"
            )


def _read(url: str, token: str) -> bytes:
    try:
        with _OPENER.open(_get(url, token), timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, OSError) as error:
        raise RepositoryError(f"fetching {url}: {_explain(error)}") from None


def _explain(error: OSError) -> str:
    # CodeArtifact answers a bad or expired token with 401 or with 404.
    if isinstance(error, urllib.error.HTTPError) and error.code in (401, 403, 404):
        return f"HTTP {error.code} (not found, or check the token and the promoter's ReadFromRepository grant)"
    return str(error)
