"""The real build's machinery (tests/repository/test_docker_real_build.py): a Python base image assembled from
this machine's interpreter, buildah as the builder, a CodeArtifact-like index on 127.0.0.1, the build contexts
and their locks, and the search for the token in what the builder exported and kept."""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.utils import parse_wheel_filename

from tests.repository.docker_recipe import BUILD_SCRIPT, EXAMPLE, INPUTS, RECIPES, SOURCE_NAME
from tests.repository.support import tool

BUSYBOX = Path("/bin/busybox")
UV_IMAGE, PYTHON_IMAGE = "ghcr.io/astral-sh/uv:0.13.9", "python:3.12-slim-bookworm"
LOCAL_PYTHON, LOCAL_UV = "localhost/proof-python:base", "localhost/proof-uv:base"
PACKAGE, VERSION, GREETING = "acme-hello", "1.0", "hello from the private index"


def is_static_elf(path: Path) -> bool:
    """A 64-bit little-endian ELF executable without a program interpreter (PT_INTERP)."""
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        return False
    offset = int.from_bytes(data[0x20:0x28], "little")
    size, count = int.from_bytes(data[0x36:0x38], "little"), int.from_bytes(data[0x38:0x3A], "little")
    return all(int.from_bytes(data[offset + i * size: offset + i * size + 4], "little") != 3 for i in range(count))


def missing_for_real_build() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (buildah builds here without a daemon, as root, with chroot isolation)"
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah; `make docker-proof` does it)"
    if not BUSYBOX.exists() or not is_static_elf(BUSYBOX):
        return "no statically linked /bin/busybox (apt-get install busybox-static; `make docker-proof` does it)"
    if shutil.which("ldd") is None:
        return "ldd is not installed"
    return None


