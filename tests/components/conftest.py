"""Fixtures of the components' tests: the backup stack deployed into moto, which the deployment's own tests
(test_backup_moto.py) and the event path's (test_backup_moto_path.py) both read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.render import Rendering
from tests.components.moto_deploy import STAND_IN_HANDLER, DeployedBackup, deploy_backup
from tests.moto_iam import moto_aws
from tests.stacks import backup


@pytest.fixture(scope="module")
def backup_rendering() -> Rendering:
    """The backup stack, rendered once for each module that deploys it."""
    return backup()


@pytest.fixture
def deployed_backup(backup_rendering: Rendering, tmp_path: Path) -> Iterator[DeployedBackup]:
    """The backup deployed afresh into moto for the one test that asks for it."""
    project_dir = backup_rendering.project_dir
    if not (project_dir / "backup" / "handler.py").is_file():
        (tmp_path / "backup").mkdir()
        (tmp_path / "backup" / "__init__.py").write_text("")
        (tmp_path / "backup" / "handler.py").write_text(STAND_IN_HANDLER)
        project_dir = tmp_path
    with moto_aws(backup_rendering.settings.region) as aws:
        resources, arns = deploy_backup(aws, backup_rendering, project_dir)
        yield DeployedBackup(aws, backup_rendering, resources, arns, backup_rendering.settings.owner_account_id)
