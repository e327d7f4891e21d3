"""Serve the guardrails to the Pulumi CLI: `pulumi preview --policy-pack policies`.

The CLI runs this file with policies/ as the working directory. The rules live in the
importable package `policies` (which the tests and the audit use too), so the repository
root goes on sys.path first; the pack imports nothing from the program it guards
(tests/test_design.py holds it to that). PolicyPack starts a server and never returns.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policies.guardrails import PACK_ENFORCEMENT_LEVEL, PACK_NAME, POLICIES

# A new list: PolicyPack takes list[Policy], and a list is invariant in its item type.
PolicyPack(name=PACK_NAME, policies=[*POLICIES], enforcement_level=PACK_ENFORCEMENT_LEVEL)
