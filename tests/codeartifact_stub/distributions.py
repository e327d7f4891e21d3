"""Wheels and sdists assembled by hand (the wheel format is a zip with three metadata files).

No build backend runs and nothing is downloaded; the files are byte-for-byte reproducible, and
`marker` changes the bytes of a file without changing its name (a rebuilt, different file).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path

# A fixed timestamp keeps the archives reproducible.
EPOCH = (2026, 1, 1, 0, 0, 0)
REQUIRES_PYTHON = ">=3.10"


def normalise(name: str) -> str:
    """PEP 503 normalised name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata(name: str, version: str, requires: list[str]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             f"Summary: {name}, a test package", f"Requires-Python: {REQUIRES_PYTHON}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return "\n".join(lines) + "\n\n"


def write_wheel(directory: Path, name: str, version: str, requires: list[str] = (), marker: str = "") -> Path:
    """name-version-py3-none-any.whl with one module that records its own version."""
    distribution = normalise(name).replace("-", "_")
    info = f"{distribution}-{version}.dist-info"
    files = {
        f"{distribution}/__init__.py": f"__version__ = {version!r}\n# {marker}\n".encode(),
        f"{info}/METADATA": metadata(name, version, list(requires)).encode(),
        f"{info}/WHEEL": (b"Wheel-Version: 1.0\nGenerator: codeartifact-stub\nRoot-Is-Purelib: true\n"
                          b"Tag: py3-none-any\n"),
    }
    record = "".join(f"{path},{_record_digest(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = directory / f"{distribution}-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            entry = zipfile.ZipInfo(member, date_time=EPOCH)
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data, zipfile.ZIP_DEFLATED)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def write_sdist(directory: Path, name: str, version: str, requires: list[str] = (), marker: str = "") -> Path:
    """name-version.tar.gz with PKG-INFO (all that twine and the publish step read)."""
    distribution = normalise(name).replace("-", "_")
    stem = f"{distribution}-{version}"
    files = {
        f"{stem}/PKG-INFO": metadata(name, version, list(requires)).encode(),
        f"{stem}/{distribution}/__init__.py": f"__version__ = {version!r}\n# {marker}\n".encode(),
    }
    buffer = io.BytesIO()
    # gzip's header holds a time: mtime=0 keeps the bytes reproducible.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed, \
            tarfile.open(fileobj=compressed, mode="w") as archive:
        for member, data in files.items():
            entry = tarfile.TarInfo(member)
            entry.size, entry.mtime, entry.mode = len(data), 1767225600, 0o644
            archive.addfile(entry, io.BytesIO(data))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path
