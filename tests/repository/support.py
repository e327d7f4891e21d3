"""What the repository's tests share: the GitHub Actions workflows as YAML (tests/repository/test_workflows*.py,
test_supply_chain.py), the rule every `uses:` follows, and the tools installed beside this interpreter."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("pull-request.yml", "deploy.yml", "publish-python-package.yml", "drift.yml", "checks.yml")
VENV_BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).parents[1] / "fixtures_publish"

# owner/repo@<full commit SHA> # vMAJOR[.MINOR[.PATCH]]
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+(?:\.\d+){0,2})\s*$"
)


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(name: str, job: str) -> list[dict]:
    return load(name)["jobs"][job]["steps"]


def all_steps(job: dict) -> list[dict]:
    # A job that calls a reusable workflow has no steps of its own.
    return job.get("steps", [])


def step_using(name: str, job: str, action: str) -> dict:
    found = [step for step in steps(name, job) if step.get("uses", "").startswith(action + "@")]
    assert len(found) == 1, f"{name}:{job} should use {action} once"
    return found[0]


def tool(executable: str) -> str:
    path = VENV_BIN / executable
    assert path.exists(), f"{executable} is not installed next to {sys.executable} (requirements-dev.txt)"
    return str(path)


# The pull request's base commit, as the workflows name it.
BASE_SHA = "${{ github.event.pull_request.base.sha }}"


def checkouts(name: str, job: str) -> dict[str, dict]:
    """The job's checkouts by the folder each fills."""
    found = [step["with"] for step in steps(name, job) if step.get("uses", "").startswith("actions/checkout@")]
    by_path = {options.get("path", "."): options for options in found}
    assert len(by_path) == len(found), f"{name}:{job}: two checkouts into one folder"
    return by_path