def wheel() -> tuple[str, bytes]:
    """A pure-Python wheel of the package, built here: only the index serves it."""
    name = PACKAGE.replace("-", "_")
    files = {
        f"{name}/__init__.py": f"GREETING = {GREETING!r}\n".encode(),
        f"{name}-{VERSION}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n".encode(),
        f"{name}-{VERSION}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: proof\nRoot-Is-Purelib: true\n"
                                             b"Tag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()) + f"{name}-{VERSION}.dist-info/RECORD,,\n"
    files[f"{name}-{VERSION}.dist-info/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():  # a fixed date: the same bytes, hence digest, every time
            archive.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return f"{name}-{VERSION}-py3-none-any.whl", buffer.getvalue()


@dataclass
class Index:
    """A CodeArtifact-like index on 127.0.0.1: /pypi/internal/simple/, basic auth aws:TOKEN, 401 otherwise."""

    token: str
    requests: list[tuple[str, bool]] = field(default_factory=list)
    port: int = 0
    wheels: dict[str, bytes] = field(default_factory=dict)  # file name -> content, besides the package

    def plain_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pypi/internal/simple/"

    def url(self, token: str) -> str:
        return f"http://aws:{token}@127.0.0.1:{self.port}/pypi/internal/simple/"


class RootfsTar:
    """A root filesystem as a tar file: every directory 0755, files 0644 or 0755, owned by root."""

    def __init__(self, path: Path) -> None:
        self.tar = tarfile.open(path, "w")  # noqa: SIM115 (closed by close())
        self.done: set[str] = set()

    def _parents(self, target: PurePosixPath) -> None:
        for parent in reversed(target.parents):
            self.directory(parent)

    def _info(self, target: PurePosixPath, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(str(target).lstrip("/"))
        info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, 0, 0, 0
        return info

    def directory(self, target: PurePosixPath, mode: int = 0o755) -> None:
        if str(target) in ("/", ".") or str(target) in self.done:
            return
        self._parents(target)
        self.done.add(str(target))
        self.tar.addfile(self._info(target, tarfile.DIRTYPE, mode))

    def file(self, target: PurePosixPath, data: bytes, executable: bool = False) -> None:
        if str(target) in self.done:
            return
        self._parents(target)
        self.done.add(str(target))
        info = self._info(target, tarfile.REGTYPE, 0o755 if executable else 0o644)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))

    def copy(self, source: Path, target: PurePosixPath | None = None) -> None:
        self.file(target or PurePosixPath(str(source)), source.read_bytes(), os.access(source, os.X_OK))

    def symlink(self, target: PurePosixPath, points_to: str) -> None:
        if str(target) in self.done:
            return
        self._parents(target)
        self.done.add(str(target))
        info = self._info(target, tarfile.SYMTYPE, 0o777)
        info.linkname = points_to
        self.tar.addfile(info)

    def tree(self, source: Path, skip: set[str]) -> None:
        for directory, subdirectories, files in os.walk(source):
            subdirectories[:] = [name for name in subdirectories
                                 if name not in skip and not name.startswith("config-")]
            self.directory(PurePosixPath(directory))
            for name in files:
                path = Path(directory, name)
                if path.is_file():
                    self.copy(path.resolve(), PurePosixPath(str(path)))

    def close(self) -> None:
        self.tar.close()


def shared_libraries(binaries: list[Path]) -> set[Path]:
    found = set()
    for binary in binaries:
        listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
        found |= {Path(match) for match in re.findall(r"(/\S+) \(0x[0-9a-f]+\)", listing)}
    return found


def assemble_python_base(tar_path: Path) -> str:
    """This machine's Python (its interpreter, standard library, shared libraries and the venv's
    pip), busybox for /bin/sh, and uv's shared libraries: what python:*-slim offers a build.
    Returns the LD_LIBRARY_PATH the image needs (the libraries keep their host paths)."""
    executable = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    paths = json.loads(subprocess.run(
        [str(executable), "-I", "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
        capture_output=True, text=True, check=True).stdout)
    skip = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages",
            "__pycache__"}
    rootfs = RootfsTar(tar_path)
    rootfs.copy(executable)
    standard = {Path(paths["stdlib"]), Path(paths["platstdlib"])}
    for tree in standard:
        rootfs.tree(tree, skip)
    extensions = [path for tree in standard for path in tree.rglob("*.so")
                  if not skip.intersection(path.relative_to(tree).parts)]
    libraries = shared_libraries([executable, *extensions, Path(tool("uv"))])
    for library in libraries:
        rootfs.copy(library.resolve(), PurePosixPath(str(library)))
    import pip  # the venv's own, the interpreter's version

    pip_package = Path(pip.__file__).parent
    purelib = PurePosixPath(paths["purelib"])
    for source in [pip_package, *pip_package.parent.glob(f"pip-{pip.__version__}.dist-info")]:
        for file in source.rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts:
                rootfs.copy(file, purelib / file.relative_to(pip_package.parent).as_posix())
    rootfs.copy(BUSYBOX, PurePosixPath("/bin/busybox"))
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        rootfs.symlink(PurePosixPath("/bin") / applet, "/bin/busybox")
    for name in ("python", "python3"):
        rootfs.symlink(PurePosixPath("/usr/local/bin") / name, str(executable))
    rootfs.file(PurePosixPath("/usr/local/bin/pip"), b'#!/bin/sh\nexec python3 -m pip "$@"\n', executable=True)
    rootfs.file(PurePosixPath("/etc/passwd"), b"root:x:0:0:root:/root:/bin/sh\n")
    rootfs.file(PurePosixPath("/etc/group"), b"root:x:0:\n")
    rootfs.directory(PurePosixPath("/root"), 0o700)
    rootfs.directory(PurePosixPath("/tmp"), 0o1777)
    rootfs.close()
    return ":".join(sorted({str(library.parent) for library in libraries}))


@dataclass
class Builder:
    """buildah with its own storage under the test's directory, vfs, chroot isolation, no daemon."""

    home: Path

    def __post_init__(self) -> None:
        self.storage, self.run_root, self.tmp = self.home / "storage", self.home / "run", self.home / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": str(self.tmp), "HOME": str(self.home)}
        self.prefix = ["buildah", "--root", str(self.storage), "--runroot", str(self.run_root),
                       "--storage-driver", "vfs"]
        # `docker build ARGS` for build.sh: the same builder, with cached layers and no pulls.
        self.docker = self.home / "docker"
        self.docker.write_text(
            "#!/bin/sh\n"
            '[ "$1" = build ] || { echo "only build is supported" >&2; exit 64; }\nshift\n'
            f"exec {shlex.join(self.prefix)} build --isolation chroot --layers --pull=never \"$@\"\n")
        self.docker.chmod(0o755)

    def buildah(self, *args: str) -> str:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, env=self.env, check=False)
        assert result.returncode == 0, f"buildah {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def build_script(self, context: Path, dockerfile: Path, tag: str, index_url: str) -> str:
        """examples/docker/build.sh, exactly as a user runs it, with buildah as `docker`."""
        result = subprocess.run(["sh", str(BUILD_SCRIPT), "-f", str(dockerfile), "-t", tag, str(context)],
                                capture_output=True, text=True, check=False,
                                env={**self.env, "DOCKER": str(self.docker), "PIP_INDEX_URL": index_url})
        assert result.returncode == 0, f"build.sh {dockerfile.name}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def clean(self) -> None:
        """Remove everything built (about 1 GB with vfs), but never through a mount left behind."""
        subprocess.run([*self.prefix, "rm", "--all"], capture_output=True, env=self.env, check=False)
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        if not any(Path(mount).is_relative_to(self.home) for mount in mounts):
            shutil.rmtree(self.home, ignore_errors=True)

    def image_id(self, tag: str) -> str:
        return self.buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", tag).strip()

    def export(self, tag: str, destination: Path) -> list[tuple[str, bytes]]:
        """The image as a registry would get it (`buildah push` to an OCI layout): every blob,
        layers uncompressed, with what it is."""
        self.buildah("push", "--quiet", "--disable-compression", tag, f"oci:{destination}:latest")
        index = json.loads((destination / "index.json").read_text())
        (manifest_descriptor,) = index["manifests"]

        def blob(digest: str) -> bytes:
            return (destination / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()

        manifest = json.loads(blob(manifest_descriptor["digest"]))
        blobs = [("manifest", blob(manifest_descriptor["digest"])), ("config", blob(manifest["config"]["digest"]))]
        for number, layer in enumerate(manifest["layers"]):
            data = blob(layer["digest"])
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            assert tarfile.is_tarfile(io.BytesIO(data)), f"layer {number} is neither a tar nor a gzipped tar"
            blobs.append((f"layer {number}", data))
        return blobs

    def run(self, tag: str, *command: str) -> str:
        container = self.buildah("from", "--pull=never", tag).strip()
        try:
            return self.buildah("run", "--isolation", "chroot", container, "--", *command)
        finally:
            self.buildah("rm", container)


def token_forms(token: str) -> list[bytes]:
    """The token as it could be stored: itself, and in the basic-auth header pip and uv send."""
    return [token.encode(), base64.b64encode(f"aws:{token}".encode())]


def holding_the_token(blobs: list[tuple[str, bytes]], *tokens: str) -> list[str]:
    """The blobs holding any of the tokens, and for a layer the files in it (an uncompressed tar
    stores each file's bytes as they are, so the blob's bytes hold every file's)."""
    forms = [form for token in tokens for form in token_forms(token)]
    found = []
    for what, data in blobs:
        if not any(form in data for form in forms):
            continue
        found.append(what)
        if what.startswith("layer"):
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for member in layer.getmembers():
                    content = layer.extractfile(member) if member.isfile() else None
                    if content is not None and any(form in content.read() for form in forms):
                        found.append(f"{what}: {member.name}")
    return found


def files_holding(directory: Path, *tokens: str) -> list[str]:
    forms = [form for token in tokens for form in token_forms(token)]
    return [str(path) for path in directory.rglob("*")
            if path.is_file() and not path.is_symlink() and any(form in path.read_bytes() for form in forms)]


def locking_env(home: Path, index: Index) -> dict[str, str]:
    """uv and poetry on this machine, as a developer locks a project: the index's credentials
    in the environment, caches and configuration under the test's directory."""
    name = SOURCE_NAME.upper()
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"), "UV_PYTHON_DOWNLOADS": "never",
            f"UV_INDEX_{name}_USERNAME": "aws", f"UV_INDEX_{name}_PASSWORD": index.token,
            f"POETRY_HTTP_BASIC_{name}_USERNAME": "aws", f"POETRY_HTTP_BASIC_{name}_PASSWORD": index.token,
            "POETRY_VIRTUALENVS_CREATE": "false", "POETRY_NO_INTERACTION": "1"}


