"""Every role of a bounded kind carries the bootstrap's permissions boundary: a changed program that drops or swaps
one fails the access proof, naming the role (the proof evaluates identity policies without boundaries, so without
this it would stay green)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from audit.access import access_report, boundary_problems
from audit.render import Rendering, render
from tests.stacks import STACKSET_OVERRIDES, airlock, backup


def with_boundary(rendering: Rendering, role_name: str, boundary: str | None) -> Rendering:
    def changed(resource):
        if resource.type != "aws:iam/role:Role" or resource.inputs.get("name") != role_name:
            return resource
        return replace(resource, inputs={**resource.inputs, "permissionsBoundary": boundary})
    resources = [changed(r) for r in rendering.resources]
    assert resources != rendering.resources, f"no role {role_name}"
    return replace(rendering, resources=resources)


@pytest.mark.parametrize("rendering", [
    pytest.param(lambda: render("prod"), id="prod"), pytest.param(lambda: render("prod", overrides=STACKSET_OVERRIDES),
                                                                   id="stackset"),
    pytest.param(airlock, id="airlock"), pytest.param(backup, id="backup"),
])
def test_as_declared_every_bounded_role_carries_its_boundary(rendering):
    assert boundary_problems(rendering()) == []


@pytest.mark.parametrize(("make", "role", "boundary"), [
    (lambda: render("prod"), "gh-publish-acme-acme-core", None),
    (lambda: render("prod"), "gh-publish-acme-data-tools", "arn:aws:iam::aws:policy/AdministratorAccess"),
    (lambda: render("prod"), "codeartifact-pypi-reader", None),
    (airlock, "pypi-registry-promoter", "arn:aws:iam::111122223333:policy/pypi-registry-github-roles-boundary"),
    (backup, "pypi-registry-backup", None),
], ids=["publisher-dropped", "publisher-swapped", "secondary-reader-dropped", "airlock-role-given-another-kind",
        "backup-role-dropped"])
def test_a_dropped_or_swapped_boundary_fails_the_proof_naming_the_role(make, role, boundary):
    tampered = with_boundary(make(), role, boundary)
    problems = boundary_problems(tampered)
    assert problems and all(f"role {role} in " in p for p in problems)
    assert any(f"role {role} in " in v for v in access_report(tampered).violations)
