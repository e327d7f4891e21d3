"""The front: answers like a CodeArtifact repository endpoint, and serves the packages of pypiserver.

Clients are pointed at it as their HTTPS proxy (`HTTPS_PROXY=http://127.0.0.1:PORT`), so they use
the real index URL, `https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPO/simple/`,
as users do (and keyrings.codeartifact recognises the host name), while every connection goes to
127.0.0.1: the front accepts `CONNECT` for the CodeArtifact host only, terminates TLS with the test
authority's certificate, and refuses anything else (recorded in `registry.blocked`).

Inside the tunnel it behaves like CodeArtifact:
- `/pypi/REPO/...` only, for the repositories the registry has;
- HTTP basic auth with user `aws` and a token the fake API issued and that has not expired;
  otherwise `registry.unauthorized_status`: 401 (with a Basic challenge) or 404, both reported
  for CodeArtifact;
- a valid token whose principal may not read the repository: 403; uploads need publish rights;
- then the request goes to pypiserver (mounted at /pypi/internal/, fallback to PyPI disabled).

In the airlock's domain (`registry.airlock`) the front answers reads itself, for every repository,
from what the registry says each one offers (simple_index.py: PEP 503 HTML or PEP 691 JSON with
upload times, files at `/pypi/REPO/simple/NAME/VERSION/FILE`); only the promoter may read
`pypi-store`, and uploads still go to pypiserver, `internal`'s own packages.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.codeartifact_stub import simple_index
from tests.codeartifact_stub.certs import Certificates
from tests.codeartifact_stub.registry import INTERNAL, STORE, Registry

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "proxy-connection", "content-length"}


def basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    username, _, password = decoded.partition(":")
    return username, password


class _Handler(BaseHTTPRequestHandler):
    server: _FrontServer
    protocol_version = "HTTP/1.1"
    timeout = 60
    tunnel_host: str | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    # --- the proxy side ---------------------------------------------------------------

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        registry = self.server.registry
        if self.tunnel_host is not None or host != registry.host or port != "443":
            with registry.lock:
                registry.blocked.append(f"CONNECT {self.path}")
            self._plain(403, f"the test proxy reaches only https://{registry.host}\n")
            self.close_connection = True
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        self.connection = tls
        self.server.track(tls)
        self.rfile = tls.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(tls)  # sendall, as the base class does
        self.tunnel_host = host
        self.close_connection = False

    # --- the repository side --------------------------------------------------------------

    def do_GET(self) -> None:
        self._repository()

    def do_HEAD(self) -> None:
        self._repository()

    def do_POST(self) -> None:
        self._repository()

    def _plain(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _repository(self) -> None:
        registry = self.server.registry
        body = self._body()
        if self.tunnel_host is None:
            # Not through the tunnel: a plain-HTTP proxy request or a direct call. Neither is CodeArtifact.
            with registry.lock:
                registry.blocked.append(f"{self.command} {self.path}")
            self._plain(403, "the test proxy serves only CONNECT to the CodeArtifact host\n")
            self.close_connection = True
            return
        path = urlsplit(self.path).path
        username, token = basic_credentials(self.headers.get("Authorization"))
        state, principal = registry.check_token(username, token)
        entry: dict[str, Any] = {"method": self.command, "path": path, "auth": state,
                                 "user_agent": self.headers.get("User-Agent", "")}
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "pypi" or parts[2] not in registry.repositories:
            status, text, headers = 404, "Not Found\n", {}
        elif state != "valid" or principal is None:
            status = registry.unauthorized_status
            text = "Unauthorized\n" if status == 401 else "Not Found\n"
            headers = {"WWW-Authenticate": 'Basic realm="CodeArtifact"'} if status == 401 else {}
        elif (not principal.may_read or (self.command == "POST" and not principal.may_publish)
              or (registry.airlock and parts[2] == STORE and not principal.may_read_store)
              or (registry.airlock and self.command == "POST" and parts[2] != INTERNAL)):
            action = "PublishPackageVersion" if self.command == "POST" else "ReadFromRepository"
            status, headers = 403, {}
            text = f"User: {principal.arn} is not authorized to perform: codeartifact:{action}\n"
        elif registry.airlock and self.command != "POST":
            status = self._airlock(parts[2], parts[3:])
            with registry.lock:
                registry.index_log.append({**entry, "status": status})
            return
        else:
            status = self._forward(body, entry)
            with registry.lock:
                registry.index_log.append({**entry, "status": status})
            return
        with registry.lock:
            registry.index_log.append({**entry, "status": status})
        self._plain(status, text, headers)

    def _airlock(self, repository: str, rest: list[str]) -> int:
        """A read in the airlock's domain: `simple/NAME/` or `simple/NAME/VERSION/FILE`, else 404."""
        registry = self.server.registry
        if len(rest) == 3 and rest[0] == "simple" and rest[1] and rest[2] == "":
            content_type = simple_index.negotiate(self.headers.get("Accept"))
            if content_type is None:
                self._plain(406, "Not Acceptable\n")
                return 406
            versions = registry.listed(repository, rest[1])
            if not versions:
                self._plain(404, "Not Found\n")
                return 404
            body = simple_index.render(versions[0].name, versions, content_type)
            self._bytes(200, body, content_type, {"Vary": "Accept"})
            return 200
        if len(rest) == 4 and rest[0] == "simple" and all(rest[1:]):
            path = registry.download(repository, rest[1], rest[2], rest[3])
            if path is not None:
                self._bytes(200, path.read_bytes(), "application/octet-stream")
                return 200
        self._plain(404, "Not Found\n")
        return 404

    def _bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, body: bytes, entry: dict[str, Any]) -> int:
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.pypiserver_port, timeout=30)
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in HOP_BY_HOP and name.lower() != "authorization"}
        headers["X-Forwarded-Proto"] = "https"
        if body:
            headers["Content-Length"] = str(len(body))
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        # A HEAD answer has no body but the length of the one a GET would get.
        length = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        entry["upstream"] = response.status
        return response.status


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, registry: Registry, certificates: Certificates, pypiserver_port: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.registry = registry
        self.pypiserver_port = pypiserver_port
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(certificates.server_chain, certificates.server_key)
        self.tls.set_alpn_protocols(["http/1.1"])
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()

    def track(self, connection: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.add(connection)

    def close_all(self) -> None:
        with self._sockets_lock:
            for connection in self._sockets:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._sockets.clear()


class Front:
    """The front on 127.0.0.1, in a thread until `stop()` (which also closes open connections)."""

    def __init__(self, registry: Registry, certificates: Certificates, pypiserver_port: int):
        self._server = _FrontServer(registry, certificates, pypiserver_port)
        self.port = self._server.server_address[1]
        self.proxy_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="codeartifact-front", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        self._thread.join(timeout=5)
