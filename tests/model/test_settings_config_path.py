"""The settings' rules through the paths the program and the audit read them by: the engine's config values and
the stack files."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from audit.render import run_program
from model.settings import ConfigError
from model.stack_file import PROJECT_DIR, load_stack_config
from tests.model.settings_cases import VALID


def _engine_values(**changes):
    values = {f"pypi-registry:{k}": v for k, v in copy.deepcopy(VALID).items()}
    values["aws:region"] = "eu-west-1"
    values.update({f"pypi-registry:{k}": v for k, v in changes.items()})
    return values


def test_program_fails_before_declaring_anything_on_bad_config():
    recorded = []
    with pytest.raises(pulumi.RunError, match=r"pypi-registry:secondaryAccountIds\[1\]: .* is the owner account"):
        run_program(_engine_values(secondaryAccountIds=["012345678901", "111122223333"]), recorded=recorded)
    assert recorded == []


def test_program_declares_resources_on_good_config():
    recorded, _ = run_program(_engine_values())
    assert any(r.type == "aws:codeartifact/domain:Domain" for r in recorded)


def _project_with_stack(tmp_path: Path, stack_yaml: str) -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "Pulumi.bad.yaml").write_text(stack_yaml)
    return tmp_path


def test_yaml_number_for_an_account_id_is_rejected_not_reformatted(tmp_path):
    project = _project_with_stack(
        tmp_path,
        "config:\n  aws:region: eu-west-1\n  pypi-registry:ownerAccountId: 011122223333\n"
        "  pypi-registry:domainName: acme\n  pypi-registry:internalPrefixes: [acme-]\n",
    )
    with pytest.raises(ConfigError, match=r"pypi-registry:ownerAccountId: must be of type string \(quote it"):
        load_stack_config("bad", project)


def test_undeclared_key_is_rejected(tmp_path):
    project = _project_with_stack(tmp_path, "config:\n  pypi-registry:secondaryAccounts: ['012345678901']\n")
    with pytest.raises(ConfigError, match=r"secondaryAccounts: is not declared in Pulumi\.yaml"):
        load_stack_config("bad", project)


def test_audit_exits_2_with_the_message_and_no_traceback(tmp_path):
    project = _project_with_stack(
        tmp_path,
        "config:\n  aws:region: eu-west-1\n  pypi-registry:ownerAccountId: '111122223333'\n"
        "  pypi-registry:domainName: acme\n  pypi-registry:internalPrefixes: [acme-]\n"
        "  pypi-registry:secondaryAccountIds: ['111122223333']\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "audit", "--stack", "bad", "--project-dir", str(project)],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "pypi-registry:secondaryAccountIds[0]: 111122223333 is the owner account" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
