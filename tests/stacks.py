"""The example stacks beside prod, as the real program declares them under Pulumi's mock engine from their stack
files in tests/fixtures: the curation airlock (Pulumi.airlock.yaml), loss-proof backups (Pulumi.backup.yaml) and
StackSet readers for an organization (Pulumi.orgscale.yaml), with what the tests know of each. `airlock(**changes)`,
`backup(**changes)` and `orgscale(**changes)` render a stack with config keys changed (None removes a key), from
the config `airlock_config(**changes)` and so on return. Also the overrides that put prod itself in StackSet mode.

Each call renders afresh; a test module that reads one rendering many times holds it in a module-scoped fixture."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from audit.render import Rendering, render
from model.stack_file import read_yaml
from tests.expected import OWNER, REGION, STACK_SET

FIXTURES = Path(__file__).parent / "fixtures"
NAMESPACE = "pypi-registry:"


def stack_config(stack: str, **changes: object) -> dict:
    """The config of tests/fixtures/Pulumi.<stack>.yaml with `changes` ({key without namespace: value}) applied."""
    config = copy.deepcopy(read_yaml(FIXTURES / f"Pulumi.{stack}.yaml").data["config"])
    for key, value in changes.items():
        full = f"{NAMESPACE}{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    return config


# --- the curation airlock (publicIngest: airlock) -------------------------------------------------------------

AIRLOCK_STACK = "airlock"
AIRLOCK_FIXTURE = FIXTURES / f"Pulumi.{AIRLOCK_STACK}.yaml"


def airlock_config(**changes: object) -> dict:
    return stack_config(AIRLOCK_STACK, **changes)


def airlock(**changes: object) -> Rendering:
    return render(AIRLOCK_STACK, config=airlock_config(**changes))


# --- loss-proof backups (backupRegion set) -----------------------------------------------------------------------

BACKUP_STACK = "backup"
BACKUP_FIXTURE = FIXTURES / f"Pulumi.{BACKUP_STACK}.yaml"
BACKUP_REGION = "eu-central-1"  # where the replica bucket lives
BACKUP_BUCKET = f"pypi-registry-backup-{OWNER}-{REGION}"
BACKUP_REPLICA = f"pypi-registry-backup-{OWNER}-{BACKUP_REGION}"
# The backup's role policies, by resource name.
COPIER_POLICY = "backup-jobs-pypi-registry-backup-role-policy"
RECONCILE_POLICY = "backup-jobs-pypi-registry-backup-reconcile-role-policy"
RETENTION_POLICY = "backup-jobs-pypi-registry-retention-role-policy"
REPLICATION_POLICY = "backup-replication-role-policy"


def backup_config(**changes: object) -> dict:
    return stack_config(BACKUP_STACK, **changes)


def backup(**changes: object) -> Rendering:
    return render(BACKUP_STACK, config=backup_config(**changes))


# --- StackSet readers for an organization (readerDeployment: stackset) -------------------------------------------

ORGSCALE_STACK = "orgscale"
ORGSCALE_FIXTURE = FIXTURES / f"Pulumi.{ORGSCALE_STACK}.yaml"
ORGANIZATIONAL_UNITS = ["ou-a1b2-workload1", "ou-a1b2-sandbox01"]
MANAGEMENT_ACCOUNT = "012345678901"


def orgscale_config(**changes: object) -> dict:
    return stack_config(ORGSCALE_STACK, **changes)


def orgscale(**changes: object) -> Rendering:
    return render(ORGSCALE_STACK, config=orgscale_config(**changes))


def orgscale_raw_settings(**changes: object) -> dict:
    """The orgscale stack's keys without their namespace, as model.parse.parse_settings reads them."""
    return {key.removeprefix(NAMESPACE): value for key, value in orgscale_config(**changes).items()
            if key.startswith(NAMESPACE)}


def stack_set_template(rendering: Rendering) -> dict:
    """The template of the rendering's one StackSet, as CloudFormation reads it."""
    (stack_set,) = rendering.of_type(STACK_SET)
    return json.loads(stack_set.inputs["templateBody"])


# --- prod in StackSet mode ------------------------------------------------------------------------------------

# render("prod", overrides=STACKSET_OVERRIDES): prod's readers deployed by a StackSet into one OU.
STACKSET_OVERRIDES = {
    "pypi-registry:readerDeployment": "stackset",
    "pypi-registry:organizationId": "o-a1b2c3d4e5",
    "pypi-registry:organizationalUnitIds": ["ou-abcd-12345678"],
}
