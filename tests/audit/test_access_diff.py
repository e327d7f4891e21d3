"""The access diff's command (`python -m audit --diff-against REF`), run against a commit of a copy of
this repository: the working tree against a commit, and the judge CI runs (`--program-from DIR`: the
base's audit and action table over a pull request's program), with the acceptance file it reads.
The tests that take the `repository` fixture are marked `judge` (slow: each renders in subprocesses).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit import diff
from tests.audit.diff_support import NEW_ACCOUNT, STRANGER, audit, git
from tests.expected import INTERNAL_PACKAGES

# --- the command, on a commit of a copy of this repository ----------------------------------------


def test_the_command_diffs_a_config_change_against_the_commit_without_touching_the_working_tree(repository):
    stack_file = repository / "Pulumi.prod.yaml"
    original = stack_file.read_text()
    stack_file.write_text(original.replace('    - "777788889999"   # ml training\n',
                                           f'    - "777788889999"   # ml training\n    - "{NEW_ACCOUNT}"\n'))
    try:
        status_before = git(repository, "status", "--porcelain")
        markdown = repository / "access-diff.md"
        result = audit(repository, "--diff-against", "HEAD", "--json", "--markdown", str(markdown))
        assert result.returncode == diff.EXIT_FAILED, result.stderr
        report = json.loads(result.stdout)
        assert {p["label"] for p in report["principals"]} == {f"reader {NEW_ACCOUNT}", f"admin in {NEW_ACCOUNT}"}
        assert report["new_accounts"] == [NEW_ACCOUNT] and report["engines"]["agree"] is True
        assert report["base"]["commit"] == git(repository, "rev-parse", "HEAD").strip()
        assert f"reader {NEW_ACCOUNT}" in markdown.read_text()
        # Nothing left behind: no worktree, the same status (the Markdown file aside).
        assert git(repository, "worktree", "list").count("\n") == 1
        assert git(repository, "status", "--porcelain").replace("?? access-diff.md\n", "") == status_before
        accepted = audit(repository, "--diff-against", "HEAD", "--accept-widening")
        assert accepted.returncode == diff.EXIT_CLEAN, accepted.stdout + accepted.stderr
        assert f"+ reader {NEW_ACCOUNT}" in accepted.stdout and "accepted" in accepted.stdout
    finally:
        stack_file.write_text(original)
        (repository / "access-diff.md").unlink(missing_ok=True)


def test_the_command_exits_2_for_a_ref_that_names_no_commit(repository):
    result = audit(repository, "--diff-against", "no-such-branch")
    assert result.returncode == diff.EXIT_INVALID
    assert "names no commit" in result.stderr


def test_the_command_exits_2_when_the_base_does_not_render(repository):
    stack_file = repository / "Pulumi.prod.yaml"
    original = stack_file.read_text()
    stack_file.write_text(original.replace('"111122223333"', '"not-an-account"', 1))
    git(repository, "commit", "--quiet", "--all", "--message", "broken")
    stack_file.write_text(original)
    try:
        result = audit(repository, "--diff-against", "HEAD")
        assert result.returncode == diff.EXIT_INVALID
        assert "does not render at HEAD" in result.stderr
    finally:
        git(repository, "reset", "--quiet", "--hard", "HEAD~1")


def test_accept_widening_and_markdown_need_diff_against():
    from audit.__main__ import main

    with pytest.raises(SystemExit) as raised:
        main(["--accept-widening"])
    assert raised.value.code == diff.EXIT_INVALID


# --- the judge: the base's audit and action table over the pull request's program -----------------


def relabel_publishing_as_a_read(table_path: Path) -> None:
    table = json.loads(table_path.read_text())
    levels = table["services"]["codeartifact"]
    levels["Write"].remove("PublishPackageVersion")
    levels["Read"].append("PublishPackageVersion")
    table_path.write_text(json.dumps(table))


@pytest.fixture
def pull_request(repository, tmp_path) -> Path:
    """A pull request's checkout of the base commit: its stack file gives a publisher one more
    package (a new publish grant), and its own action table calls publishing a Read."""
    tree = tmp_path / "pull-request"
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    stack_file = tree / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("        - acme-core-testing\n",
                                                         "        - acme-core-testing\n        - acme-extra\n"))
    config_path = tree / "policies" / "policy-config.prod.json"
    config = json.loads(config_path.read_text())
    for properties in config.values():
        if isinstance(properties, dict) and "publisherPackages" in properties:
            properties["publisherPackages"]["acme/acme-core"].append("acme-extra")
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    relabel_publishing_as_a_read(tree / "policies" / "iam_action_levels.json")
    git(tree, "commit", "--quiet", "--all", "--message", "one more package, publishing relabelled")
    yield tree
    git(repository, "worktree", "remove", "--force", str(tree))


def test_the_pull_requests_own_table_would_wave_a_new_publish_grant_through(repository, pull_request):
    # The hole the judge closes: judged by its own audit, the pull request calls publishing a read.
    result = audit(pull_request, "--diff-against", git(repository, "rev-parse", "HEAD").strip(), "--json")
    assert result.returncode == diff.EXIT_CLEAN, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["widening"] == [] and report["new_side"] == "working tree"
    (publisher,) = [p for p in report["principals"] if p["label"] == "publisher acme/acme-core"]
    assert {"action": "codeartifact:PublishPackageVersion", "resource": f"{INTERNAL_PACKAGES}/pypi//acme-extra",
            "read_only": True} in publisher["gained"]


def test_the_base_judges_the_pull_requests_program_with_its_own_audit_and_table(repository, pull_request):
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(pull_request), "--json")
    assert result.returncode == diff.EXIT_FAILED, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["new_side"] == f"the program of {pull_request}"
    assert report["engines"]["agree"] is True and report["failed_checks"] == []  # it fails on the widening alone
    # The pull request's stack file was rendered (the new package), the base's table judged it.
    assert any(w["kind"] == "allowed" and "+PublishPackageVersion" in w["text"] and "internal/acme-extra" in w["text"]
               for w in report["widening"]), report["widening"]
    (publisher,) = [p for p in report["principals"] if p["label"] == "publisher acme/acme-core"]
    assert {"action": "codeartifact:PublishPackageVersion", "resource": f"{INTERNAL_PACKAGES}/pypi//acme-extra",
            "read_only": False} in publisher["gained"]
    # Both renderings came from worktrees that are gone again.
    assert git(repository, "worktree", "list").count("\n") == 2  # the repository and the pull request


def test_the_judge_exits_2_when_the_pull_requests_program_does_not_render(repository, pull_request):
    (pull_request / "Pulumi.prod.yaml").write_text("config:\n  pypi-registry:ownerAccountId: 42\n")
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(pull_request))
    assert result.returncode == diff.EXIT_INVALID
    assert f"does not render with the program of {pull_request}" in result.stderr


def test_the_overlay_takes_only_the_program_and_its_configuration(tmp_path):
    judge, pull = tmp_path / "judge", tmp_path / "pull-request"
    files = {"__main__.py": "judge program", "components/settings.py": "judge", "components/gone.py": "judge",
             "Pulumi.yaml": "judge", "Pulumi.prod.yaml": "judge", "Pulumi.dev.yaml": "judge",
             "policies/policy-config.prod.json": "judge", "policies/iam_action_levels.json": "judge",
             "audit/diff/judge.py": "judge", "model/stack_file.py": "judge's reader", "model/parse.py": "judge"}
    for name, text in files.items():
        (judge / name).parent.mkdir(parents=True, exist_ok=True)
        (judge / name).write_text(text)
    pulled = {"__main__.py": "pr program", "components/settings.py": "pr", "components/new.py": "pr",
              "components/__pycache__/settings.cpython-311.pyc": "pr", "Pulumi.yaml": "pr",
              "Pulumi.prod.yaml": "pr", "Pulumi.dev.yaml": "pr", "policies/policy-config.prod.json": "pr",
              "policies/iam_action_levels.json": "pr", "audit/diff/judge.py": "pr", "z3.py": "pr shadowing a library",
              "model/stack_file.py": "pr's reader that drops a key", "model/parse.py": "pr",
              "promoter/handler.py": "pr", "backup/copier.py": "pr"}
    for name, text in pulled.items():
        (pull / name).parent.mkdir(parents=True, exist_ok=True)
        (pull / name).write_text(text)
    diff.overlay_program(pull, judge, "prod")
    found = {str(p.relative_to(judge)): p.read_text() for p in judge.rglob("*") if p.is_file()}
    assert found == {"__main__.py": "pr program", "components/settings.py": "pr", "components/new.py": "pr",
                     "Pulumi.yaml": "pr", "Pulumi.prod.yaml": "pr", "Pulumi.dev.yaml": "judge",
                     "policies/policy-config.prod.json": "pr", "policies/iam_action_levels.json": "judge",
                     "audit/diff/judge.py": "judge", "model/stack_file.py": "judge's reader", "model/parse.py": "pr",
                     "promoter/handler.py": "pr", "backup/copier.py": "pr"}
    # A program file the pull request deletes is gone on its side too.
    (pull / "Pulumi.prod.yaml").unlink()
    diff.overlay_program(pull, judge, "prod")
    assert not (judge / "Pulumi.prod.yaml").exists()


def test_program_from_needs_diff_against():
    from audit.__main__ import main

    with pytest.raises(SystemExit) as raised:
        main(["--program-from", "."])
    assert raised.value.code == diff.EXIT_INVALID


def allow_in_pack_config(tree: Path, account: str) -> None:
    path = tree / "policies" / "policy-config.prod.json"
    config = json.loads(path.read_text())
    for properties in config.values():
        if isinstance(properties, dict) and "allowedAccountIds" in properties:
            properties["allowedAccountIds"].append(account)
    path.write_text(json.dumps(config, indent=2) + "\n")


def write_acceptances(tree: Path, *entries: dict) -> None:
    (tree / diff.acceptance_path("prod")).write_text(json.dumps({"accepted": list(entries)}, indent=2) + "\n")


@pytest.fixture
def widening_pull_request(repository, tmp_path) -> Path:
    """A pull request's checkout that adds a secondary account (widening), in the stack file and in
    the pack config's allowed accounts, and nothing else."""
    tree = tmp_path / "widening-pull-request"
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    stack_file = tree / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace('    - "777788889999"   # ml training\n',
                                                         f'    - "777788889999"   # ml training\n'
                                                         f'    - "{NEW_ACCOUNT}"\n'))
    allow_in_pack_config(tree, NEW_ACCOUNT)
    yield tree
    git(repository, "worktree", "remove", "--force", str(tree))


