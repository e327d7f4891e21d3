"""Fixtures shared by the test modules: the prod stack as the real program declares it under
Pulumi's mock engine. The constants the tests share are in tests/expected.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from audit.render import Rendering, render

# Slow groups by what a test needs: a git repository to diff against is the judge's (base against pull
# request, rendered in subprocesses), a Docker proof is a real image build. `make test` leaves them out;
# `make test-slow` and `make docker-proof` run them, and `.ci/run` runs every group.
SLOW_FIXTURES = {"repository": "judge", "proof": "docker"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in SLOW_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def prod() -> Iterator[Rendering]:
    """The prod stack, rendered once and shared by every test that asks for it.

    No test may change it: derive a changed rendering with dataclasses.replace and new lists and
    dicts, or ask for `fresh_prod`. Whether it is still as rendered is checked once the run ends.
    """
    rendering = render("prod")
    pristine = copy.deepcopy(rendering)
    yield rendering
    assert rendering == pristine, "a test changed the shared prod rendering; derive a new one instead"


@pytest.fixture
def fresh_prod() -> Rendering:
    """The prod stack, rendered afresh for the one test that asks for it."""
    return render("prod")
