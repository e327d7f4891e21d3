"""The airlock deployed into moto from what the program records for tests/fixtures/Pulumi.airlock.yaml: the ledger
bucket (Object Lock, versioning, encryption, public access block, policy), the topic, the four roles, the two
Lambda functions (their code zipped from the repository's `promoter/` folder as Pulumi zips the recorded archive)
and the two EventBridge Scheduler schedules. Every create call takes its arguments from the recorded inputs
(tests/components/moto_deploy.py); what moto then holds is compared with what the program declares.

Then the promote schedule's target runs in-process, as Lambda would run it: the handler the function names, loaded
from the function's code, with the function's environment and its role's credentials; S3 and SNS are moto,
CodeArtifact is botocore's Stubber (checked against botocore's model; moto has no CodeArtifact), PyPI, OSV and the
store repository's endpoint are the local stand-ins of tests/promoter_stand_ins.py. moto's Lambda invoke needs
Docker, so nothing is invoked through moto.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket

from audit.pmapper_compat import local_check_authorization_full
from audit.render import Rendering
from components.airlock import CONFIG_VARIABLE, LEDGER_RETENTION_DAYS
from tests.components.moto_deploy import (
    AIRLOCK_CREATORS,
    BUCKET_POLICY,
    FUNCTION,
    ROLE,
    ROLE_POLICY,
    UTC,
    DeployedAirlock,
    LambdaContext,
    _whole,
    deploy_airlock,
    handler_from_archive,
    pulumi_zip,
)
from tests.moto_iam import DeployedRole, moto_aws, read_roles
from tests.promoter_stand_ins import OSV, TOKEN, File, StandIn, StoreEndpoint, osv_record, publish_pypi, serve
from tests.stacks import airlock

pytestmark = pytest.mark.moto


@pytest.fixture(scope="module")
def rendering() -> Rendering:
    return airlock()


@pytest.fixture
def deployed(rendering: Rendering) -> Iterator[DeployedAirlock]:
    region = rendering.settings.region
    with moto_aws(region) as aws:
        resources = deploy_airlock(aws, rendering)
        yield DeployedAirlock(aws, rendering, resources, rendering.settings.owner_account_id, region)


# --- what moto holds is what the program declared ------------------------------------------------------------


def test_every_airlock_resource_is_created_in_the_owner_account(deployed: DeployedAirlock) -> None:
    assert {r.type for r in deployed.resources} == set(AIRLOCK_CREATORS)  # every creator ran: the deployment is whole
    assert {r.account for r in deployed.resources} == {deployed.account}


def test_the_ledger_is_object_locked_in_compliance_mode_versioned_encrypted_and_private(
        deployed: DeployedAirlock) -> None:
    s3 = deployed.client("s3")
    bucket = deployed.recorded_bucket().inputs["bucket"]
    assert bucket == deployed.rendering.settings.ledger_bucket_name
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    # moto answers Years: 0 beside the Days it was given; S3 answers the one that is set
    assert (retention["Mode"], retention["Days"], retention.get("Years", 0)) == ("COMPLIANCE", LEDGER_RETENTION_DAYS, 0)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def test_the_ledger_policy_denies_deletes_and_plain_http(deployed: DeployedAirlock) -> None:
    bucket = deployed.recorded_bucket().inputs["bucket"]
    held = json.loads(deployed.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    (recorded,) = [r for r in deployed.resources if r.type == BUCKET_POLICY]
    assert held == recorded.policy("policy")
    statements = {s["Sid"]: s for s in held["Statement"]}
    deletes = statements["DenyDeletingDecisions"]
    assert (deletes["Effect"], deletes["Principal"], deletes["Resource"]) == ("Deny", "*", f"arn:aws:s3:::{bucket}/*")
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(deletes["Action"]) and "Condition" not in deletes
    plain_http = statements["DenyInsecureTransport"]
    assert (plain_http["Effect"], plain_http["Principal"], plain_http["Action"]) == ("Deny", "*", "s3:*")
    assert plain_http["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert plain_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    # And as AWS decides it: an administrator of the account still may not delete a decision, nor read over plain
    # HTTP; the promoter may append a decision over HTTPS only.
    decision = f"arn:aws:s3:::{bucket}/decisions/2026/01/01/requests/2.32.3/x.json"
    admin = DeployedRole(f"arn:aws:iam::{deployed.account}:role/administrator", {}, {
        "inline:admin": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}})
    promoter = read_roles(deployed.aws, deployed.account)[
        deployed.rendering.settings.owner_role_arn("pypi-registry-promoter")]

    def allowed(role: DeployedRole, action: str, secure: bool = True) -> bool:
        return bool(local_check_authorization_full(
            role.principal().node(), action, decision, {"aws:SecureTransport": str(secure).lower()}, held,
            deployed.account))

    assert allowed(admin, "s3:GetObject") and not allowed(admin, "s3:GetObject", secure=False)
    assert not allowed(admin, "s3:DeleteObject") and not allowed(admin, "s3:DeleteObjectVersion")
    assert not allowed(admin, "s3:PutObject")  # only the airlock's roles write decisions
    assert allowed(promoter, "s3:PutObject") and not allowed(promoter, "s3:PutObject", secure=False)


def test_the_topic_is_the_one_the_promoter_is_configured_with_and_encrypted(deployed: DeployedAirlock) -> None:
    sns = deployed.client("sns")
    (topic_arn,) = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert topic_arn == deployed.rendering.settings.airlock_topic_arn
    assert sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["KmsMasterKeyId"] == "alias/aws/sns"
    for function in (r for r in deployed.resources if r.type == FUNCTION):
        assert json.loads(function.inputs["environment"]["variables"][CONFIG_VARIABLE])["topicArn"] == topic_arn


def test_the_roles_hold_their_recorded_trust_policy_boundary_and_inline_policy(deployed: DeployedAirlock) -> None:
    iam = deployed.aws.iam(deployed.account)
    held = {arn.rsplit("/", 1)[1]: role for arn, role in read_roles(deployed.aws, deployed.account).items()}
    airlock_roles = [r for r in deployed.resources if r.type == ROLE]
    assert len(airlock_roles) == 4
    for recorded in airlock_roles:
        name = recorded.inputs["name"]
        role = held[name]
        assert role.trust_policy == recorded.policy("assumeRolePolicy")
        (policy,) = [p for p in deployed.resources if p.type == ROLE_POLICY and p.inputs["role"] == name]
        assert role.policies == {f"inline:{policy.inputs['name']}": policy.policy("policy")}
        boundary = iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        assert boundary == recorded.inputs["permissionsBoundary"]


def test_the_functions_run_the_promoter_folder_with_the_recorded_handler_runtime_and_environment(
        deployed: DeployedAirlock) -> None:
    lam = deployed.client("lambda")
    iam = deployed.aws.iam(deployed.account)
    functions = [r for r in deployed.resources if r.type == FUNCTION]
    assert {f.inputs["handler"] for f in functions} == {"promoter.handler.promote", "promoter.handler.pull_back"}
    for recorded in functions:
        held = lam.get_function_configuration(FunctionName=recorded.inputs["name"])
        assert held["FunctionArn"] == deployed.rendering.settings.function_arn(recorded.inputs["name"])
        assert (held["Handler"], held["Runtime"]) == (recorded.inputs["handler"], "python3.12")
        assert (held["Timeout"], held["MemorySize"]) == (_whole(recorded.inputs["timeout"]), 512)
        assert held["Environment"]["Variables"] == recorded.inputs["environment"]["variables"]
        (role_policy,) = [p for p in deployed.resources if p.type == ROLE_POLICY and p.inputs["role"]
                          == held["Role"].rsplit("/", 1)[1]]
        assert held["Role"] == iam.get_role(RoleName=role_policy.inputs["role"])["Role"]["Arn"]
        # what moto holds is the zip built here, byte for byte
        archive = pulumi_zip(recorded.inputs["code"], deployed.rendering.project_dir)
        assert held["CodeSha256"] == base64.b64encode(hashlib.sha256(archive).digest()).decode()
        names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
        module, function_name = recorded.inputs["handler"].rsplit(".", 1)
        assert f"{module.replace('.', '/')}.py" in names and "promoter/__init__.py" in names
        assert all(name.startswith("promoter/") for name in names)
        source = (deployed.rendering.project_dir / module.replace(".", "/")).with_suffix(".py").read_text()
        assert f"def {function_name}(" in source


def test_each_schedule_invokes_its_function_through_its_own_role(deployed: DeployedAirlock) -> None:
    scheduler = deployed.client("scheduler")
    lam = deployed.client("lambda")
    iam = deployed.aws.iam(deployed.account)
    expected = {"pypi-registry-promote": ("rate(15 minutes)", "promoter.handler.promote"),
                "pypi-registry-pull-back": ("rate(1 day)", "promoter.handler.pull_back")}
    assert {s["Name"] for s in scheduler.list_schedules()["Schedules"]} == set(expected)
    for name, (expression, handler) in expected.items():
        schedule = scheduler.get_schedule(Name=name)
        assert schedule["ScheduleExpression"] == expression and schedule["State"] == "ENABLED"
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        target = schedule["Target"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
        function = lam.get_function_configuration(FunctionName=target["Arn"])
        assert function["FunctionArn"] == target["Arn"] and function["Handler"] == handler
        role_name = target["RoleArn"].rsplit("/", 1)[1]
        assert iam.get_role(RoleName=role_name)["Role"]["Arn"] == target["RoleArn"]
        role = read_roles(deployed.aws, deployed.account)[target["RoleArn"]]
        (trust,) = role.trust_policy["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        (invoke,) = [s for policy in role.policies.values() for s in policy["Statement"]]
        assert (invoke["Effect"], invoke["Action"], invoke["Resource"]) == ("Allow", "lambda:InvokeFunction",
                                                                              target["Arn"])


# --- the promote schedule's target, run in-process --------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One AWS call the handler made through a client it created."""

    service: str
    operation: str
    params: dict[str, Any]
    endpoint: str