def judged(repository: Path, pull: Path) -> tuple[int, dict]:
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(pull), "--json")
    assert result.returncode in (diff.EXIT_CLEAN, diff.EXIT_FAILED), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_the_judge_accepts_a_widening_the_pull_request_lists_and_nothing_more(repository, widening_pull_request):
    status, report = judged(repository, widening_pull_request)
    assert status == diff.EXIT_FAILED and report["accepted_by"] is None
    digest = report["widening_sha256"]
    entry = {"sha256": digest, "reason": "the ML account reads the registry (ticket OPS-42)"}
    write_acceptances(widening_pull_request, entry)
    status, report = judged(repository, widening_pull_request)
    assert status == diff.EXIT_CLEAN and report["accepted_by"] == entry and report["failed_checks"] == []
    assert report["widening_sha256"] == digest  # the same widening, the same digest, run after run
    # Any further change to the widening needs a new entry: one more account fails again.
    stack_file = widening_pull_request / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace(f'    - "{NEW_ACCOUNT}"\n',
                                                         f'    - "{NEW_ACCOUNT}"\n    - "{STRANGER}"\n'))
    allow_in_pack_config(widening_pull_request, STRANGER)
    status, report = judged(repository, widening_pull_request)
    assert status == diff.EXIT_FAILED and report["accepted_by"] is None and report["failed_checks"] == []
    assert report["unused_acceptances"] == [entry]


