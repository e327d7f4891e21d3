"""The GitHub keys' rules (publishers, githubReaders): repositories, packages and the exact OIDC subjects a role
may trust, in the classic and the immutable form."""

from __future__ import annotations

import pytest

from model.settings import ConfigError, Publisher
from tests.model.settings_cases import assert_each_breaks_only_its_own_rule, assert_refused, publisher, settings_with

GITHUB_BAD_CASES = [
    # (id, changes, key named in the error, words of the rule)
    ("repository-no-owner", {"publishers": [publisher(repository="lib-a")]}, "publishers[0].repository",
     "owner/name form"),
    ("repository-three-parts", {"publishers": [publisher(repository="acme/lib-a/x")]}, "publishers[0].repository",
     "owner/name form"),
    ("repository-bad-owner", {"publishers": [publisher(repository="-acme/lib-a")]}, "publishers[0].repository",
     "owner/name form"),
    ("subject-wildcard-repo", {"publishers": [publisher(subjects=["repo:acme/*:environment:pypi"])]},
     "publishers[0].subjects[0]", "wildcard"),
    ("subject-wildcard-context", {"publishers": [publisher(subjects=["repo:acme/lib-a:*"])]},
     "publishers[0].subjects[0]", "wildcard"),
    ("subject-pull-request", {"publishers": [publisher(subjects=["repo:acme/lib-a:pull_request"])]},
     "publishers[0].subjects[0]", "pull_request"),
    ("subject-other-repo", {"publishers": [publisher(subjects=["repo:acme/lib-b:environment:pypi"])]},
     "publishers[0].subjects[0]", "belongs to another repository"),
    ("subject-other-owner", {"publishers": [publisher(subjects=["repo:evil/lib-a:environment:pypi"])]},
     "publishers[0].subjects[0]", "belongs to another repository"),
    ("subject-not-a-subject", {"publishers": [publisher(subjects=["acme/lib-a"])]},
     "publishers[0].subjects[0]", "must look like repo:OWNER/REPO"),
    ("subject-branch-without-ref", {"publishers": [publisher(subjects=["repo:acme/lib-a:main"])]},
     "publishers[0].subjects[0]", "must end in :environment:NAME, :ref:refs/heads/BRANCH or :ref:refs/tags/TAG"),
    ("no-packages", {"publishers": [publisher(packages=[])]}, "publishers[0].packages", "non-empty list"),
    ("unnormalised-package", {"publishers": [publisher(packages=["Acme_Lib_A"])]}, "publishers[0].packages[0]",
     "use 'acme-lib-a'"),
    ("wildcard-package", {"publishers": [publisher(packages=["acme-*"])]}, "publishers[0].packages[0]",
     "'acme-*' is not a normalised Python package name: lower-case letters and digits joined by single hyphens"),
    ("package-outside-prefixes", {"publishers": [publisher(packages=["requests"])]}, "publishers[0].packages",
     "outside every internal prefix"),
    ("package-two-publishers", {"publishers": [publisher(), publisher(repository="acme/lib-b")]},
     "publishers[1].packages", "already published by acme/lib-a"),
    ("publisher-twice", {"publishers": [publisher(), publisher(packages=["acme-other"])]},
     "publishers[1].repository", "listed twice"),
    ("publisher-unknown-field", {"publishers": [publisher(branch="main")]}, "publishers[0]", "unknown fields"),
]

SUBJECT_AND_PREFIX_CASES = [
    ("pull-request-context", "repo:acme/lib-a:pull_request", "names pull_request"),
    ("pull-request-target", "repo:acme/lib-a:pull_request_target", "names pull_request"),
    ("pull-request-environment", "repo:acme/lib-a:environment:pull_request", "names pull_request in its environment"),
    ("pull-request-in-environment-name", "repo:acme/lib-a:environment:Preview-Pull_Request",
     "names pull_request in its environment"),
    ("pull-request-ref", "repo:acme/lib-a:ref:refs/pull/1/merge", "its context 'ref:refs/pull/1/merge' is none"),
    ("workflow-dispatch", "repo:acme/lib-a:workflow_dispatch", "must end in :environment:NAME"),
    ("remote-ref", "repo:acme/lib-a:ref:refs/remotes/origin/main", "must end in :environment:NAME"),
    ("empty-environment", "repo:acme/lib-a:environment:", "names an empty environment"),
    ("colon-in-environment", "repo:acme/lib-a:environment:prod:eu", "containing ':'"),
    ("padded-environment", "repo:acme/lib-a:environment: pypi", "surrounding white space"),
    ("empty-branch", "repo:acme/lib-a:ref:refs/heads/", "not a valid git branch or tag name"),
    ("branch-with-space", "repo:acme/lib-a:ref:refs/heads/my branch", "not a valid git branch or tag name"),
    ("branch-with-dots", "repo:acme/lib-a:ref:refs/heads/a..b", "not a valid git branch or tag name"),
    ("branch-ending-lock", "repo:acme/lib-a:ref:refs/heads/main.lock", "not a valid git branch or tag name"),
    ("tag-with-caret", "repo:acme/lib-a:ref:refs/tags/v1^0", "not a valid git branch or tag name"),
]

