"""The airlock's repositories' simple index pages, as CodeArtifact renders them (PEP 503, 691, 700).

Upload times: the CodeArtifact User Guide, "Python compatibility" (docs.aws.amazon.com/codeartifact/
latest/ug/python-compatibility.html, section "Simple Repository API support"), now says CodeArtifact
implements version 1.1 of the Simple Repository API: `Accept: application/vnd.pypi.simple.v1+json`
(or `latest+json`) gets PEP 691 JSON with the PEP 700 fields `versions`, `size` and `upload-time`;
HTML (the default, and for `text/html` or `*/*`) carries the same time as `data-upload-time` on each
link; an `Accept` naming no supported type gets 406. The user reports the issue cites (uv #18799,
April 2026: "has no publish time" for CodeArtifact packages under `exclude-newer`) predate that page,
which also says the fields may be missing for versions cached before per-asset metadata capture
until a JSON request re-fetches them from upstream. The stand-in serves what the page describes, the
upload time being the origin index's (PyPI's) for public files, kept through CopyPackageVersions
(the same assets); whether a live endpoint does so for copied versions is not documented.

Only the project page `/simple/<project>/` exists: CodeArtifact does not serve the `/simple/` list.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from tests.codeartifact_stub.distributions import REQUIRES_PYTHON
from tests.codeartifact_stub.registry import PackageVersion

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"
# Each media type CodeArtifact accepts on the project page, and the representation it answers with.
ACCEPTED = {
    JSON: JSON, "application/vnd.pypi.simple.latest+json": JSON,
    HTML: HTML, "application/vnd.pypi.simple.latest+html": HTML,
    "text/html": "text/html", "*/*": "text/html",
}


def negotiate(accept: str | None) -> str | None:
    """The content type to answer with, or None for 406 Not Acceptable."""
    if not accept or not accept.strip():
        return "text/html"
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        answer = ACCEPTED.get(media_type.lower())
        if answer is None or quality <= 0:
            continue
        if best is None or (quality, -position) > (best[0], -best[1]):
            best = (quality, position, answer)
    return best[2] if best else None


def upload_time(moment: datetime) -> str:
    """PEP 700: ISO 8601 `yyyy-mm-ddThh:mm:ss.ffffffZ`, UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _files(versions: Iterable[PackageVersion]) -> list[tuple[PackageVersion, Path, str]]:
    return [(version, path, hashlib.sha256(path.read_bytes()).hexdigest())
            for version in versions for path in sorted(version.files)]


def render(name: str, versions: list[PackageVersion], content_type: str) -> bytes:
    """The project page for `name` listing `versions`' files (links relative: `VERSION/FILE`)."""
    files = _files(versions)
    if content_type == JSON:
        return json.dumps({
            "meta": {"api-version": "1.1"},
            "name": name,
            "versions": [version.version for version in versions],
            "files": [{
                "filename": path.name,
                "url": f"{version.version}/{path.name}",
                "hashes": {"sha256": digest},
                "requires-python": REQUIRES_PYTHON,
                "size": path.stat().st_size,
                "upload-time": upload_time(version.upload_time),
                "yanked": False,
            } for version, path, digest in files],
        }).encode()
    links = "".join(
        f'<a href="{html.escape(version.version)}/{html.escape(path.name)}#sha256={digest}" '
        f'data-requires-python="{html.escape(REQUIRES_PYTHON)}" '
        f'data-upload-time="{upload_time(version.upload_time)}">{html.escape(path.name)}</a><br/>\n'
        for version, path, digest in files)
    return (f'<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1">'
            f"<title>Links for {html.escape(name)}</title></head>\n<body><h1>Links for {html.escape(name)}</h1>\n"
            f"{links}</body></html>\n").encode()
