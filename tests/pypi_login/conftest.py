"""Fixtures shared by tests/pypi_login."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

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
