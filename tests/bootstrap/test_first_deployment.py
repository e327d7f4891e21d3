"""From an empty AWS organization to a running registry, in the order `python -m bootstrap` prints and docs/operating.md
gives, walked offline: every `aws` command of the bootstrap's summary runs against moto (IAM, STS, S3 and
CloudFormation, each in its account), the first `pulumi up` is what the program declares (rendered under Pulumi's
mock engine) created in moto by the roles that step assumes, and after each step principalmapper, over what moto
holds, shows that the step's principal can do what the step needs and no more: the operator and ci-deploy assume
the secondary roles, ci-preview only the preview ones, the secondary deploy role creates the reader only inside
its boundary, ci-deploy creates the owner roles only inside theirs, a publisher publishes its own packages and a
reader reads.

The commands are run by a small interpreter of the AWS CLI's form (`aws SERVICE OPERATION --param value`, its
shorthand `K=V,K=V`, `file://`), mapped onto botocore's service models; `aws cloudformation deploy`, a CLI-only
command, is CreateStack. The AWS CLI itself is not a dependency of the tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.session import get_session

from audit.access import Principal, web_identity_may_assume
from audit.pmapper_compat import Policy, local_check_authorization_full
from audit.render import Rendering, render
from bootstrap.__main__ import main as bootstrap_main
from model.settings import Settings
from tests.expected import OPERATOR_ROLE, STACK_CREATES_OIDC_PROVIDER
from tests.moto_iam import DeployedRole, MotoAws, deploy_iam, moto_aws, read_oidc_providers, read_roles

REPOSITORY = "acme/pypi-registry"
BUCKET = "acme-pypi-registry-state"
GITHUB = "token.actions.githubusercontent.com"


# --- the summary's commands, run against moto ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: str
    commands: tuple[str, ...]


def steps(summary: str) -> list[Step]:
    """The numbered steps of the summary, each with its `aws` commands (indented lines)."""
    found: list[Step] = []
    for block in summary.split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0][:1].isdigit():
            commands = tuple(line.strip() for line in lines[1:] if line.startswith("   aws ")
                             or line.startswith("   pulumi "))
            found.append(Step(lines[0], commands))
    return found


def _shorthand(value: str, shape: Any) -> Any:
    """The AWS CLI's shorthand for a structure (`K=V,K=V`) or a list, typed by botocore's shape."""
    if shape.type_name == "structure":
        parsed = dict(part.split("=", 1) for part in value.split(","))
        return {key: _shorthand(item, shape.members[key]) for key, item in parsed.items()}
    if shape.type_name == "list":
        return [_shorthand(value, shape.member)]
    if shape.type_name == "boolean":
        return {"true": True, "false": False}[value]
    return value


def run_aws(aws: MotoAws, account: str, command: str, directory: Path) -> Any:
    words = shlex.split(command)
    assert words[0] == "aws", command
    service, operation, rest = words[1], words[2], words[3:]
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    options.pop("--region", None)  # the walk runs in the stack's region
    values = {key: (Path(value.removeprefix("file://").replace("DIR", str(directory))).read_text()
                    if value.startswith("file://") else value) for key, value in options.items()}
    service = {"s3api": "s3"}.get(service, service)  # the CLI's name for S3's API
    client = aws.client(account, service)
    if (service, operation) == ("cloudformation", "deploy"):
        template = Path(values["--template-file"].replace("DIR", str(directory))).read_text()
        return client.create_stack(StackName=values["--stack-name"], TemplateBody=template,
                                   Capabilities=[values["--capabilities"]])
    model = get_session().get_service_model(service)
    names = {name.replace("_", "-"): name for name in map(_snake, model.operation_names)}
    operation_model = model.operation_model(next(op for op in model.operation_names if _snake(op) == names[operation]
                                                 .replace("-", "_")))
    members = {_snake(name).replace("_", "-"): name for name in operation_model.input_shape.members}
    params = {members[key[2:]]: _shorthand(value, operation_model.input_shape.members[members[key[2:]]])
              for key, value in values.items()}
    return getattr(client, _snake(operation_model.name))(**params)


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


# --- what moto holds, for principalmapper ---------------------------------------------------------------------


def may(principal: Principal, action: str, resource: str, **context: str) -> bool:
    return bool(local_check_authorization_full(principal.node(), action, resource, dict(context)))


def may_assume(caller: str, role: DeployedRole) -> bool:
    """Whether `caller`, holding every permission, may assume `role`: its trust policy decides."""
    admin = Principal.role(caller, {"inline:admin": {"Statement": [{"Effect": "Allow", "Action": "*",
                                                                    "Resource": "*"}]}})
    return bool(local_check_authorization_full(admin.node(), "sts:AssumeRole", role.arn, {}, role.trust_policy,
                                               role.arn.split(":")[4]))


def bounded(role: DeployedRole, boundary_arn: str, boundary: dict[str, Any]) -> Any:
    node = role.principal().node()
    node.permissions_boundary = Policy(boundary_arn, "boundary", boundary)
    return node


def managed_document(aws: MotoAws, account: str, arn: str) -> dict[str, Any]:
    iam = aws.iam(account)
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return document if isinstance(document, dict) else json.loads(document)


@dataclass
class Walk:
    settings: Settings
    rendering: Rendering
    summary: list[Step]
    after: dict[str, dict[str, dict[str, DeployedRole]]]  # step -> account -> role ARN -> role
    boundaries: dict[str, dict[str, Any]]  # boundary ARN -> document, as moto holds it
    bucket_policy: dict[str, Any]
    written: dict[str, Any]  # the files python -m bootstrap wrote, decoded
    naive_up: str  # what moto said to a first `pulumi up` that creates the OIDC provider too


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    directory = tmp_path_factory.mktemp("bootstrap")
    argv = ["--stack", "prod", "--repository", REPOSITORY, "--state-bucket", BUCKET]
    assert bootstrap_main([*argv, "--output-dir", str(directory)]) == 0
    rendering = render("prod")
    settings = rendering.settings
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert bootstrap_main(argv) == 0
    summary = steps(printed.getvalue())
    owner = settings.owner_account_id
    after: dict[str, dict[str, dict[str, DeployedRole]]] = {}
    with moto_aws(settings.region, settings.deploy_role_name) as aws:
        for step in summary:
            secondary = step.title.split(".")[1].strip().startswith("In each secondary account")
            for command in step.commands:
                if command.startswith("pulumi "):
                    continue
                for account in (settings.secondary_account_ids if secondary else (owner,)):
                    run_aws(aws, account, command, directory)
            if any(command.startswith("pulumi up") for command in step.commands):
                # The first `pulumi up`: what the program declares, created in each account by the role it assumes
                # there; a stack that would also create the GitHub OIDC provider fails on the bootstrap's.
                naive = render("prod", overrides=STACK_CREATES_OIDC_PROVIDER)
                try:
                    deploy_iam(aws, naive)
                    naive_up = "created"
                except ClientError as error:
                    naive_up = error.response["Error"]["Code"]
                deploy_iam(aws, rendering)
            after[step.title] = {account: read_roles(aws, account)
                                 for account in (owner, *settings.secondary_account_ids)}
        boundaries = {arn: managed_document(aws, arn.split(":")[4], arn)
                      for arn in (settings.github_roles_boundary_arn,
                                  *map(settings.reader_boundary_arn, settings.secondary_account_ids))}
        bucket_policy = json.loads(aws.client(owner, "s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
        providers = read_oidc_providers(aws, owner)
    assert list(providers) == [settings.github_oidc_provider_arn]
    written = {path.name: json.loads(path.read_text()) for path in directory.iterdir()}
    yield Walk(settings, rendering, summary, after, boundaries, bucket_policy, written, naive_up)


def roles_after(walk: Walk, step_number: int, account: str) -> dict[str, DeployedRole]:
    return walk.after[walk.summary[step_number - 1].title][account]


# --- the order ------------------------------------------------------------------------------------------------


def test_the_summary_gives_the_order_from_an_empty_organization(walk):
    titles = [step.title for step in walk.summary]
    assert [title.split(".")[0] for title in titles] == ["1", "2", "3", "4", "5"]
    assert "GitHub OIDC provider" in titles[0] and "CI roles" in titles[1] and "state bucket" in titles[2]
    assert "each secondary account" in titles[3] and "first deployment" in titles[4]
    assert walk.summary[4].commands == (
        f"pulumi login s3://{BUCKET}", "pulumi stack select prod --create",
        "pulumi preview --policy-pack policies --policy-pack-config policies/policy-config.prod.json",
        "pulumi up --policy-pack policies --policy-pack-config policies/policy-config.prod.json")


def test_a_first_up_that_also_creates_the_oidc_provider_fails_on_the_bootstraps(walk):
    """Why prod sets createGithubOidcProvider: false: the provider comes before the CI roles that trust it."""
    assert walk.naive_up == "EntityAlreadyExists"


# --- step 2: the CI roles, as IAM holds them ----------------------------------------------------------------


def test_the_ci_roles_moto_holds_are_the_bootstraps_documents(walk):
    settings = walk.settings
    owner = settings.owner_account_id
    roles = roles_after(walk, 2, owner)
    preview, deploy = roles[settings.ci_preview_role_arn or ""], roles[settings.ci_deploy_role_arn or ""]
    assert preview.trust_policy == walk.written["ci-preview-trust.json"]
    assert list(preview.policies.values()) == [walk.written["ci-preview-policy.json"]]
    assert deploy.trust_policy == walk.written["ci-deploy-trust.json"]
    # The deploy role's permissions: managed policies, attached.
    attached = {name.removesuffix(".json"): document for name, document in walk.written.items()
                if name.startswith("pypi-registry-ci-deploy-")}
    assert deploy.policies == {f"arn:aws:iam::{owner}:policy/{name}": document for name, document in attached.items()}
    assert deploy.policies


def test_ci_deploy_creates_the_owner_roles_only_inside_their_boundary(walk):
    settings = walk.settings
    ci_deploy = roles_after(walk, 2, settings.owner_account_id)[settings.ci_deploy_role_arn or ""].principal()
    publisher = settings.publisher_role_arn(settings.publishers[0])
    boundary = settings.github_roles_boundary_arn
    assert may(ci_deploy, "iam:CreateRole", publisher, **{"iam:PermissionsBoundary": boundary})
    assert may(ci_deploy, "codeartifact:CreateDomain", settings.domain_arn)
    assert may(ci_deploy, "kms:CreateKey", "*")
    assert not may(ci_deploy, "iam:CreateRole", publisher)
    assert not may(ci_deploy, "iam:CreateUser", f"arn:aws:iam::{settings.owner_account_id}:user/x")
    assert not may(ci_deploy, "iam:PutRolePolicy", settings.ci_deploy_role_arn or "")


# --- step 4: the secondary roles; step 5: the operator's first pulumi up ---------------------------------------


@pytest.mark.parametrize(("caller", "may_preview", "may_deploy"), [
    ("operator", True, True), ("ci-deploy", True, True), ("ci-preview", True, False), ("owner-admin", False, False),
])
def test_who_may_assume_the_secondary_roles_moto_created(walk, caller, may_preview, may_deploy):
    settings = walk.settings
    arn = {"operator": OPERATOR_ROLE, "ci-deploy": settings.ci_deploy_role_arn,
           "ci-preview": settings.ci_preview_role_arn,
           "owner-admin": f"arn:aws:iam::{settings.owner_account_id}:role/Admin"}[caller]
    assert arn is not None
    for account in settings.secondary_account_ids:
        roles = roles_after(walk, 4, account)
        assert may_assume(arn, roles[settings.preview_role_arn(account)]) is may_preview
        assert may_assume(arn, roles[settings.deploy_role_arn(account)]) is may_deploy


def test_the_secondary_deploy_role_creates_the_reader_and_nothing_else(walk):
    settings = walk.settings
    for account in settings.secondary_account_ids:
        deploy = roles_after(walk, 4, account)[settings.deploy_role_arn(account)].principal()
        reader = settings.reader_role_arn(account)
        policy = f"arn:aws:iam::{account}:policy/{settings.reader_role_name}-{settings.domain_name}"
        boundary = settings.reader_boundary_arn(account)
        assert may(deploy, "iam:CreateRole", reader, **{"iam:PermissionsBoundary": boundary})
        assert may(deploy, "iam:CreatePolicy", policy)
        assert may(deploy, "iam:AttachRolePolicy", reader, **{"iam:PolicyARN": policy})
        assert not may(deploy, "iam:CreateRole", reader)
        assert not may(deploy, "iam:AttachRolePolicy", reader,
                       **{"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"})
        assert not may(deploy, "iam:CreateRole", f"arn:aws:iam::{account}:role/other",
                       **{"iam:PermissionsBoundary": settings.reader_boundary_arn(account)})


def test_the_first_up_created_every_role_the_program_declares(walk):
    settings = walk.settings
    owner_roles = roles_after(walk, 5, settings.owner_account_id)
    assert {settings.publisher_role_arn(p) for p in settings.publishers} <= set(owner_roles)
    for account in settings.secondary_account_ids:
        assert settings.reader_role_arn(account) in roles_after(walk, 5, account)


# --- after: the first publish and the first install ------------------------------------------------------------


def test_a_publisher_publishes_its_own_packages_inside_its_boundary(walk):
    settings = walk.settings
    publisher = settings.publishers[0]
    role = roles_after(walk, 5, settings.owner_account_id)[settings.publisher_role_arn(publisher)]
    claims = {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": publisher.subjects[0]}
    assert web_identity_may_assume(role.trust_policy, settings.github_oidc_provider_arn, claims, role.arn)
    node = bounded(role, settings.github_roles_boundary_arn, walk.boundaries[settings.github_roles_boundary_arn])
    own = settings.package_arn(settings.internal_repository, publisher.packages[0])
    assert local_check_authorization_full(node, "codeartifact:PublishPackageVersion", own, {})
    assert not local_check_authorization_full(node, "codeartifact:PublishPackageVersion",
                                              settings.package_arn(settings.internal_repository, "acme-other"), {})


def test_a_reader_in_each_secondary_account_reads_inside_its_boundary(walk):
    settings = walk.settings
    for account in settings.secondary_account_ids:
        role = roles_after(walk, 5, account)[settings.reader_role_arn(account)]
        boundary = settings.reader_boundary_arn(account)
        node = bounded(role, boundary, walk.boundaries[boundary])
        internal = settings.repository_arn(settings.internal_repository)
        assert local_check_authorization_full(node, "codeartifact:ReadFromRepository", internal, {})
        assert not local_check_authorization_full(node, "codeartifact:PublishPackageVersion",
                                                  settings.package_arn(settings.internal_repository, "acme-x"), {})


def test_the_state_bucket_holds_the_bootstraps_policy(walk):
    assert walk.bucket_policy == walk.written["state-bucket-policy.json"]