SUBJECT_CASES = [
    *[(f"subject-{name}", {"publishers": [publisher(subjects=[subject])]}, "publishers[0].subjects[0]", rule)
      for name, subject, rule in SUBJECT_AND_PREFIX_CASES],
    ("package-prefix-without-its-dash", {"publishers": [publisher(packages=["acmefoo"])]}, "publishers[0].packages",
     "'acmefoo' is outside every internal prefix ['acme-']"),
]
GITHUB_BAD_CASES += SUBJECT_CASES


@pytest.mark.parametrize(("changes", "key", "rule"), [c[1:] for c in GITHUB_BAD_CASES],
                         ids=[c[0] for c in GITHUB_BAD_CASES])
def test_bad_github_value_is_rejected_naming_key_and_rule(changes, key, rule):
    assert_refused(changes, key, rule)


def test_subject_cases_each_break_only_their_own_rule():
    assert_each_breaks_only_its_own_rule(SUBJECT_CASES)


@pytest.mark.parametrize(
    "subject",
    [
        "repo:acme/lib-a:environment:pypi",
        "repo:acme/lib-a:ref:refs/heads/main",
        "repo:acme/lib-a:ref:refs/tags/v1.2.3",
        "repo:acme@1342004/lib-a@86712231:environment:pypi",
    ],
)
def test_exact_subject_forms_are_accepted(subject):
    settings = settings_with(publishers=[publisher(subjects=[subject])])
    assert settings.publishers[0].subjects == (subject,)


@pytest.mark.parametrize(
    "subject",
    [
        # A pull request event never yields a ref: subject, so a branch may mention pull_request.
        "repo:acme/lib-a:ref:refs/heads/fix-pull_request-parsing",
        "repo:acme/lib-a:ref:refs/heads/release/1.x",
        "repo:acme/lib-a:ref:refs/tags/v1.2.3-pull_request-fix",
        "repo:acme/lib-a:environment:Production EU",
        "repo:acme@1342004/lib-a@86712231:ref:refs/tags/v2",
    ],
)
def test_branch_tag_and_environment_subjects_that_look_unusual_are_accepted(subject):
    assert settings_with(publishers=[publisher(subjects=[subject])]).publishers[0].subjects == (subject,)


def test_a_prefix_without_a_dash_is_a_plain_string_prefix():
    # The package group /pypi//acme~ covers acmefoo too, so the publisher is inside it.
    settings = settings_with(internalPrefixes=["acme"], publishers=[publisher(packages=["acmefoo", "acme-lib-a"])])
    assert settings.publishers[0].packages == ("acmefoo", "acme-lib-a")


def test_long_repository_gets_a_short_unique_role_name():
    long_repo = "acme/" + "x" * 90
    settings = settings_with(publishers=[publisher(repository=long_repo)])
    name = settings.publishers[0].role_name
    assert len(name) <= 64
    assert name != Publisher(repository="acme/" + "x" * 91, packages=(), subjects=()).role_name


# --- immutable GitHub subjects --------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [{"ownerId": "1342004", "repositoryId": "86712231"},
                                 {"ownerId": 1342004, "repositoryId": 86712231}], ids=["strings", "numbers"])
def test_with_the_ids_given_the_default_subjects_are_the_immutable_form(ids):
    settings = settings_with(publishers=[publisher(**ids)], githubReaders=[{"repository": "acme/app", **ids}])
    assert settings.publishers[0].subjects == ("repo:acme@1342004/lib-a@86712231:environment:pypi",)
    assert settings.github_readers[0].subjects == (
        "repo:acme@1342004/app@86712231:pull_request", "repo:acme@1342004/app@86712231:ref:refs/heads/main")


@pytest.mark.parametrize(("ids", "subjects", "where", "expected"), [
    ({"ownerId": "1342004"}, None, "publishers[0].repositoryId", "both ownerId and repositoryId, or neither"),
    ({"ownerId": "0", "repositoryId": "1"}, None, "publishers[0].ownerId", "whole numbers"),
    ({"ownerId": True, "repositoryId": "1"}, None, "publishers[0].ownerId", "whole numbers"),
    ({"ownerId": "1", "repositoryId": "2"}, ["repo:acme/lib-a:environment:pypi"], "publishers[0].subjects[0]",
     "is not the immutable form with ownerId 1 and repositoryId 2"),
    ({"ownerId": "1", "repositoryId": "2"}, ["repo:acme@1/lib-a@3:environment:pypi"], "publishers[0].subjects[0]",
     "is not the immutable form"),
], ids=["one-id", "zero", "boolean", "classic-subject", "other-repository-id"])
def test_ids_that_cannot_be_used_are_refused(ids, subjects, where, expected):
    entry = publisher(**ids) if subjects is None else publisher(subjects=subjects, **ids)
    with pytest.raises(ConfigError) as raised:
        settings_with(publishers=[entry])
    assert any(p.startswith(f"pypi-registry:{where}: ") and expected in p for p in raised.value.problems), \
        raised.value.problems
