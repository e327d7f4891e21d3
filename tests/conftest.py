"""Fixtures shared by the test modules: the prod stack as the real program declares it under
Pulumi's mock engine. The constants the tests share are in tests/expected.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from audit.render import Rendering, render


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
