"""`python -m backup.restore`: replay the backup bucket into a CodeArtifact repository with twine.

Every version the bucket has a manifest for (`manifests/NAME/VERSION.json`) is restored from its files
(`packages/NAME/VERSION/FILENAME`), and every file is checked twice: its sha256 against the manifest
after it leaves the bucket and before anything is uploaded, and again after it is downloaded back
through the target's index. Any mismatch fails the run naming the file.

The restore runs on an operator's machine (not in the backup Lambda): it needs boto3 and twine.
twine cannot skip existing files on CodeArtifact (twine 7 refuses --skip-existing for any repository
but PyPI's and TestPyPI's: "UnsupportedConfiguration"), so the target's index is asked first: a file
already there with the manifest's sha256 is skipped, one there with other bytes is refused, and only
missing files are uploaded. A second run therefore uploads nothing.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Protocol, TextIO
from urllib.parse import unquote, urljoin, urlsplit

from backup.config import TOPIC_ARN
from backup.layout import MANIFESTS, Asset, LayoutError, package_key
from backup.layout import Manifest as Recorded

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
# S3's bucket naming rules (general purpose buckets).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# A distribution's file name: one path segment, no dot-dot, what wheel and sdist names are made of.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
# The fixed user name CodeArtifact expects with a token (not a secret).
TOKEN_USERNAME = "aws"  # noqa: S105
# PEP 691 JSON first, HTML (PEP 503) as the fallback: CodeArtifact serves both, pypiserver HTML.
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

DESCRIPTION = """\
Replay the backup bucket into a CodeArtifact repository (the standby's `internal`, or a rebuilt one) with
twine. Every file's sha256 is checked against its manifest before upload and again after it is downloaded
back through the index; a mismatch fails the run naming the file, and nothing is uploaded while any file
of the bucket fails the first check. Files already in the index with the same bytes are skipped, so a
second run uploads nothing.

Run it on an operator's machine with boto3 and twine installed (`python -m pip install boto3 twine`),
with AWS credentials that may read the bucket and a CodeArtifact token that may publish to the target:

  export TWINE_USERNAME=aws
  export TWINE_PASSWORD="$(aws codeartifact get-authorization-token --domain DOMAIN \\
      --domain-owner OWNER --region REGION --query authorizationToken --output text)"
  python -m backup.restore --bucket BUCKET --index-url URL --dry-run   # the plan
  python -m backup.restore --bucket BUCKET --index-url URL
"""

EPILOG = """\
--index-url is the target repository's endpoint (stack output repositoryEndpoint, or the index URL ending in
simple/): https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/, or its form on a
repositories VPC endpoint (https://vpce-...d.codeartifact.REGION.vpce.amazonaws.com/pypi/d/DOMAIN-OWNER/
REPOSITORY/). The token is sent to that host only.

