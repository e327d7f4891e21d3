"""The diff's report: both engines' changes, the widening and its verdict, as text, Markdown (the pull
request comment) and JSON; compare_renderings makes one from two audit JSON documents."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.diff.decisions import AccessChanges, access_changes, group_lines
from audit.diff.documents import DocumentChange, document_changes, hints_for
from audit.diff.sides import Json, Side
from audit.diff.widening import EXIT_CLEAN, EXIT_FAILED, Acceptance, Widening, acceptance_path, widening_digest
from audit.origin import OriginChange, origin_changes


@dataclass
class DiffReport:
    stack: str
    base_ref: str
    base_commit: str
    access: AccessChanges
    documents: list[DocumentChange]
    documents_total: int
    accepted: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    new_side: str = "working tree"  # or "the program of DIR" (--program-from)
    origin: list[OriginChange] = field(default_factory=list)
    # The acceptance file's entries this change adds (new_acceptances), and that file.
    acceptances: list[Acceptance] = field(default_factory=list)
    acceptance_file: str = ""
    # With --program-from: what REF's own checks (its pack, its access proof) refuse in the new side.
    failed_checks: list[str] = field(default_factory=list)

    @property
    def widening(self) -> list[Widening]:
        found = self.access.widening
        found += [Widening("document", d.text(), d.text(example=False)) for d in self.documents if d.widening]
        found += [Widening("origin", str(change)) for change in self.origin if change.widening]
        return found

    @property
    def widening_sha256(self) -> str:
        return widening_digest(self.stack, self.widening) if self.widening else ""

    @property
    def accepted_by(self) -> Acceptance | None:
        """The added acceptance entry that names exactly this widening, if any."""
        digest = self.widening_sha256
        return next((a for a in self.acceptances if a.sha256 == digest), None) if digest else None

    @property
    def unused_acceptances(self) -> list[Acceptance]:
        """Added entries that name no widening of this diff (stale, or for another change)."""
        return [a for a in self.acceptances if a != self.accepted_by]

    @property
    def z3_grants_more(self) -> bool:
        return any(d.comparison.wider for d in self.documents)

    @property
    def agree(self) -> bool:
        return self.access.grants_more == self.z3_grants_more

    @property
    def disagreement(self) -> str:
        if self.agree:
            return ""
        if self.access.grants_more:
            return ("principalmapper finds access gained, but Z3 finds no policy document that allows a request "
                    "it did not: the change is not in a policy document (e.g. a stand-in principal the access "
                    "proof derives from the settings), or one engine is wrong")
        return ("Z3 finds a policy document that allows a request it did not, but principalmapper finds no "
                "principal gaining anything: the request is outside what the access proof decides (another "
                "service, a condition value it fixes, a principal the settings do not name, half of a "
                "cross-account grant), or one engine is wrong")

    @property
    def exit_status(self) -> int:
        if not self.agree or self.failed_checks:
            return EXIT_FAILED
        accepted = self.accepted or self.accepted_by is not None
        return EXIT_FAILED if self.widening and not accepted else EXIT_CLEAN

    @property
    def verdict(self) -> str:
        if self.failed_checks:
            return (f"THE BASE'S CHECKS FAIL on {self.new_side}: {len(self.failed_checks)} finding(s), "
                    "which no acceptance covers")
        if not self.agree:
            return "ENGINES DISAGREE: " + self.disagreement
        if self.widening:
            entry = self.accepted_by
            if entry is not None:
                suffix = f"accepted by {self.acceptance_file} ({entry.reason})"
            elif self.accepted:
                suffix = "accepted (--accept-widening)"
            else:
                suffix = f"fails unless accepted ({self.acceptance_file or 'the acceptance file'}, sha256 " \
                         f"{self.widening_sha256})"
            why = ("both engines see access gained" if self.access.grants_more
                   else "origin controls or upstreams let more in; no principal gains access")
            return f"WIDENING: {len(self.widening)} change(s), {suffix}; {why}"
        if self.access.grants_more:
            return "Read/List access gained, nothing wider; both engines agree"
        return "No access gained; both engines agree"

    def counts(self) -> tuple[str, str]:
        by_status: dict[str, int] = {}
        for change in self.access.principals:
            by_status[change.status] = by_status.get(change.status, 0) + 1
        wider_trust = sum(1 for t in self.access.trust if t.wider)
        first = (f"principalmapper: {by_status.get('added', 0)} principals added, {by_status.get('removed', 0)} "
                 f"removed, {by_status.get('changed', 0)} changed; trust of {len(self.access.trust)} roles changed "
                 f"({wider_trust} wider)")
        wider = sum(1 for d in self.documents if d.comparison.wider)
        second = (f"Z3: {len(self.documents)} of {self.documents_total} policy documents changed, "
                  f"{wider} allow more")
        return first, second

    def _principal_sections(self) -> list[tuple[str, list[tuple[str, list[str]]]]]:
        """(section title, [(principal heading, lines)])."""
        sections: list[tuple[str, list[tuple[str, list[str]]]]] = []
        for status, title, sign in (("added", "Principals added", "+"), ("removed", "Principals removed", "-")):
            entries = [(f"{sign} {c.label} [{c.kind}] {c.principal}",
                        group_lines(c.gained if status == "added" else c.lost, sign) or ["(nothing allowed)"])
                       for c in self.access.principals if c.status == status]
            if entries:
                sections.append((title, entries))
        changed = [(c.label, group_lines(c.gained, "+") + group_lines(c.lost, "-"))
                   for c in self.access.principals if c.status == "changed"]
        if changed:
            sections.append(("Changed", changed))
        trust = [(f"{t.label}{' (wider)' if t.wider else ''}",
                  [f"+trusts {e}" for e in t.added] + [f"-trusts {e}" for e in t.removed])
                 for t in self.access.trust]
        if trust:
            sections.append(("Trust (who may assume the role)", trust))
        return sections

    def _acceptance_lines(self, indent: str) -> list[str]:
        """How to accept exactly this widening, and added entries that accept nothing."""
        lines = []
        if self.accepted_by is None and not self.accepted:
            entry = json.dumps({"sha256": self.widening_sha256, "reason": "why this is wanted"})
            lines += ["", f"{indent}To accept exactly this widening once reviewed, add {entry} to "
                          f"{self.acceptance_file or acceptance_path(self.stack)} (under CODEOWNERS); any other "
                          "change to the widening needs a new entry."]
        lines += [f"{indent}Unused acceptance (matches no widening of this diff): {a.sha256} ({a.reason})"
                  for a in self.unused_acceptances]
        return lines

    def text(self) -> str:
        lines = [f"Access diff of stack {self.stack}: {self.base_ref} ({self.base_commit[:12]}) -> {self.new_side}",
                 *self.counts(), self.verdict]
        if self.failed_checks:
            lines += ["", f"Checks of {self.base_ref} that fail:"] + [f"  ! {f}" for f in self.failed_checks]
        if self.widening:
            lines += ["", "Widening:"] + [f"  ! {w.text}" for w in self.widening]
            lines += self._acceptance_lines("  ")
        for title, entries in self._principal_sections():
            lines += ["", f"{title}:"]
            for heading, items in entries:
                if title == "Changed":
                    lines += [f"  {heading}: {item}" for item in items]
                else:
                    lines += [f"  {heading}"] + [f"      {item}" for item in items]
        if self.documents:
            lines += ["", "Policy documents that changed (Z3):"]
            lines += [f"  {'!' if d.widening else '+' if d.comparison.wider else '='} {d.text()}"
                      for d in self.documents]
        if self.origin:
            lines += ["", "Origin controls and upstreams:"]
            lines += [f"  {'!' if change.widening else '='} {change}" for change in self.origin]
        if self.seconds:
            lines += ["", "took " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())]
        return "\n".join(lines)

    def markdown(self) -> str:
        icon = "❌" if self.exit_status else "⚠️" if self.widening else "✅"
        lines = [f"### Access diff: stack `{self.stack}`, base `{self.base_commit[:12]}` → this pull request", "",
                 f"{icon} **{self.verdict}**", "", *[f"- {c}" for c in self.counts()]]
        if self.failed_checks:
            lines += ["", "#### Checks of the base that fail", ""] + [f"- {f}" for f in self.failed_checks]
        if self.widening:
            lines += ["", "#### Widening", ""] + [f"- {w.text}" for w in self.widening]
            lines += self._acceptance_lines("")
        for title, entries in self._principal_sections():
            lines += ["", f"#### {title}", ""]
            for heading, items in entries:
                lines.append(f"- `{heading}`")
                lines += [f"  - {item}" for item in items]
        if self.documents:
            lines += ["", "<details><summary>Policy documents that changed, compared by Z3</summary>", ""]
            lines += [f"- {'**wider**' if d.comparison.wider else 'not wider'}: {d.text()}" for d in self.documents]
            lines += ["", "</details>"]
        if self.origin:
            lines += ["", "#### Origin controls and upstreams", ""]
            lines += [f"- {'**widening**' if change.widening else 'not wider'}: {change}" for change in self.origin]
        if not (self.access.principals or self.access.trust or self.documents or self.origin):
            lines += ["", "No principal gained or lost anything; no policy document or origin control changed."]
        lines += ["", "`python -m audit --stack " + self.stack + " --diff-against <base>` reproduces this "
                  "(docs/audit.md, \"Access diff\")."]
        return "\n".join(lines) + "\n"

    def as_json(self) -> Json:
        return {
            "stack": self.stack,
            "base": {"ref": self.base_ref, "commit": self.base_commit},
            "new_side": self.new_side,
            "principals": [c.as_json() for c in self.access.principals],
            "trust": [t.as_json() for t in self.access.trust],
            "new_accounts": self.access.new_accounts,
            "documents": [d.as_json() for d in self.documents],
            "documents_total": self.documents_total,
            "origin": [change.as_json() for change in self.origin],
            "widening": [w.as_json() for w in self.widening],
            "widening_sha256": self.widening_sha256,
            "accepted_by": self.accepted_by.as_json() if self.accepted_by else None,
            "unused_acceptances": [a.as_json() for a in self.unused_acceptances],
            "failed_checks": self.failed_checks,
            "engines": {"principalmapper": {"grants_more": self.access.grants_more},
                        "z3": {"grants_more": self.z3_grants_more},
                        "agree": self.agree, "disagreement": self.disagreement},
            "accepted": self.accepted,
            "exit_status": self.exit_status,
            "seconds": self.seconds,
        }


def compare_renderings(old_audit: Mapping[str, Any], new_audit: Mapping[str, Any], *, stack: str = "prod",
                       base_ref: str = "", base_commit: str = "", accepted: bool = False,
                       acceptances: Sequence[Acceptance] = ()) -> DiffReport:
    """The whole diff of two audit JSON documents (pure: no git, no rendering); `acceptances` are
    the entries the change adds to the acceptance file."""
    old, new = Side.from_audit(old_audit), Side.from_audit(new_audit)
    started = time.perf_counter()
    access = access_changes(old, new)
    documents, total = document_changes(old, new, hints_for(old, new))
    report = DiffReport(stack, base_ref, base_commit, access, documents, total, accepted,
                        origin=origin_changes(old.resources, new.resources), acceptances=list(acceptances),
                        acceptance_file=acceptance_path(stack))
    report.seconds["compare"] = time.perf_counter() - started
    return report


def failed_checks(audit: Mapping[str, Any]) -> list[str]:
    """What an audit's JSON says failed: each failed section's title, and each mandatory violation."""
    found = [str(title) for title in audit.get("failed", [])]
    found += [f"{v.get('policy') or 'pack config'}: {v.get('message')}" for v in audit.get("violations", [])
              if isinstance(v, Mapping) and v.get("enforcement") == "mandatory"]
    return found
