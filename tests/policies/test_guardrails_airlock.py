"""The pack over the airlock stack (tests/fixtures/Pulumi.airlock.yaml): clean as the program declares it, and
each airlock rule, and each new type's place in the inventory, shown to bite with a bad case."""

from __future__ import annotations

import copy
import json

import pytest

from audit.guardrails import pack_config, rendering_violations
from audit.render import RecordedResource, Rendering
from tests.expected import OWNER, REGION
from tests.policies.support import messages, setter
from tests.renderings import add_statement, changed, drop_statement
from tests.stacks import airlock

PREFIX = f"arn:aws:codeartifact:{REGION}:{OWNER}"
PROMOTER_POLICY = "airlock-pypi-registry-promoter-role-policy"
PULL_BACK_POLICY = "airlock-pypi-registry-pull-back-role-policy"
INVOKE_POLICY = "airlock-pypi-registry-promoter-schedule-role-policy"


@pytest.fixture(scope="module")
def pristine() -> Rendering:
    return airlock()



def test_the_airlock_stack_is_clean(pristine):
    assert rendering_violations(pristine) == []
    config = pack_config(pristine.settings)
    assert config["domain-denies-loss-and-reopening"]["promoterRoleArn"] == (
        f"arn:aws:iam::{OWNER}:role/pypi-registry-promoter")
    assert config["airlock-no-upstream-path-to-public-pypi"] == {"publicIngest": "airlock",
                                                                 "vettedRepositoryName": "pypi-vetted"}


def test_prod_pack_config_names_no_airlock_key(prod):
    assert not any(key in properties for properties in pack_config(prod.settings).values()
                   for key in ("publicIngest", "promoterRoleArn", "vettedRepositoryName"))


# --- no upstream path to an external connection ----------------------------------------------------------


def test_internal_reaching_the_store_is_refused(pristine):
    def upstream_store(props: dict) -> None:
        props["upstreams"] = [{"repositoryName": "pypi-store"}]

    found = messages(changed(pristine, "registry-internal", upstream_store), "airlock-no-upstream-path-to-public-pypi")
    assert any("internal -> pypi-store" in m and "public:pypi" in m for m in found), found


def test_a_path_through_the_vetted_repository_is_refused_too(pristine):
    def upstream_store(props: dict) -> None:
        props["upstreams"] = [{"repositoryName": "pypi-store"}]

    found = messages(changed(pristine, "registry-pypi-vetted", upstream_store),
                     "airlock-no-upstream-path-to-public-pypi")
    assert any("internal -> pypi-vetted -> pypi-store" in m for m in found), found
    assert any("the vetted repository pypi-vetted has an external connection or an upstream" in m for m in found)


def test_direct_mode_keeps_the_store_as_upstream(prod):
    assert messages(prod, "airlock-no-upstream-path-to-public-pypi") == []


# --- the domain policy's carve-outs -------------------------------------------------------------------------


@pytest.mark.parametrize(("sid", "expected"), [
    ("DenyPromoterCopyingOutsideVetted", f"is not denied CopyPackageVersions on {PREFIX}:repository/acme/internal"),
    ("DenyPullBackOutsideVettedAndInternal", "is not denied UpdatePackageVersionsStatus on "
     + f"{PREFIX}:package/acme/pypi-store/pypi//example"),
    ("DenyReadingTheStore", "ReadFromRepository on pypi-store, which has an external connection, is not denied"),
    ("DenyPublishingIntoVetted", "PublishPackageVersion into pypi-vetted is not denied"),
])
def test_each_confinement_of_the_carve_outs_is_required(pristine, sid, expected):
    found = messages(changed(pristine, "registry-domain-policy", drop_statement("policyDocument", sid)),
                     "domain-denies-loss-and-reopening")
    assert any(expected in m for m in found), found


