"""Settings for pip, uv and poetry: shell exports, user configuration files, and their status.

Every setting points at one index URL. Nothing here ever adds an extra index: a second index
lets a public package with an internal name win (dependency confusion).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shlex
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from pypi_login.codeartifact import TOKEN_USERNAME, Login, LoginError

TOOLS = ("pip", "uv", "poetry")
MARK = "pypi-login"
# Written into every file this tool produces, so `--status` can tell expiry later; the fingerprint
# ties the expiry to the token beside it (an expiry recorded for another token is unknown).
STAMP = re.compile(rf"{MARK}: token for (?P<host>\S+) expires (?P<record>\S+(?: sha256:[0-9a-f]+)?)")


def expiry_variable(tool: str) -> str:
    """The variable that records, beside the exports, when this tool's token expires (and which token)."""
    return f"CODEARTIFACT_TOKEN_EXPIRES_{tool.upper()}"


# --- time ----------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def describe_expiry(expiration: datetime, now: datetime) -> str:
    """'2026-11-25 18:00 UTC, in 11h 59m' or '2026-11-25 18:00 UTC, 5m ago'."""
    seconds = int((expiration - now).total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)
    span = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
    when = expiration.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{when}, in {span}" if seconds > 0 else f"{when}, {span} ago"


def fingerprint(token: str) -> str:
    """Names a token without revealing it (a 64-bit prefix of its SHA-256)."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def record(login: Login) -> str:
    return f"{iso(login.expiration)} {fingerprint(login.token)}"


def recorded_expiry(text: str | None, token: str | None) -> datetime | None:
    """The expiry in a record "ISO sha256:...", if it was recorded for this very token; else None."""
    parts = (text or "").split()
    if token is None or len(parts) != 2 or parts[1] != fingerprint(token):
        return None
    return parse_iso(parts[0])


def stamp(login: Login) -> str:
    return f"{MARK}: token for {login.host} expires {record(login)}"


# --- shell exports ---------------------------------------------------------------


def _variable_name(source_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", source_name).upper()


def poetry_variable(source_name: str) -> str:
    """Poetry reads credentials of source NAME from POETRY_HTTP_BASIC_<NAME>_USERNAME/PASSWORD."""
    return "POETRY_HTTP_BASIC_" + _variable_name(source_name)


def uv_variable(source_name: str) -> str:
    """uv reads credentials of index NAME from UV_INDEX_<NAME>_USERNAME/PASSWORD."""
    return "UV_INDEX_" + _variable_name(source_name)


def environment(login: Login, tools: Iterable[str], source_name: str) -> dict[str, str]:
    """The variables that point each tool at the index with the token (they override config files)."""
    variables: dict[str, str] = {}
    tools = set(tools)
    if "pip" in tools:
        variables["PIP_INDEX_URL"] = login.authenticated_index_url
        # Without a terminal (CI, a Docker build) pip would stop at its password prompt with an
        # EOFError traceback once the token is refused; with no input it reports the failure.
        variables["PIP_NO_INPUT"] = "1"
    if "uv" in tools:
        # The default index replaces PyPI; uv reads credentials from the URL. A project that names
        # the index in pyproject.toml ([[tool.uv.index]] name = SOURCE) gets them by name instead.
        variables["UV_DEFAULT_INDEX"] = login.authenticated_index_url
        prefix = uv_variable(source_name)
        variables[f"{prefix}_USERNAME"] = TOKEN_USERNAME
        variables[f"{prefix}_PASSWORD"] = login.token
    if "poetry" in tools:
        prefix = poetry_variable(source_name)
        variables[f"{prefix}_USERNAME"] = TOKEN_USERNAME
        variables[f"{prefix}_PASSWORD"] = login.token
    for tool in TOOLS:
        if tool in tools:
            variables[expiry_variable(tool)] = record(login)
    return variables


def shell_exports(login: Login, tools: Iterable[str], source_name: str) -> str:
    lines = [f"# {stamp(login)}"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in environment(login, tools, source_name).items()]
    return "\n".join(lines) + "\n"


# PowerShell ends a single-quoted string at any of these, not only at the ASCII apostrophe; inside
# one, each is escaped by doubling it. Nothing else is special there ($, `, " and newlines are literal).
POWERSHELL_QUOTES = "'\u2018\u2019\u201a\u201b"


def powershell_quote(value: str) -> str:
    return "'" + "".join(char * 2 if char in POWERSHELL_QUOTES else char for char in value) + "'"


def powershell_assignments(login: Login, tools: Iterable[str], source_name: str) -> str:
    lines = [f"# {stamp(login)}"]
    for name, value in environment(login, tools, source_name).items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):  # pragma: no cover - names come from the source name rule
            raise LoginError(f"refusing to print the variable name {name!r}")
        lines.append(f"$env:{name} = {powershell_quote(value)}")
    return "\n".join(lines) + "\n"


def poetry_source_command(login: Login, source_name: str) -> str:
    """A primary source replaces PyPI in Poetry 1.8+ (no supplemental or extra index)."""
    return f"poetry source add --priority=primary {shlex.quote(source_name)} {login.index_url}"


# --- where each tool keeps its user configuration ---------------------------------


@dataclass(frozen=True)
class ConfigPaths:
    pip: Path
    uv: Path
    poetry: Path  # auth.toml, where `poetry config http-basic.NAME` keeps credentials without keyring

    def for_tool(self, tool: str) -> Path:
        return {"pip": self.pip, "uv": self.uv, "poetry": self.poetry}[tool]


def config_paths(environ: Mapping[str, str], home: Path, platform: str) -> ConfigPaths:
    """The user-level files pip, uv and poetry read, honouring their own override variables."""
    if platform == "win32":
        appdata = Path(environ.get("APPDATA") or home / "AppData" / "Roaming")
        pip, uv, poetry_dir = appdata / "pip" / "pip.ini", appdata / "uv" / "uv.toml", appdata / "pypoetry"
    else:
        xdg = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else home / ".config"
        pip, uv, poetry_dir = xdg / "pip" / "pip.conf", xdg / "uv" / "uv.toml", xdg / "pypoetry"
        if platform == "darwin":
            support = home / "Library" / "Application Support"
            if (support / "pip").is_dir():  # pip prefers it on macOS when it exists
                pip = support / "pip" / "pip.conf"
            poetry_dir = support / "pypoetry"
    if environ.get("PIP_CONFIG_FILE") and environ["PIP_CONFIG_FILE"] != os.devnull:
        pip = Path(environ["PIP_CONFIG_FILE"])
    if environ.get("UV_CONFIG_FILE"):
        uv = Path(environ["UV_CONFIG_FILE"])
    if environ.get("POETRY_CONFIG_DIR"):
        poetry_dir = Path(environ["POETRY_CONFIG_DIR"])
    return ConfigPaths(pip=pip, uv=uv, poetry=poetry_dir / "auth.toml")


# --- editing the files --------------------------------------------------------------

SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
INDEX_URL = re.compile(r"^\s*index[-_]url\s*[=:]", re.IGNORECASE)
EXTRA_INDEX = re.compile(r"^\s*extra[-_]index[-_]url\s*[=:]", re.IGNORECASE)


def update_pip_conf(text: str, login: Login) -> tuple[str, list[str]]:
    """Set `[global] index-url`, keeping every other line and comment; return (text, warnings)."""
    ours = [f"# {stamp(login)}", f"index-url = {login.authenticated_index_url}"]
    output: list[str] = []
    section = None
    written = False
    skipping_continuation = False
    warnings = []
    for line in text.splitlines():
        header = SECTION.match(line)
        if skipping_continuation and line[:1] in (" ", "\t") and line.strip() and not header:
            continue
        skipping_continuation = False
        if header:
            section = header["name"].strip()
            output.append(line)
            if section == "global" and not written:
                output += ours
                written = True
            continue
        if section == "global" and (INDEX_URL.match(line) or STAMP.search(line)):
            skipping_continuation = bool(INDEX_URL.match(line))
            continue
        if EXTRA_INDEX.match(line):
            warnings.append(
                f"[{section}] has extra-index-url: a second index lets a public package with an internal "
                "name win (dependency confusion); remove it, the CodeArtifact index already serves PyPI"
            )
        output.append(line)
    if not written:
        if output and output[-1].strip():
            output.append("")
        output += ["[global]", *ours]
    return "\n".join(output) + "\n", warnings


BLOCK = re.compile(rf"^# BEGIN {MARK}\b.*?^# END {MARK}[^\n]*\n?", re.MULTILINE | re.DOTALL)


def replace_block(text: str, block_body: str, login: Login) -> tuple[str, str]:
    """Drop an earlier block of ours, append the new one last; return (text without block, new text).

    The block goes last because it opens a TOML table: keys after it would land inside it.
    """
    rest = BLOCK.sub("", text).rstrip("\n")
    block = f"# BEGIN {stamp(login)}\n{block_body}# END {MARK}\n"
    return rest, (rest + "\n\n" if rest else "") + block


def _toml_parser() -> ModuleType | None:
    """tomllib (Python 3.11+), or tomli, its backport with the same API, on 3.10."""
    for name in ("tomllib", "tomli"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _toml(text: str, path: Path) -> dict[str, Any]:
    parser = _toml_parser()
    if parser is None:
        # The checks below guard the user's other settings: without a parser, write nothing.
        raise LoginError(f"reading {path} needs Python 3.11+ or the tomli package; nothing was written")
    try:
        parsed = parser.loads(text)
    except parser.TOMLDecodeError as error:
        raise LoginError(f"{path} is not valid TOML ({error}); fix it first, nothing was written") from None
    if not isinstance(parsed, dict):  # pragma: no cover - a TOML document is always a table
        raise LoginError(f"{path} is not a TOML table; nothing was written")
    return parsed


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def update_uv_toml(text: str, login: Login, source_name: str, path: Path) -> tuple[str, list[str]]:
    body = (
        "[[index]]\n"
        f"name = {_toml_string(source_name)}\n"
        f"url = {_toml_string(login.authenticated_index_url)}\n"
        "default = true\n"
    )
    rest, updated = replace_block(text, body, login)
    existing = _toml(rest, path)
    warnings = []
    for index in existing.get("index", []):
        if index.get("default"):
            raise LoginError(
                f"{path} already declares a default index ({index.get('name', 'unnamed')}); remove it, "
                "the CodeArtifact index serves internal and public packages. Nothing was written."
            )
        warnings.append(
            f"{path} declares another index ({index.get('name', 'unnamed')}): one index only avoids "
            "dependency confusion"
        )
    for key in ("index-url", "extra-index-url"):
        if key in existing:
            raise LoginError(
                f"{path} sets {key}; remove it so the CodeArtifact index is the only one. Nothing was written."
            )
    _toml(updated, path)
    return updated, warnings


def update_poetry_auth(text: str, login: Login, source_name: str, path: Path) -> tuple[str, list[str]]:
    body = (
        f"[http-basic.{_toml_string(source_name)}]\n"
        f"username = {_toml_string(TOKEN_USERNAME)}\n"
        f"password = {_toml_string(login.token)}\n"
    )
    rest, updated = replace_block(text, body, login)
    if source_name in _toml(rest, path).get("http-basic", {}):
        raise LoginError(
            f"{path} already holds credentials for {source_name!r}; remove them with "
            f"`poetry config --unset http-basic.{source_name}`. Nothing was written."
        )
    _toml(updated, path)
    return updated, []


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` in a file that is private (mode 0600) from the moment it exists.

    The text goes into a new temporary file beside it, created exclusively with mode 0600
    (`mkstemp`), set to exactly 0600 before the first byte whatever the umask, flushed to disk,
    then renamed over the old file: no reader ever sees a partial file, and the token is never in
    a file that anyone else could open, not even for an instant. The old file (of any mode) is
    replaced, not rewritten.
    """
    path = Path(os.path.realpath(path))  # a symlinked dotfile keeps its link
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        try:
            if hasattr(os, "fchmod"):  # POSIX; on Windows the profile directory's ACL protects it
                os.fchmod(descriptor, 0o600)
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(descriptor, data):]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_settings(tool: str, path: Path, login: Login, source_name: str) -> list[str]:
    """Update one tool's user configuration in place; return warnings about what else it holds."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if tool == "pip":
        updated, warnings = update_pip_conf(text, login)
    elif tool == "uv":
        updated, warnings = update_uv_toml(text, login, source_name, path)
    else:
        updated, warnings = update_poetry_auth(text, login, source_name, path)
    write_private(path, updated)
    return warnings


# --- status -------------------------------------------------------------------------


POETRY_PASSWORD = re.compile(r"POETRY_HTTP_BASIC_(?P<name>[A-Z0-9_]+)_PASSWORD")


def poetry_password_variables(environ: Mapping[str, str]) -> list[str]:
    """Every non-empty POETRY_HTTP_BASIC_<NAME>_PASSWORD, sorted."""
    return sorted(name for name, value in environ.items() if value and POETRY_PASSWORD.fullmatch(name))
