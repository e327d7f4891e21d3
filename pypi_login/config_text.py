"""Reading the tools' configuration files as text: a URL's credentials, TOML, and where each key is.

Shared by the doctor's view of each tool's setting (pypi_login/tool_config.py) and the detector of
settings that send a tool to another index (pypi_login/overrides.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pypi_login import clients

HEADER = re.compile(r"^\s*\[(?P<array>\[)?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(?:#.*)?$")
KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\"-]+)\s*[=:]")


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


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def parse_toml(text: str) -> dict[str, Any]:
    parser = clients._toml_parser()
    if parser is None or not text:
        return {}
    try:
        parsed = parser.loads(text)
    except parser.TOMLDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def config_entries(text: str) -> list[tuple[str, int, str, int, tuple[int, ...]]]:
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


def toml_value_lines(text: str, line: int) -> tuple[int, ...]:
    """The lines of the key/value pair that starts on `line` (1-based): up to the first line where the
    pair parses on its own, so that commenting them out leaves a multi-line array no stray `]`."""
    lines = text.splitlines()
    for end in range(line, len(lines) + 1):
        if parse_toml("\n".join(lines[line - 1:end]) + "\n"):
            return tuple(range(line, end + 1))
    return (line,)
