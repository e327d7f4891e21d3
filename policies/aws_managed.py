"""AWS-managed IAM policies, read by ARN from the copy of their documents that moto ships.

moto keeps a dump of every AWS-managed policy (`moto/iam/aws_managed_policies.py`, refreshed
with each moto release). Only that data file is read, not moto itself, so this stays cheap.
A policy not in the dump (or no moto installed) is None: callers then fail closed and treat
the attachment as allowing everything.
"""

from __future__ import annotations

import importlib.util
import json
import runpy
from functools import cache
from pathlib import Path

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


def is_aws_managed(policy_arn: str) -> bool:
    return policy_arn.startswith(AWS_MANAGED_PREFIX)


@cache
def _documents() -> dict[str, dict[str, object]]:
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "iam" / "aws_managed_policies.py"
    if not path.is_file():
        return {}
    data = json.loads(runpy.run_path(str(path))["aws_managed_policies_data"])
    # Keyed by path + name, as the ARN spells it (most policies live at "/").
    return {f"{entry.get('Path', '/')}{name}".lstrip("/"): entry["Document"] for name, entry in data.items()}


def aws_managed_document(policy_arn: str) -> dict[str, object] | None:
    """The document of an AWS-managed policy ARN, or None when it cannot be read."""
    if not is_aws_managed(policy_arn):
        return None
    return _documents().get(policy_arn.removeprefix(AWS_MANAGED_PREFIX))
