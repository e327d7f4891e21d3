"""Settings that send a tool to another index, for --doctor (a "wrong URL" line) and --write.

One detector for both: --write refuses, or with --fix comments the lines out. It finds every setting
that a tool reads over the file pypi-login writes, or that adds a second index or a link page
(find-links) next to it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypi_login import clients
from pypi_login.config_text import config_entries, parse_toml, read_text, split_credentials, toml_value_lines


@dataclass(frozen=True)
class Override:
    """A setting that would send a tool elsewhere: where it is (file and line, or $VARIABLE) and the fix."""

    tool: str
    where: str
    what: str
    fix: str
    path: Path | None = None
    lines: tuple[int, ...] = ()  # 1-based lines that --fix comments out; () when only the user can fix it

    @property
    def message(self) -> str:
        return f"{self.where} {self.what}: {self.fix}"


SECOND_INDEX = "adds a second index (dependency confusion)"
# find-links: the tool also takes distributions from a page or directory of links, where a public
# package can take an internal name just as on a second index.
LINK_PAGE = "adds a link page beside the index (dependency confusion)"
# The keys pip and uv share that add a source beside the one index, wherever they are read.
ANOTHER_SOURCE = {"extra-index-url": SECOND_INDEX, "find-links": LINK_PAGE}


def _table_lines(entries: Sequence[tuple[str, int, str, int, tuple[int, ...]]], table: str, occurrence: int,
                 total: int) -> tuple[int, ...]:
    """Every line of the array table `table`'s n-th entry, from its header to the next header."""
    headers = [entry[3] for entry in entries if not entry[2]]
    start = next((entry[3] for entry in entries if not entry[2] and entry[0] == table and entry[1] == occurrence), 0)
    if not start:
        return ()
    end = next((line for line in headers if line > start), total + 1)
    return tuple(range(start, end))


def pip_overrides(environ: Mapping[str, str], ours: Path, files: Sequence[Path], *,
                  index_variable: bool = True) -> list[Override]:
    """What pip reads over `[global] index-url` in `ours`, or as a second index, in the files pip loads
    (`files`, lowest precedence first, as `pip config debug` lists them) and its variables."""
    found = []
    if index_variable and environ.get("PIP_INDEX_URL"):
        found.append(Override("pip", "$PIP_INDEX_URL", f"is read over {ours}", "unset PIP_INDEX_URL"))
    if environ.get("PIP_EXTRA_INDEX_URL"):
        found.append(Override("pip", "$PIP_EXTRA_INDEX_URL", SECOND_INDEX, "unset it"))
    if environ.get("PIP_FIND_LINKS"):
        found.append(Override("pip", "$PIP_FIND_LINKS", LINK_PAGE, "unset it"))
    resolved = [Path(os.path.realpath(path)) for path in files]
    mine = Path(os.path.realpath(ours))
    rank = resolved.index(mine) if mine in resolved else -1
    for position, path in enumerate(resolved):
        text = read_text(path)
        for section, _, key, line, lines in config_entries(text):
            if section not in ("global", "install") or key not in ("index-url", *ANOTHER_SOURCE):
                continue
            where = f"{path}:{line}"
            if key in ANOTHER_SOURCE:
                found.append(Override("pip", where, f"[{section}] {key} {ANOTHER_SOURCE[key]}",
                                      f"remove line {line}", path, lines))
            elif section == "install":
                # pip applies [install] over [global] whichever file each is in.
                found.append(Override("pip", where, f"[install] index-url is read over [global] index-url in {ours}",
                                      f"remove line {line}", path, lines))
            elif position > rank and path != mine:
                found.append(Override("pip", where, f"[global] index-url is read over {ours} (a file pip loads later)",
                                      f"remove line {line}", path, lines))
    return found


def _uv_index_overrides(path: Path, text: str, table: str, index_url: str | None,
                        later: bool) -> list[Override]:
    """Indexes in one uv configuration (`table` "" for uv.toml, "tool.uv" for pyproject.toml).

    `later`: the file is read over the user file (a project's): its default index wins too."""
    settings: Any = parse_toml(text)
    for part in filter(None, table.split(".")):
        settings = settings.get(part, {}) if isinstance(settings, dict) else {}
    if not isinstance(settings, dict):
        return []
    entries = config_entries(text)
    total = len(text.splitlines())
    prefix = f"{table}." if table else ""
    found = []
    for key in ("index-url", *ANOTHER_SOURCE):
        if key in settings and (key in ANOTHER_SOURCE or later):
            found.append(_uv_key_override(path, text, entries, table, key,
                                          ANOTHER_SOURCE.get(key, "replaces the default index")))
    found += _uv_pip_table_overrides(path, text, settings.get("pip"), f"{prefix}pip", entries, index_url)
    indexes = settings.get("index", [])
    for occurrence, index in enumerate(indexes if isinstance(indexes, list) else []):
        if not isinstance(index, dict) or index.get("explicit"):
            continue  # an explicit index serves only the packages pinned to it by name
        url = split_credentials(str(index.get("url", "")))[0]
        if index_url is not None and url == index_url:
            continue  # the registry's own index, named by the project
        if index.get("default") and not later:
            continue  # a default index of lower precedence: the one pypi-login writes replaces it
        lines = _table_lines(entries, f"{prefix}index", occurrence, total)
        line = lines[0] if lines else 0
        what = ("is read over the default index pypi-login writes" if index.get("default")
                else "is searched before the default index (dependency confusion)")
        found.append(Override("uv", f"{path}:{line}", f"[[{prefix}index]] {index.get('name', 'unnamed')!r} {what}",
                              f"remove lines {lines[0]}-{lines[-1]}" if lines else "remove it", path, lines))
    return found


