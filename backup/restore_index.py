"""The restore's target (`python -m backup.restore`): the repository --index-url names, and its simple index,
read with the token (sent to the target's host only) to skip files already there and to verify every file after.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

from backup.restore_errors import RestoreError, UsageError

# CodeArtifact's names (the same rules as pypi_login/config.py; tests/backup/test_backup_restore.py keeps them equal).
ACCOUNT_ID = r"[0-9]{12}"
DOMAIN_NAME = r"[a-z][a-z0-9-]{0,48}[a-z0-9]"
REPOSITORY_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}"
# The two hosts a CodeArtifact repository endpoint has: the domain's own, and a `repositories` VPC
# endpoint's DNS name (private DNS off), whose path then names the domain.
STANDARD_HOST = re.compile(rf"(?P<domain>{DOMAIN_NAME})-(?P<owner>{ACCOUNT_ID})\.d\.codeartifact\."
                           r"(?P<region>[a-z0-9-]+)\.amazonaws\.com")
VPCE_HOST = re.compile(r"vpce-[0-9a-f]+-[a-z0-9]+\.d\.codeartifact\.(?P<region>[a-z0-9-]+)\.vpce\.amazonaws\.com")
STANDARD_PATH = re.compile(rf"/pypi/(?P<repository>{REPOSITORY_NAME})/(simple/)?")
VPCE_PATH = re.compile(rf"/pypi/d/(?P<domain>{DOMAIN_NAME})-(?P<owner>{ACCOUNT_ID})/(?P<repository>{REPOSITORY_NAME})/"
                       r"(simple/)?")
# The fixed user name CodeArtifact expects with a token (not a secret).
TOKEN_USERNAME = "aws"  # noqa: S105
# PEP 691 JSON first, HTML (PEP 503) as the fallback: CodeArtifact serves both, pypiserver HTML.
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


# --- the target -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The repository to restore into: where twine uploads and where the simple index is."""

    repository_url: str  # https://HOST/pypi/REPOSITORY/ (or the VPC endpoint's /pypi/d/DOMAIN-OWNER/REPOSITORY/)
    host: str
    repository: str
    region: str

    @property
    def simple_url(self) -> str:
        return self.repository_url + "simple/"


