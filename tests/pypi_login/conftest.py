"""Fixtures shared by tests/pypi_login."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tests.codeartifact_stub import Stub
from tests.codeartifact_stub.distributions import write_wheel
from tests.pypi_login.clients_support import INTERNAL, PUBLIC, write_matrix
from tests.pypi_login.login_support import REGION, Home


@pytest.fixture
def stubbed():
    """A real CodeArtifact client whose calls are answered by Stubber, never the network."""
    client = boto3.client(
        "codeartifact", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path)


# --- the real clients (marker clients) ---------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    write_matrix(terminalreporter)


@pytest.fixture
def stub(tmp_path: Path):
    """The CodeArtifact stand-in, serving the public package and the internal one that needs it."""
    with Stub(tmp_path / "stand-in") as running:
        write_wheel(running.packages, PUBLIC, "2.0.0")
        write_wheel(running.packages, INTERNAL, "1.0.0", [f"{PUBLIC}>=2"])
        yield running
        # Nothing any client did tried to reach anything but the stand-in.
        assert running.registry.blocked == []
