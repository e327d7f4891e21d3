"""Local stand-ins on 127.0.0.1 for what the promoter talks to over HTTP: PyPI's JSON API, OSV's API and the
store repository's PyPI endpoint. The PyPI answers take their shape from a recorded answer of pypi.org
(tests/fixtures/promoter/pypi-sampleproject.json); the OSV records follow the OSV schema."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "promoter" / "pypi-sampleproject.json").read_text())
TOKEN = "stand-in-codeartifact-token"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Route = Callable[[Seen], tuple[int, dict[str, str], bytes]]


@dataclass
class StandIn:
    """One HTTP server; `routes` maps (method, path) to an answer or to a function of the request."""

    routes: dict[tuple[str, str], Route | tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""
    port: int = 0

    def answer(self, request: Seen) -> tuple[int, dict[str, str], bytes]:
        self.seen.append(request)
        route = self.routes.get((request.method, request.path))
        if route is None:
            return 404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}'
        return route(request) if callable(route) else route

    def paths(self, method: str = "GET") -> list[str]:
        return [s.path for s in self.seen if s.method == method]


def serve() -> Iterator[StandIn]:
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Seen(self.command, unquote(urlsplit(self.path).path), dict(self.headers), self.rfile.read(length))
            status, headers, body = stand_in.answer(request)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _handle  # noqa: N815 (BaseHTTPRequestHandler's naming)
        do_POST = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.port = server.server_address[1]
    stand_in.base_url = f"http://127.0.0.1:{stand_in.port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


def as_json(document: object, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()


@dataclass(frozen=True)
class File:
    filename: str
    content: bytes
    uploaded: datetime
    yanked: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def file_entry(file: File) -> dict[str, Any]:
    """One entry of `releases[VERSION]`, shaped like the recorded pypi.org answer."""
    template = copy.deepcopy(RECORDED["releases"]["4.0.0"][0])
    moment = file.uploaded.astimezone(timezone.utc)
    template.update(
        filename=file.filename,
        digests={
            "blake2b_256": hashlib.blake2b(file.content, digest_size=32).hexdigest(),
            "md5": hashlib.md5(file.content).hexdigest(),  # noqa: S324 (PyPI's field)
            "sha256": file.sha256,
        },
        md5_digest=hashlib.md5(file.content).hexdigest(),  # noqa: S324
        packagetype="bdist_wheel" if file.filename.endswith(".whl") else "sdist",
        size=len(file.content),
        upload_time=moment.strftime("%Y-%m-%dT%H:%M:%S"),
        upload_time_iso_8601=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        url=f"https://files.pythonhosted.org/packages/00/00/{file.filename}",
        yanked=file.yanked,
        yanked_reason="broken" if file.yanked else None,
    )
    return template


def project_document(name: str, releases: dict[str, list[File]], **info: Any) -> dict[str, Any]:
    document = copy.deepcopy(RECORDED)
    document["info"].update(name=name, version=list(releases)[-1] if releases else "0", **info)
    document["releases"] = {version: [file_entry(f) for f in files] for version, files in releases.items()}
    latest = list(releases.values())[-1] if releases else []
    document["urls"] = [file_entry(f) for f in latest]
    return document


def version_document(name: str, version: str, files: list[File], **info: Any) -> dict[str, Any]:
    document = project_document(name, {version: files}, **info)
    del document["releases"]  # the version endpoint has no releases key
    return document


def publish_pypi(stand_in: StandIn, name: str, releases: dict[str, list[File]], **info: Any) -> None:
    stand_in.routes[("GET", f"/pypi/{name}/json")] = as_json(project_document(name, releases, **info))
    for version, files in releases.items():
        stand_in.routes[("GET", f"/pypi/{name}/{version}/json")] = as_json(
            version_document(name, version, files, **info)
        )


@dataclass
class OSV:
    """OSV's querybatch and vulns endpoints over a table of (package, version) -> advisory ids."""

    affected: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    page_size: int = 1000

    def install(self, stand_in: StandIn) -> None:
        stand_in.routes[("POST", "/v1/querybatch")] = self.querybatch
        for advisory_id, record in self.records.items():
            stand_in.routes[("GET", f"/v1/vulns/{advisory_id}")] = as_json(record)

    def add(self, record: dict[str, Any], *versions: tuple[str, str]) -> None:
        self.records[record["id"]] = record
        for key in versions:
            self.affected.setdefault(key, []).append(record["id"])

    def querybatch(self, request: Seen) -> tuple[int, dict[str, str], bytes]:
        results = []
        for query in json.loads(request.body)["queries"]:
            ids = self.affected.get((query["package"]["name"], query["version"]), [])
            start = int(query.get("page_token") or 0)
            page = ids[start : start + self.page_size]
            result: dict[str, Any] = {}
            if page:
                result["vulns"] = [{"id": i, "modified": "2026-01-01T00:00:00Z"} for i in page]
            if start + self.page_size < len(ids):
                result["next_page_token"] = str(start + self.page_size)
            results.append(result)
        return as_json({"results": results})