def _uv_pip_table_overrides(path: Path, text: str, pip_table: Any, table: str,
                            entries: Sequence[tuple[str, int, str, int, tuple[int, ...]]],
                            index_url: str | None) -> list[Override]:
    """The `[pip]` table (`[tool.uv.pip]` in pyproject.toml): what `uv pip` reads over every other setting, in
    whichever file: an index-url other than the registry's, a second index or a link page."""
    if not isinstance(pip_table, dict):
        return []
    found = []
    for key in ("index-url", *ANOTHER_SOURCE):
        if key not in pip_table:
            continue
        if key == "index-url" and index_url is not None and split_credentials(str(pip_table[key]))[0] == index_url:
            continue  # the registry's own index
        found.append(_uv_key_override(path, text, entries, table, key,
                                      ANOTHER_SOURCE.get(key, "replaces the index for `uv pip`")))
    return found


def _uv_key_override(path: Path, text: str, entries: Sequence[tuple[str, int, str, int, tuple[int, ...]]],
                     table: str, key: str, what: str) -> Override:
    """One key of a uv TOML table that sends uv elsewhere: its line, and every line of its value for --fix."""
    line = next((entry[3] for entry in entries if entry[0] == table and entry[2] == key), 0)
    name = f"{table}.{key}" if table else key
    return Override("uv", f"{path}:{line}", f"{name} {what}", f"remove line {line}", path,
                    toml_value_lines(text, line) if line else ())


def comment_out(path: Path, lines: set[int]) -> None:
    """--fix: comment out these lines of a configuration file, keeping everything else (and the file's mode)."""
    text = path.read_text(encoding="utf-8")
    edited = [f"# disabled by pypi-login --fix: {line}" if number in lines else line
              for number, line in enumerate(text.splitlines(), start=1)]
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")


def poetry_project(project: Path) -> bool:
    """Whether `project` holds a poetry project (a pyproject.toml with [tool.poetry])."""
    pyproject = project / "pyproject.toml"
    return pyproject.is_file() and isinstance(parse_toml(read_text(pyproject)).get("tool", {}).get("poetry"), dict)


def uv_project_file(project: Path) -> tuple[Path, str] | None:
    """The project configuration uv finds from `project` upwards: uv.toml, or pyproject.toml with [tool.uv]."""
    for directory in (project, *project.parents):
        if (directory / "uv.toml").is_file():
            return directory / "uv.toml", ""
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and isinstance(parse_toml(read_text(pyproject)).get("tool", {}).get("uv"), dict):
            return pyproject, "tool.uv"
    return None


def uv_overrides(environ: Mapping[str, str], ours: Path, project: Path | None, index_url: str | None, *,
                 index_variables: bool = True) -> list[Override]:
    """What uv reads over the default index in `ours`, or as another index: its variables, the project's
    configuration (read over the user's), the user file itself outside pypi-login's block, the system file."""
    found = []
    variables = {"UV_INDEX": SECOND_INDEX, "UV_EXTRA_INDEX_URL": SECOND_INDEX, "UV_FIND_LINKS": LINK_PAGE,
                 "UV_NO_CONFIG": f"makes uv ignore {ours}"}
    if index_variables:
        variables.update({"UV_DEFAULT_INDEX": f"is read over {ours}", "UV_INDEX_URL": f"is read over {ours}"})
    for variable, what in variables.items():
        if environ.get(variable):
            found.append(Override("uv", f"${variable}", what, f"unset {variable}"))
    text = clients.BLOCK.sub("", read_text(ours))  # pypi-login's own block is replaced by --write
    # In the user file itself, another default index or index-url would contend with the one written.
    found += _uv_index_overrides(ours, text, "", index_url, later=True)
    if project is not None and not environ.get("UV_CONFIG_FILE"):  # --config-file turns discovery off
        discovered = uv_project_file(project)
        if discovered is not None:
            found += _uv_index_overrides(discovered[0], read_text(discovered[0]), discovered[1], index_url, later=True)
    system = [Path(directory) / "uv" / "uv.toml"
              for directory in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if directory]
    for path in [*system, Path("/etc/uv/uv.toml")]:
        if path.is_file() and path != ours:
            found += _uv_index_overrides(path, read_text(path), "", index_url, later=False)
    return found


def pip_config_files(environ: Mapping[str, str]) -> list[Path] | str:
    """The files pip loads, lowest precedence first, as the user's own pip reports them (`pip config
    debug`); or why they are unknown."""
    pip = shutil.which("pip", path=environ.get("PATH")) or shutil.which("pip3", path=environ.get("PATH"))
    if pip is None:
        return "no pip on PATH to ask which configuration files it reads (`pip config debug`)"
    try:
        result = subprocess.run([pip, "config", "debug"],  # noqa: S603 - the user's own pip, as they would run it env={**environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
                                capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`{pip} config debug` failed: {error}"
    if result.returncode != 0:
        return f"`{pip} config debug` failed: {result.stderr.strip() or result.returncode}"
    variants: dict[str, list[Path]] = {}
    variant = ""
    for line in result.stdout.splitlines():
        if re.fullmatch(r"[a-z_]+:", line):
            variant = line[:-1]
            variants[variant] = []
        elif variant and (found := re.fullmatch(r"  (?P<path>.+), exists: (True|False)", line)):
            variants[variant].append(Path(found["path"]))
    if not {"global", "user", "site"} <= set(variants):
        return f"`{pip} config debug` printed what pypi-login does not understand: {result.stdout[:200]!r}"
    # pip loads global, then user, then site (the virtual environment's), then $PIP_CONFIG_FILE ("env").
    return [path for name in ("global", "user", "site", "env") for path in variants.get(name, [])]
