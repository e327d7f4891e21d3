"""Write the hashed list of build and twine into the install steps of the publish workflow.

The reusable publish workflow runs in the library's repository, so it cannot read a lock file
from this one: it carries its list inline and writes it to $RUNNER_TEMP before
`pip install --require-hashes --only-binary :all:`. `make lock` resolves .ci/publish-tools.in
with uv into .ci/pylock.publish-tools.toml (PEP 751, wheels only) and runs this on it. Each
package keeps the digests of the wheels CPython OLDEST to NEWEST can install on Linux x86_64
(manylinux up to glibc 2.39, the ubuntu-24.04 runner), packages that never install there are
left out, and the result replaces the text between `<<'PUBLISH_TOOLS'` and `PUBLISH_TOOLS` in
every step that has it.

    python .ci/publish_tools_lock.py PYLOCK WORKFLOW OLDEST NEWEST
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser before it joined the standard library (requirements-dev.txt on 3.10)
    tomllib = importlib.import_module("tomli")

GLIBC_NEWEST = 39  # ubuntu-24.04
PLATFORMS = [
    *(f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_NEWEST, 4, -1)),
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64",
]
# cat >"$RUNNER_TEMP/publish-tools.txt" <<'PUBLISH_TOOLS' ... PUBLISH_TOOLS, at any indentation.
HEREDOC = re.compile(
    r"^(?P<indent> *)cat >\"\$RUNNER_TEMP/publish-tools.txt\" <<'PUBLISH_TOOLS'\n"
    r"(?P<body>.*?)^(?P=indent)PUBLISH_TOOLS\n",
    re.MULTILINE | re.DOTALL,
)


def minors(oldest: str, newest: str) -> list[tuple[int, int]]:
    first, last = (tuple(int(part) for part in version.split(".")) for version in (oldest, newest))
    if first[0] != 3 or last[0] != 3 or first > last:
        raise SystemExit(f"expected two Python 3 versions, oldest first: {oldest} {newest}")
    return [(3, minor) for minor in range(first[1], last[1] + 1)]


def tags_for(python: tuple[int, int]) -> set[Tag]:
    interpreter = f"cp{python[0]}{python[1]}"
    return {*cpython_tags(python, abis=[interpreter], platforms=PLATFORMS),
            *compatible_tags(python, interpreter=interpreter, platforms=PLATFORMS)}


def environments(python: tuple[int, int]) -> list[dict[str, str]]:
    base = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "platform_machine": "x86_64", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "python_version": f"{python[0]}.{python[1]}"}
    return [{**base, "python_full_version": f"{python[0]}.{python[1]}.{patch}",
             "implementation_version": f"{python[0]}.{python[1]}.{patch}"} for patch in (0, 99)]


def simplified(marker: Marker | None, wanted: list[tuple[int, int]], pythons: list[tuple[int, int]]) -> str:
    """The marker on Linux x86_64: nothing, a python_version range, or uv's own where a patch matters."""
    if marker is None or wanted == pythons:
        return ""
    splits_a_minor = any(len({marker.evaluate(env) for env in environments(python)}) > 1 for python in pythons)
    if splits_a_minor or wanted != pythons[pythons.index(wanted[0]):][:len(wanted)]:
        return f" ; {marker}"
    bounds = []
    if wanted[0] != pythons[0]:
        bounds.append(f'python_version >= "{wanted[0][0]}.{wanted[0][1]}"')
    if wanted[-1] != pythons[-1]:
        bounds.append(f'python_version < "{wanted[-1][0]}.{wanted[-1][1] + 1}"')
    return " ; " + " and ".join(bounds)


def requirements(lock: dict[str, Any], pythons: list[tuple[int, int]]) -> str:
    """The pip requirements text: name==version, a marker where it matters, and the digests."""
    packages: list[dict[str, Any]] = lock.get("packages") or []
    if not packages:
        raise SystemExit("the lock has no packages")
    lines: list[str] = []
    for package in packages:
        name, version = package["name"], package["version"]
        marker = Marker(package["marker"]) if package.get("marker") else None
        wanted = [python for python in pythons
                  if marker is None or any(marker.evaluate(env) for env in environments(python))]
        if not wanted:
            continue  # another platform's dependency (Windows, say)
        digests: set[str] = set()
        for python in wanted:
            tags = tags_for(python)
            found = {wheel["hashes"]["sha256"] for wheel in package.get("wheels", [])
                     if parse_wheel_filename(wheel["url"].rsplit("/", 1)[1])[3] & tags}
            if not found:
                raise SystemExit(f"{name} {version} has no wheel for CPython {python[0]}.{python[1]} on Linux x86_64")
            digests |= found
        lines.append(f"{name}=={version}{simplified(marker, wanted, pythons)} \\")
        lines.extend(f"    --hash=sha256:{digest}" + (" \\" if i < len(digests) - 1 else "")
                     for i, digest in enumerate(sorted(digests)))
    return "\n".join(lines) + "\n"


def rewrite(workflow: str, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        indent = match["indent"]
        body = "".join(f"{indent}{line}\n" if line else "\n" for line in text.splitlines())
        return f"{match.group(0).splitlines()[0]}\n{body}{indent}PUBLISH_TOOLS\n"

    rewritten, count = HEREDOC.subn(replace, workflow)
    if count == 0:
        raise SystemExit("no <<'PUBLISH_TOOLS' list in the workflow")
    return rewritten


def main(argv: list[str]) -> None:
    if len(argv) != 4:
        raise SystemExit(__doc__)
    pylock, workflow, oldest, newest = argv
    lock = tomllib.loads(Path(pylock).read_text(encoding="utf-8"))
    text = requirements(lock, minors(oldest, newest))
    path = Path(workflow)
    path.write_text(rewrite(path.read_text(encoding="utf-8"), text), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