def osv_record(
    advisory_id: str, name: str, *, severity: str | None = None, aliases: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An OSV record shaped like GitHub's (GHSA), PyPA's (PYSEC) or OpenSSF's malicious-packages (MAL) entries."""
    record: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": advisory_id,
        "modified": "2026-01-01T00:00:00Z",
        "published": "2025-12-30T00:00:00Z",
        "aliases": list(aliases),
        "summary": f"advisory {advisory_id}",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "database_specific": {"source": "https://github.com/pypa/advisory-database"},
            }
        ],
        "references": [{"type": "WEB", "url": f"https://osv.dev/vulnerability/{advisory_id}"}],
    }
    if severity is not None:
        record["severity"] = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
        record["database_specific"] = {"severity": severity, "cwe_ids": ["CWE-94"], "github_reviewed": True}
    if advisory_id.startswith("MAL-"):
        record["database_specific"] = {"malicious-packages-origins": [{"source": "ghsa-malware"}]}
    return record


@dataclass
class StoreEndpoint:
    """The store repository's PyPI endpoint (`/pypi/REPO/simple/NAME/`, basic auth aws:TOKEN): serves the files
    it is given; a file may redirect to a second host, as CodeArtifact redirects downloads to pre-signed URLs."""

    repository: str = "pypi-store"
    files: dict[str, dict[str, File]] = field(default_factory=dict)
    redirect_to: StandIn | None = None

    def endpoint(self, stand_in: StandIn) -> str:
        return f"{stand_in.base_url}/pypi/{self.repository}/"

    def install(self, stand_in: StandIn) -> None:
        for name, files in self.files.items():
            links = "".join(
                f'<a href="../../simple/{name}/{quote(f.filename)}#sha256={f.sha256}">{f.filename}</a><br/>'
                for f in files.values()
            )
            html = f"<!DOCTYPE html><html><body><h1>Links for {name}</h1>{links}</body></html>".encode()
            stand_in.routes[("GET", f"/pypi/{self.repository}/simple/{name}/")] = self._authorised(
                (200, {"Content-Type": "text/html"}, html)
            )
            for f in files.values():
                path = f"/pypi/{self.repository}/simple/{name}/{f.filename}"
                if self.redirect_to is None:
                    stand_in.routes[("GET", path)] = self._authorised((200, {}, f.content))
                else:
                    blob = f"/blob/{f.sha256}"
                    self.redirect_to.routes[("GET", blob)] = (200, {}, f.content)
                    target = f"http://localhost:{self.redirect_to.port}{blob}"
                    stand_in.routes[("GET", path)] = self._authorised((302, {"Location": target}, b""))

    @staticmethod
    def _authorised(answer: tuple[int, dict[str, str], bytes]) -> Route:
        expected = "Basic " + base64.b64encode(f"aws:{TOKEN}".encode()).decode()

        def route(request: Seen) -> tuple[int, dict[str, str], bytes]:
            if request.headers.get("Authorization") != expected:
                return 401, {"WWW-Authenticate": 'Basic realm="codeartifact"'}, b""
            return answer

        return route
