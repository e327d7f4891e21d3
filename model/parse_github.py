"""The GitHub keys: `publishers` (who publishes which packages), `githubReaders` and `dependabotReaders` (whose CI
or Dependabot jobs read), each entry's repository, GitHub IDs and OIDC subjects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.github import (
    DEPENDABOT_PULL_REQUEST_RULE,
    GITHUB_ID,
    GITHUB_OWNER,
    GITHUB_REPO,
    subject_prefix,
    subject_problem,
)
from model.names import DEFAULT_SUBJECT_CONTEXT, DEPENDABOT_CONTEXTS, GITHUB_READER_CONTEXTS
from model.parse_values import Problems, read_list
from model.rules import NORMALISED_NAME, normalised_name_hint
from model.settings import GithubReader, Publisher


@dataclass(frozen=True)
class GithubSection:
    publishers: tuple[Publisher, ...]
    github_readers: tuple[GithubReader, ...]
    dependabot_readers: tuple[GithubReader, ...]
    # Each publisher's role name, lower case (IAM role names are unique ignoring case) -> its repository.
    publisher_roles: Mapping[str, str]


def parse_github(raw: Mapping[str, Any], problems: Problems, valid_prefixes: list[str] | None) -> GithubSection:
    """The three lists; a publisher's packages are checked against the prefixes only once those are valid (else
    that is the problem)."""
    publishers: list[Publisher] = []
    for i, value in enumerate(read_list(raw, "publishers", problems)):
        publisher = _publisher(i, value, problems)
        if publisher is not None:
            publishers.append(publisher)
    github_readers = _readers(raw, "githubReaders", problems)
    dependabot_readers = _readers(raw, "dependabotReaders", problems)
    _check_packages(publishers, valid_prefixes, problems)
    return GithubSection(tuple(publishers), github_readers, dependabot_readers,
                         _publisher_roles(publishers, problems))


def _readers(raw: Mapping[str, Any], config_key: str, problems: Problems) -> tuple[GithubReader, ...]:
    readers: list[GithubReader] = []
    for i, value in enumerate(read_list(raw, config_key, problems)):
        reader = _github_reader(i, value, problems, config_key)
        if reader is None:
            continue
        if any(r.repository.lower() == reader.repository.lower() for r in readers):
            problems.add(f"{config_key}[{i}].repository", f"{reader.repository} is listed twice")
            continue
        readers.append(reader)
    return tuple(readers)


def _check_packages(publishers: list[Publisher], valid_prefixes: list[str] | None, problems: Problems) -> None:
    """A repository is listed once, a package has one publisher, and every package is under an internal prefix."""
    claimed: dict[str, str] = {}
    seen_repositories: set[str] = set()
    for i, publisher in enumerate(publishers):
        if publisher.repository.lower() in seen_repositories:
            problems.add(f"publishers[{i}].repository", f"{publisher.repository} is listed twice")
        seen_repositories.add(publisher.repository.lower())
        for package in publisher.packages:
            if package in claimed:
                problems.add(
                    f"publishers[{i}].packages",
                    f"{package!r} is already published by {claimed[package]}; a package has one publisher",
                )
            claimed.setdefault(package, publisher.repository)
            if valid_prefixes is not None and not any(package.startswith(prefix) for prefix in valid_prefixes):
                problems.add(
                    f"publishers[{i}].packages",
                    f"{package!r} is outside every internal prefix {valid_prefixes}; "
                    "it would not be protected from dependency confusion",
                )


def _publisher_roles(publishers: list[Publisher], problems: Problems) -> dict[str, str]:
    """Each publisher's role name, lower case, to its repository; IAM role names are unique in an account ignoring
    case."""
    publisher_roles: dict[str, str] = {}
    for i, publisher in enumerate(publishers):
        other = publisher_roles.setdefault(publisher.role_name.lower(), publisher.repository)
        if other != publisher.repository:
            problems.add(
                f"publishers[{i}].repository",
                f"role name {publisher.role_name} collides with the one of {other} (IAM role names are "
                "unique ignoring case)",
            )
    return publisher_roles


def _github_ids(value: Mapping[str, Any], key: str, problems: Problems) -> tuple[str, str] | None:
    """(ownerId, repositoryId) of an entry that gives both, as digits; None when it gives neither (or after
    reporting why they cannot be used)."""
    given = {name: value.get(name) for name in ("ownerId", "repositoryId") if value.get(name) is not None}
    if not given:
        return None
    ids = []
    for name in ("ownerId", "repositoryId"):
        raw = given.get(name)
        text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
        if not isinstance(text, str) or not GITHUB_ID.fullmatch(text):
            problems.add(f"{key}.{name}", "both ownerId and repositoryId, or neither: the GitHub IDs as whole numbers "
                                           "(gh api repos/OWNER/REPO --jq '.owner.id, .id')")
            return None
        ids.append(text)
    return ids[0], ids[1]


def _github_entry(value: Any, key: str, fields: tuple[str, ...], shape: str, problems: Problems) -> str | None:
    """The `owner/name` repository of a publishers/githubReaders entry, None after reporting why not."""
    if not isinstance(value, Mapping):
        problems.add(key, f"must be an object with {shape}")
        return None
    unknown = set(value) - set(fields)
    if unknown:
        problems.add(key, f"unknown fields {sorted(map(str, unknown))}; allowed: {', '.join(fields)}")
    repository = value.get("repository")
    if not isinstance(repository, str) or repository.count("/") != 1:
        problems.add(f"{key}.repository", f"{repository!r} must be a GitHub repository in owner/name form")
        return None
    owner, name = repository.split("/")
    if not GITHUB_OWNER.fullmatch(owner) or not GITHUB_REPO.fullmatch(name) or name in (".", ".."):
        problems.add(f"{key}.repository", f"{repository!r} must be a GitHub repository in owner/name form")
        return None
    return repository


def _subjects(value: Mapping[str, Any], key: str, repository: str, contexts: tuple[str, ...], problems: Problems,
              *, read_only: bool = False, pull_request_rule: str | None = None) -> tuple[list[Any], bool] | None:
    """(the entry's subjects, or the default contexts in the form its IDs call for, whether each is fine); None
    when there is no list at all."""
    ids = _github_ids(value, key, problems)
    subjects = value.get("subjects")
    if subjects is None:
        subjects = [f"{subject_prefix(repository, ids)}:{context}" for context in contexts]
    if not isinstance(subjects, list) or not subjects:
        problems.add(f"{key}.subjects", "must be a non-empty list of exact OIDC subjects")
        return None
    ok = True
    for i, subject in enumerate(subjects):
        problem = subject_problem(subject, repository, read_only=read_only, ids=ids,
                                  pull_request_rule=pull_request_rule)
        if problem:
            problems.add(f"{key}.subjects[{i}]", problem)
            ok = False
    return subjects, ok


def _publisher(index: int, value: Any, problems: Problems) -> Publisher | None:
    key = f"publishers[{index}]"
    repository = _github_entry(value, key, ("repository", "ownerId", "repositoryId", "packages", "subjects"),
                               "repository, packages and optional ownerId, repositoryId and subjects", problems)
    if repository is None:
        return None
    packages, ok = _packages(value, key, problems)
    found = _subjects(value, key, repository, (DEFAULT_SUBJECT_CONTEXT,), problems)
    if found is None:
        return None
    subjects, subjects_ok = found
    if not (ok and subjects_ok):
        return None
    return Publisher(repository=repository, packages=tuple(packages), subjects=tuple(subjects))


def _packages(value: Mapping[str, Any], key: str, problems: Problems) -> tuple[list[Any], bool]:
    """A publisher's packages, and whether each is a normalised name listed once."""
    ok = True
    packages = value.get("packages")
    if not isinstance(packages, list) or not packages:
        problems.add(f"{key}.packages", "must be a non-empty list of package names")
        packages = []
        ok = False
    for i, package in enumerate(packages):
        if not isinstance(package, str) or not NORMALISED_NAME.fullmatch(package):
            hint = normalised_name_hint(package)
            problems.add(f"{key}.packages[{i}]", f"{package!r} is not a normalised Python package name{hint}")
            ok = False
    names = [package for package in packages if isinstance(package, str)]
    if len(set(names)) != len(names):
        problems.add(f"{key}.packages", "lists a package twice")
        ok = False
    return packages, ok


def _github_reader(index: int, value: Any, problems: Problems,
                   config_key: str = "githubReaders") -> GithubReader | None:
    """A githubReaders entry; a dependabotReaders one (`config_key`) defaults to the default branch, where
    Dependabot's update jobs run, and may not name pull_request."""
    key = f"{config_key}[{index}]"
    repository = _github_entry(value, key, ("repository", "ownerId", "repositoryId", "subjects"),
                               "repository and optional ownerId, repositoryId and subjects", problems)
    if repository is None:
        return None
    if config_key == "dependabotReaders":
        found = _subjects(value, key, repository, DEPENDABOT_CONTEXTS, problems,
                          pull_request_rule=DEPENDABOT_PULL_REQUEST_RULE)
    else:
        found = _subjects(value, key, repository, GITHUB_READER_CONTEXTS, problems, read_only=True)
    if found is None:
        return None
    subjects, ok = found
    if len(set(subjects)) != len(subjects):
        problems.add(f"{key}.subjects", "lists a subject twice")
        ok = False
    return GithubReader(repository=repository, subjects=tuple(subjects)) if ok else None
