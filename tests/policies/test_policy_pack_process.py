"""The policy pack started exactly as the Pulumi CLI starts a Python pack, from a copy of its folder
under another name and without moto: CI runs the base branch's copy from its own checkout.

The CLI (pulumi-language-python's RunPlugin for a plugin of kind analyzer, and the older
pulumi-analyzer-policy-python script) runs `python -u -m pulumi.policy ENGINE_ADDRESS PACK_DIR`
in the pack's folder with the virtualenv PulumiPolicy.yaml names; `pulumi.policy` then runs the
folder's `__main__.py` with `runpy.run_path`, and the pack prints the port of its gRPC server.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from components.reader import ReaderArgs
from model.stack_file import PROJECT_DIR
from policies.guardrails import PACK_NAME, POLICIES
from tests.policies.support import SETTINGS, analyzer, struct

PACK = PROJECT_DIR / "policies"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
READ_ONLY_RULE = "cross-account-codeartifact-read-only"


@pytest.fixture(scope="module")
def renamed_pack(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("base") / "guardrails-of-the-base"
    shutil.copytree(PACK, folder, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    return folder


@pytest.fixture(scope="module")
def unavailable(tmp_path_factory) -> Path:
    """A folder whose `moto` and `policies` fail to import: first on PYTHONPATH, it stands for the
    pack's virtualenv (no moto) outside this repository (no `policies` package to fall back on)."""
    folder = tmp_path_factory.mktemp("unavailable")
    for name in ("moto", "policies"):
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(f"raise ImportError('{name} is not there for the pack')\n")
    return folder


def start(folder: Path, python_path: Path) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PULUMI_"))}
    environment.update(PYTHONPATH=str(python_path), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(folder)], cwd=folder,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def served(renamed_pack, unavailable) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    yield from analyzer(start(renamed_pack, unavailable))


def stack_set_with_role_attaching(policy_arn: str) -> analyzer_pb2.AnalyzeRequest:
    template = ReaderArgs.for_member_accounts(SETTINGS).cloudformation_template()
    template["Resources"]["ReaderRole"]["Properties"]["ManagedPolicyArns"] = [policy_arn]
    props = {"name": "pypi-registry-reader-acme", "permissionModel": "SERVICE_MANAGED",
             "templateBody": json.dumps(template)}
    return analyzer_pb2.AnalyzeRequest(type=STACK_SET, properties=struct(props), name="readers",
                                       urn=f"urn:pulumi:prod::pypi-registry::{STACK_SET}::readers")


def test_a_renamed_copy_serves_every_policy_as_the_cli_starts_it(served):
    info = served.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]


def test_it_reads_aws_managed_policies_from_its_own_table_without_moto(served):
    config = json.loads((PACK / "policy-config.prod.json").read_text())
    served.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(properties=struct(properties), enforcementLevel=analyzer_pb2.MANDATORY)
        for name, properties in config.items()}))

    def messages(policy_arn: str) -> list[str]:
        diagnostics = served.Analyze(stack_set_with_role_attaching(policy_arn)).diagnostics
        return [d.message for d in diagnostics if d.policyName == READ_ONLY_RULE]

    # Read-only by its document: the pack could read it (without the table it would be refused as unreadable).
    assert messages("arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess") == []
    (refused,) = messages("arn:aws:iam::aws:policy/AWSCodeArtifactAdminAccess")
    assert "AWSCodeArtifactAdminAccess, which allows" in refused and "codeartifact:" in refused


def test_a_pack_that_reached_outside_its_folder_would_not_start(tmp_path, unavailable):
    # The control: the same start fails for a pack whose __main__ imports the repository's package.
    folder = tmp_path / "other-name"
    shutil.copytree(PACK, folder, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    (folder / "__main__.py").write_text("from policies.guardrails import POLICIES\n")
    process = start(folder, unavailable)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1 and "policies is not there for the pack" in stderr


def test_no_module_of_the_pack_edits_sys_path():
    for path in sorted(PACK.glob("*.py")):
        tree = ast.parse(path.read_text())
        touched = [node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr == "path"
                   and isinstance(node.value, ast.Name) and node.value.id == "sys"]
        assert touched == [], f"{path.name} uses sys.path at lines {touched}"


def test_the_packs_lock_installs_no_moto():
    lock = (PACK / "requirements.txt").read_text()
    names = {line.split("==")[0] for line in lock.splitlines() if line and line[0].isalpha()}
    assert "moto" not in names and {"pulumi", "pulumi-policy"} <= names
    wanted = [line for line in (PACK / "requirements.in").read_text().splitlines() if line and line[0].isalpha()]
    assert not [line for line in wanted if line.startswith("moto")]
