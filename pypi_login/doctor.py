"""`pypi-login --doctor`: what each tool would use, tried against the index, one line each.

For pip, uv and poetry it reads the configuration the tool itself reads (environment variables
first, then the user files this helper writes, and for poetry the project's pyproject.toml), then:
- no token configured                                    -> "no token"
- an index URL that is not the registry's one index, or a second index -> "wrong URL"
- a token whose recorded expiry has passed               -> "expired"
- an authenticated GET of `<index>/<package>/`:
  200 -> "ok"; 401 -> "token refused"; 403 -> "no permission" (the token's role may not read);
  404 -> CodeArtifact answers both a refused token and a missing package with 404 (reported both
  ways), so the doctor asks again with a token it has just requested (when AWS credentials allow)
  or with a token that is certainly invalid, and says "package missing" or "token refused" only
  when the answers tell them apart; otherwise it says that they cannot be told apart.

It never prints a token. Network: the index (through the user's HTTPS proxy settings, like pip)
and, for a fresh token and the repository endpoint, CodeArtifact's API through boto3.
"""

from __future__ import annotations

import base64
import configparser
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pypi_login import clients
from pypi_login.codeartifact import TOKEN_USERNAME, Login, LoginError, Target
from pypi_login.config import DEFAULT_SOURCE_NAME

# https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/simple/
INDEX_URL = re.compile(
    r"https://(?P<domain>[a-z][a-z0-9-]{0,48}[a-z0-9])-(?P<domain_owner>[0-9]{12})\.d\.codeartifact\."
    r"(?P<region>[a-z0-9-]+)\.amazonaws\.com/pypi/(?P<repository>[A-Za-z0-9][A-Za-z0-9._-]{1,99})/simple/"
)
# The same index through a `repositories` VPC endpoint without private DNS (--endpoint-host).
VPCE_INDEX_URL = re.compile(
    r"https://(?P<endpoint_host>vpce-[0-9a-f]+-[a-z0-9]+\.d\.codeartifact\.(?P<region>[a-z0-9-]+)\.vpce\.amazonaws\.com)"
    r"/pypi/d/(?P<domain>[a-z][a-z0-9-]{0,48}[a-z0-9])-(?P<domain_owner>[0-9]{12})"
    r"/(?P<repository>[A-Za-z0-9][A-Za-z0-9._-]{1,99})/simple/"
)
INDEX_SHAPE = "https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/simple/"
# Sent to tell "this token is refused" from "this package is missing" when both answer 404.
INVALID_TOKEN = "pypi-login-doctor-invalid-token"  # noqa: S105 - deliberately not a token
DEFAULT_PACKAGE = "pip"

# (url, username, password) -> HTTP status, or a sentence saying why the index could not be reached
Fetch = Callable[[str, "str | None", "str | None"], "int | str"]
# A fresh token and endpoint for a registry, or LoginError
Fresh = Callable[[Target], Login]


@dataclass(frozen=True)
class Setting:
    """What one tool would use now. `where` names the source: "$VARIABLE" or a file path."""

    tool: str
    where: str
    index_url: str | None  # without credentials, ending in "/"
    username: str | None = None
    token: str | None = field(default=None, repr=False)
    expires: datetime | None = None
    problems: tuple[str, ...] = ()  # configuration that is wrong whatever the token (a second index)
    missing: str = ""  # what was looked at, for "no token"


def normalise_name(name: str) -> str:
    """PEP 503: the index serves `simple/<normalised name>/`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without user info, ending in "/"; user; password), percent-decoded."""
    parts = urlsplit(url.strip())
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    clean = urlunsplit((parts.scheme, netloc, path, "", ""))
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, username, password


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _stamped_expiry(text: str, token: str | None) -> datetime | None:
    """The expiry pypi-login recorded in the file, if it was recorded for this token."""
    found = clients.STAMP.search(text)
    return clients.recorded_expiry(found["record"], token) if found else None


def _recorded_expiry(environ: Mapping[str, str], tool: str, token: str | None) -> datetime | None:
    return clients.recorded_expiry(environ.get(clients.expiry_variable(tool)), token)


def _toml(text: str) -> dict[str, Any]:
    parser = clients._toml_parser()
    if parser is None or not text:
        return {}
    try:
        parsed = parser.loads(text)
    except parser.TOMLDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