Exit status: 0 every file restored (or already there) and verified; 1 a file refused (sha256 or size
mismatch, a different file already at the target, an upload or a verification failed), each named;
2 bad input (no bucket, a URL that is not a CodeArtifact endpoint, an empty bucket, no token), nothing
uploaded.
"""


class UsageError(Exception):
    """Bad input: exit 2, nothing uploaded."""


class RestoreError(Exception):
    """A refused file or a failed step: exit 1, naming what failed."""


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


# --- the bucket -----------------------------------------------------------------------------------


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


# --- plan, upload, verify --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    manifest: Manifest
    upload: tuple[Asset, ...]  # missing at the target
    present: tuple[Asset, ...]  # already there with the manifest's sha256 (or a sha256 the index did not give)


def plan(manifests: Sequence[Manifest], index: Index) -> list[Step]:
    """What each version needs; RestoreError naming every file the target holds with other bytes."""
    steps, conflicts = [], []
    listings: dict[str, dict[str, Listed]] = {}
    for manifest in manifests:
        if manifest.package not in listings:
            listings[manifest.package] = index.files(manifest.package)
        listed = listings[manifest.package]
        upload, present = [], []
        for asset in manifest.assets:
            there = listed.get(asset.name)
            if there is None:
                upload.append(asset)
            elif there.sha256 is not None and there.sha256 != asset.sha256:
                conflicts.append(f"{asset.name}: the target has sha256 {there.sha256}, the backup {asset.sha256}")
            else:
                present.append(asset)
        steps.append(Step(manifest, tuple(upload), tuple(present)))
    if conflicts:
        raise RestoreError("refused, the target already holds other bytes under these names (a version cannot be "
                           "overwritten):\n  " + "\n  ".join(conflicts))
    return steps


def upload(step: Step, target: Target, staged: Mapping[str, Path], twine: str, environ: Mapping[str, str],
           say: Callable[[str], None]) -> None:
    """One twine run for the version's missing files; RestoreError with twine's output when it fails."""
    files = [str(staged[step.manifest.object_key(asset)]) for asset in step.upload]
    command = [twine, "upload", "--repository-url", target.repository_url, "--non-interactive",
               "--disable-progress-bar", *files]
    # The token stays in the environment (TWINE_PASSWORD), never on the command line.
    result = subprocess.run(command, env={**environ, "TWINE_USERNAME": TOKEN_USERNAME}, capture_output=True,  # noqa: S603
                            text=True, stdin=subprocess.DEVNULL, timeout=600, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        hint = (" A 401 or 404 from CodeArtifact means a missing, expired or refused token: check the token in "
                "TWINE_PASSWORD."
                if " 401 " in output or " 404 " in output else "")
        raise RestoreError(f"twine failed for {step.manifest.package} {step.manifest.version} "
                           f"({', '.join(asset.name for asset in step.upload)}):{hint}\n{output}")
    say(f"uploaded {step.manifest.package} {step.manifest.version}: {', '.join(asset.name for asset in step.upload)}")


def verify(manifests: Sequence[Manifest], index: Index) -> None:
    """Download every file back through the index and compare; RestoreError naming every file that differs."""
    problems = []
    for package in sorted({manifest.package for manifest in manifests}):
        listed = index.files(package)
        for manifest in manifests:
            if manifest.package != package:
                continue
            for asset in manifest.assets:
                there = listed.get(asset.name)
                if there is None:
                    problems.append(f"{asset.name}: not in the index after the restore")
                    continue
                digest = index.download_sha256(there)
                if digest != asset.sha256:
                    problems.append(f"{asset.name}: downloaded sha256 {digest}, the backup {asset.sha256}")
    if problems:
        raise RestoreError("verification failed, the index does not serve the backup's bytes:\n  "
                           + "\n  ".join(problems))


# --- the command -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backup.restore", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bucket", required=True,
                        help="the backup bucket (or its replica in the second region)")
    parser.add_argument("--index-url", required=True, metavar="URL",
                        help="the target repository's endpoint or index URL (stack output repositoryEndpoint)")
    parser.add_argument("--prefix", default="", metavar="NAME",
                        help="restore only packages whose name starts with NAME (a package name, or a prefix "
                             "such as acme-)")
    parser.add_argument("--topic-arn", metavar="ARN",
                        help="the backup's SNS topic (stack output backupTopicArn): a restore that succeeded is "
                             "announced there as a 'restored' event, as the backup announces what it copied")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (every version and file in the bucket) and stop: no download, no "
                             "upload, no token needed")
    return parser


def default_bucket() -> BackupBucket:
    import boto3

    client: BackupBucket = boto3.client("s3")
    return client


class Topic(Protocol):
    """The SNS call the restore makes (boto3's SNS client)."""

    def publish(self, **kwargs: object) -> object: ...


def restored_event(bucket: str, target: Target, manifests: Sequence[Manifest], uploaded: int) -> dict[str, object]:
    return {"event": "restored", "bucket": bucket, "target": target.repository_url, "uploaded": uploaded,
            "versions": [f"{m.package}=={m.version}" for m in manifests]}


def main(argv: Sequence[str] | None = None, *, bucket: BackupBucket | None = None, topic: Topic | None = None,
         environ: Mapping[str, str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the restore; the keywords exist so tests can pass a bucket client and the environment."""
    environ = os.environ if environ is None else environ
    out, err = stdout or sys.stdout, stderr or sys.stderr

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    args = build_parser().parse_args(argv)
    try:
        target, twine, token = check_input(args, environ)
        bucket = bucket or default_bucket()
        manifests = read_manifests(bucket, args.bucket, args.prefix)
    except UsageError as error:
        print(f"error: {error}; nothing was uploaded", file=err)
        return 2
    except RestoreError as error:
        print(f"error: {error}\nnothing was uploaded", file=err)
        return 1

    files = sum(len(manifest.assets) for manifest in manifests)
    say(f"s3://{args.bucket}: {len(manifests)} versions, {files} files -> {target.repository_url}")
    if args.dry_run:
        for manifest in manifests:
            names = ", ".join(f"{asset.name} ({asset.size} bytes)" for asset in manifest.assets)
            say(f"would restore {manifest.package} {manifest.version}: {names}")
        say("dry run: nothing was downloaded or uploaded; files already in the index are skipped when it runs")
        return 0

    index = Index(target, token)
    uploaded = 0
    try:
        with tempfile.TemporaryDirectory(prefix="backup-restore-") as scratch:
            staged = stage(bucket, args.bucket, manifests, Path(scratch))
            say(f"all {files} files match their manifests (sha256 and size)")
            for step in plan(manifests, index):
                if step.present:
                    say(f"already in the index: {step.manifest.package} {step.manifest.version}: "
                        f"{', '.join(asset.name for asset in step.present)}")
                if step.upload:
                    upload(step, target, staged, twine, environ, say)
                    uploaded += len(step.upload)
        verify(manifests, index)
    except RestoreError as error:
        print(f"error: {error}", file=err)
        print(f"{uploaded} files were uploaded before the failure", file=err)
        return 1
    say(f"restored: {uploaded} files uploaded, {files - uploaded} already there; all {files} downloaded back "
        "through the index and byte-identical to the backup")
    if args.topic_arn:
        import boto3

        topic = topic or boto3.client("sns", region_name=args.topic_arn.split(":")[3])
        event = restored_event(args.bucket, target, manifests, uploaded)
        topic.publish(TopicArn=args.topic_arn, Subject=f"restored {len(manifests)} versions",
                      Message=json.dumps(event, sort_keys=True))
        say(f"announced on {args.topic_arn}")
    return 0


def check_input(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[Target, str, str]:
    """The target, twine's path and the token; UsageError naming the first thing missing."""
    if not BUCKET_NAME.fullmatch(args.bucket):
        raise UsageError(f"--bucket must be an S3 bucket name ({BUCKET_NAME.pattern}), got {args.bucket!r}")
    if "/" in args.prefix or (args.prefix and not FILE_NAME.fullmatch(args.prefix)):
        raise UsageError(f"--prefix must be a package name or the start of one, got {args.prefix!r}")
    if args.topic_arn is not None and not TOPIC_ARN.match(args.topic_arn):
        raise UsageError(f"--topic-arn must be an SNS topic ARN, got {args.topic_arn!r}")
    target = parse_index_url(args.index_url)
    if args.dry_run:
        return target, "", ""
    if environ.get("TWINE_USERNAME", TOKEN_USERNAME) != TOKEN_USERNAME:
        raise UsageError(f"TWINE_USERNAME must be {TOKEN_USERNAME!r} (CodeArtifact's user name for a token), "
                         f"got {environ['TWINE_USERNAME']!r}")
    token = environ.get("TWINE_PASSWORD", "")
    if not token:
        raise UsageError("no token: set TWINE_PASSWORD to a CodeArtifact token that may publish to the target "
                         "(aws codeartifact get-authorization-token ... --query authorizationToken --output text)")
    twine = shutil.which("twine", path=environ.get("PATH"))
    if twine is None:
        raise UsageError("twine is not installed (the restore uploads with it): python -m pip install twine")
    return target, twine, token


if __name__ == "__main__":
    sys.exit(main())
