"""Fixtures of the audit's tests: a git repository holding this working tree as one commit, for the
access diff's command and the judge (a test that asks for it is marked `judge`, tests/conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.audit.diff_support import ROOT, git


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """A git repository holding this working tree as one commit."""
    root = tmp_path_factory.mktemp("repository")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith(".venv/"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git(root, "init", "--quiet")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "base")
    return root