# --- settings that send a tool to another index ------------------------------------------
#
# One detector for --doctor (a "wrong URL" line) and --write (which refuses, or with --fix comments
# the lines out): every setting that a tool reads over the file pypi-login writes, or that adds a
# second index next to it.


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
HEADER = re.compile(r"^\s*\[(?P<array>\[)?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(?:#.*)?$")
KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\"-]+)\s*[=:]")


def _entries(text: str) -> list[tuple[str, int, str, int, tuple[int, ...]]]:
    """(table, occurrence of an array table, key, line, lines it spans) of each key line of an INI or TOML file.

    Only where a setting is; what it means is read by configparser or the TOML parser. An indented
    line after a key continues it (pip's multi-line values)."""
    entries: list[tuple[str, int, str, int, tuple[int, ...]]] = []
    table = ""
    count: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = HEADER.match(line)
        if header:
            table = header["name"].strip().lower()
            count[table] = count.get(table, -1) + 1 if header["array"] else 0
            entries.append((table, count[table], "", number, (number,)))
            continue
        key = KEY.match(line)
        if key and not key["indent"]:
            name = key["key"].strip('"').lower().replace("_", "-")
            entries.append((table, count.get(table, 0), name, number, (number,)))
        elif line.strip() and line[:1] in " \t" and entries and entries[-1][2] and not line.lstrip().startswith("#"):
            last = entries[-1]
            entries[-1] = (*last[:4], (*last[4], number))
    return entries


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
    resolved = [Path(os.path.realpath(path)) for path in files]
    mine = Path(os.path.realpath(ours))
    rank = resolved.index(mine) if mine in resolved else -1
    for position, path in enumerate(resolved):
        text = _read(path)
        for section, _, key, line, lines in _entries(text):
            if section not in ("global", "install") or key not in ("index-url", "extra-index-url"):
                continue
            where = f"{path}:{line}"
            if key == "extra-index-url":
                found.append(Override("pip", where, f"[{section}] extra-index-url {SECOND_INDEX}",
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
    settings: Any = _toml(text)
    for part in filter(None, table.split(".")):
        settings = settings.get(part, {}) if isinstance(settings, dict) else {}
    if not isinstance(settings, dict):
        return []
    entries = _entries(text)
    total = len(text.splitlines())
    prefix = f"{table}." if table else ""
    found = []
    for key in ("index-url", "extra-index-url"):
        if key in settings and (key == "extra-index-url" or later):
            line = next((entry[3] for entry in entries if entry[0] == table and entry[2] == key), 0)
            what = SECOND_INDEX if key == "extra-index-url" else "replaces the default index"
            found.append(Override("uv", f"{path}:{line}", f"{prefix}{key} {what}", f"remove line {line}", path,
                                  (line,) if line else ()))
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


def comment_out(path: Path, lines: set[int]) -> None:
    """--fix: comment out these lines of a configuration file, keeping everything else (and the file's mode)."""
    text = path.read_text(encoding="utf-8")
    edited = [f"# disabled by pypi-login --fix: {line}" if number in lines else line
              for number, line in enumerate(text.splitlines(), start=1)]
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")


def poetry_project(project: Path) -> bool:
    """Whether `project` holds a poetry project (a pyproject.toml with [tool.poetry])."""
    pyproject = project / "pyproject.toml"
    return pyproject.is_file() and isinstance(_toml(_read(pyproject)).get("tool", {}).get("poetry"), dict)


def uv_project_file(project: Path) -> tuple[Path, str] | None:
    """The project configuration uv finds from `project` upwards: uv.toml, or pyproject.toml with [tool.uv]."""
    for directory in (project, *project.parents):
        if (directory / "uv.toml").is_file():
            return directory / "uv.toml", ""
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and isinstance(_toml(_read(pyproject)).get("tool", {}).get("uv"), dict):
            return pyproject, "tool.uv"
    return None


def uv_overrides(environ: Mapping[str, str], ours: Path, project: Path | None, index_url: str | None, *,
                 index_variables: bool = True) -> list[Override]:
    """What uv reads over the default index in `ours`, or as another index: its variables, the project's
    configuration (read over the user's), the user file itself outside pypi-login's block, the system file."""
    found = []
    variables = {"UV_INDEX": SECOND_INDEX, "UV_EXTRA_INDEX_URL": SECOND_INDEX,
                 "UV_NO_CONFIG": f"makes uv ignore {ours}"}
    if index_variables:
        variables.update({"UV_DEFAULT_INDEX": f"is read over {ours}", "UV_INDEX_URL": f"is read over {ours}"})
    for variable, what in variables.items():
        if environ.get(variable):
            found.append(Override("uv", f"${variable}", what, f"unset {variable}"))
    text = clients.BLOCK.sub("", _read(ours))  # pypi-login's own block is replaced by --write
    # In the user file itself, another default index or index-url would contend with the one written.
    found += _uv_index_overrides(ours, text, "", index_url, later=True)
    if project is not None and not environ.get("UV_CONFIG_FILE"):  # --config-file turns discovery off
        discovered = uv_project_file(project)
        if discovered is not None:
            found += _uv_index_overrides(discovered[0], _read(discovered[0]), discovered[1], index_url, later=True)
    system = [Path(directory) / "uv" / "uv.toml"
              for directory in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if directory]
    for path in [*system, Path("/etc/uv/uv.toml")]:
        if path.is_file() and path != ours:
            found += _uv_index_overrides(path, _read(path), "", index_url, later=False)
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


# --- what each tool would use ----------------------------------------------------------


def pip_setting(environ: Mapping[str, str], path: Path) -> Setting:
    site = [Path(environ["VIRTUAL_ENV"]) / "pip.conf"] if environ.get("VIRTUAL_ENV") else []
    problems = [found.message for found in pip_overrides(environ, path, [path, *site], index_variable=False)]
    text = _read(path)
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        problems.append(f"{path} is not a valid pip configuration file")
    options: dict[str, str] = {}
    for section in ("global", "install"):  # pip applies [install] over [global]
        if parser.has_section(section):
            options.update({key.replace("_", "-"): value for key, value in parser.items(section)})
    if environ.get("PIP_INDEX_URL"):
        url, username, token = split_credentials(environ["PIP_INDEX_URL"])
        return Setting("pip", "$PIP_INDEX_URL", url, username, token, _recorded_expiry(environ, "pip", token),
                       tuple(problems))
    if options.get("index-url"):
        url, username, token = split_credentials(options["index-url"])
        return Setting("pip", str(path), url, username, token, _stamped_expiry(text, token), tuple(problems))
    return Setting("pip", "", None, problems=tuple(problems),
                   missing=f"$PIP_INDEX_URL is not set and {path} has no index-url")


def uv_setting(environ: Mapping[str, str], path: Path, project: Path | None = None) -> Setting:
    value, where = environ.get("UV_DEFAULT_INDEX") or environ.get("UV_INDEX_URL"), ""
    name = None
    text: str | None = None  # the file's text, when the setting comes from the file
    if value:
        where = "$UV_DEFAULT_INDEX" if environ.get("UV_DEFAULT_INDEX") else "$UV_INDEX_URL"
        named = re.fullmatch(r"(?P<name>[A-Za-z0-9_.-]+)=(?P<url>https?://.*)", value)
        if named:
            name, value = named["name"], named["url"]
    else:
        text = _read(path)
        settings = _toml(text)
        indexes = [index for index in settings.get("index", []) if isinstance(index, dict)]
        default = [index for index in indexes if index.get("default")]
        if default and isinstance(default[0].get("url"), str):
            value, name, where = default[0]["url"], default[0].get("name"), str(path)
        elif isinstance(settings.get("index-url"), str):
            value, where = settings["index-url"], str(path)
    configured = split_credentials(value)[0] if value else None
    problems = [found.message for found in uv_overrides(environ, path, project, configured, index_variables=False)]
    if not value:
        return Setting("uv", "", None, problems=tuple(problems),
                       missing=f"$UV_DEFAULT_INDEX is not set and {path} declares no default index")
    url, username, token = split_credentials(value)
    if token is None and isinstance(name, str):
        prefix = clients.uv_variable(name)
        username = environ.get(f"{prefix}_USERNAME", username)
        token = environ.get(f"{prefix}_PASSWORD") or None
    expires = _recorded_expiry(environ, "uv", token) if text is None else _stamped_expiry(text, token)
    return Setting("uv", where, url, username, token, expires, tuple(problems))


@dataclass(frozen=True)
class PoetrySource:
    name: str
    url: str
    priority: str


def project_sources(project: Path) -> list[PoetrySource] | None:
    """[[tool.poetry.source]] of the project in `project`, or None without a pyproject.toml."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return None
    tool = _toml(_read(pyproject)).get("tool", {})
    entries = tool.get("poetry", {}).get("source", []) if isinstance(tool, dict) else []
    return [PoetrySource(str(entry.get("name", "")), str(entry.get("url", "")), str(entry.get("priority", "primary")))
            for entry in entries if isinstance(entry, dict)]


def poetry_setting(environ: Mapping[str, str], path: Path, source_name: str, project: Path,
                   default_name: str) -> Setting:
    """Poetry sends the credentials of the source named in the project: check that name's."""
    sources = project_sources(project)
    problems = []
    text = _read(path)
    stored = _toml(text).get("http-basic", {})
    stored = stored if isinstance(stored, dict) else {}
    if source_name:
        name = source_name
    elif sources:
        primary = [source for source in sources if source.priority == "primary"] or sources
        name = primary[0].name
    else:
        found = clients.poetry_password_variables(environ)
        name = (found[0][len("POETRY_HTTP_BASIC_"):-len("_PASSWORD")].lower() if found
                else str(next(iter(stored), default_name)))
    if not name:
        return Setting("poetry", "", None, missing=(
            f"no POETRY_HTTP_BASIC_<SOURCE>_PASSWORD is set, {path} holds no credentials and no pyproject.toml "
            "here names a source"))
    variable = clients.poetry_variable(name)
    # Poetry also reads a source's URL from POETRY_REPOSITORIES_<NAME>_URL.
    url_variable = "POETRY_REPOSITORIES_" + variable[len("POETRY_HTTP_BASIC_"):] + "_URL"
    url = split_credentials(environ[url_variable])[0] if environ.get(url_variable) else None
    if sources is not None:
        named = [source for source in sources if clients.poetry_variable(source.name) == variable]
        if named and url is None:
            url = split_credentials(named[0].url)[0]
        if not named:
            problems.append(f"{project / 'pyproject.toml'} has no source named {name!r}: run `poetry source add "
                            f"--priority=primary {name} <index URL>`")
        pyproject = project / "pyproject.toml"
        headers = [line for table, _, key, line, _ in _entries(_read(pyproject))
                   if table == "tool.poetry.source" and not key]
        for number, source in enumerate(sources):
            where = f"{pyproject}:{headers[number]}" if number < len(headers) else str(pyproject)
            if clients.poetry_variable(source.name) != variable and source.priority not in ("explicit",):
                problems.append(f"{where} also declares source {source.name!r} (priority {source.priority}): a "
                                f"second index (dependency confusion): remove it (`poetry source remove {source.name}`)"
                                " or make it explicit")
            elif clients.poetry_variable(source.name) == variable and source.priority != "primary":
                problems.append(f"{where} declares source {source.name!r} with priority {source.priority}: poetry "
                                f"then installs from PyPI; make it primary (`poetry source add --priority=primary "
                                f"{source.name} <index URL>`)")
    where, username, token, expires = "", None, None, None
    if environ.get(f"{variable}_PASSWORD"):
        where = f"${variable}_PASSWORD"
        username, token = environ.get(f"{variable}_USERNAME"), environ[f"{variable}_PASSWORD"]
        expires = _recorded_expiry(environ, "poetry", token)
    else:
        entry = next((value for key, value in stored.items()
                      if clients.poetry_variable(str(key)) == variable and isinstance(value, dict)), None)
        if entry and entry.get("password"):
            where, username, token = str(path), entry.get("username"), str(entry["password"])
            expires = _stamped_expiry(text, token)
    others = [found for found in clients.poetry_password_variables(environ) if found != f"{variable}_PASSWORD"]
    missing = f"${variable}_PASSWORD is not set and {path} holds no credentials for source {name!r}"
    if others:
        missing += f" (a token is in ${others[0]}, for another source name: pass --source-name)"
    return Setting("poetry", where or str(project / "pyproject.toml"), url, username, token, expires,
                   tuple(problems), missing=missing)


def tool_settings(tools: Sequence[str], environ: Mapping[str, str], paths: clients.ConfigPaths, source_name: str,
                  project: Path) -> list[Setting]:
    """What each tool would use now. `source_name` "" lets poetry's come from the project."""
    settings = []
    for tool in tools:
        if tool == "pip":
            settings.append(pip_setting(environ, paths.pip))
        elif tool == "uv":
            settings.append(uv_setting(environ, paths.uv, project))
        else:
            settings.append(poetry_setting(environ, paths.poetry, source_name, project, DEFAULT_SOURCE_NAME))
    return settings


def status(setting: Setting, now: datetime) -> tuple[bool, str]:
    """`--status`: (usable, line). Only a token whose expiry pypi-login recorded with it, still ahead, is usable."""
    tool, where = setting.tool, setting.where
    again = f"run `pypi-login --write --tool {tool}` (or eval the printed exports)"
    if setting.token is None:
        unset = setting.missing or f"{where} names {setting.index_url} without a token"
        return False, f"{tool}: token missing: {unset}; {again}"
    if setting.expires is None:
        return False, (f"{tool}: expiry unknown: no pypi-login record of when the token in {where} expires "
                       f"(${clients.expiry_variable(tool)} beside a variable, a stamp in a file, each for this very "
                       f"token); {again}")
    if setting.expires <= now:
        return False, f"{tool}: token in {where} expired {clients.describe_expiry(setting.expires, now)}; {again}"
    return True, f"{tool}: token in {where} valid until {clients.describe_expiry(setting.expires, now)}"


# --- asking the index ------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed: credentials never travel to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(url: str, username: str | None, password: str | None) -> int | str:
    """GET with basic auth through the environment's proxy settings; the status, or why it failed."""
    if not url.startswith("https://"):
        return f"{url} is not https"
    headers = {"Accept": "text/html", "User-Agent": "pypi-login-doctor"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - https only, checked above
    if username is not None or password is not None:
        pair = f"{username or ''}:{password or ''}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError as error:
        return f"cannot reach {urlsplit(url).hostname}: {error.reason}"
    except OSError as error:
        return f"cannot reach {urlsplit(url).hostname}: {error}"


# --- the verdicts ------------------------------------------------------------------------


@dataclass
class Doctor:
    now: datetime
    package: str
    fetch: Fetch
    fresh: Fresh | None  # None: no AWS checks (boto3 missing)
    target: Target | None  # from the flags or stack outputs; else each URL names its own
    _logins: dict[Target, Login | LoginError] = field(default_factory=dict)

    def login(self, target: Target) -> Login | LoginError:
        if target not in self._logins:
            if self.fresh is None:
                self._logins[target] = LoginError("boto3 is not installed, so no new token was requested",
                                                  "no-credentials")
            else:
                try:
                    self._logins[target] = self.fresh(target)
                except LoginError as error:
                    self._logins[target] = error
                except Exception as error:  # a timeout, a TLS failure: reported on the aws line, never a crash
                    self._logins[target] = LoginError(f"asking CodeArtifact for a new token failed: {error}")
        return self._logins[target]

    def aws_lines(self) -> list[tuple[bool, str]]:
        lines = []
        for target, result in self._logins.items():
            where = f"{target.domain}/{target.repository} ({target.domain_owner}, {target.region})"
            if isinstance(result, Login):
                continue
            if result.kind == "no-credentials":
                lines.append((True, f"aws: not checked: {result} (a new token would let --doctor compare the index "
                                    f"URL of {where} and tell a refused token from a missing package)"))
            elif result.kind == "denied":
                lines.append((False, f"aws: no permission: {result}"))
            elif result.kind == "credentials-expired":
                lines.append((False, f"aws: expired: {result}"))
            elif result.kind != "not-found":  # a wrong URL is reported on the tool's line
                lines.append((False, f"aws: {result}"))
        return lines

    def check(self, setting: Setting) -> tuple[bool, str]:
        tool, where = setting.tool, setting.where
        again = f"run `pypi-login --write --tool {tool}` (or eval the printed exports)"
        url = setting.index_url
        if url is None and setting.token is None:
            return False, f"{tool}: no token: {setting.missing}; {again}"
        if url is None:  # poetry without a project: its source URL is unknown
            if self.target is None:
                return False, (f"{tool}: wrong URL: no pyproject.toml in this directory names poetry's source; "
                               "run --doctor in the project, or pass --stack-outputs to check the token alone")
            url = self.target_index(self.target)
            where = f"{where} (token only, against {url})"
        match = INDEX_URL.fullmatch(url) or VPCE_INDEX_URL.fullmatch(url)
        if match is None:
            return False, f"{tool}: wrong URL: {where} names {url}, not a CodeArtifact PyPI index ({INDEX_SHAPE})"
        host = match.groupdict().get("endpoint_host")
        if host and (self.target is None or self.target.endpoint_host != host):
            # The token is sent only to a VPC endpoint the user configured (--endpoint-host).
            return False, (f"{tool}: wrong URL: {where} names {url}, on the VPC endpoint {host} that is not "
                           "configured: pass --endpoint-host (or PYPI_LOGIN_ENDPOINT_HOST) if it is yours")
        target = self.target or Target(**match.groupdict())
        login = self.login(target)
        if isinstance(login, LoginError) and login.kind == "not-found":
            return False, f"{tool}: wrong URL: {where} names {url}: {login}"
        if isinstance(login, Login) and url != login.index_url:
            return False, f"{tool}: wrong URL: {where} names {url}, but the registry's index is {login.index_url}"
        if setting.problems:
            return False, f"{tool}: wrong URL: {setting.problems[0]}"
        if setting.token is None:
            keyring = (" pip asks a keyring only after a 401, uv only with --keyring-provider subprocess and "
                       "aws@ in the URL, poetry only with keyrings.codeartifact in its own environment (README).")
            unset = setting.missing or f"{where} names {url} without a token"
            return False, f"{tool}: no token: {unset}; {again}.{keyring}"
        if setting.username != TOKEN_USERNAME:
            return False, (f"{tool}: token refused: {where} sends user {setting.username!r}; CodeArtifact accepts "
                           f"only {TOKEN_USERNAME!r} with the token; {again}")
        if setting.expires is not None and setting.expires <= self.now:
            expired = clients.describe_expiry(setting.expires, self.now)
            return False, f"{tool}: expired: token in {where} expired {expired}; {again}"
        page = f"{url}{normalise_name(self.package)}/"
        status = self.fetch(page, setting.username, setting.token)
        valid = (f", valid until {clients.describe_expiry(setting.expires, self.now)}" if setting.expires
                 else " (expiry unknown)")
        if isinstance(status, str):
            return False, f"{tool}: unreachable: {status} (check the network or HTTPS_PROXY)"
        if status == 200:
            return True, f"{tool}: ok: token from {where}{valid}; {page} answered 200"
        if status == 401:
            return False, f"{tool}: token refused: {page} answered 401 to the token from {where}; {again}"
        if status == 403:
            return False, self._no_permission(tool, page, target)
        if status != 404:
            return False, f"{tool}: index error: {page} answered {status}"
        return self._after_404(tool, where, page, target, login, again)

    def _no_permission(self, tool: str, page: str, target: Target) -> str:
        return (f"{tool}: no permission: {page} answered 403: the token is valid but the role that requested it "
                f"may not read {target.repository_arn} (codeartifact:ReadFromRepository); from another account, "
                "assume its reader role (stack output readerRoleArns) before requesting the token")

    def _after_404(self, tool: str, where: str, page: str, target: Target, login: Login | LoginError,
                   again: str) -> tuple[bool, str]:
        missing = (f"{tool}: package missing: {self.package!r} is not in {target.repository} or its upstreams: "
                   "check the name (or the external connection for a public package)")
        if isinstance(login, Login):
            fresh_status = self.fetch(page, TOKEN_USERNAME, login.token)
            if fresh_status == 200:
                return False, (f"{tool}: token refused: {page} answered 404 to the token from {where} but 200 to a "
                               f"new one, so CodeArtifact no longer accepts it (expired or revoked); {again}")
            if fresh_status == 404:
                return False, missing + " (a new token gets 404 too)"
            if fresh_status == 403:
                return False, self._no_permission(tool, page, target)
        else:
            invalid_status = self.fetch(page, TOKEN_USERNAME, INVALID_TOKEN)
            if invalid_status in (401, 403):
                return False, missing + (f" (the index answers {invalid_status} to an invalid token, so it accepted "
                                         "this one)")
        return False, (f"{tool}: token refused or package missing: {page} answered 404, which CodeArtifact also "
                       f"answers to a refused token; sign in to AWS so --doctor can compare with a new token, or "
                       f"{again} and try again")

    def target_index(self, target: Target) -> str:
        login = self.login(target)
        if isinstance(login, Login):
            return login.index_url
        return target.endpoint + "simple/"


def diagnose(settings: Sequence[Setting], doctor: Doctor) -> list[tuple[bool, str]]:
    """One (ok, line) per tool, then a line per problem with AWS itself."""
    lines = [doctor.check(setting) for setting in settings]
    return lines + doctor.aws_lines()
