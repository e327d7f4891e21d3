"""bootstrap/provider_calls.json: what the classic aws provider (terraform-provider-aws underneath) calls beyond the
CloudFormation handlers the CI roles are otherwise derived from. Every classic type the program declares in any mode
(the prod stack and the airlock, backup and orgscale fixtures) has an entry, the entry fits the installed cfn-lint,
policy_sentry and pulumi-aws, and each mode's preview role may make every read call, and its deploy role every call,
on the resources of that mode; dropping a call from the table the derivation reads, or from a derived policy, fails
the check."""

from __future__ import annotations

import copy
import json

import pytest

from audit.access import Principal
from audit.pmapper_compat import local_check_authorization_full
from audit.render import Rendering, render
from bootstrap import documents as bootstrap
from bootstrap import permissions
from bootstrap.permissions import (
    CLASSIC_PREFIX,
    HANDLERS,
    PROVIDER_CALLS_PATH,
    PROVIDER_OPERATIONS,
    READ_HANDLERS,
    provider_call_problems,
    scoped_statements,
    table,
)
from model.settings import Settings
from policies.iam_actions import access_level, document_beyond_read_only
from tests.stacks import airlock, backup, orgscale

CI_ROLE = "arn:aws:iam::111122223333:role/pypi-registry-ci"
MODES = {"prod": lambda: render("prod"), "airlock": airlock, "backup": backup, "orgscale": orgscale}


@pytest.fixture(scope="module")
def renderings() -> dict[str, Rendering]:
    return {mode: make() for mode, make in MODES.items()}


@pytest.fixture
def calls() -> dict:
    """The checked-in table, read afresh: what the derived policies are held to."""
    loaded: dict = json.loads(PROVIDER_CALLS_PATH.read_text(encoding="utf-8"))
    return loaded


def classic_types(rendering: Rendering, owner: bool = True) -> set[str]:
    account = rendering.settings.owner_account_id
    return {r.type for r in rendering.resources
            if r.type.startswith(CLASSIC_PREFIX) and (r.account == account) == owner}