@functools.cache  # botocore loads its endpoint data afresh for every session: read it once
def codeartifact_regions() -> tuple[str, ...]:
    """Regions where CodeArtifact is offered (aws partition), from botocore's offline endpoint data."""
    import botocore.session

    return tuple(sorted(botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")))


def parse_index_url(url: str) -> Target:
    """The target of --index-url, or UsageError: only a CodeArtifact pypi repository endpoint is accepted."""
    rule = ("--index-url must be a CodeArtifact pypi repository endpoint, https://DOMAIN-OWNER.d.codeartifact.REGION."
            "amazonaws.com/pypi/REPOSITORY/ (or its repositories VPC endpoint form), without credentials")
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.username is not None or parts.password is not None:
        raise UsageError(f"{rule}; got {url!r}")
    if parts.query or parts.fragment or parts.port is not None or not parts.hostname:
        raise UsageError(f"{rule}; got {url!r}")
    host = parts.netloc
    standard, vpce = STANDARD_HOST.fullmatch(host), VPCE_HOST.fullmatch(host)
    path = (STANDARD_PATH if standard else VPCE_PATH).fullmatch(parts.path)
    found = standard or vpce
    if found is None or path is None:
        raise UsageError(f"{rule}; got {url!r}")
    region = found["region"]
    regions = codeartifact_regions()
    if region not in regions:
        raise UsageError(f"--index-url names region {region!r}, where CodeArtifact is not offered "
                         f"({', '.join(regions)}; from botocore, upgrade it if a new region is missing)")
    prefix = parts.path[: -len("simple/")] if parts.path.endswith("/simple/") else parts.path
    return Target(repository_url=f"https://{host}{prefix}", host=host, repository=path["repository"], region=region)


# --- the index ------------------------------------------------------------------------------------


def normalise(name: str) -> str:
    """PEP 503 normalised name (the simple index's project page)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Listed:
    url: str
    sha256: str | None  # the link's #sha256= (or PEP 691 hashes), when the index gives one


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def parse_project_page(page_url: str, content_type: str, body: bytes) -> dict[str, Listed]:
    """File name -> where to download it and its sha256, from a PEP 691 JSON or PEP 503 HTML project page."""
    found: dict[str, Listed] = {}
    if content_type.split(";")[0].strip().endswith("+json"):
        document = json.loads(body)
        files = document.get("files") if isinstance(document, dict) else None
        if not isinstance(files, list):
            raise RestoreError(f"{page_url}: a JSON project page without a list of files")
        for entry in files:
            if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str) \
                    or not isinstance(entry.get("url"), str):
                raise RestoreError(f"{page_url}: a file entry without filename and url: {entry!r}")
            hashes = entry.get("hashes")
            digest = hashes.get("sha256") if isinstance(hashes, dict) else None
            found[entry["filename"]] = Listed(urljoin(page_url, entry["url"]),
                                              digest if isinstance(digest, str) else None)
        return found
    parser = _Links()
    parser.feed(body.decode("utf-8", errors="replace"))
    for href in parser.hrefs:
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        fragment = dict(item.partition("=")[::2] for item in parts.fragment.split("&") if item)
        file_name = unquote(parts.path.rsplit("/", 1)[-1])
        found[file_name] = Listed(parts._replace(fragment="").geturl(), fragment.get("sha256"))
    return found


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


Fetch = Callable[[str, "str | None"], Response]


class Index:
    """The target's simple index, read with the token (sent to the target's host only)."""

    def __init__(self, target: Target, token: str, fetch: Fetch | None = None) -> None:
        self.target = target
        self._token = token
        self._fetch = fetch or self._urllib_fetch

    def _urllib_fetch(self, url: str, accept: str | None) -> Response:
        request = urllib.request.Request(url)  # noqa: S310 (https only: parse_index_url and get() check it)
        if accept:
            request.add_header("Accept", accept)
        if urlsplit(url).netloc == self.target.host:
            # Unredirected: urllib follows a redirect (an asset may be served from elsewhere) without it.
            credentials = base64.b64encode(f"{TOKEN_USERNAME}:{self._token}".encode()).decode()
            request.add_unredirected_header("Authorization", f"Basic {credentials}")
        # A new opener reads the proxy settings of the environment now (urlopen's is built once).
        opener = urllib.request.build_opener()
        try:
            with opener.open(request, timeout=60) as answer:
                return Response(answer.status, answer.headers.get("Content-Type", ""), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers.get("Content-Type", ""), b"")

    def get(self, url: str, accept: str | None = None) -> Response:
        if urlsplit(url).scheme != "https":
            raise RestoreError(f"the index links to {url}, which is not https: refusing it")
        try:
            return self._fetch(url, accept)
        except (urllib.error.URLError, OSError) as error:
            raise RestoreError(f"cannot reach {url}: {error}") from None

    def files(self, package: str) -> dict[str, Listed]:
        """What the index lists for a package (empty when the page is 404: not there yet, or a refused token)."""
        page = f"{self.target.simple_url}{normalise(package)}/"
        answer = self.get(page, ACCEPT)
        if answer.status == 404:
            return {}
        if answer.status in (401, 403):
            raise RestoreError(f"{page}: {answer.status}: the index refused the token in TWINE_PASSWORD "
                               "(expired, or a role that may not read the repository): check the token")
        if answer.status != 200:
            raise RestoreError(f"{page}: unexpected status {answer.status}")
        return parse_project_page(page, answer.content_type, answer.body)

    def download_sha256(self, listed: Listed) -> str:
        answer = self.get(listed.url)
        if answer.status != 200:
            raise RestoreError(f"{listed.url}: status {answer.status}")
        return hashlib.sha256(answer.body).hexdigest()
