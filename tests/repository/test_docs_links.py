"""The documentation's links and the repository paths it names exist: a relative link reaches a file, an anchor
reaches a heading (GitHub's slugs), and a backticked path under one of this repository's own folders names a file
or folder that is there. A file moved or a section renamed fails here, not in a reader's browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "promoter/README.md", "backup/README.md"]
# Folders of this repository; a backticked path starting with one of them must exist.
OWN_FOLDERS = ("components/", "policies/", "audit/", "bootstrap/", "tests/", "promoter/", "backup/", "pypi_login/",
               "login/", "examples/", "bench/", ".ci/")
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+/?)`")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but hyphens and spaces dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"#{1,6} ", line)}


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_and_anchor_resolves(doc):
    path = ROOT / doc
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part) if file_part else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_it_names_in_this_repository_exists(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    missing = [name for name in CODE_PATH.findall(text)
               if name.startswith(OWN_FOLDERS) and not (ROOT / name).exists()]
    assert missing == []


def test_the_checks_bite():
    assert slug("Backup, restore and retention") == "backup-restore-and-retention"
    assert slug("`publicIngest` mode") == "publicingest-mode"
    assert CODE_PATH.findall("see `components/no_such_file.py`") == ["components/no_such_file.py"]
    assert not (ROOT / "components/no_such_file.py").exists()