def uncovered_calls(settings: Settings, types: set[str], policy: dict, operations: tuple[str, ...],
                    calls: dict) -> list[str]:
    """Each call of `calls` these types make in these operations that the policy does not allow on every resource of
    the stack IAM authorizes it on (RESOURCE_SCOPES); a type without an entry raises KeyError."""
    node = Principal.role(CI_ROLE, {"inline:ci": policy}).node()
    found = []
    for resource_type in sorted(types):
        entry = calls["types"][resource_type]
        for operation in operations:
            for action in sorted(entry[operation]):
                resources = [r for s in scoped_statements(settings, [action], "Expected")
                             for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
                if not resources:
                    found.append(f"{resource_type} {operation} {action}: no resource of the stack to allow it on")
                found += [f"{resource_type} {operation} {action} on {resource}" for resource in resources
                          if not local_check_authorization_full(node, action, resource.replace("*", "example"), {})]
    return found


# --- every classic type has an entry, and the derivation refuses one without --------------------------------------


def test_every_classic_type_the_program_declares_in_any_mode_has_an_entry(renderings, calls):
    declared = {t for r in renderings.values() for owner in (True, False) for t in classic_types(r, owner)}
    assert declared - set(calls["types"]) == set()
    # The four renderings reach every classic type the derivation may grant in the owner account.
    derivable = {t for t in (*bootstrap.OWNER_TYPES, *bootstrap.BACKUP_TYPES, *bootstrap.STACK_SET_TYPES)
                 if t.startswith(CLASSIC_PREFIX)}
    assert derivable <= declared, derivable - declared
    assert set(bootstrap.READER_TYPES) == {t for r in renderings.values() for t in classic_types(r, owner=False)}


def test_a_classic_type_without_an_entry_fails_the_derivation(monkeypatch, renderings, calls):
    settings = renderings["airlock"].settings
    del calls["types"]["aws:lambda/function:Function"]
    monkeypatch.setattr(permissions, "provider_calls", lambda: calls)
    with pytest.raises(KeyError, match=r"aws:lambda/function:Function: no entry in provider_calls\.json"):
        bootstrap.ci_preview_policy(settings)
    with pytest.raises(KeyError, match=r"provider_calls\.json"):
        bootstrap.ci_deploy_policy(settings)


# --- the table fits the installed cfn-lint, policy_sentry and pulumi-aws --------------------------------------------


def test_the_table_fits_the_installed_packages(calls):
    assert provider_call_problems(calls, table()) == []


@pytest.mark.parametrize(("change", "reported"), [
    (lambda c: c.update(pulumi_aws="0.0.1"), "was read for pulumi-aws 0.0.1"),
    (lambda c: c["types"].update({"aws:ec2/instance:Instance": c["types"]["aws:sns/topic:Topic"]}),
     "aws:ec2/instance:Instance: not a classic type"),
    (lambda c: c["types"]["aws:sns/topic:Topic"].pop("delete"), "aws:sns/topic:Topic: has"),
    # Listed already by the handlers of AWS::S3::Bucket: the table holds only what they lack.
    (lambda c: c["types"]["aws:s3/bucket:Bucket"]["read"].update({"s3:GetBucketVersioning": "read"}),
     "s3:GetBucketVersioning: AWS::S3::Bucket's handlers list it already"),
    # A read call is held to Read and List: the preview role must stay unable to write.
    (lambda c: c["types"]["aws:sns/topic:Topic"]["read"].update({"sns:DeleteTopic": "read"}),
     "sns:DeleteTopic: Write, not Read or List"),
    (lambda c: c["types"]["aws:sns/topic:Topic"]["read"].update({"sns:NoSuchCall": "read"}),
     "sns:NoSuchCall: not an action policy_sentry knows"),
    # Its resource types come from policy_sentry through handler_permissions.json, regenerated with the table.
    (lambda c: c["types"]["aws:sns/topic:Topic"]["delete"].update({"sns:ListSubscriptions": "delete"}),
     "sns:ListSubscriptions: no resource types in handler_permissions.json"),
    (lambda c: c["types"]["aws:iam/role:Role"]["delete"].update({"iam:ListInstanceProfilesForRole": ""}),
     "says not where the provider makes the call"),
])
def test_a_table_that_does_not_fit_is_reported(calls, change, reported):
    changed = copy.deepcopy(calls)
    change(changed)
    assert any(reported in problem for problem in provider_call_problems(changed, table())), reported


# What the upstream source was read to call beyond the handlers, pinned: the table is hand-kept, so a call that goes
# missing from it (and so from the derived policies) fails here; a change re-read from upstream changes both.
READ_FROM_UPSTREAM = {
    ("aws:s3/bucket:Bucket", "read"): {"s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketRequestPayment"},
    ("aws:lambda/function:Function", "read"): {"lambda:ListVersionsByFunction", "lambda:ListTags"},
    ("aws:iam/role:Role", "delete"): {"iam:ListInstanceProfilesForRole"},
    **{("aws:sqs/queuePolicy:QueuePolicy", operation): {"sqs:GetQueueAttributes"}
       for operation in ("create", "read", "update", "delete")},
}


def test_the_table_holds_what_the_upstream_source_was_read_to_call(calls):
    held = {(t, operation): set(entry[operation]) for t, entry in calls["types"].items()
            for operation in PROVIDER_OPERATIONS if entry[operation]}
    assert held == READ_FROM_UPSTREAM


# --- each mode's CI roles hold every call of its types ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_preview_role_may_make_every_read_call_and_no_more_writes(monkeypatch, renderings, calls, mode):
    settings = renderings[mode].settings
    policy = bootstrap.ci_preview_policy(settings)
    assert uncovered_calls(settings, classic_types(renderings[mode]), policy, ("read",), calls) == []
    # The provider's calls add no action beyond Read and List to what the handlers give the preview role.
    empty = {**calls, "types": {t: {op: {} for op in PROVIDER_OPERATIONS} for t in calls["types"]}}
    monkeypatch.setattr(permissions, "provider_calls", lambda: empty)
    assert document_beyond_read_only(policy) == document_beyond_read_only(bootstrap.ci_preview_policy(settings))


@pytest.mark.parametrize("mode", MODES)
def test_the_deploy_role_may_make_every_call(renderings, calls, mode):
    settings = renderings[mode].settings
    policy = bootstrap.ci_deploy_policy(settings)
    assert uncovered_calls(settings, classic_types(renderings[mode]), policy, PROVIDER_OPERATIONS, calls) == []


def test_a_call_dropped_from_the_table_the_derivation_reads_fails_the_check(monkeypatch, renderings, calls):
    settings = renderings["backup"].settings
    types = classic_types(renderings["backup"])
    dropped = copy.deepcopy(calls)
    del dropped["types"]["aws:s3/bucket:Bucket"]["read"]["s3:GetBucketRequestPayment"]
    del dropped["types"]["aws:iam/role:Role"]["delete"]["iam:ListInstanceProfilesForRole"]
    monkeypatch.setattr(permissions, "provider_calls", lambda: dropped)
    preview = uncovered_calls(settings, types, bootstrap.ci_preview_policy(settings), ("read",), calls)
    assert preview and all("s3:GetBucketRequestPayment" in line for line in preview), preview
    deploy = uncovered_calls(settings, types, bootstrap.ci_deploy_policy(settings), PROVIDER_OPERATIONS, calls)
    assert {line.split(" on ")[0] for line in deploy} == {
        "aws:s3/bucket:Bucket read s3:GetBucketRequestPayment",
        "aws:iam/role:Role delete iam:ListInstanceProfilesForRole"}


def test_a_call_dropped_from_the_derived_policy_fails_the_check(renderings, calls):
    settings = renderings["airlock"].settings
    types = classic_types(renderings["airlock"])
    policy = bootstrap.ci_preview_policy(settings)
    for statement in policy["Statement"]:
        if isinstance(statement["Action"], list):
            statement["Action"] = [a for a in statement["Action"] if a != "lambda:ListVersionsByFunction"]
    found = uncovered_calls(settings, types, policy, ("read",), calls)
    assert found and all("lambda:ListVersionsByFunction" in line for line in found), found
    # Allowed on another function only is not allowed on the stack's.
    policy["Statement"].append({"Effect": "Allow", "Action": "lambda:ListVersionsByFunction",
                                "Resource": f"arn:aws:lambda:{settings.region}:{settings.owner_account_id}:function:x"})
    assert uncovered_calls(settings, types, policy, ("read",), calls) == found


def test_a_call_whose_resource_type_the_stack_places_nowhere_fails_the_check(monkeypatch, renderings, calls):
    """Fail closed: a call of a declared type that RESOURCE_SCOPES scopes to nothing of the stack is reported."""
    settings = renderings["airlock"].settings
    monkeypatch.setitem(permissions.RESOURCE_SCOPES, "lambda:${Region}:${Account}:function:${FunctionName}",
                        lambda s: ())
    found = uncovered_calls(settings, {"aws:lambda/function:Function"}, {"Statement": []}, ("read",), calls)
    assert "aws:lambda/function:Function read lambda:ListVersionsByFunction: no resource of the stack to allow it on" \
        in found


# --- the secondary accounts' roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["prod", "orgscale"])
def test_the_secondary_roles_hold_the_provider_calls_of_the_readers_types(renderings, calls, mode):
    settings = renderings[mode].settings
    account = settings.secondary_account_ids[0]
    preview = {a for s in bootstrap.secondary_preview_policy(settings, account)["Statement"] for a in s["Action"]}
    deploy = {a for s in bootstrap.secondary_deploy_policy(settings, account)["Statement"] for a in s["Action"]}
    entries = [calls["types"][t] for t in bootstrap.READER_TYPES]
    assert {a for entry in entries for a in entry["read"]} <= preview
    assert {a for entry in entries for operation in PROVIDER_OPERATIONS for a in entry[operation]} <= deploy
    assert "iam:ListInstanceProfilesForRole" in deploy - preview  # deleting a reader role lists its profiles first
    assert all(access_level(a) in ("Read", "List") for a in preview)


@pytest.mark.parametrize("mode", MODES)
def test_the_preview_role_of_every_mode_only_reads(renderings, mode):
    """ci-preview runs on pull requests: in every mode, whatever types that mode declares, it holds Read and List
    actions only, besides assuming the secondary accounts' (read-only) preview roles."""
    policy = bootstrap.ci_preview_policy(renderings[mode].settings)
    assert set(document_beyond_read_only(policy)) <= {"sts:AssumeRole"}


def test_a_write_a_read_handler_lists_is_left_out_of_the_preview_role_only():
    """CloudFormation's read handlers of the Lambda function and its event source mapping list kms:Decrypt (for
    environment variables or filters encrypted with a key of one's own); the program sets no such key, so the
    classic provider's read never decrypts, and a role pull requests run holds no Write action for it."""
    function, mapping = "aws:lambda/function:Function", "aws:lambda/eventSourceMapping:EventSourceMapping"
    assert "kms:Decrypt" not in permissions.permissions([function, mapping], READ_HANDLERS)
    assert "kms:Decrypt" in permissions.permissions([function], HANDLERS)
    assert access_level("kms:Decrypt") not in ("Read", "List")
