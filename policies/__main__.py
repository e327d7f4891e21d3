"""Serve the guardrails to the Pulumi CLI: `pulumi preview --policy-pack policies`.

The CLI starts the pack's virtualenv Python as `python -u -m pulumi.policy ENGINE PACK_DIR` in
the pack's folder, and `pulumi.policy` runs this file with `runpy.run_path(PACK_DIR)`: as a
script, outside any package, so the relative imports between the pack's modules would fail here.
This file therefore loads its own folder, whatever it is called, as the package PACKAGE with
importlib, without touching sys.path: the pack needs nothing but its folder and its installed
dependencies (policies/requirements.txt), so CI can run the base branch's copy from any checkout
(tests/policies/test_policy_pack_process.py starts a renamed copy so). PolicyPack starts a server and never
returns.
"""

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pulumi_policy import PolicyPack

# The name the pack's folder is loaded under here; the tests and the audit import it as `policies`.
PACKAGE = "pypi_registry_guardrails"


def load_pack(folder: Path) -> ModuleType:
    """The pack's `guardrails` module, with `folder` loaded as the package PACKAGE."""
    spec = importlib.util.spec_from_file_location(PACKAGE, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise ImportError(f"{folder} is not a policy pack folder (no __init__.py)")
    package = importlib.util.module_from_spec(spec)
    # Registered before it runs, as the import system does, so `from . import x` finds it.
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.guardrails")


if __name__ == "__main__":
    guardrails = load_pack(Path(__file__).resolve().parent)
    # A new list: PolicyPack takes list[Policy], and a list is invariant in its item type.
    PolicyPack(name=guardrails.PACK_NAME, policies=[*guardrails.POLICIES],
               enforcement_level=guardrails.PACK_ENFORCEMENT_LEVEL)