def test_a_confinement_that_lets_the_promoter_copy_into_internal_is_refused(pristine):
    def widen(props: dict) -> None:
        document = json.loads(props["policyDocument"])
        for statement in document["Statement"]:
            if statement["Sid"] == "DenyPromoterCopyingOutsideVetted":
                statement["NotResource"] += [f"{PREFIX}:repository/acme/internal", f"{PREFIX}:package/acme/internal/*"]
        props["policyDocument"] = json.dumps(document)

    found = messages(changed(pristine, "registry-domain-policy", widen), "domain-denies-loss-and-reopening")
    assert any(f"CopyPackageVersions on {PREFIX}:repository/acme/internal" in m for m in found), found


def test_the_promoter_exempt_from_deletes_is_refused(pristine):
    promoter = f"arn:aws:iam::{OWNER}:role/pypi-registry-promoter"

    def exempt(props: dict) -> None:
        document = json.loads(props["policyDocument"])
        for statement in document["Statement"]:
            if statement["Sid"] == "DenyIrreversibleDeletes":
                statement["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": promoter}}
        props["policyDocument"] = json.dumps(document)

    found = messages(changed(pristine, "registry-domain-policy", exempt), "domain-denies-loss-and-reopening")
    assert any("a published version could be deleted" in m for m in found), found


def test_in_direct_mode_nobody_may_be_exempt_from_copies(prod):
    """The direct stack's pack config names no promoter: a Deny of copies exempting one is refused."""
    def exempt(props: dict) -> None:
        document = json.loads(props["policyDocument"])
        for statement in document["Statement"]:
            if statement["Sid"] == "DenyOverwritingVersions":
                statement["Condition"] = {"ArnNotEquals": {
                    "aws:PrincipalArn": f"arn:aws:iam::{OWNER}:role/pypi-registry-promoter"}}
        props["policyDocument"] = json.dumps(document)

    found = messages(changed(prod, "registry-domain-policy", exempt), "domain-denies-loss-and-reopening")
    assert any("could be overwritten" in m for m in found), found


# --- the ledger ---------------------------------------------------------------------------------------------------

LEDGER = "airlock-ledger-keeps-every-decision"