def test_an_entry_already_on_the_base_branch_accepts_nothing(repository, widening_pull_request):
    _, report = judged(repository, widening_pull_request)
    entry = {"sha256": report["widening_sha256"], "reason": "accepted once, long ago"}
    write_acceptances(repository, entry)
    git(repository, "commit", "--quiet", "--all", "--message", "an old acceptance")
    try:
        write_acceptances(widening_pull_request, entry)
        status, report = judged(repository, widening_pull_request)
        assert status == diff.EXIT_FAILED and report["accepted_by"] is None
    finally:
        git(repository, "reset", "--quiet", "--hard", "HEAD~1")


def test_a_malformed_acceptance_file_in_the_pull_request_exits_2(repository, widening_pull_request):
    (widening_pull_request / diff.acceptance_path("prod")).write_text('{"accepted": ["yes"]}')
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(widening_pull_request))
    assert result.returncode == diff.EXIT_INVALID and "entry 0 is not" in result.stderr


# --- the base's own checks over the pull request's program ----------------------------------------------


def test_the_judge_fails_when_the_bases_checks_refuse_the_pull_request(repository, tmp_path):
    # A pull request that turns the pack off in its own pack config: no access changes, but the
    # base's audit (which applies the pack config as the CLI does) refuses it, and no acceptance helps.
    tree = tmp_path / "pack-off"
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    try:
        config_path = tree / "policies" / "policy-config.prod.json"
        config_path.write_text(json.dumps({"all": "disabled", **json.loads(config_path.read_text())}))
        status, report = judged(repository, tree)
        assert status == diff.EXIT_FAILED and report["widening"] == []
        assert report["failed_checks"] and any(f.startswith("Guardrails") for f in report["failed_checks"])
        result = audit(repository, "--diff-against", "HEAD", "--program-from", str(tree))
        assert "THE BASE'S CHECKS FAIL on the program of" in result.stdout
    finally:
        git(repository, "worktree", "remove", "--force", str(tree))
