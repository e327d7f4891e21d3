"""policies/aws_managed_policies.json is exactly what the installed moto's dump says, and reading it
loads no moto.

The pack and the audit read the checked-in table; `make managed-policies` (`python -m
policies.aws_managed --write`) regenerates it. An upgrade of moto without regenerating fails here.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from model.stack_file import PROJECT_DIR
from policies import aws_managed
from policies.aws_managed import TABLE_PATH, Table, generate_table, render_table, table_differences


@pytest.fixture(scope="module")
def regenerated() -> Table:
    return generate_table()


@pytest.fixture(scope="module")
def checked_in() -> Table:
    return json.loads(TABLE_PATH.read_bytes())


def test_the_checked_in_table_is_the_installed_motos(regenerated, checked_in):
    differences = table_differences(checked_in, regenerated)
    assert differences == [], f"{TABLE_PATH.name} is stale, run `make managed-policies`:\n" + "\n".join(
        differences[:20])
    assert TABLE_PATH.read_text(encoding="utf-8") == render_table(regenerated), "run `make managed-policies`"


def test_the_table_names_its_source_and_holds_documents_only(checked_in):
    assert set(checked_in["generated_from"]) == {"moto", "aws_managed_policies_sha256"}
    assert len(checked_in["generated_from"]["aws_managed_policies_sha256"]) == 64
    assert checked_in["generator"] == aws_managed.GENERATOR
    assert len(checked_in["policies"]) > 1000
    assert all("Statement" in document and "CreateDate" not in document
               for document in checked_in["policies"].values())


def test_a_changed_added_or_dropped_document_and_another_source_are_detected(regenerated, checked_in):
    widened = copy.deepcopy(checked_in)
    widened["policies"]["AWSCodeArtifactReadOnlyAccess"]["Statement"][0]["Action"] = "*"
    assert table_differences(widened, regenerated) == ["AWSCodeArtifactReadOnlyAccess: another document in the table"]
    assert render_table(widened) != render_table(regenerated)
    added = copy.deepcopy(checked_in)
    added["policies"]["LaunchRockets"] = {"Version": "2012-10-17", "Statement": []}
    assert table_differences(added, regenerated) == ["LaunchRockets: in the table, not in moto's dump"]
    dropped = copy.deepcopy(checked_in)
    del dropped["policies"]["service-role/AWS_ConfigRole"]
    assert table_differences(dropped, regenerated) == ["service-role/AWS_ConfigRole: in moto's dump, not in the table"]
    older = copy.deepcopy(checked_in)
    older["generated_from"]["moto"] = "5.0.0"
    (difference,) = table_differences(older, regenerated)
    assert difference.startswith("generated from ") and '"moto":"5.0.0"' in difference


def test_documents_are_read_by_arn_path_included():
    admin = aws_managed.aws_managed_document("arn:aws:iam::aws:policy/AdministratorAccess")
    assert admin == {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert aws_managed.aws_managed_document("arn:aws:iam::aws:policy/service-role/AWS_ConfigRole") is not None
    assert aws_managed.aws_managed_document("arn:aws:iam::aws:policy/NoSuchPolicy") is None
    assert aws_managed.aws_managed_document("arn:aws:iam::111122223333:policy/AdministratorAccess") is None


def test_the_check_command_says_whether_the_file_is_current():
    assert aws_managed.main([]) == 0


def test_reading_the_table_needs_no_moto():
    # As in the pack's virtualenv, where moto is not installed: importing it fails.
    code = ("import sys\n"
            "sys.modules['moto'] = None\n"
            "import policies.aws_managed as m\n"
            "assert m.aws_managed_document('arn:aws:iam::aws:policy/ReadOnlyAccess')\n"
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'moto' and sys.modules[name]))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
