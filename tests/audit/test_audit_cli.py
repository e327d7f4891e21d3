"""`python -m audit --stack prod`: the offline render people and CI read."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from model.stack_file import PROJECT_DIR
from policies.guardrails import POLICIES
from tests.expected import OWNER, REGION, SECONDARIES


def run_audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audit", "--stack", "prod", *args],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )


@pytest.fixture(scope="module")
def audit_json() -> dict:
    result = run_audit("--json")
    assert result.returncode == 0, result.stderr + result.stdout[-2000:]
    return json.loads(result.stdout)


def test_json_lists_every_resource_type_in_its_account(audit_json):
    accounts_by_type: dict[str, set[str]] = {}
    for resource in audit_json["resources"]:
        assert set(resource) >= {"urn", "type", "name", "account", "region", "protect", "inputs"}
        assert resource["region"] == REGION
        accounts_by_type.setdefault(resource["type"], set()).add(resource["account"])
    secondaries = set(SECONDARIES)
    assert accounts_by_type == {
        "pulumi:providers:aws": {OWNER} | secondaries,
        "pulumi:providers:aws-native": {OWNER},
        "aws:kms/key:Key": {OWNER},
        "aws:kms/alias:Alias": {OWNER},
        "aws:codeartifact/domain:Domain": {OWNER},
        "aws:codeartifact/repository:Repository": {OWNER},
        "aws:codeartifact/domainPermissions:DomainPermissions": {OWNER},
        "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy": {OWNER},
        "aws-native:codeartifact:PackageGroup": {OWNER},
        "aws:iam/role:Role": {OWNER} | secondaries,
        "aws:iam/rolePolicy:RolePolicy": {OWNER},
        "aws:iam/policy:Policy": secondaries,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": secondaries,
    }


def test_json_has_stack_and_outputs(audit_json):
    assert audit_json["stack"] == "prod"
    assert audit_json["outputs"]["domainName"] == "acme"
    assert audit_json["failed"] == []
    protected = {r["name"] for r in audit_json["resources"] if r["protect"]}
    assert protected == {"registry-key", "registry-domain", "registry-pypi-store", "registry-internal"}


def test_text_summary_groups_resources_by_account():
    result = run_audit()
    assert result.returncode == 0, result.stdout[-2000:]
    text = result.stdout
    assert f"{OWNER} (owner)  {REGION}" in text
    for account in SECONDARIES:
        assert f"{account} (secondary)  {REGION}  4 resources" in text
    assert "registry-domain [protected, retained on delete]" in text
    assert text.rstrip().endswith("All checks passed.")


def test_through_a_pipe_the_whole_report_arrives_with_the_exit_status():
    """`python -m audit` ends with gc.freeze() and sys.exit(status) (audit/__main__.py), so a slow
    interpreter shutdown does not follow the report: read through pipes, as CI and make read it,
    every byte arrives and the status is main()'s."""
    text = run_audit()
    assert (text.returncode, text.stderr) == (0, "")
    assert text.stdout.endswith("\nAll checks passed.\n")
    piped = run_audit("--json")
    assert piped.returncode == 0, piped.stderr
    assert len(piped.stdout) > 65536  # more than a pipe buffer holds
    document = json.loads(piped.stdout)  # the whole object: a truncated one would not parse
    assert document["stack"] == "prod" and document["failed"] == []
    invalid = subprocess.run([sys.executable, "-m", "audit", "--stack", "no-such-stack"], cwd=PROJECT_DIR,
                             capture_output=True, text=True, check=False)
    assert invalid.returncode == 2
    assert invalid.stdout == "" and invalid.stderr.startswith("error: stack no-such-stack: ")


def test_json_reports_a_lowered_pack_config_as_a_failed_guardrail(tmp_path):
    # A copy of the project whose pack config turns every policy off: pulumi up would run none.
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / "policies").mkdir()
    config = json.loads((PROJECT_DIR / "policies" / "policy-config.prod.json").read_text())
    (tmp_path / "policies" / "policy-config.prod.json").write_text(json.dumps({**config, "all": "disabled"}))
    result = run_audit("--json", "--project-dir", str(tmp_path))
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    count = len(POLICIES)
    assert [title for title in document["failed"] if title.startswith("Guardrails")] == [
        f"Guardrails (pypi-registry-guardrails, {count} policies): 0 mandatory, 0 advisory violations, "
        f"{count} pack config problems"]
    problem = next(v for v in document["violations"] if v["policy"] == "domain-denies-loss-and-reopening")
    assert problem == {
        "policy": "domain-denies-loss-and-reopening", "enforcement": "mandatory", "urn": "",
        "message": "policies/policy-config.prod.json: domain-denies-loss-and-reopening: disabled (from \"all\") "
                   "is below its own level, mandatory: pulumi up would not run it"}


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`python -m audit --json | head`: the pipe closes before the report is written."""
    process = subprocess.Popen([sys.executable, "-m", "audit", "--stack", "prod", "--json"], cwd=PROJECT_DIR,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == 141 and "Traceback" not in stderr, stderr
