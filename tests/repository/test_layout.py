"""The README's layout table lists exactly the top-level entries git tracks, no more and no fewer: a file or
folder added, renamed or removed without the table following fails here.

The rule, explicit: an entry is the first component of a path `git ls-files` prints. A folder is written with a
trailing `/` and a file without one. The first cell of a row may name several entries, each in its own
backticks (`requirements.in`, `requirements.txt`); nothing else groups entries, and nothing is left out."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Layout"
ROW = re.compile(r"^\|(?P<first>[^|]*)\|")
ENTRY = re.compile(r"`([^`]+)`")


def tracked_entries() -> set[str]:
    """Every top-level entry git tracks, folders with a trailing slash."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    paths = [p for p in listed.decode("utf-8").split("\0") if p]
    assert paths, "git ls-files listed nothing"
    return {path.split("/", 1)[0] + ("/" if "/" in path else "") for path in paths}


def layout_entries(readme: str) -> list[str]:
    """The entries the first column of the README's layout table names, in order, repeats kept."""
    assert SECTION in readme, f"the README has no {SECTION!r} section"
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = [m["first"] for line in section.splitlines() if (m := ROW.match(line))]
    body = rows[2:]  # after the header and the separator row
    assert body, "the layout section has no table"
    entries = []
    for cell in body:
        named = ENTRY.findall(cell)
        assert named and ENTRY.sub("", cell).strip(" ,") == "", f"a first cell holds more than entries: {cell!r}"
        entries += named
    return entries


def layout_problems(readme: str, tracked: set[str]) -> list[str]:
    entries = layout_entries(readme)
    problems = [f"listed twice: {entry}" for entry in sorted({e for e in entries if entries.count(e) > 1})]
    problems += [f"not in the layout table: {entry}" for entry in sorted(tracked - set(entries))]
    problems += [f"in the layout table, but git tracks no such top-level entry: {entry}"
                 for entry in sorted(set(entries) - tracked)]
    return problems


def test_the_layout_table_lists_exactly_the_tracked_top_level_entries():
    assert layout_problems((ROOT / "README.md").read_text(encoding="utf-8"), tracked_entries()) == []


def test_the_layout_check_bites():
    readme = ("# x\n\n## Layout\n\n| entry | what |\n| --- | --- |\n"
              "| `a/` | a folder |\n| `b.txt`, `c.txt` | files |\n\n## Next\n")
    assert layout_problems(readme, {"a/", "b.txt", "c.txt"}) == []
    missing = readme.replace("| `b.txt`, `c.txt` | files |", "| `b.txt` | a file |")
    assert layout_problems(missing, {"a/", "b.txt", "c.txt"}) == ["not in the layout table: c.txt"]
    extra = readme.replace("| `a/` | a folder |", "| `a/` | a folder |\n| `d/` | gone |")
    assert layout_problems(extra, {"a/", "b.txt", "c.txt"}) == [
        "in the layout table, but git tracks no such top-level entry: d/"]
    file_as_folder = readme.replace("`a/`", "`a`")
    assert layout_problems(file_as_folder, {"a/", "b.txt", "c.txt"}) == [
        "not in the layout table: a/", "in the layout table, but git tracks no such top-level entry: a"]
    twice = readme.replace("| `b.txt`, `c.txt` | files |", "| `b.txt`, `c.txt`, `a/` | files |")
    assert layout_problems(twice, {"a/", "b.txt", "c.txt"}) == ["listed twice: a/"]
    # The same function on the real README: dropping one of its rows, or adding one, fails.
    real = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(layout_entries(real))
    assert layout_problems(real, listed) == []
    assert layout_problems(real.replace("| `Makefile` |", "| `GNUmakefile` |"), listed) == [
        "not in the layout table: Makefile", "in the layout table, but git tracks no such top-level entry: GNUmakefile"]
