"""GitHub's rules: repository names, the OIDC subjects a role may trust (never a pull request for a publisher,
never a wildcard), the environment and git ref names a subject may hold, and the immutable ID form."""

from __future__ import annotations

import re
from typing import Any

# Every pattern is applied with `fullmatch`, as in model/rules.py.
GITHUB_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
# repo:OWNER/REPO:<context> or the immutable repo:OWNER@ID/REPO@ID:<context>; the context is
# checked on its own (`context_problem`), so that every way it can be wrong is named.
GITHUB_SUBJECT = re.compile(
    r"repo:(?P<owner>[A-Za-z0-9-]+)(?:@(?P<owner_id>[0-9]+))?"
    r"/(?P<repo>[A-Za-z0-9._-]+)(?:@(?P<repo_id>[0-9]+))?"
    r":(?P<context>.*)",
    re.DOTALL,
)
GITHUB_ENVIRONMENT_MAX = 255
# A git ref name may not hold these (git check-ref-format); `:` would also end the subject's context.
GIT_REF_FORBIDDEN = set(" ~^:?*[\\")
# A GitHub user, organization or repository ID: a positive whole number.
GITHUB_ID = re.compile(r"[1-9][0-9]{0,19}")

PULL_REQUEST_RULE = "pull requests must never publish"
READER_PULL_REQUEST_RULE = "readers may use `pull_request` itself, nothing else that names it"
DEPENDABOT_PULL_REQUEST_RULE = "Dependabot's update jobs run on a branch (ref:refs/heads/BRANCH), never as pull_request"


def environment_problem(name: str) -> str | None:
    """Why `name` cannot be the environment of a subject (GitHub's rules, and no `:`), or None."""
    if not name:
        return "names an empty environment"
    if len(name) > GITHUB_ENVIRONMENT_MAX:
        return f"names an environment longer than GitHub's {GITHUB_ENVIRONMENT_MAX} characters"
    if ":" in name:
        return "names an environment containing ':', which would make the subject ambiguous"
    if not name.isprintable() or name != name.strip():
        return "names an environment with a control character or surrounding white space"
    return None


def git_ref_problem(name: str) -> str | None:
    """Why `name` cannot be a branch or tag name (git check-ref-format), or None."""
    components = name.split("/")
    if (
        not name
        or any(ord(c) < 0x20 or ord(c) == 0x7F or c in GIT_REF_FORBIDDEN for c in name)
        or ".." in name
        or "@{" in name
        or name == "@"
        or name.endswith(".")
        or any(not part or part.startswith(".") or part.endswith(".lock") for part in components)
    ):
        return f"names {name!r}, which is not a valid git branch or tag name (git check-ref-format)"
    return None


def context_problem(subject: str, context: str, pull_request_rule: str = PULL_REQUEST_RULE) -> str | None:
    """Why the part after repo:OWNER/REPO: is not a context a publishing job runs in, or None.

    GitHub sends `pull_request` for a job a pull request triggers, unless the job names an
    environment: then `environment:NAME`. A branch or tag subject (`ref:refs/heads/...`,
    `ref:refs/tags/...`) is never sent for a pull request event, so a branch named
    fix-pull_request-parsing is accepted; an environment whose name mentions pull_request is not.
    """
    if context.startswith("environment:"):
        name = context.removeprefix("environment:")
        if "pull_request" in name.lower():
            return f"subject {subject!r} names pull_request in its environment; {pull_request_rule}"
        problem = environment_problem(name)
    elif context.startswith(("ref:refs/heads/", "ref:refs/tags/")):
        problem = git_ref_problem(context.split("/", 2)[2])
    elif "pull_request" in context.lower():
        return f"subject {subject!r} names pull_request; {pull_request_rule}"
    else:
        return (
            f"subject {subject!r} must end in :environment:NAME, :ref:refs/heads/BRANCH or "
            f":ref:refs/tags/TAG; its context {context!r} is none of these"
        )
    return f"subject {subject!r} {problem}" if problem else None


def subject_problem(subject: Any, repository: str, *, read_only: bool = False,
                    ids: tuple[str, str] | None = None, pull_request_rule: str | None = None) -> str | None:
    """Why a GitHub OIDC `sub` may not be trusted, or None when it is fine.

    A read-only role may also trust the `pull_request` subject: CI of a pull request installs
    packages, and GitHub gives no OIDC token to pull requests from forks."""
    pull_request_rule = pull_request_rule or (READER_PULL_REQUEST_RULE if read_only else PULL_REQUEST_RULE)
    if not isinstance(subject, str):
        return f"subject {subject!r} must be a string"
    if "*" in subject or "?" in subject:
        return f"subject {subject!r} contains a wildcard; list exact subjects"
    match = GITHUB_SUBJECT.fullmatch(subject)
    if not match:
        if "pull_request" in subject.lower():
            return f"subject {subject!r} names pull_request; {pull_request_rule}"
        return (
            f"subject {subject!r} must look like repo:OWNER/REPO:environment:NAME, "
            "repo:OWNER/REPO:ref:refs/heads/BRANCH or refs/tags/TAG "
            "(or the immutable repo:OWNER@ID/REPO@ID:... form)"
        )
    if not (read_only and match["context"] == "pull_request"):
        problem = context_problem(subject, match["context"], pull_request_rule)
        if problem:
            return problem
    owner, repo = repository.split("/", 1)
    if match["owner"].lower() != owner.lower() or match["repo"].lower() != repo.lower():
        return f"subject {subject!r} belongs to another repository than {repository!r}"
    if ids is not None and (match["owner_id"], match["repo_id"]) != ids:
        return (f"subject {subject!r} is not the immutable form with ownerId {ids[0]} and repositoryId {ids[1]}: "
                "with the IDs given, trust goes to repo:OWNER@OWNER_ID/REPO@REPO_ID:... only")
    return None


def subject_prefix(repository: str, ids: tuple[str, str] | None) -> str:
    """repo:OWNER/REPO, or repo:OWNER@OWNER_ID/REPO@REPO_ID when the IDs are given."""
    if ids is None:
        return f"repo:{repository}"
    owner, name = repository.split("/", 1)
    return f"repo:{owner}@{ids[0]}/{name}@{ids[1]}"
