"""The access diff on pull requests: judged by the base commit's audit, and its comment posted by jobs that run
no code of the pull request (their script run against a fake `gh`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.repository.support import BASE_SHA, checkouts, load, step_using, steps

# --- the access diff on pull requests ----------------------------------------------------------------


def test_the_access_diff_is_judged_by_the_base_commits_audit():
    job = load("pull-request.yml")["jobs"]["access-diff"]
    assert job["permissions"] == {"contents": "read"}
    assert "environment" not in job and "needs" not in job
    text = json.dumps(job)
    assert "secrets." not in text and "aws-actions/" not in text and "id-token" not in text
    trees = checkouts("pull-request.yml", "access-diff")
    assert set(trees) == {"base", "pull-request"}
    assert trees["base"]["ref"] == BASE_SHA and "ref" not in trees["pull-request"]
    assert all(tree["persist-credentials"] is False for tree in trees.values())
    # Installed from the base's lock, run from the base's folder: the pull request brings its program only.
    (install,) = [step for step in job["steps"] if "pip install" in step.get("run", "")]
    assert install["working-directory"] == "base"
    assert "pip install --disable-pip-version-check --require-hashes -r requirements-dev.txt" in install["run"]
    (run,) = [step for step in job["steps"] if "--diff-against" in step.get("run", "")]
    assert run["working-directory"] == "base"
    command = " ".join(run["run"].replace("\\\n", " ").split())
    assert ('.venv/bin/python -m audit --stack prod --diff-against "$BASE_SHA" --program-from ../pull-request '
            "--markdown ../access-diff.md") in command
    assert run["env"] == {"BASE_SHA": BASE_SHA}
    upload = step_using("pull-request.yml", "access-diff", "actions/upload-artifact")
    assert upload["with"] == {"name": "access-diff", "path": "access-diff.md", "retention-days": 1,
                              "if-no-files-found": "error"}
    # The job fails on widening or disagreement, but only after the comment is handed over.
    names = [step.get("uses", "").split("@")[0] or step["name"] for step in job["steps"]]
    assert names.index("actions/upload-artifact") < names.index("Fail on widening or disagreement") == len(names) - 1
    fail = job["steps"][-1]
    assert fail["env"] == {"STATUS": "${{ steps.diff.outputs.status }}"} and run["id"] == "diff"


COMMENT_JOBS = {"access-diff-comment": ("<!-- pypi-registry access diff -->", "access-diff.md"),
                "preview-comment": ("<!-- pypi-registry preview -->", "preview.md")}


@pytest.mark.parametrize("job_name", sorted(COMMENT_JOBS))
def test_the_comment_jobs_run_no_code_of_the_pull_request_and_may_only_comment(job_name):
    job = load("pull-request.yml")["jobs"][job_name]
    assert job["permissions"] == {"pull-requests": "write"}
    assert "!cancelled()" in job["if"]
    uses = [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]
    assert uses == ["actions/download-artifact"]  # no checkout, no setup-python, no repository code
    (post,) = [step for step in job["steps"] if "run" in step]
    assert post["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert (post["env"]["MARKER"], post["env"]["COMMENT_FILE"]) == COMMENT_JOBS[job_name]
    assert "python" not in post["run"] and ".venv" not in post["run"] and "pip" not in post["run"]
    assert post["run"] == comment_script()
    jobs = load("pull-request.yml")["jobs"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in (
        job["if"] if job_name == "access-diff-comment" else jobs["preview"]["if"])


def comment_script(job: str = "access-diff-comment") -> str:
    (post,) = [step for step in steps("pull-request.yml", job) if "run" in step]
    return post["run"]


FAKE_GH = '''#!/usr/bin/env python3
import json, os, subprocess, sys
args = sys.argv[1:]
entry = {"argv": args, "token": os.environ.get("GH_TOKEN")}
if "--input" in args:
    entry["payload"] = json.load(open(args[args.index("--input") + 1]))
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
if "--jq" in args:
    comments = open(os.environ["FAKE_COMMENTS"]).read()
    out = subprocess.run(["jq", "-r", args[args.index("--jq") + 1]], input=comments, capture_output=True,
                         text=True, check=True).stdout
    sys.stdout.write(out)
else:
    print("{}")
'''


def post_comment(tmp_path: Path, comments: list[dict], markdown: str) -> list[dict]:
    """Runs the comment step as GitHub would, against a fake `gh` (and the real jq)."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "access-diff.md").write_text(markdown)
    (tmp_path / "comments.json").write_text(json.dumps(comments))
    script = tmp_path / "post.sh"
    script.write_text(comment_script())
    log = tmp_path / "gh.jsonl"
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path),
        "GH_TOKEN": "ghs_example", "REPOSITORY": "acme/pypi-registry", "PR_NUMBER": "42",
        "FAKE_GH_LOG": str(log), "FAKE_COMMENTS": str(tmp_path / "comments.json"),
        "MARKER": MARKER, "COMMENT_FILE": "access-diff.md",
    }
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=work,
                            env=environment, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


MARKER = "<!-- pypi-registry access diff -->"


def test_the_comment_is_posted_once_with_the_marker_and_the_diff(tmp_path):
    calls = post_comment(tmp_path, [{"id": 7, "user": {"login": "someone"}, "body": MARKER + " copied"}],
                         "### Access diff\n\n- reader 444455556666: +PublishPackageVersion on internal/acme-core\n")
    listing, posting = calls
    assert listing["argv"][:3] == ["api", "--paginate", "repos/acme/pypi-registry/issues/42/comments"]
    assert posting["argv"][:4] == ["api", "--method", "POST", "repos/acme/pypi-registry/issues/42/comments"]
    body = posting["payload"]["body"]
    assert body.startswith(MARKER + "\n### Access diff") and "+PublishPackageVersion on internal/acme-core" in body
    assert {call["token"] for call in calls} == {"ghs_example"}


def test_the_comment_is_updated_in_place_on_the_next_push(tmp_path):
    comments = [{"id": 5, "user": {"login": "github-actions[bot]"}, "body": "Pulumi preview ..."},
                {"id": 9, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nold diff"}]
    calls = post_comment(tmp_path, comments, "x" * 70000)
    posting = calls[-1]
    assert posting["argv"][:4] == ["api", "--method", "PATCH", "repos/acme/pypi-registry/issues/comments/9"]
    # Within GitHub's 65536-character limit for a comment.
    assert len(posting["payload"]["body"]) == len(MARKER) + 1 + 60000


def test_of_two_marked_comments_the_first_is_updated(tmp_path):
    comments = [{"id": 3, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nfirst"},
                {"id": 4, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nsecond"}]
    calls = post_comment(tmp_path, comments, "### Access diff\n")
    assert [call["argv"][2] for call in calls[1:]] == ["PATCH"]
    assert calls[-1]["argv"][3] == "repos/acme/pypi-registry/issues/comments/3"
