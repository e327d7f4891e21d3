"""`python -m audit --stack prod --diff-against REF`: who gained or lost what, by two engines.

The stack is rendered twice: at REF, in a temporary git worktree by that commit's own program and
audit (`python -m audit --json` in a subprocess, so nothing of today's code judges the past), and
in the working tree, in this process. With `--program-from DIR` (how CI judges a pull request)
the second rendering is REF again with DIR's program and configuration in place of REF's
(PROGRAM_PATHS), in a second worktree and a subprocess too: both sides are then rendered by
REF's audit and action table and compared by the code running this, and no file of DIR is
loaded into this process. Then:

- principalmapper's view: the two sets of access decisions (`decisions`, every codeartifact
  action for every principal) and the trust entries of every role are compared: principals
  added or removed, and per principal each (action, resource) that became allowed or denied;
- Z3's view (audit/smt/): every policy document whose content changed between the two
  renderings (resources matched by URN) is compared with its previous version, and Z3 says
  whether the new one allows some request the old one did not, with a concrete request.

Widening is anything newly allowed beyond Read and List, a new principal, a new account with
access, a role newly trusted by someone, a document that now allows a non-Read/List request, or
an origin control or upstream that lets more in (audit/origin.py: package groups, external
connections, upstreams). The engines must agree on whether anything was gained at all; when they
do not, the diff says so and fails.


judge.py renders the two sides (git worktrees, subprocesses); the rest is pure, two audit JSON
documents in, a report out: sides.py reads one side, decisions.py is principalmapper's view,
documents.py Z3's, report.py the report, widening.py the exit statuses and the acceptance file.
"""

from audit.diff.decisions import PROBE_SUBJECT, AccessChanges, PrincipalChange, TrustChange, group_lines
from audit.diff.documents import UNREADABLE, DocumentChange, PolicyInput, hints_for, policy_inputs
from audit.diff.judge import diff_against, overlay_program
from audit.diff.report import DiffReport, compare_renderings, failed_checks
from audit.diff.sides import Side, is_read_only, rendering_json, short_resource
from audit.diff.widening import (
    EXIT_CLEAN,
    EXIT_FAILED,
    EXIT_INVALID,
    Acceptance,
    DiffError,
    Widening,
    acceptance_path,
    new_acceptances,
    read_acceptances,
    widening_digest,
)

# What the audit's command and the tests use, with the report's own types.
__all__ = [
    "EXIT_CLEAN",
    "EXIT_FAILED",
    "EXIT_INVALID",
    "PROBE_SUBJECT",
    "UNREADABLE",
    "Acceptance",
    "AccessChanges",
    "DiffError",
    "DiffReport",
    "DocumentChange",
    "PolicyInput",
    "PrincipalChange",
    "Side",
    "TrustChange",
    "Widening",
    "acceptance_path",
    "compare_renderings",
    "diff_against",
    "failed_checks",
    "group_lines",
    "hints_for",
    "is_read_only",
    "new_acceptances",
    "overlay_program",
    "policy_inputs",
    "read_acceptances",
    "rendering_json",
    "short_resource",
    "widening_digest",
]
