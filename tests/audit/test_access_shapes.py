"""Principals are evaluated once per shape, and the shapes decide exactly what one-by-one evaluation decides.

Grouping is only worth having if it is sound: each test compares the grouped evaluation with
principalmapper run on every check of every principal, sharing nothing, on stacks built so
that a careless shape would merge principals whose decisions differ (a publisher whose Resource
also matches another's package, a condition matching account IDs or role names by wildcard).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from audit.access import (
    AccessEvaluator,
    AccessPlan,
    Check,
    Principal,
    Registry,
    access_report,
    access_section,
    administrator,
    expand_decisions,
    subjects_from_rendering,
)
from audit.diff import Side, rendering_json
from audit.render import Rendering, render
from model.stack_file import PROJECT_DIR
from tests.expected import DOMAIN_ARN, INTERNAL_PACKAGES, OWNER, READER_ROLE_NAME, REPOSITORY_ARN
from tests.renderings import recorded, with_resources

PUBLISH = "codeartifact:PublishPackageVersion"
ACCOUNTS = [f"{200000000000 + i:012d}" for i in range(6)]
# acme-lib-1 is a prefix of acme-lib-10: a Resource ending in "acme-lib-1*" reaches both.
PUBLISHERS = [
    {"repository": "acme/lib-1", "packages": ["acme-lib-1"]},
    {"repository": "acme/lib-10", "packages": ["acme-lib-10"]},
    {"repository": "acme/lib-2", "packages": ["acme-lib-2"]},
    {"repository": "acme/lib-3", "packages": ["acme-lib-3"]},
    {"repository": "acme/lib-4", "packages": ["acme-lib-4", "acme-lib-4-extra"]},
    {"repository": "acme/lib-5", "packages": ["acme-lib-5", "acme-lib-5-extra"]},
]


def publisher_role(repository: str) -> str:
    return f"gh-publish-{repository.replace('/', '-')}"


def inline_policy(name: str, role: str, statement: dict) -> object:
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return recorded("aws:iam/rolePolicy:RolePolicy", name, {"name": name, "role": role, "policy": json.dumps(document)})


@pytest.fixture(scope="module")
def crowded() -> Rendering:
    """Six accounts and six publishers; lib-1 may also publish whatever starts with its name
    (acme-lib-10 too), lib-3 has the same kind of extra Resource, which reaches nothing else."""
    rendering = render("prod", overrides={"pypi-registry:secondaryAccountIds": ACCOUNTS,
                                          "pypi-registry:publishers": PUBLISHERS})
    return with_resources(
        rendering,
        inline_policy("lib-1-wide", publisher_role("acme/lib-1"),
                      {"Effect": "Allow", "Action": PUBLISH, "Resource": f"{INTERNAL_PACKAGES}/pypi//acme-lib-1*"}),
        inline_policy("lib-3-wide", publisher_role("acme/lib-3"),
                      {"Effect": "Allow", "Action": PUBLISH, "Resource": f"{INTERNAL_PACKAGES}/pypi//acme-lib-3*"}),
    )


def one_by_one(rendering: Rendering) -> dict[tuple[str, str, str], bool]:
    """Every decision, each principal evaluated on its own."""
    registry = Registry.from_rendering(rendering)
    plan = AccessPlan.for_settings(registry, rendering.settings)
    evaluator = AccessEvaluator(registry)
    found = {}
    for subject in subjects_from_rendering(rendering):
        checks = plan.checks(subject.own_packages)
        results = evaluator.decide_one_by_one(subject.principal, checks)
        found.update({(subject.principal.arn, c.action, c.resource): ok for c, ok in zip(checks, results, strict=True)})
    return found


def grouped(rendering: Rendering) -> dict[tuple[str, str, str], bool]:
    rows = expand_decisions(access_section(rendering).json_value["decision_groups"])
    return {(r["principal"], r["action"], r["resource"]): r["allowed"] for r in rows}


def test_grouped_and_one_by_one_evaluation_decide_the_same(crowded):
    expected = one_by_one(crowded)
    assert grouped(crowded) == expected
    # The stack is one that matters: lib-1's wider Resource reaches acme-lib-10, and only lib-1's.
    lib_1 = f"arn:aws:iam::{OWNER}:role/{publisher_role('acme/lib-1')}"
    lib_2 = f"arn:aws:iam::{OWNER}:role/{publisher_role('acme/lib-2')}"
    lib_10_package = f"{INTERNAL_PACKAGES}/pypi//acme-lib-10"
    assert expected[(lib_1, PUBLISH, lib_10_package)]
    assert not expected[(lib_2, PUBLISH, lib_10_package)]


def test_principals_that_differ_only_in_account_or_own_packages_share_one_evaluation(crowded):
    report = access_report(crowded)
    publishers = [s for s, _ in report.rows if s.kind == "publisher"]
    readers = [s for s, _ in report.rows if s.kind == "reader role"]
    assert len(publishers) == 6 and len(readers) == 6
    # readers; secondary administrators; the outsider; publishers with one package (lib-2, lib-10),
    # with two (lib-4, lib-5), lib-1 and lib-3 on their own; the owner's administrator; the deploy CI role; the
    # operator.
    assert report.shapes_evaluated == 10
    assert len(report.violations) == 1
    assert report.violations[0].startswith("publisher acme/lib-1 (") and "acme-lib-10" in report.violations[0]


def test_decisions_are_stored_once_per_group_and_expand_to_every_principal(crowded):
    groups = access_section(crowded).json_value["decision_groups"]
    readers = [f"arn:aws:iam::{a}:role/{READER_ROLE_NAME}" for a in ACCOUNTS]
    reader_groups = [g for g in groups["groups"] if set(readers) & set(g["principals"])]
    assert len(reader_groups) == 1 and set(readers) <= set(reader_groups[0]["principals"])
    # lib-3's extra Resource reaches nothing more: it is decided like lib-2 and lib-10 and stored with them.
    lib = {p["repository"]: f"arn:aws:iam::{OWNER}:role/{publisher_role(p['repository'])}" for p in PUBLISHERS}
    group_of = {arn: i for i, g in enumerate(groups["groups"]) for arn in g["principals"]}
    assert group_of[lib["acme/lib-2"]] == group_of[lib["acme/lib-3"]] == group_of[lib["acme/lib-10"]]
    assert group_of[lib["acme/lib-1"]] != group_of[lib["acme/lib-2"]]
    assert group_of[lib["acme/lib-4"]] == group_of[lib["acme/lib-5"]]
    resources = {c["resource"] for c in groups["groups"][group_of[lib["acme/lib-2"]]]["checks"]}
    assert f"{INTERNAL_PACKAGES}/pypi//{{own:0}}" in resources
    assert f"{INTERNAL_PACKAGES}/pypi//{{other:4}}" in resources
    assert not any("acme-lib-2" in r for r in resources)
    assert groups["own_packages"][lib["acme/lib-4"]] == ["acme-lib-4", "acme-lib-4-extra"]
    rows = expand_decisions(groups)
    assert len(rows) == len({(r["principal"], r["action"], r["resource"]) for r in rows})
    assert len(rows) == sum(len(g["checks"]) * len(g["principals"]) for g in groups["groups"])


# --- shapes on hand-made registries: what a careless shape would merge ------------------------------


def evaluate_both(registry: Registry, principals: list[Principal], checks: tuple[Check, ...]) -> AccessEvaluator:
    evaluator = AccessEvaluator(registry)
    for principal in principals:
        assert evaluator.decide(principal, checks) == evaluator.decide_one_by_one(principal, checks), principal.arn
    return evaluator


def registry_with(statement: dict) -> Registry:
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return Registry(DOMAIN_ARN, {"internal": f"{REPOSITORY_ARN}/internal"}, policy, {})


READ = (Check("codeartifact:GetAuthorizationToken", DOMAIN_ARN),
        Check("codeartifact:ReadFromRepository", f"{REPOSITORY_ARN}/internal"))


@pytest.mark.parametrize("key, pattern", [
    ("aws:PrincipalAccount", "2000000000*"),
    ("aws:PrincipalArn", "arn:aws:iam::2000000000*:role/administrator"),
])
def test_a_condition_matching_accounts_by_wildcard_splits_the_shape(key, pattern):
    registry = registry_with({"Effect": "Allow", "Principal": "*", "Action": "codeartifact:*", "Resource": "*",
                              "Condition": {"StringLike": {key: pattern}}})
    inside, outside = administrator("200000000001"), administrator("300000000001")
    evaluator = evaluate_both(registry, [inside, outside], READ)
    assert evaluator.decide(inside, READ) == (True, True)
    assert evaluator.decide(outside, READ) == (False, False)
    assert evaluator.shapes_evaluated == 2


def test_a_condition_on_the_role_name_splits_publishers_of_one_account():
    registry = registry_with({"Effect": "Deny", "Principal": "*", "Action": PUBLISH, "Resource": "*",
                              "Condition": {"StringLike": {"aws:PrincipalArn": "*:role/gh-publish-acme-lib-1"}}})
    principals = []
    for name in ("lib-1", "lib-2"):
        package = f"{INTERNAL_PACKAGES}/pypi//acme-{name}"
        principals.append((Principal.role(f"arn:aws:iam::{OWNER}:role/gh-publish-acme-{name}", {"inline:publish": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": PUBLISH, "Resource": package}]}}),
            (Check(PUBLISH, package),)))
    evaluator = AccessEvaluator(registry)
    decided = [evaluator.decide(p, checks) for p, checks in principals]
    assert decided == [evaluator.decide_one_by_one(p, checks) for p, checks in principals]
    assert decided == [(False,), (True,)]


def test_a_resource_wildcard_reaching_another_package_splits_the_shape():
    registry = registry_with({"Effect": "Allow", "Principal": {"AWS": OWNER}, "Action": "codeartifact:*",
                              "Resource": "*"})
    names = ["acme-lib-1", "acme-lib-10"]

    def publisher(own: str, resource: str) -> tuple[Principal, tuple[Check, ...]]:
        principal = Principal.role(f"arn:aws:iam::{OWNER}:role/gh-publish-{own}", {"inline:publish": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": PUBLISH, "Resource": resource}]}})
        others = [n for n in names if n != own] + ["acme-lib-2"]
        checks = tuple(Check(PUBLISH, f"{INTERNAL_PACKAGES}/pypi//{n}") for n in [own, *others])
        return principal, checks

    wide = publisher("acme-lib-1", f"{INTERNAL_PACKAGES}/pypi//acme-lib-1*")
    narrow = publisher("acme-lib-10", f"{INTERNAL_PACKAGES}/pypi//acme-lib-10*")
    evaluator = AccessEvaluator(registry)
    assert evaluator.decide(*wide) == evaluator.decide_one_by_one(*wide) == (True, True, False)
    assert evaluator.decide(*narrow) == evaluator.decide_one_by_one(*narrow) == (True, False, False)
    assert evaluator.shapes_evaluated == 2


def test_actions_one_statement_tells_apart_are_not_decided_alike():
    # Describe* is allowed, one Describe action denied: a class per action pattern outcome.
    registry = registry_with({"Effect": "Deny", "Principal": "*", "Action": "codeartifact:DescribePackage",
                              "Resource": "*"})
    reader = Principal.role("arn:aws:iam::200000000001:role/pypi-reader", {"inline:read": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codeartifact:Describe*",
                                                "Resource": "*"}]}})
    registry = Registry(registry.domain_arn, registry.repository_arns, {"Version": "2012-10-17", "Statement": [
        *registry.domain_policy["Statement"],
        {"Effect": "Allow", "Principal": {"AWS": "200000000001"}, "Action": "codeartifact:*", "Resource": "*"}]}, {})
    package = f"{INTERNAL_PACKAGES}/pypi//acme-core"
    checks = tuple(Check(a, package) for a in ("codeartifact:DescribePackage", "codeartifact:DescribePackageVersion",
                                               "codeartifact:DescribeRepository", PUBLISH))
    evaluator = evaluate_both(registry, [reader], checks)
    assert evaluator.decide(reader, checks) == (False, True, True, False)


def test_policy_variables_turn_sharing_off():
    registry = registry_with({"Effect": "Allow", "Principal": "*", "Action": "codeartifact:*",
                              "Resource": "arn:aws:codeartifact:*:${aws:PrincipalAccount}:*"})
    a, b = administrator("200000000001"), administrator("200000000002")
    evaluator = evaluate_both(registry, [a, b], READ)
    assert evaluator.shapes_evaluated == 2


def test_expand_decisions_on_the_command_line(prod):
    command = [sys.executable, "-m", "audit", "--stack", "prod", "--json", "--expand-decisions"]
    result = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    access = json.loads(result.stdout)["access"]
    assert access["decisions"] == expand_decisions(access["decision_groups"])
    assert access["decision_groups"] == access_section(prod).json_value["decision_groups"]
    principals = {p["principal"] for p in access["principals"]}
    assert {d["principal"] for d in access["decisions"]} == principals
    refused = subprocess.run([sys.executable, "-m", "audit", "--expand-decisions"], cwd=PROJECT_DIR,
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "--expand-decisions goes with --json" in refused.stderr


def test_the_access_diff_reads_grouped_and_expanded_decisions_alike(prod):
    document = rendering_json(prod)
    expanded = json.loads(json.dumps(document))
    expanded["access"]["decisions"] = expand_decisions(expanded["access"].pop("decision_groups"))
    grouped_side, expanded_side = Side.from_audit(document), Side.from_audit(expanded)
    assert grouped_side.decisions == expanded_side.decisions
    assert len(grouped_side.decisions) == len(expanded["access"]["decisions"]) > 1000


def test_evaluators_of_one_registry_share_decisions_only_for_the_same_shape():
    # Decisions are shared between evaluators of an identical registry; what names a resource or a
    # tuple of checks inside a shape must mean the same in each of them.
    registry = registry_with({"Effect": "Deny", "Principal": "*", "Action": "codeartifact:DeletePackage",
                              "Resource": "*"})
    admin = administrator(OWNER)
    inside = (Check("codeartifact:DeletePackage", f"{INTERNAL_PACKAGES}/pypi//acme-core"),)
    elsewhere = (Check("codeartifact:DeletePackage",
                       f"arn:aws:codeartifact:eu-west-1:{OWNER}:package/other/internal/pypi//acme-core"),)
    assert AccessEvaluator(registry).decide(admin, inside) == (False,)
    assert AccessEvaluator(registry).decide(admin, elsewhere) == (True,)
    assert AccessEvaluator(registry).decide(admin, inside) == (False,)
