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
- Z3's view (audit/smt.py): every policy document whose content changed between the two
  renderings (resources matched by URN) is compared with its previous version, and Z3 says
  whether the new one allows some request the old one did not, with a concrete request.

Widening is anything newly allowed beyond Read and List, a new principal, a new account with
access, a role newly trusted by someone, a document that now allows a non-Read/List request, or
an origin control or upstream that lets more in (audit/origin.py: package groups, external
connections, upstreams). The engines must agree on whether anything was gained at all; when they
do not, the diff says so and fails.

The functions below `# --- comparing` are pure: two audit JSON documents in, a report out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import smt
from audit.access import (
    AUDIENCE_CLAIM,
    SUBJECT_CLAIM,
    access_section,
    expand_decisions,
    web_identity_may_assume,
)
from audit.grants import (
    EXCLUSIVE_ATTACHMENTS,
    INLINE_POLICY,
    MANAGED_POLICY,
    NATIVE_INLINE_POLICY,
    NATIVE_MANAGED_POLICY,
    NATIVE_ROLE,
    POLICY_ATTACHMENT,
    ROLE,
    ROLE_ATTACHMENT,
)
from audit.origin import OriginChange, origin_changes
from audit.render import Rendering
from policies import iam_actions
from policies import iam_documents as iam
from policies.aws_managed import aws_managed_document, is_aws_managed

Json = dict[str, Any]
Key = tuple[str, str, str]  # (principal ARN, action, resource)

# Exit status of `python -m audit` (also without --diff-against).
EXIT_CLEAN = 0
EXIT_FAILED = 1  # a check failed; for the diff: widening not accepted, or the engines disagree
EXIT_INVALID = 2  # invalid configuration; for the diff also: the base cannot be rendered

BASE_TIMEOUT_SECONDS = 600
PROBE_SUBJECT = "repo:access-diff-probe/any-repository:pull_request"
PROBE_AUDIENCE = "access-diff-probe"
PROBE_VALUE = "access-diff-probe"  # for any other condition key of a trust policy


class DiffError(Exception):
    """The diff cannot be made (unknown ref, a base that does not render): exit status 2."""


# What a pull request supplies when another commit's audit judges it (--program-from), relative
# to the folder holding Pulumi.yaml: the program and its configuration. Everything else (the
# audit, the pack, the action table, the locks, anything the pull request adds elsewhere, such
# as a module that would shadow a library) is the judge's.
PROGRAM_PATHS = ("__main__.py", "components", "model", "Pulumi.yaml")


def acceptance_path(stack: str) -> str:
    """The reviewed list of accepted widenings (README, "Access diff"), beside the pack config."""
    return f"policies/accepted-widening.{stack}.json"


def program_paths(stack: str) -> tuple[str, ...]:
    return (*PROGRAM_PATHS, f"Pulumi.{stack}.yaml", f"policies/policy-config.{stack}.json", acceptance_path(stack))


@dataclass(frozen=True)
class Acceptance:
    """One entry of the acceptance file: the digest of exactly one widening, and why it is wanted."""

    sha256: str
    reason: str

    def as_json(self) -> Json:
        return {"sha256": self.sha256, "reason": self.reason}


