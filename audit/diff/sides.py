"""One side of the diff: a rendering's access decisions, principals and resources as the audit's JSON
holds them (Side; rendering_json for the working tree's), and how the diff names actions and resources."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.access import access_section, expand_decisions
from audit.render import Rendering
from policies import iam_actions
from policies import iam_documents as iam

Json = dict[str, Any]
Key = tuple[str, str, str]  # (principal ARN, action, resource)


def rendering_json(rendering: Rendering) -> Json:
    """The parts of `python -m audit --json` the diff reads, from a rendering in this process."""
    document = rendering.as_json()
    document["access"] = access_section(rendering).json_value
    # The same shapes as the base's JSON (lists, not tuples).
    parsed: Json = json.loads(json.dumps(document))
    return parsed


def short_action(action: str) -> str:
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