def lock_project(directory: Path, recipe: str, index: Index) -> None:
    """pyproject.toml naming the index as source `internal` by its URL without credentials, and its
    lock, written by the real uv or poetry (their versions in the venv) from the running index."""
    pyproject = ("[project]\nname = \"app\"\nversion = \"1.0\"\nrequires-python = \">=3.10\"\n"
                 f"dependencies = [\"{PACKAGE}=={VERSION}\"]\n\n")
    if recipe == "uv-lock":
        pyproject += (f"[tool.uv]\npackage = false\n\n[[tool.uv.index]]\nname = \"{SOURCE_NAME}\"\n"
                      f"url = \"{index.plain_url()}\"\ndefault = true\n")
        command = [tool("uv"), "lock"]
    else:
        pyproject += (f"[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = \"{SOURCE_NAME}\"\n"
                      f"url = \"{index.plain_url()}\"\npriority = \"primary\"\n")
        command = [sys.executable, "-m", "poetry", "lock"]
    (directory / "pyproject.toml").write_text(pyproject)
    home = directory.parent / f"{recipe}-locking"
    home.mkdir()
    result = subprocess.run(command, cwd=directory, env=locking_env(home, index), capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    shutil.rmtree(home)


def poetry_wheels(directory: Path) -> tuple[str, dict[str, bytes]]:
    """poetry (the venv's version) and its dependencies for this interpreter as wheels, downloaded by
    pip from its configured index (the only step of the proof that needs the network; pip's cache
    serves a repeat), and the hashed poetry-requirements.txt that names exactly them."""
    version = importlib.metadata.version("poetry")
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
                             "--dest", str(directory), f"poetry=={version}"],
                            capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, f"pip download poetry=={version}:\n{result.stdout}\n{result.stderr}"
    wheels = {path.name: path.read_bytes() for path in sorted(directory.glob("*.whl"))}
    lines = []
    for name, content in wheels.items():
        project, wheel_version, _, _ = parse_wheel_filename(name)
        lines.append(f"{project}=={wheel_version} --hash=sha256:{hashlib.sha256(content).hexdigest()}")
    return "\n".join(lines) + "\n", wheels