def read_acceptances(path: Path) -> list[Acceptance]:
    """The entries of an acceptance file, [] when there is none; DiffError when it cannot be read
    (fail closed: a malformed file stops the diff rather than accept or ignore anything)."""
    if not path.exists():
        return []
    shape = '{"accepted": [{"sha256": 64 lower-case hex digits, "reason": text}, ...]}'
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DiffError(f"{path} cannot be read ({error}): expected {shape}") from None
    if not isinstance(document, dict) or set(document) != {"accepted"} or not isinstance(document["accepted"], list):
        raise DiffError(f"{path}: expected {shape}")
    entries = []
    for index, entry in enumerate(document["accepted"]):
        if not (isinstance(entry, dict) and set(entry) == {"sha256", "reason"}
                and isinstance(entry["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
                and isinstance(entry["reason"], str) and entry["reason"].strip()):
            raise DiffError(f"{path}: entry {index} is not {{\"sha256\": 64 lower-case hex digits, "
                            f"\"reason\": non-empty text}}: {json.dumps(entry)}")
        entries.append(Acceptance(entry["sha256"], entry["reason"]))
    return entries


def new_acceptances(base: Path, changed: Path) -> list[Acceptance]:
    """The entries `changed` adds to `base`: only those can accept a widening, so an entry that is
    already on the base branch never accepts anything again (re-accepting the same widening later
    takes a new entry, with its own reason)."""
    already = set(read_acceptances(base))
    return [entry for entry in read_acceptances(changed) if entry not in already]


# --- git and the base rendering ---------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)  # noqa: S603, S607
    if result.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def repository_root(project_dir: Path) -> Path:
    return Path(_git(project_dir, "rev-parse", "--show-toplevel")).resolve()


def resolve_commit(repo: Path, ref: str) -> str:
    """The full commit ID a ref names, else DiffError."""
    if ref.startswith("-"):
        raise DiffError(f"{ref!r} is not a git ref")
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except DiffError:
        raise DiffError(f"{ref!r} names no commit in {repo} (with actions/checkout, fetch-depth: 0 "
                        "brings the base branch)") from None


@contextlib.contextmanager
def base_worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A temporary worktree of `commit`, removed afterwards; the working tree is not touched."""
    parent = Path(tempfile.mkdtemp(prefix="access-diff-"))
    tree = parent / "base"
    try:
        _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        with contextlib.suppress(DiffError):
            _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(parent, ignore_errors=True)


def overlay_program(source: Path, target: Path, stack: str) -> None:
    """Put `source`'s program and configuration (program_paths) in place of `target`'s: a path
    `source` lacks is removed from `target` too, links are copied as links, bytecode is left."""
    for relative in program_paths(stack):
        destination, origin = target / relative, source / relative
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        elif destination.exists() or destination.is_symlink():
            destination.unlink()
        if origin.is_dir() and not origin.is_symlink():
            shutil.copytree(origin, destination, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif origin.exists() or origin.is_symlink():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination, follow_symlinks=False)


def start_audit(project_dir: Path, stack: str) -> subprocess.Popen[str]:
    """`python -m audit --stack STACK --json` of the code in `project_dir` (a worktree), with this
    interpreter's packages."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "audit", "--stack", stack, "--json"],
        cwd=project_dir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish_audit(process: subprocess.Popen[str], where: str) -> Json:
    """The audit JSON of a start_audit process; DiffError when the stack did not render `where`
    ("at main", "with the program of DIR") or the audit predates access decisions."""
    try:
        stdout, stderr = process.communicate(timeout=BASE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise DiffError(f"the audit {where} did not finish in {BASE_TIMEOUT_SECONDS} s") from None
    # 0 and 1 both render the stack (1: one of its checks failed, which the audit itself reports).
    if process.returncode not in (EXIT_CLEAN, EXIT_FAILED):
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise DiffError(f"the stack does not render {where} (exit status {process.returncode}): {tail}")
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        raise DiffError(f"the audit {where} printed no JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("access"), dict) or \
            not {"decisions", "decision_groups"} & set(document["access"]):
        raise DiffError(f"the audit {where} has no access decisions (it predates them): pick a later base")
    return document


def _stop(*processes: subprocess.Popen[str]) -> None:
    """Kill and reap the processes still running."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()


def rendering_json(rendering: Rendering) -> Json:
    """The parts of `python -m audit --json` the diff reads, from a rendering in this process."""
    document = rendering.as_json()
    document["access"] = access_section(rendering).json_value
    # The same shapes as the base's JSON (lists, not tuples).
    parsed: Json = json.loads(json.dumps(document))
    return parsed


# --- comparing: principalmapper's decisions ------------------------------------------------------


def _short_action(action: str) -> str:
    return action.removeprefix("codeartifact:")


def is_read_only(action: str) -> bool:
    return iam_actions.access_level(action) in iam_actions.READ_ONLY_LEVELS


def short_resource(resource: str) -> str:
    """`internal/acme-core` for a package ARN, `domain acme`, `internal`, `key mrk-...`."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return resource
    service, kind_path = parts[2], parts[5]
    kind, _, path = kind_path.partition("/")
    if service == "codeartifact":
        segments = path.split("/")
        if kind == "domain":
            return f"domain {path}"
        if kind == "repository" and len(segments) == 2:
            return segments[1]
        if kind == "package" and len(segments) >= 3:
            return f"{segments[1]}/{segments[-1]}"
        if kind == "package-group":
            return f"package group {path.partition('/')[2]}"
    if service == "kms" and kind == "key":
        return f"key {path}"
    return resource


@dataclass(frozen=True)
class Side:
    """One rendering's access decisions, principals and resources, from the audit's JSON."""

    decisions: Mapping[Key, bool]
    principals: Mapping[str, Json]  # ARN -> the audit's principal entry
    resources: Sequence[Json]

    @classmethod
    def from_audit(cls, document: Mapping[str, Any]) -> Side:
        access = document["access"]
        # Grouped as the audit prints them, or expanded (--expand-decisions; and bases before grouping).
        rows = access["decisions"] if "decisions" in access else expand_decisions(access["decision_groups"])
        decisions = {(d["principal"], d["action"], d["resource"]): bool(d["allowed"]) for d in rows}
        principals = {p["principal"]: p for p in access.get("principals", [])}
        return cls(decisions, principals, list(document.get("resources", [])))

    def label(self, arn: str) -> str:
        return str(self.principals.get(arn, {}).get("label") or arn)

    def arns(self) -> set[str]:
        return {arn for arn, _, _ in self.decisions} | set(self.principals)

    def accounts_with_access(self) -> set[str]:
        """Accounts with a principal allowed something on a registry resource (an ARN)."""
        return {arn.split(":")[4] for (arn, _, resource), ok in self.decisions.items()
                if ok and resource.startswith("arn:") and len(arn.split(":")) > 4}

    def representative(self, key: Key) -> Key | None:
        """For a resource this side did not check: the one it checked that stands for it.

        A package name nobody claims was checked as the side's one unclaimed name in the same
        repository; a package group as the side's first package group. Anything else (a new
        repository, domain or key) has no stand-in."""
        principal, action, resource = key
        if ":package/" in resource:
            repository = resource.rsplit("/pypi//", 1)[0]
            for name in self._unclaimed(repository):
                candidate = (principal, action, f"{repository}/pypi//{name}")
                if candidate in self.decisions:
                    return candidate
        elif ":package-group/" in resource:
            groups = sorted({r for _, _, r in self.decisions if ":package-group/" in r})
            if groups and (principal, action, groups[0]) in self.decisions:
                return (principal, action, groups[0])
        return None

    def _unclaimed(self, repository: str) -> list[str]:
        claimed = {column.removeprefix("publish ") for entry in self.principals.values()
                   for column in entry.get("capabilities", {}) if column.startswith("publish ")}
        names = {r.rsplit("/pypi//", 1)[1] for _, _, r in self.decisions
                 if r.startswith(f"{repository}/pypi//")}
        return sorted(names - claimed)

    def allowed(self, key: Key) -> bool | None:
        """The decision, that of the key's stand-in, or None when this side has neither."""
        if key in self.decisions:
            return self.decisions[key]
        stand_in = self.representative(key)
        return self.decisions[stand_in] if stand_in else None

    def trust_document(self, arn: str) -> Json | None:
        declared = self.principals.get(arn, {}).get("declared_by")
        if not declared:
            return None
        kind, _, name = str(declared).partition(" ")
        for resource in self.resources:
            if resource.get("type") == kind and resource.get("name") == name:
                inputs = resource.get("inputs", {})
                raw = inputs.get("assumeRolePolicy", inputs.get("assumeRolePolicyDocument"))
                with contextlib.suppress(iam.InvalidDocumentError):
                    return iam.parse_document(raw)
        return None


@dataclass
class PrincipalChange:
    principal: str
    label: str
    kind: str
    status: str  # "added", "removed" or "changed"
    gained: list[tuple[str, str]] = field(default_factory=list)
    lost: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> Json:
        return {"principal": self.principal, "label": self.label, "kind": self.kind, "status": self.status,
                "gained": [{"action": a, "resource": r, "read_only": is_read_only(a)} for a, r in self.gained],
                "lost": [{"action": a, "resource": r} for a, r in self.lost]}


@dataclass
class TrustChange:
    principal: str
    label: str
    added: list[str]
    removed: list[str]
    wider: bool
    example: str = ""

    def as_json(self) -> Json:
        return {"principal": self.principal, "label": self.label, "trusted_now": self.added,
                "trusted_before": self.removed, "wider": self.wider, "example": self.example}


@dataclass(frozen=True)
class Widening:
    kind: str  # "new principal", "new account", "allowed", "trusted", "document", "origin"
    text: str
    key: str = ""  # what the digest covers, when the text holds more (a Z3 counterexample)

    def as_json(self) -> Json:
        return {"kind": self.kind, "text": self.text}


def widening_digest(stack: str, widening: Iterable[Widening]) -> str:
    """SHA-256 of the canonical widening report: the stack and each item's kind and statement,
    sorted, without Z3's counterexamples (another valid request may be found another time)."""
    canonical = {"stack": stack, "widening": sorted([w.kind, w.key or w.text] for w in widening)}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _trust_text(entry: Mapping[str, Any]) -> str:
    who = f"{entry.get('type')} {entry.get('principal')}"
    conditions = entry.get("conditions") or []
    text = who + (f" if {'; '.join(conditions)}" if conditions else "")
    return text if entry.get("effect") == "Allow" else f"denied: {text}"


# More combinations of claims than this are not probed one by one: the change counts as wider.
MAX_PROBES = 4096


def _claim_candidates(*documents: Json | None) -> list[tuple[str, list[str | None]]]:
    """(condition key, values to probe it with) for GitHub's subject and audience and every other key
    either version's conditions name: each pattern filled in, each value a condition names (a pattern
    taken literally matches itself), a probe value no condition names, and the claim left out."""
    named: dict[str, set[str]] = {SUBJECT_CLAIM.lower(): set(), AUDIENCE_CLAIM.lower(): {"sts.amazonaws.com"}}
    for document in documents:
        for statement in iam.statements(document):
            for _, key, condition_values in iam.conditions(statement):
                named.setdefault(key, set()).update(condition_values)
    probes = {SUBJECT_CLAIM.lower(): PROBE_SUBJECT, AUDIENCE_CLAIM.lower(): PROBE_AUDIENCE}
    found: list[tuple[str, list[str | None]]] = []
    for key, values in named.items():
        # A pattern filled in first, so that an example reads as a token GitHub could issue.
        filled = {v.replace("*", PROBE_VALUE).replace("?", "x") for v in values if "*" in v or "?" in v}
        found.append((key, [*sorted(filled - values), *sorted(values), probes.get(key, PROBE_VALUE), None]))
    return found


def _newly_assumable(old: Json | None, new: Json | None, provider: str, role: str) -> str | None:
    """A token the new trust policy accepts from `provider` and the old one did not, decided by
    principalmapper (audit.access.web_identity_may_assume) over every combination of the claims
    _claim_candidates gives; more combinations than MAX_PROBES count as such a token."""
    candidates = _claim_candidates(old, new)
    combinations = math.prod(len(values) for _, values in candidates)
    if combinations > MAX_PROBES:
        return f"any of {combinations} combinations of claims (more than the {MAX_PROBES} probed one by one)"
    for values in itertools.product(*(values for _, values in candidates)):
        claims = {key: value for (key, _), value in zip(candidates, values, strict=True) if value is not None}
        now = new is not None and web_identity_may_assume(new, provider, claims, role)
        before = old is not None and web_identity_may_assume(old, provider, claims, role)
        if now and not before:
            return ", ".join(f"{key.rpartition(':')[2]}={value or '(absent)'}"
                             for (key, _), value in zip(candidates, values, strict=True)
                             if value is not None or key in (SUBJECT_CLAIM.lower(), AUDIENCE_CLAIM.lower()))
    return None


def _excluded(entry: Mapping[str, Any]) -> set[str]:
    """The principals a NotPrincipal entry leaves out (`AWS arn, Service name`)."""
    return set(str(entry.get("principal", "")).split(", "))


def _lets_in_at_least(wide: Mapping[str, Any], narrow: Mapping[str, Any]) -> bool:
    """Whether trust entry `wide` matches every request `narrow` matches: the same principal (for
    NotPrincipal, leaving out no more than `narrow` does), at least its actions, and only conditions
    `narrow` has too (each condition can only narrow a statement)."""
    if wide.get("type") != narrow.get("type"):
        return False
    if wide.get("type") == "NotPrincipal":
        same = _excluded(wide) <= _excluded(narrow)
    else:
        same = wide.get("principal") == narrow.get("principal")
    return (same and set(narrow.get("actions") or []) <= set(wide.get("actions") or [])
            and set(wide.get("conditions") or []) <= set(narrow.get("conditions") or []))


def _trust_change(old: Side, new: Side, arn: str) -> TrustChange | None:
    """How a role's trust changed; wider when an Allow lets in someone or something no Allow of the old
    version did (a new principal, or one already trusted with a condition dropped or changed, or with a
    new action), or a Deny of the old version no longer stops all it stopped."""
    before = old.principals[arn].get("trusted_by") or []
    after = new.principals[arn].get("trusted_by") or []
    texts_before = {json.dumps(e, sort_keys=True) for e in before}
    texts_after = {json.dumps(e, sort_keys=True) for e in after}
    if texts_before == texts_after:
        return None
    added = [e for e in after if json.dumps(e, sort_keys=True) not in texts_before]
    removed = [e for e in before if json.dumps(e, sort_keys=True) not in texts_after]
    wider, example = False, ""
    allows_before = [e for e in before if e.get("effect") == "Allow"]
    for entry in added:
        if entry.get("effect") != "Allow" or any(_lets_in_at_least(e, entry) for e in allows_before):
            continue
        same_principal = [e for e in allows_before
                          if (e["type"], e["principal"]) == (entry["type"], entry["principal"])]
        new_actions = set(entry.get("actions") or []) - {a for e in same_principal for a in e.get("actions") or []}
        if entry["type"] == "Federated" and not new_actions:
            # Only the conditions changed: principalmapper says whether some token gets in now.
            found = _newly_assumable(old.trust_document(arn), new.trust_document(arn), entry["principal"], arn)
            if found:
                wider, example = True, f"a token of {entry['principal']} with {found}"
        else:
            wider = True
            was = "; ".join(_trust_text(e) for e in same_principal)
            example = _trust_text(entry) + (f" (before: {was})" if was else "")
    denies_after = [e for e in after if e.get("effect") == "Deny"]
    dropped = [e for e in removed
               if e.get("effect") == "Deny" and not any(_lets_in_at_least(d, e) for d in denies_after)]
    if dropped:
        wider = True
        example = example or f"a Deny of assuming the role was dropped or narrowed ({_trust_text(dropped[0])})"
    return TrustChange(arn, new.label(arn), [_trust_text(e) for e in added], [_trust_text(e) for e in removed],
                       wider, example)


@dataclass
class AccessChanges:
    """principalmapper's side of the diff."""

    principals: list[PrincipalChange]
    trust: list[TrustChange]
    new_accounts: list[str]

    @property
    def widening(self) -> list[Widening]:
        found = [Widening("new account", f"new account {a} with access to the registry") for a in self.new_accounts]
        for change in self.principals:
            if change.status == "added":
                beyond = sorted({_short_action(a) for a, _ in change.gained if not is_read_only(a)})
                text = f"new principal {change.label} ({change.principal})"
                found.append(Widening("new principal", text + (f", may also {', '.join(beyond)}" if beyond else "")))
            elif change.status == "changed":
                for line in group_lines([g for g in change.gained if not is_read_only(g[0])], "+"):
                    found.append(Widening("allowed", f"{change.label}: {line}"))
        found += [Widening("trusted", f"{t.label}: now trusted: {t.example}") for t in self.trust if t.wider]
        return found

    @property
    def grants_more(self) -> bool:
        return (any(c.status == "added" or c.gained for c in self.principals)
                or any(t.wider for t in self.trust) or bool(self.new_accounts))


def access_changes(old: Side, new: Side) -> AccessChanges:
    """Principals added and removed, and what each principal in both gained or lost."""
    changes = []
    old_arns, new_arns = old.arns(), new.arns()
    by_principal: dict[str, set[tuple[str, str]]] = {}
    for arn, action, resource in set(old.decisions) | set(new.decisions):
        by_principal.setdefault(arn, set()).add((action, resource))

    def kind(arn: str) -> str:
        return str((new.principals.get(arn) or old.principals.get(arn) or {}).get("kind", ""))

    for arn in sorted(old_arns | new_arns, key=lambda a: (new.label(a) if a in new_arns else old.label(a), a)):
        pairs = sorted(by_principal.get(arn, set()))
        if arn not in old_arns:
            gained = [(a, r) for a, r in pairs if new.decisions.get((arn, a, r))]
            changes.append(PrincipalChange(arn, new.label(arn), kind(arn), "added", gained=gained))
            continue
        if arn not in new_arns:
            lost = [(a, r) for a, r in pairs if old.decisions.get((arn, a, r))]
            changes.append(PrincipalChange(arn, old.label(arn), kind(arn), "removed", lost=lost))
            continue
        gained, lost = [], []
        for action, resource in pairs:
            before, after = old.allowed((arn, action, resource)), new.allowed((arn, action, resource))
            if after and not before:
                gained.append((action, resource))
            elif before and not after:
                lost.append((action, resource))
        if gained or lost:
            changes.append(PrincipalChange(arn, new.label(arn), kind(arn), "changed", gained, lost))
    trust = [t for arn in sorted(set(old.principals) & set(new.principals))
             if (t := _trust_change(old, new, arn)) is not None]
    accounts = sorted(new.accounts_with_access() - old.accounts_with_access())
    return AccessChanges(changes, trust, accounts)


def group_lines(pairs: Iterable[tuple[str, str]], sign: str) -> list[str]:
    """`+PublishPackageVersion on internal/acme-core, internal/acme-core-testing`: the resources
    that gained (or lost) the same actions on one line; beyond Read and List first."""
    by_resource: dict[str, set[str]] = {}
    for action, resource in pairs:
        by_resource.setdefault(resource, set()).add(action)
    by_actions: dict[frozenset[str], list[str]] = {}
    for resource, found in by_resource.items():
        by_actions.setdefault(frozenset(found), []).append(resource)
    lines = []
    for actions, resources in by_actions.items():
        writes = sorted(_short_action(a) for a in actions if not is_read_only(a))
        reads = sorted(_short_action(a) for a in actions if is_read_only(a))
        if len(reads) > 4:
            reads = [f"{len(reads)} Read/List actions ({', '.join(reads[:3])}, ...)"]
        named = writes + reads
        where = ", ".join(sorted(short_resource(r) for r in resources))
        lines.append((not writes, f"{sign}{', '.join(named)} on {where}"))
    return [text for _, text in sorted(lines)]


# --- comparing: the policy documents (Z3) ---------------------------------------------------------

KEY_TYPES = ("aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy", "aws-native:kms:Key")
# Comparison.how of a new version that cannot be read (Comparison.undecided then says why).
UNREADABLE = "cannot be read"


@dataclass(frozen=True)
class PolicyInput:
    """One policy document a resource declares (or attaches, by ARN), as the diff compares it."""

    urn: str
    type: str
    name: str
    input: str  # which input: `policy`, `assumeRolePolicy`, `inlinePolicies[publish]`, `policyArn[...]`
    kind: str  # "identity", "trust", "resource", "key" or "managed"
    bound: smt.Bound
    signature: str  # equal on both sides when nothing about the document changed
    role: str = ""  # a trust policy's role

    def as_json(self) -> Json:
        return {"urn": self.urn, "type": self.type, "name": self.name, "input": self.input, "kind": self.kind}


def _role_arn(reference: Any, account: str) -> str:
    text = str(reference or "")
    return text if text.startswith("arn:") else f"arn:aws:iam::{account}:role/{text}"


def _bound(raw: Any, roles: tuple[str, ...] = ()) -> smt.Bound:
    try:
        return smt.Bound(smt.read_document(raw), roles)
    except smt.UnreadableDocumentError as error:
        return smt.Bound(smt.NOTHING, roles, unreadable=str(error))


def _managed_documents(resources: Sequence[Json]) -> dict[str, Any]:
    """Managed policy ARN -> its raw document, for the policies the stack declares (the ARN the
    mock engine gives them, from the same inputs)."""
    found = {}
    for resource in resources:
        inputs, account = resource.get("inputs", {}), resource.get("account", "")
        if resource.get("type") == MANAGED_POLICY:
            name = inputs.get("name") or resource.get("name")
            found[f"arn:aws:iam::{account}:policy{inputs.get('path') or '/'}{name}"] = inputs.get("policy")
        elif resource.get("type") == NATIVE_MANAGED_POLICY:
            name = inputs.get("managedPolicyName") or resource.get("name")
            found[f"arn:aws:iam::{account}:policy{inputs.get('path') or '/'}{name}"] = inputs.get("policyDocument")
    return found


def _unresolved(policy_arn: str, roles: Sequence[str], managed: Mapping[str, Any]) -> str:
    """Why an attached policy ARN names no document this diff can read, "" when it names one: an
    AWS-managed policy the table lacks, a policy the stack does not declare, or one of another account
    than its roles (IAM attaches a customer managed policy to its own account's roles only)."""
    if not policy_arn:
        return "is empty"
    if is_aws_managed(policy_arn):
        return "" if aws_managed_document(policy_arn) is not None else "is not in the table of AWS-managed policies"
    if policy_arn not in managed:
        return "is not declared by this stack"
    account = policy_arn.split(":")[4]
    others = sorted({r.split(":")[4] for r in roles if len(r.split(":")) > 4} - {account})
    return f"is in account {account}, its role in {', '.join(others)}" if others else ""


def policy_inputs(resources: Sequence[Json]) -> dict[tuple[str, str], PolicyInput]:
    """Every policy document of a rendering, by (URN, input): identity policies bound to their
    roles, attachments resolved to the document they attach, trust, resource and key policies."""
    managed = _managed_documents(resources)
    found: dict[tuple[str, str], PolicyInput] = {}

    def add(resource: Json, key: str, kind: str, raw: Any, roles: tuple[str, ...] = (), signature: Any = None,
            role: str = "", bound: smt.Bound | None = None) -> None:
        bound = bound or _bound(raw, roles)
        text = smt.canonical([signature if signature is not None else bound.document, bound.unreadable, roles])
        found[(resource["urn"], key)] = PolicyInput(resource["urn"], resource["type"], resource["name"], key, kind,
                                                    bound, text, role)

    def attach(resource: Json, key: str, policy_arn: Any, roles: tuple[str, ...]) -> None:
        # The attached document as the access proof resolves it (audit.grants.ManagedPolicies), and
        # like it, a policy it cannot resolve allows everything.
        arn = str(policy_arn or "")
        unresolved = _unresolved(arn, roles, managed)
        if unresolved:
            add(resource, key, "identity", None, roles, signature=arn,
                bound=smt.Bound(smt.NOTHING, roles, unreadable=f"the attached policy {arn or '(no ARN)'} {unresolved}"))
        else:
            add(resource, key, "identity", aws_managed_document(arn) if is_aws_managed(arn) else managed[arn], roles,
                signature=arn)

    for resource in resources:
        kind, inputs, account = resource.get("type", ""), resource.get("inputs", {}), resource.get("account", "")
        if kind in (ROLE, NATIVE_ROLE):
            native = kind == NATIVE_ROLE
            role = _role_arn((inputs.get("roleName") if native else inputs.get("name")) or resource["name"], account)
            add(resource, "assumeRolePolicyDocument" if native else "assumeRolePolicy", "trust",
                inputs.get("assumeRolePolicyDocument" if native else "assumeRolePolicy"), role=role)
            for index, entry in enumerate(iam.as_list(inputs.get("policies" if native else "inlinePolicies"))):
                if isinstance(entry, Mapping) and (entry.get("policyName") or entry.get("name") or
                                                   entry.get("policyDocument") or entry.get("policy")):
                    name = entry.get("policyName" if native else "name") or index
                    add(resource, f"{'policies' if native else 'inlinePolicies'}[{name}]", "identity",
                        entry.get("policyDocument" if native else "policy"), (role,))
            for policy_arn in iam.as_list(inputs.get("managedPolicyArns")):
                attach(resource, f"managedPolicyArns[{policy_arn}]", policy_arn, (role,))
        elif kind in (INLINE_POLICY, NATIVE_INLINE_POLICY):
            native = kind == NATIVE_INLINE_POLICY
            role = _role_arn(inputs.get("roleName" if native else "role"), account)
            add(resource, "policyDocument" if native else "policy", "identity",
                inputs.get("policyDocument" if native else "policy"), (role,))
        elif kind == MANAGED_POLICY:
            add(resource, "policy", "managed", inputs.get("policy"))
        elif kind == NATIVE_MANAGED_POLICY:
            roles = tuple(_role_arn(r, account) for r in iam.as_list(inputs.get("roles")))
            add(resource, "policyDocument", "identity" if roles else "managed", inputs.get("policyDocument"), roles)
        elif kind == ROLE_ATTACHMENT:
            attach(resource, "policyArn", inputs.get("policyArn"), (_role_arn(inputs.get("role"), account),))
        elif kind == POLICY_ATTACHMENT:
            roles = tuple(_role_arn(r, account) for r in iam.as_list(inputs.get("roles")))
            attach(resource, "policyArn", inputs.get("policyArn"), roles)
        elif kind == EXCLUSIVE_ATTACHMENTS:
            role = _role_arn(inputs.get("roleName"), account)
            for policy_arn in iam.as_list(inputs.get("policyArns")):
                attach(resource, f"policyArns[{policy_arn}]", policy_arn, (role,))
        else:
            # Any other input that holds a policy document, at any depth (a CloudFormation template's
            # roles and policies too): a resource policy, the key's, or one inside a template.
            for key, value in sorted(inputs.items()):
                for path, document in _nested_documents(key, value):
                    kind_of = "key" if kind in KEY_TYPES else "resource" if path == key else "template"
                    add(resource, path, kind_of, document)
    return found


def _nested_documents(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(path, document) for every policy document in an input: itself, or inside JSON text, objects
    and lists."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return
    if isinstance(value, Mapping):
        if "Statement" in value:
            yield path, value
            return
        for key in sorted(value):
            yield from _nested_documents(f"{path}.{key}", value[key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nested_documents(f"{path}[{index}]", item)


@dataclass
class DocumentChange:
    policy: PolicyInput
    status: str  # "added", "removed" or "changed"
    comparison: smt.Comparison

    @property
    def widening(self) -> bool:
        return self.comparison.wider and not self.comparison.read_only

    def as_json(self) -> Json:
        return {**self.policy.as_json(), "status": self.status, **self.comparison.as_json()}

    def text(self, example: bool = True) -> str:
        """What changed, with Z3's counterexample or reason unless `example` is False."""
        where = f"{self.policy.kind} policy {self.policy.name} ({self.policy.type}, {self.policy.input}), {self.status}"
        c = self.comparison
        if c.how == UNREADABLE:
            return f"{where}: the new version cannot be read ({c.undecided}), taken to allow everything"
        if c.undecided:
            return f"{where}: Z3 could not decide" + (f" ({c.undecided})" if example else "") + ", counted as wider"
        if not c.wider:
            return f"{where}: allows no request it did not allow before"
        level = "Read/List only" if c.read_only else "beyond Read/List"
        verb = "no longer denies" if c.how == "no longer denies" else "now allows"
        if not example:
            return f"{where}: {verb} ({level})"
        caveat = f" (not a request AWS could make: {'; '.join(c.example_problems)})" if c.example_problems else ""
        return f"{where}: {verb} ({level}): {c.example}{caveat}"


def document_changes(old: Side, new: Side, hints: smt.Hints | None = None) -> tuple[list[DocumentChange], int]:
    """Z3's comparison of every document that changed; and how many documents the new side has."""
    before, after = policy_inputs(old.resources), policy_inputs(new.resources)
    changes = []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None and was.signature == now.signature:
            continue
        status = "added" if was is None else "removed" if now is None else "changed"
        policy = now or was
        assert policy is not None  # noqa: S101 (the key came from one of the two sides)
        changes.append(DocumentChange(policy, status, _compare(was, now, hints or smt.Hints())))
    return changes, len(after)


def hints_for(old: Side, new: Side) -> smt.Hints:
    """The requests principalmapper decides, for Z3's counterexamples; beyond Read/List first."""
    keys = set(old.decisions) | set(new.decisions)
    actions = sorted({a for _, a, _ in keys}, key=lambda a: (is_read_only(a), a))
    resources_for: dict[str, set[str]] = {}
    for _, action, resource in keys:
        resources_for.setdefault(action.lower(), set()).add(resource)
    return smt.Hints(tuple(sorted({p for p, _, _ in keys})), tuple(actions),
                     tuple(sorted({r for _, _, r in keys if r != "*"})),
                     {a: tuple(sorted(r)) for a, r in resources_for.items()})


def _hints_for_document(policy: PolicyInput, hints: smt.Hints) -> smt.Hints:
    """A trust policy's requests are on its own role; a managed policy's come from whichever role
    it is attached to (so no principal is suggested)."""
    if policy.kind == "trust":
        return dataclasses.replace(hints, resources=(policy.role,), resources_for={})
    if policy.kind == "managed":
        return dataclasses.replace(hints, principals=())
    return hints


def _compare(was: PolicyInput | None, now: PolicyInput | None, hints: smt.Hints) -> smt.Comparison:
    policy = now or was
    assert policy is not None  # noqa: S101 (the key came from one of the two sides)
    if now is not None and now.bound.unreadable:
        # Fail closed: a changed document that cannot be read may allow anything.
        return smt.Comparison(True, UNREADABLE, None, now.bound.unreadable)
    comparison = smt.compare(was.bound if was else None, now.bound if now else None,
                             _hints_for_document(policy, hints))
    if policy.kind == "managed" and comparison.example is not None:
        example = dataclasses.replace(comparison.example, principal_type="AWS",
                                      principal="a role it is attached to", account="")
        problems = smt.request_problems(example, smt.resourceless_actions(hints), principal=False)
        comparison = dataclasses.replace(comparison, example=example, example_problems=tuple(problems))
    return comparison


# --- the report -----------------------------------------------------------------------------------


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
                  "(README, \"Access diff\")."]
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


def diff_against(ref: str, stack: str, project_dir: Path, render_working_tree: Callable[[], Json],
                 accepted: bool = False, program_from: Path | None = None) -> DiffReport:
    """Render `stack` at `ref` (its own code, in a temporary worktree, in a subprocess) and in the
    working tree (`render_working_tree()`, in this process, meanwhile), and compare them.

    With `program_from` (a folder holding Pulumi.yaml), the second rendering is `ref` with that
    folder's program and configuration (program_paths) in place of `ref`'s, in a second worktree
    and subprocess: `ref`'s audit renders both, and nothing of `program_from` runs in this process.

    Raises DiffError when either side cannot be rendered in a subprocess; whatever rendering the
    working tree raises (ConfigError) propagates."""
    project_dir = project_dir.resolve()
    repo = repository_root(project_dir)
    commit = resolve_commit(repo, ref)
    inside = project_dir.relative_to(repo)
    seconds = {}
    started = time.perf_counter()
    if program_from is None:
        with base_worktree(repo, commit) as tree:
            process = start_audit(tree / inside, stack)
            try:
                new_audit = render_working_tree()
            except BaseException:
                _stop(process)
                raise
            seconds["working tree"] = time.perf_counter() - started
            old_audit = finish_audit(process, f"at {ref}")
            seconds["base"] = time.perf_counter() - started
            acceptances = new_acceptances(tree / inside / acceptance_path(stack), project_dir / acceptance_path(stack))
        new_side = "working tree"
    else:
        source = program_from.resolve()
        if not source.is_dir():
            raise DiffError(f"--program-from {program_from}: not a folder")
        new_side = f"the program of {program_from}"
        with base_worktree(repo, commit) as tree, base_worktree(repo, commit) as judged:
            overlay_program(source, judged / inside, stack)
            acceptances = new_acceptances(tree / inside / acceptance_path(stack),
                                          judged / inside / acceptance_path(stack))
            process = start_audit(tree / inside, stack)
            judged_process = start_audit(judged / inside, stack)
            try:
                new_audit = finish_audit(judged_process, f"with {new_side} (judged by {ref})")
                seconds["pull request"] = time.perf_counter() - started
                old_audit = finish_audit(process, f"at {ref}")
                seconds["base"] = time.perf_counter() - started
            finally:
                _stop(process, judged_process)
    report = compare_renderings(old_audit, new_audit, stack=stack, base_ref=ref, base_commit=commit, accepted=accepted,
                                acceptances=acceptances)
    report.new_side = new_side
    if program_from is not None:
        # REF's pack and access proof over the pull request's program: their verdict is REF's, not
        # the pull request's own checks job's (which runs the pull request's audit).
        report.failed_checks = failed_checks(new_audit)
    report.seconds = {**seconds, **report.seconds, "total": time.perf_counter() - started}
    return report