@dataclass
class Run:
    summary: dict[str, Any]
    calls: list[Call]
    function: dict[str, Any]  # the function's configuration, as moto holds it
    queue_url: str


def _releases(now: datetime, name: str, **ages: timedelta) -> dict[str, list[File]]:
    return {version.replace("_", "."): [
        File(f"{name.replace('-', '_')}-{version.replace('_', '.')}-py3-none-any.whl",
             f"{name} {version} wheel".encode(), now - age),
        File(f"{name.replace('-', '_')}-{version.replace('_', '.')}.tar.gz",
             f"{name} {version} sdist".encode(), now - age + timedelta(minutes=3))]
        for version, age in ages.items()}


@pytest.fixture
def http() -> Iterator[StandIn]:
    yield from serve()


def run_promote_schedule(deployed: DeployedAirlock, http: StandIn, monkeypatch: pytest.MonkeyPatch,
                         tmp_path: Path) -> Run:
    """The promote schedule's target, run as Lambda would run it, over the fixture's three public packages:
    requests 2.32.3 (past its cooldown, Apache-2.0: admitted) and 2.32.4 (an hour old: waiting), typing-extensions
    4.12.2 (an OSV MAL- advisory: refused), urllib3 2.5.0 (an hour old, waived by the fixture: copied)."""
    schedule = deployed.client("scheduler").get_schedule(Name="pypi-registry-promote")
    function = deployed.client("lambda").get_function_configuration(FunctionName=schedule["Target"]["Arn"])
    recorded_function = deployed.recorded(FUNCTION, function["FunctionName"])
    archive = tmp_path / "code.zip"
    archive.write_bytes(pulumi_zip(recorded_function.inputs["code"], deployed.rendering.project_dir))
    assert function["CodeSha256"] == base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()
    environment = dict(function["Environment"]["Variables"])
    config = json.loads(environment[CONFIG_VARIABLE])
    assert config["publicPackages"] == ["requests", "typing-extensions", "urllib3"]
    # The one change to the recorded configuration: PyPI and OSV are the local stand-ins.
    environment[CONFIG_VARIABLE] = json.dumps({**config, "pypiUrl": http.base_url, "osvUrl": http.base_url})

    now = datetime.now(UTC)
    requests_releases = _releases(now, "requests", **{"2_32_3": timedelta(days=400), "2_32_4": timedelta(hours=1)})
    typing_releases = _releases(now, "typing-extensions", **{"4_12_2": timedelta(days=300)})
    urllib3_releases = _releases(now, "urllib3", **{"2_5_0": timedelta(hours=1)})
    publish_pypi(http, "requests", requests_releases, license_expression="Apache-2.0")
    publish_pypi(http, "typing-extensions", typing_releases, license_expression="PSF-2.0")
    publish_pypi(http, "urllib3", urllib3_releases, license_expression="MIT")
    osv = OSV()
    osv.add(osv_record("MAL-2026-25", "typing-extensions"), ("typing-extensions", "4.12.2"))
    osv.install(http)
    store = StoreEndpoint(repository=config["storeRepository"])
    for name, releases in (("requests", requests_releases), ("urllib3", urllib3_releases)):
        store.files[name] = {f.filename: f for files in releases.values() for f in files}
    store.install(http)

    # The topic's reader: a queue subscribed as an operator would subscribe one.
    sqs, sns = deployed.client("sqs"), deployed.client("sns")
    queue_url = sqs.create_queue(QueueName="airlock-decisions")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=config["topicArn"], Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})

    # Lambda runs the handler with its execution role's credentials.
    credentials = deployed.client("sts").assume_role(RoleArn=function["Role"],
                                                     RoleSessionName=function["FunctionName"])["Credentials"]
    lambda_environment = {
        **environment, "AWS_REGION": deployed.region, "AWS_DEFAULT_REGION": deployed.region,
        "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"], "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"], "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
    codeartifact = boto3.client("codeartifact", region_name=deployed.region)
    stubber = Stubber(codeartifact)
    domain = {"domain": config["domain"], "domainOwner": config["domainOwner"]}

    def expect(operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        stubber.add_response(operation, response, {**domain, **params})

    def expect_nothing_vetted(package: str) -> None:
        stubber.add_client_error("list_package_versions", "ResourceNotFoundException", http_status_code=404,
                                 expected_params={**domain, "repository": config["vettedRepository"],
                                                  "format": "pypi", "package": package})

    def expect_copy(package: str, version: str) -> None:
        expect("copy_package_versions",
               {"sourceRepository": config["storeRepository"], "destinationRepository": config["vettedRepository"],
                "format": "pypi", "package": package, "versions": [version], "allowOverwrite": False},
               {"successfulVersions": {version: {"revision": "r1", "status": "Published"}}, "failedVersions": {}})

    # In the order the run asks: package by package, newest version first, the store's access once.
    expect_nothing_vetted("requests")
    expect("get_repository_endpoint", {"repository": config["storeRepository"], "format": "pypi"},
           {"repositoryEndpoint": store.endpoint(http)})
    expect("get_authorization_token", {"durationSeconds": 900}, {"authorizationToken": TOKEN})
    expect_copy("requests", "2.32.3")
    expect_nothing_vetted("typing-extensions")
    expect_nothing_vetted("urllib3")
    expect_copy("urllib3", "2.5.0")
    # Last, what the store held before the airlock: nothing beyond the allow-list here.
    expect("list_packages", {"repository": config["storeRepository"], "format": "pypi"},
           {"packages": [{"format": "pypi", "package": "requests"}]})

    calls: list[Call] = []
    original_client = boto3.session.Session.client

    def client(session: boto3.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
        assert session.region_name == deployed.region
        if service_name == "codeartifact":
            return codeartifact
        made = original_client(session, service_name, *args, **kwargs)
        endpoint = made.meta.endpoint_url

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls.append(Call(service_name, model.name, dict(params), endpoint))

        made.meta.events.register("provide-client-params", record)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    # moto 5.2 checks a bucket policy on object requests without any request context, and reads a statement whose
    # condition it cannot check as a denial, even on a Deny (moto/iam/access_control.py, IAMPolicyStatement:
    # `if not self._check_conditions(...): return PermissionResult.DENIED`): the ledger's conditional Denies
    # (plain HTTP; writers other than the airlock's roles) would refuse every put. The ledger's policy is evaluated
    # with principalmapper instead (test_the_ledger_policy_denies_deletes_and_plain_http and
    # test_every_call_of_the_promote_run_is_allowed_for_the_function_role); Object Lock stays moto's.
    original_permission = FakeBucket.get_permission

    def bucket_permission(bucket: FakeBucket, action: str, resource: str) -> Any:
        if bucket.name == config["ledgerBucket"]:
            return PermissionResult.NEUTRAL
        return original_permission(bucket, action, resource)

    monkeypatch.setattr(FakeBucket, "get_permission", bucket_permission)
    event = json.loads(schedule["Target"].get("Input", "{}"))
    context = LambdaContext(function["FunctionName"], function["Timeout"])
    with stubber, mock.patch.dict(os.environ, lambda_environment), \
            handler_from_archive(archive, function["Handler"]) as handler:
        summary = handler(event, context)
        stubber.assert_no_pending_responses()
    return Run(summary, calls, function, queue_url)


def _ledger(deployed: DeployedAirlock, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    s3 = deployed.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {key: json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys}


def _messages(deployed: DeployedAirlock, queue_url: str) -> list[dict[str, Any]]:
    sqs = deployed.client("sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_the_promote_target_records_each_decision_in_the_locked_ledger_and_on_the_topic(
        deployed: DeployedAirlock, http: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run = run_promote_schedule(deployed, http, monkeypatch, tmp_path)

    assert run.summary == {
        "decisions": {"waiting": ["requests==2.32.4"], "admitted": ["requests==2.32.3"],
                      "refused": ["typing-extensions==4.12.2"], "waived": ["urllib3==2.5.0"]},
        "recorded": 4, "deferred": [], "errors": []}
    # both admitted versions' files came through the store endpoint
    fetched = {p.rsplit("/", 1)[1] for p in http.paths() if p.startswith("/pypi/pypi-store/simple/") and
               not p.endswith("/")}
    assert fetched == {"requests-2.32.3-py3-none-any.whl", "requests-2.32.3.tar.gz",
                       "urllib3-2.5.0-py3-none-any.whl", "urllib3-2.5.0.tar.gz"}

    bucket = json.loads(run.function["Environment"]["Variables"][CONFIG_VARIABLE])["ledgerBucket"]
    decisions = _ledger(deployed, bucket, "decisions/")
    outcomes = {(r["package"], r["version"]): r["outcome"] for r in decisions.values()}
    assert outcomes == {("requests", "2.32.4"): "waiting", ("requests", "2.32.3"): "admitted",
                        ("typing-extensions", "4.12.2"): "refused", ("urllib3", "2.5.0"): "waived"}
    assert {(r["package"], r["version"], r["action"]) for r in decisions.values() if r["action"] != "none"} == {
        ("requests", "2.32.3", "copied"), ("urllib3", "2.5.0", "copied")}
    assert len(_ledger(deployed, bucket, "seen/")) == 4

    # every decision is locked in COMPLIANCE mode for the ledger's retention, from the bucket's default
    s3 = deployed.client("s3")
    for key in decisions:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        kept = head["ObjectLockRetainUntilDate"] - head["LastModified"]
        assert abs(kept - timedelta(days=LEDGER_RETENTION_DAYS)) < timedelta(minutes=5), kept
    # moto enforces COMPLIANCE retention: deleting a locked version is refused, even for the bucket's owner and
    # with the bucket policy out of moto's hands (above), so this is the lock's doing, not DenyDeletingDecisions'.
    for key in decisions:
        (version,) = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"], BypassGovernanceRetention=True)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert json.loads(s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()) == \
            decisions[key]

    # the same JSON on the topic, as its subscribers read it
    messages = _messages(deployed, run.queue_url)
    assert sorted(json.dumps(m, sort_keys=True) for m in messages) == sorted(
        json.dumps(r, sort_keys=True) for r in decisions.values())


def _request(call: Call) -> tuple[str, str]:
    """The IAM action and resource ARN of a call the promoter makes; any other call is not understood."""
    if (call.service, call.operation) == ("s3", "PutObject"):
        return "s3:PutObject", f"arn:aws:s3:::{call.params['Bucket']}/{call.params['Key']}"
    if (call.service, call.operation) == ("sns", "Publish"):
        return "sns:Publish", call.params["TopicArn"]
    raise AssertionError(f"no IAM mapping for {call.service} {call.operation}: add it before trusting this test")


def test_every_call_of_the_promote_run_is_allowed_for_the_function_role(
        deployed: DeployedAirlock, http: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What the run did, asked of principalmapper for the role moto holds, with the bucket's and the topic's own
    policies as moto holds them. (The boundary the roles name is not part of the stack and is not evaluated.)"""
    run = run_promote_schedule(deployed, http, monkeypatch, tmp_path)
    role = read_roles(deployed.aws, deployed.account)[run.function["Role"]].principal()
    s3, sns = deployed.client("s3"), deployed.client("sns")
    policies: dict[str, dict[str, Any]] = {}
    for call in run.calls:
        if call.service == "s3" and call.params["Bucket"] not in policies:
            policies[call.params["Bucket"]] = json.loads(s3.get_bucket_policy(Bucket=call.params["Bucket"])["Policy"])
        if call.service == "sns" and call.params["TopicArn"] not in policies:
            attributes = sns.get_topic_attributes(TopicArn=call.params["TopicArn"])["Attributes"]
            policies[call.params["TopicArn"]] = json.loads(attributes["Policy"])
    assert {c.operation for c in run.calls} == {"PutObject", "Publish"}
    denied = []
    for call in run.calls:
        action, resource = _request(call)
        policy = policies[call.params["Bucket"] if call.service == "s3" else call.params["TopicArn"]]
        context = {"aws:SecureTransport": str(call.endpoint.startswith("https://")).lower()}
        owner = deployed.account  # the bucket and the topic are the owner account's (S3 ARNs name no account)
        if not local_check_authorization_full(role.node(), action, resource, context, policy, owner):
            denied.append(f"{action} on {resource}")
    assert denied == [], denied