def build_context(directory: Path, recipe: str, leaked_token: str, index: Index, poetry_requirements: str) -> Path:
    """The example's Dockerfile with its FROM images replaced by the local ones (nothing else
    changes), .dockerignore, what the recipe installs from (a hashed requirements.txt, or
    pyproject.toml with uv.lock or poetry.lock, and poetry-requirements.txt), the application, and an
    .env holding a token that .dockerignore must keep out of `COPY . .`."""
    directory.mkdir()
    dockerfile = RECIPES[recipe]
    replacements = {PYTHON_IMAGE: LOCAL_PYTHON, UV_IMAGE: LOCAL_UV}
    text = dockerfile.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms and set(froms) <= set(replacements), f"unknown images in {dockerfile.name}: {froms}"
    text = re.sub(r"^FROM (\S+)", lambda match: f"FROM {replacements[match[1]]}", text, flags=re.M)
    (directory / dockerfile.name).write_text(text, encoding="utf-8")
    shutil.copy(EXAMPLE / ".dockerignore", directory / ".dockerignore")
    if "requirements.txt" in INPUTS[recipe]:
        digest = hashlib.sha256(wheel()[1]).hexdigest()
        (directory / "requirements.txt").write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{digest}\n")
    else:
        lock_project(directory, recipe, index)
    if "poetry-requirements.txt" in INPUTS[recipe]:
        (directory / "poetry-requirements.txt").write_text(poetry_requirements)
    assert all((directory / name).is_file() for name in INPUTS[recipe])
    (directory / "app").mkdir()
    (directory / "app" / "__main__.py").write_text("from acme_hello import GREETING\n\nprint(GREETING)\n")
    (directory / ".env").write_text(f"PIP_INDEX_URL=http://aws:{leaked_token}@127.0.0.1/\n")
    return directory
