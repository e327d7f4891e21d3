"""A local stand-in for one CodeArtifact domain, for real pip, uv, poetry, twine and boto3.

`Stub` starts, on 127.0.0.1 only:
- pypiserver (the real index server from PyPI) on a free port over a temporary package directory,
  mounted at /pypi/internal/ with its fallback to pypi.org disabled;
- the front (front.py), an HTTPS proxy that answers for `DOMAIN-OWNER.d.codeartifact.REGION.
  amazonaws.com` like a CodeArtifact repository endpoint (basic auth `aws:TOKEN`, 401 or 404
  for a bad token, 403 without permission) and serves pypiserver's packages;
- the fake CodeArtifact API (api.py) that boto3 reaches through AWS_ENDPOINT_URL_CODEARTIFACT.

`Stub(root, airlock=True)` is the airlock's domain (issue #25): `pypi-store` with its external
connection to a local stand-in for pypi.org (`registry.publish_public`), `pypi-vetted` and
`internal` with `pypi-vetted` upstream; see registry.py and simple_index.py.

`Stub.environment()` is what a client process needs: the proxy, the test authority, the API
endpoint, an access key, and HOME, XDG_*, caches and configuration in a temporary directory, so
nothing touches the real user's files and nothing leaves 127.0.0.1. `stop()` ends all three.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.codeartifact_stub.api import CodeArtifactAPI
from tests.codeartifact_stub.certs import Certificates, make_certificates
from tests.codeartifact_stub.front import Front
from tests.codeartifact_stub.registry import PRINCIPALS, Principal, Registry, StubError

__all__ = ["PRINCIPALS", "Principal", "Registry", "Stub", "StubError"]

VENV_BIN = Path(sys.executable).parent
STUB_DIR = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PyPIServer:
    """`pypi-server run` on 127.0.0.1, serving `directory` under /pypi/internal/."""

    def __init__(self, directory: Path, log: Path):
        self.directory = directory
        self._log = log.open("wb")
        # The free port is found before pypi-server binds it: if another process takes it in
        # between, pypi-server exits and the next attempt uses another port.
        for attempt in range(3):
            self.port = _free_port()
            self.process = subprocess.Popen(
                [str(VENV_BIN / "pypi-server"), "run", "--interface", "127.0.0.1", "--port", str(self.port),
                 "--authenticate", ".", "--passwords", ".", "--disable-fallback", "--backend", "simple-dir",
                 "--hash-algo", "sha256", "--server-base-url", "/pypi/internal", str(directory)],
                stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            if self._wait_ready():
                return
            if attempt == 2:
                self.stop()
                raise RuntimeError(f"pypi-server did not start; see {self._log.name}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 20
        url = f"http://127.0.0.1:{self.port}/pypi/internal/simple/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.process.kill()
        self.process.wait()
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Stub:
    """pypiserver, the front and the fake API for one temporary directory; use as a context manager."""

    def __init__(self, root: Path, unauthorized_status: int = 401, airlock: bool = False):
        self.root = root
        packages = root / "packages"
        packages.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(package_dir=packages, unauthorized_status=unauthorized_status, airlock=airlock)
        self.certificates: Certificates = make_certificates(
            root / "tls", [self.registry.host, f"*.d.codeartifact.{self.registry.region}.amazonaws.com"],
        )
        self.pypiserver = PyPIServer(packages, root / "pypiserver.log")
        try:
            self.api = CodeArtifactAPI(self.registry)
            self.front = Front(self.registry, self.certificates, self.pypiserver.port)
        except BaseException:
            self.pypiserver.stop()
            raise

    def __enter__(self) -> Stub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.front.stop()
        self.api.stop()
        self.pypiserver.stop()

    @property
    def packages(self) -> Path:
        return self.registry.package_dir

    def stack_outputs(self) -> dict[str, str]:
        """What `pulumi stack output --json` gives consumers (the parts the helper reads)."""
        registry = self.registry
        return {"domainName": registry.domain, "domainOwner": registry.owner, "region": registry.region,
                "repositoryEndpoint": registry.endpoint(), "indexUrl": registry.index_url()}

    def environment(self, home: Path, access_key: str = "AKIDREADER") -> dict[str, str]:
        """A client process's environment: everything private to `home`, the network only via the front."""
        for directory in ("home", "config", "cache", "data", "state"):
            (home / directory).mkdir(parents=True, exist_ok=True)
        ca = str(self.certificates.ca)
        proxy = self.front.proxy_url
        return {
            "PATH": f"{VENV_BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "LANG": "C.UTF-8",
            "HOME": str(home / "home"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "TMPDIR": str(home),
            # Every https request goes through the front; nothing bypasses it but 127.0.0.1 itself.
            "HTTPS_PROXY": proxy, "https_proxy": proxy,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            # The test authority, as behind a TLS-inspecting proxy: OpenSSL and rustls (pip, uv and
            # urllib read SSL_CERT_FILE), requests (poetry, twine).
            "SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca,
            # boto3, keyrings.codeartifact and the helper reach the fake API; nothing else of AWS.
            "AWS_ENDPOINT_URL_CODEARTIFACT": self.api.url,
            "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": "stub-secret",
            "AWS_CONFIG_FILE": str(home / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # Tool settings that keep a run private and offline, none about credentials.
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_CACHE_DIR": str(home / "cache" / "pip"),
            "UV_CACHE_DIR": str(home / "cache" / "uv"), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1",
            "POETRY_CACHE_DIR": str(home / "cache" / "poetry"), "POETRY_CONFIG_DIR": str(home / "config" / "pypoetry"),
            "POETRY_DATA_DIR": str(home / "data" / "pypoetry"), "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
