"""The Docker recipe (examples/docker) built for real: images that install from the private PyPI with the
token in no layer, no image history and no build cache key (marker `docker`, through the `proof` fixture).

The real build, where buildah and a statically linked busybox are installed (`make docker-proof`
installs them with apt-get): base images cannot be pulled here, so a Python base image is assembled
from this machine's interpreter, and build.sh builds the example Dockerfiles, unchanged but for their
FROM lines, with buildah (no daemon): pip and uv from requirements.txt, uv from uv.lock, poetry from
poetry.lock (the locks written by the venv's uv and poetry, poetry's own wheels downloaded by pip).
They install a package from a local index that answers 401 without basic auth `aws:TOKEN`; the
pushed image (every layer, its config and history) and the builder's whole storage are searched for
the token; a rebuild with a new token reuses the cached dependency layer without a request to the
index; a deliberately leaking step is found.

The build's machinery (the base image, the builder, the index, the search) is tests/repository/docker_build.py.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from tests.repository.docker_build import (
    BUSYBOX,
    GREETING,
    LOCAL_PYTHON,
    LOCAL_UV,
    PACKAGE,
    Builder,
    Index,
    assemble_python_base,
    build_context,
    files_holding,
    holding_the_token,
    missing_for_real_build,
    poetry_wheels,
    wheel,
)
from tests.repository.docker_recipe import RECIPES
from tests.repository.support import tool


@pytest.fixture(scope="module")
def index() -> Iterator[Index]:
    filename, data = wheel()
    digest = hashlib.sha256(data).hexdigest()
    state = Index(token="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # uv asks first whether the file server takes range requests
            self.do_GET(send_body=False)

        def do_GET(self, send_body: bool = True) -> None:
            expected = "Basic " + base64.b64encode(f"aws:{state.token}".encode()).decode()
            authorized = self.headers.get("Authorization") == expected
            state.requests.append((self.path, authorized))
            if not authorized:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="proof"')
                self.end_headers()
                return
            pages = {
                f"/pypi/internal/simple/{PACKAGE}/": (
                    "text/html", f'<a href="../../files/{filename}#sha256={digest}">{filename}</a>'.encode()),
                f"/pypi/internal/files/{filename}": ("application/octet-stream", data),
            }
            links: dict[str, list[str]] = {}
            for name, content in state.wheels.items():
                project = parse_wheel_filename(name)[0]
                links.setdefault(f"/pypi/internal/simple/{project}/", []).append(
                    f'<a href="../../files/{name}#sha256={hashlib.sha256(content).hexdigest()}">{name}</a>')
                pages[f"/pypi/internal/files/{name}"] = ("application/octet-stream", content)
            pages.update({path: ("text/html", "\n".join(anchors).encode()) for path, anchors in links.items()})
            if self.path not in pages:
                self.send_response(404)
                self.end_headers()
                return
            content_type, body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    thread.join()


@dataclass
class Proof:
    tokens: tuple[str, str, str]  # the first build's, the rebuild's, and the one in the context's .env
    requests: dict[str, list[tuple[str, bool]]]  # per build: (path, authorized) as the index saw them
    logs: dict[str, str]
    image_ids: tuple[str, str]  # the pip image after the first build and after the rebuild
    blobs: dict[str, list[tuple[str, bytes]]]  # per image: manifest, config, layers
    outputs: dict[str, str]  # `python -m app` in each image
    storage_hits: list[str]
    missing_secret: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def proof(tmp_path_factory: pytest.TempPathFactory, index: Index) -> Iterator[Proof]:
    reason = missing_for_real_build()
    if reason:
        if os.environ.get("DOCKER_PROOF_REQUIRED") == "1":
            pytest.fail(f"the real Docker build must run here (DOCKER_PROOF_REQUIRED=1) but: {reason}")
        pytest.skip(f"real Docker build not run: {reason}")
    builder = Builder(tmp_path_factory.mktemp("buildah"))
    try:
        yield build_everything(builder, index)
    finally:
        builder.clean()


def build_everything(builder: Builder, index: Index) -> Proof:
    home, seconds = builder.home, {}
    started = time.monotonic()
    library_path = assemble_python_base(home / "rootfs.tar")
    (home / "Containerfile.python").write_text(
        "FROM scratch\nADD rootfs.tar /\n"
        f"ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME=/root LD_LIBRARY_PATH={library_path}\n")
    builder.buildah("build", "--isolation", "chroot", "--pull=never", "-f", str(home / "Containerfile.python"),
                    "-t", LOCAL_PYTHON, str(home))
    uv_image = home / "uv-image"
    uv_image.mkdir()
    for name in ("uv", "uvx"):
        shutil.copy(tool(name), uv_image / name)
    (uv_image / "Containerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
    builder.buildah("build", "--isolation", "chroot", "--pull=never", "-f", str(uv_image / "Containerfile"),
                    "-t", LOCAL_UV, str(uv_image))
    seconds["base images"] = time.monotonic() - started

    first, second, dotenv_token = (f"CODEARTIFACT{secrets.token_hex(24)}" for _ in range(3))
    started = time.monotonic()
    (home / "poetry-wheels").mkdir()
    poetry_requirements, index.wheels = poetry_wheels(home / "poetry-wheels")
    index.token = first
    contexts = {recipe: build_context(home / recipe, recipe, dotenv_token, index, poetry_requirements)
                for recipe in RECIPES}
    seconds["poetry's wheels and the locks"] = time.monotonic() - started
    requests: dict[str, list[tuple[str, bool]]] = {}
    logs: dict[str, str] = {}

    def build(name: str, context: Path, dockerfile: Path, token: str) -> None:
        index.token, index.requests[:] = token, []
        started = time.monotonic()
        logs[name] = builder.build_script(context, dockerfile, f"localhost/proof-app:{name}", index.url(token))
        seconds[f"{name} build"] = time.monotonic() - started
        requests[name] = list(index.requests)

    for recipe, context in contexts.items():
        build(recipe, context, context / RECIPES[recipe].name, first)
    first_id = builder.image_id("localhost/proof-app:pip")
    # A new token: the dependency layer must come from the cache, without a request to the index.
    build("pip-rebuild", contexts["pip"], contexts["pip"] / "Dockerfile", second)
    second_id = builder.image_id("localhost/proof-app:pip-rebuild")

    started = time.monotonic()
    blobs = {name: builder.export(f"localhost/proof-app:{name}", home / f"oci-{name}") for name in RECIPES}
    outputs = {name: builder.run(f"localhost/proof-app:{name}", "python", "-m", "app") for name in RECIPES}
    # Every layer of every image and cache entry the builder kept, unpacked (vfs), and its cache mounts.
    storage_hits = [hit for directory in (builder.storage, builder.run_root, builder.tmp)
                    for hit in files_holding(directory, first, second, dotenv_token)]
    seconds["export, run and search"] = time.monotonic() - started

    # The control: a step that writes the secret into an image, found by the same export and search.
    leaky = home / "leak"
    leaky.mkdir()
    shutil.copy(BUSYBOX, leaky / "busybox")
    (leaky / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN --mount=type=secret,id=pip-index-url,required=true "
        '["/bin/busybox", "cp", "/run/secrets/pip-index-url", "/leak"]\n')
    build("leak", leaky, leaky / "Dockerfile", second)
    blobs["leak"] = builder.export("localhost/proof-app:leak", home / "oci-leak")
    # Without the secret (and with a requirements.txt the cache has not seen), the build stops.
    requirements = contexts["pip"] / "requirements.txt"
    requirements.write_text("# changed\n" + requirements.read_text())
    index.requests[:] = []
    missing_secret = subprocess.run(
        [str(builder.docker), "build", "-f", str(contexts["pip"] / "Dockerfile"), "-t", "localhost/proof-app:none",
         str(contexts["pip"])], capture_output=True, text=True, env=builder.env, check=False)
    requests["missing secret"] = list(index.requests)

    print(f"\nreal Docker build with {builder.buildah('--version').strip()}: "
          + ", ".join(f"{what} {value:.1f} s" for what, value in seconds.items())
          + f"; total {sum(seconds.values()):.1f} s")
    return Proof((first, second, dotenv_token), requests, logs, (first_id, second_id), blobs, outputs,
                 storage_hits, missing_secret)


def test_real_build_installs_through_the_secret(proof: Proof):
    """pip, uv and poetry reached the index with the token from the secret, and the images work."""
    for name in RECIPES:
        if name != "uv-lock":  # uv sync --frozen goes straight to the files the lock names
            assert (f"/pypi/internal/simple/{PACKAGE}/", True) in proof.requests[name], name
        assert (f"/pypi/internal/files/{wheel()[0]}", True) in proof.requests[name], name
        assert proof.outputs[name].strip() == GREETING, name
    # poetry itself came from the same index, through the same secret
    assert ("/pypi/internal/simple/poetry/", True) in proof.requests["poetry"]


def test_lock_file_builds_install_exactly_the_lock(proof: Proof):
    """Nothing is resolved again: uv asks for no index page, and no build asks for a package the
    lock does not name."""
    assert not any("/simple/" in path for path, _ in proof.requests["uv-lock"])
    assert {path for path, _ in proof.requests["uv-lock"]} == {f"/pypi/internal/files/{wheel()[0]}"}


def test_real_build_leaves_the_token_in_no_layer(proof: Proof):
    for name in RECIPES:
        blobs = proof.blobs[name]
        layers = [data for what, data in blobs if what.startswith("layer")]
        # base, the copied lock or requirements (not in poetry's last stage), dependencies, application
        assert len(layers) >= (3 if name == "poetry" else 4), name
        # the search looks at the right bytes: the installed package is in a layer
        assert any(GREETING.encode() in data for data in layers)
        assert holding_the_token(blobs, *proof.tokens) == [], name
        config = json.loads(dict(blobs)["config"])
        installs = [entry["created_by"] for entry in config["history"]
                    if "pip-index-url" in entry.get("created_by", "")]
        assert all("$(cat /run/secrets/pip-index-url)" in entry for entry in installs)  # the text only
        # poetry's image is its last stage: the steps that mounted the secret stay in the build stage
        assert bool(installs) == (name != "poetry"), name
    assert proof.storage_hits == []


def test_a_new_token_reuses_the_cached_dependency_layer(proof: Proof):
    first_id, second_id = proof.image_ids
    assert first_id == second_id
    assert proof.requests["pip-rebuild"] == []  # nothing was downloaded again
    assert "Using cache" in proof.logs["pip-rebuild"]


def test_a_missing_secret_stops_the_build_instead_of_falling_back_to_pypi(proof: Proof):
    assert proof.missing_secret.returncode != 0, proof.missing_secret.stdout
    assert "pip-index-url" in proof.missing_secret.stderr
    assert "Looking in indexes" not in proof.missing_secret.stdout  # pip never started
    assert proof.requests["missing secret"] == []


def test_the_search_finds_a_token_a_step_writes_into_the_image(proof: Proof):
    blobs = proof.blobs["leak"]
    hits = holding_the_token(blobs, proof.tokens[1])
    last_layer = blobs[-1][0]
    assert hits and all(hit.startswith(last_layer) for hit in hits), hits
    assert f"{last_layer}: leak" in hits
