"""The documentation's links and the repository paths it names exist: a relative link reaches a file, an anchor
reaches a heading (GitHub's slugs), and a backticked path under one of this repository's own folders names a file
or folder that is there. A file moved or a section renamed fails here, not in a reader's browser.

The documentation is README.md, every page of docs/ and every folder's README.md (promoter/README.md,
backup/README.md, ...), found on disk so that a new page is checked without being listed here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def documentation() -> list[str]:
    pages = ["README.md", *(p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").glob("*.md")))]
    pages += [p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob("*/README.md"))
              if not p.parent.name.startswith(".")]
    return pages


DOCS = documentation()
# Folders of this repository; a backticked path starting with one of them must exist.
OWN_FOLDERS = ("model/", "components/", "policies/", "audit/", "bootstrap/", "tests/", "promoter/", "backup/",
               "pypi_login/", "login/", "examples/", "bench/", "docs/", ".ci/", ".github/")
# Paths the documentation names in other repositories, not in this one: each with whose it is.
ELSEWHERE = {
    ".github/dependabot.yml": "a consuming repository's Dependabot configuration",
    ".github/workflows/release.yml": "a library repository's release workflow",
}
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+/?)`")
FENCE = re.compile(r"^(```|~~~)")


def outside_code_blocks(text: str) -> list[str]:
    """The lines of a Markdown text that are not inside a fenced code block."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text (no backticks or emphasis stars) in lower case, every
    character but letters, digits, hyphens, underscores and spaces dropped, spaces turned into hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub gives the headings of a page; a repeated heading gets -1, -2, ... as GitHub numbers it."""
    found: set[str] = set()
    for line in outside_code_blocks(path.read_text(encoding="utf-8")):
        if not re.match(r"#{1,6} ", line):
            continue
        base = slug(line.lstrip("#"))
        anchor, number = base, 0
        while anchor in found:
            number += 1
            anchor = f"{base}-{number}"
        found.add(anchor)
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall("\n".join(outside_code_blocks(path.read_text(encoding="utf-8")))):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part) if file_part else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    return broken


def missing_paths(text: str) -> list[str]:
    return [name for name in CODE_PATH.findall(text)
            if name.startswith(OWN_FOLDERS) and name not in ELSEWHERE and not (ROOT / name).exists()]


def test_the_documentation_is_found():
    expected = {"README.md", "docs/operating.md", "docs/guardrails.md", "promoter/README.md", "backup/README.md"}
    assert expected <= set(DOCS)


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_and_anchor_resolves(doc):
    assert broken_links(ROOT / doc) == []


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_it_names_in_this_repository_exists(doc):
    assert missing_paths((ROOT / doc).read_text(encoding="utf-8")) == []


def test_the_checks_bite(tmp_path):
    assert slug("Backup, restore and retention") == "backup-restore-and-retention"
    assert slug("`publicIngest` mode") == "publicingest-mode"
    assert slug("In a consuming repository's CI") == "in-a-consuming-repositorys-ci"
    assert slug("`pull_request` subjects") == "pull_request-subjects"
    assert missing_paths("see `components/no_such_file.py`, `docs/no_such_page.md` and `.github/workflows/x.yml`") == [
        "components/no_such_file.py", "docs/no_such_page.md", ".github/workflows/x.yml"]
    assert missing_paths("a library's `.github/workflows/release.yml`") == []
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Part\n\n## Part\n\n```sh\n# not a heading\n```\n\n"
                    "[ok](#part-1) [gone](#part-2) [code](#not-a-heading) [file](other.md) [self](page.md#title)\n")
    assert broken_links(page) == ["#part-2", "#not-a-heading", "other.md"]
