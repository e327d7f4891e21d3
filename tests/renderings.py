"""A recorded rendering changed as a pull request could change what the program declares: a resource added, or one
resource's inputs edited, down to one statement of a JSON policy document. Every helper returns a new rendering and
leaves the one it was given alone (the shared prod rendering must stay as rendered, tests/conftest.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace

from audit.render import RecordedResource, Rendering
from tests.expected import DOMAIN, OWNER, REGION

# --- resources added -------------------------------------------------------------------------------------------


def recorded(type_: str, name: str, inputs: dict, account: str = OWNER,
             outputs: dict | None = None) -> RecordedResource:
    """A resource as the program would have recorded it in `account`."""
    return RecordedResource(urn=f"urn:pulumi:prod::pypi-registry::{type_}::{name}", type=type_, name=name,
                            custom=True, parent="", provider="", protect=False, retain_on_delete=False,
                            inputs=inputs, outputs={**inputs, **(outputs or {})}, account=account, region=REGION)


def with_resources(rendering: Rendering, *resources: RecordedResource) -> Rendering:
    return replace(rendering, resources=[*rendering.resources, *resources])


def with_resource(rendering: Rendering, resource_type: str, inputs: dict, name: str = "extra") -> Rendering:
    """The rendering with one resource added in the owner account, under the owner's provider, as if the program
    declared it."""
    owner_provider = next(r for r in rendering.resources if r.type == DOMAIN).provider
    extra = RecordedResource(
        urn=f"urn:pulumi:prod::pypi-registry::{resource_type}::{name}", type=resource_type, name=name, custom=True,
        parent="", provider=owner_provider, protect=False, retain_on_delete=False, inputs=inputs, outputs=dict(inputs),
        account=OWNER, region=REGION)
    return replace(rendering, resources=[*rendering.resources, extra])


# --- one resource's inputs edited ------------------------------------------------------------------------------


def changed(rendering: Rendering, name: str, change: Callable[[dict], None]) -> Rendering:
    """A copy of the rendering with `change` applied to one resource's inputs and outputs alike."""
    copied = copy.deepcopy(rendering)
    resource = next(r for r in copied.resources if r.name == name)
    change(resource.inputs)
    change(resource.outputs)
    return copied


def edit_document(key: str, edit: Callable[[dict], None]) -> Callable[[dict], None]:
    """A change for `changed`: `edit` applied to the JSON document the input `key` holds."""
    def change(props: dict) -> None:
        document = json.loads(props[key])
        edit(document)
        props[key] = json.dumps(document)
    return change


def add_statement(key: str, statement: dict) -> Callable[[dict], None]:
    """A change for `changed`: `statement` appended to the policy document the input `key` holds."""
    return edit_document(key, lambda document: document["Statement"].append(statement))


def drop_statement(key: str, sid: str) -> Callable[[dict], None]:
    """A change for `changed`: the statement `sid` removed from the policy document the input `key` holds."""
    def edit(document: dict) -> None:
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != sid]
    return edit_document(key, edit)