def _allow_deletes(props: dict) -> None:
    document = json.loads(props["policy"])
    document["Statement"].append({"Sid": "Cleanup", "Effect": "Allow", "Action": "s3:Delete*", "Resource": "*",
                                  "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}})
    props["policy"] = json.dumps(document)


def _no_deny(props: dict) -> None:
    document = json.loads(props["policy"])
    document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "DenyDeletingDecisions"]
    props["policy"] = json.dumps(document)


@pytest.mark.parametrize(("name", "change", "expected"), [
    ("airlock-ledger-bucket", setter(("objectLockEnabled",), False), "Object Lock is not enabled"),
    ("airlock-ledger-object-lock", setter(("rule", "defaultRetention", "mode"), "GOVERNANCE"), "COMPLIANCE"),
    ("airlock-ledger-versioning", setter(("versioningConfiguration", "status"), "Suspended"), "versioning"),
    ("airlock-ledger-public-access", setter(("restrictPublicBuckets",), False), "public access is not blocked"),
    ("airlock-ledger-policy", _allow_deletes, "the bucket policy allows s3:DeleteObject"),
    ("airlock-ledger-policy", _no_deny, "does not deny s3:DeleteObject on every object"),
    ("airlock-ledger-topic", setter(("kmsMasterKeyId",), ""), "not KMS-encrypted"),
])
def test_each_ledger_rule_bites(pristine, name, change, expected):
    found = messages(changed(pristine, name, change), LEDGER)
    assert any(expected in m for m in found), found


def test_a_bucket_without_its_parts_is_refused(pristine):
    copied = copy.deepcopy(pristine)
    copied.resources = [r for r in copied.resources if r.type != "aws:s3/bucketServerSideEncryptionConfiguration:"
                        "BucketServerSideEncryptionConfiguration"]
    assert any("no server-side encryption" in m for m in messages(copied, LEDGER))


# --- the airlock's roles --------------------------------------------------------------------------------------

ROLES = "airlock-roles-hold-what-they-need"


@pytest.mark.parametrize(("policy", "statement", "expected"), [
    (PROMOTER_POLICY, {"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"}, "codeartifact:*"),
    (PROMOTER_POLICY, {"Effect": "Allow", "Action": "codeartifact:CopyPackageVersions",
                       "Resource": f"{PREFIX}:package/acme/internal/*"}, "CopyPackageVersions on"),
    (PULL_BACK_POLICY, {"Effect": "Allow", "Action": "codeartifact:UpdatePackageVersionsStatus",
                        "Resource": f"{PREFIX}:package/acme/pypi-store/*"}, "UpdatePackageVersionsStatus on"),
    (PULL_BACK_POLICY, {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}, "s3:PutObject on *"),
    (PROMOTER_POLICY, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, "iam:PassRole"),
    (INVOKE_POLICY, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"},
     "lambda:InvokeFunction on *"),
    (INVOKE_POLICY, {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction"),
])
def test_an_airlock_role_holding_more_than_it_needs_is_refused(pristine, policy, statement, expected):
    found = messages(changed(pristine, policy, add_statement("policy", statement)), ROLES)
    assert any(expected in m for m in found), found


def test_an_airlock_role_trusted_by_another_service_too_is_refused(pristine):
    def trust_ec2(props: dict) -> None:
        document = json.loads(props["assumeRolePolicy"])
        document["Statement"][0]["Principal"] = {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}
        props["assumeRolePolicy"] = json.dumps(document)

    found = messages(changed(pristine, "airlock-pypi-registry-promoter-role", trust_ec2), ROLES)
    assert any("ec2.amazonaws.com" in m for m in found), found


def test_functions_and_schedules_must_use_what_the_stack_declares(pristine):
    stranger = f"arn:aws:iam::{OWNER}:role/somebody-else"
    copied = changed(pristine, "airlock-pypi-registry-promoter", setter(("role",), stranger))
    next(r for r in copied.resources if r.name == "airlock-pypi-registry-promoter").property_dependencies = {}
    found = messages(copied, ROLES)
    assert any(f"runs as {stranger}, which this stack does not declare" in m for m in found), found
    elsewhere = "arn:aws:scheduler:::aws-sdk:iam:createUser"
    found = messages(changed(pristine, "airlock-pypi-registry-promoter-schedule", setter(("target", "arn"), elsewhere)),
                     ROLES)
    assert any(f"target {elsewhere} is not a Lambda function this stack declares" in m for m in found), found


# --- every new type is in the inventory, with what no rule reads refused --------------------------------------

TYPES = "resource-types-evaluated"


@pytest.mark.parametrize(("name", "key", "value"), [
    ("airlock-ledger-bucket", "lifecycleRules", [{"enabled": True, "expiration": {"days": 1}}]),
    ("airlock-ledger-topic", "policy", "{}"),
    ("airlock-pypi-registry-promoter", "layers", ["arn:aws:lambda:eu-west-1:999999999999:layer:x:1"]),
])
def test_properties_no_rule_reads_are_refused(pristine, name, key, value):
    found = messages(changed(pristine, name, setter((key,), value)), TYPES)
    assert any(f"it sets {key}" in m for m in found), found


def test_a_lambda_permission_is_not_understood(pristine):
    copied = copy.deepcopy(pristine)
    function = next(r for r in copied.resources if r.type == "aws:lambda/function:Function")
    copied.resources.append(RecordedResource(
        urn=function.urn.replace("aws:lambda/function:Function", "aws:lambda/permission:Permission") + "-url",
        type="aws:lambda/permission:Permission", name="anyone-invokes", custom=True, parent=function.parent,
        provider=function.provider, protect=False, retain_on_delete=False,
        inputs={"action": "lambda:InvokeFunction", "principal": "*", "function": function.inputs["name"]},
        outputs={}, account=function.account, region=function.region))
    assert any("aws:lambda/permission:Permission is not evaluated" in m for m in messages(copied, TYPES))
