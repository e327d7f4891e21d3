"""What the access diff's tests share: the prod rendering with one document changed as each scenario
says, the diff from prod to it (`scenario`), assertions on both engines, and `git` and `audit` to run
the command in a copy of this repository (its fixture, `repository`, is in conftest.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

from audit import diff
from audit.render import Rendering, render
from tests.expected import INTERNAL_PACKAGES, OWNER

ROOT = Path(__file__).resolve().parents[2]
NEW_ACCOUNT = "222233334444"
STRANGER = "999988887777"
PUBLISHER = f"arn:aws:iam::{OWNER}:role/gh-publish-acme-acme-core"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"


def changed(rendering: Rendering, name: str, key: str, change: Callable[[dict], object],
            dump: Callable[[dict], str] = json.dumps) -> Rendering:
    """The rendering with one resource's JSON policy input changed (the shared one is left alone)."""
    resources = []
    for resource in rendering.resources:
        if resource.name == name:
            document = json.loads(resource.inputs[key])
            change(document)
            resource = dataclasses.replace(resource, inputs={**resource.inputs, key: dump(document)})
        resources.append(resource)
    assert resources != rendering.resources or name == "", f"no resource {name}"
    return dataclasses.replace(rendering, resources=resources)


def statement(document: dict, sid: str) -> dict:
    (found,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return found


def add_publish_to_secondaries(document: dict) -> None:
    statement(document, "SecondaryAccountsRead")["Action"].append("codeartifact:PublishPackageVersion")


def widen_publisher_resource(document: dict) -> None:
    statement(document, "PublishOwnPackages")["Resource"] = f"{INTERNAL_PACKAGES}/pypi//*"


def drop_subject(document: dict) -> None:
    for s in document["Statement"]:
        s["Condition"]["StringEquals"].pop(SUB)


def add_subject(document: dict) -> None:
    for s in document["Statement"]:
        s["Condition"]["StringEquals"][SUB] = [s["Condition"]["StringEquals"][SUB],
                                               "repo:acme/other:environment:pypi"]


def drop_deletes_deny(document: dict) -> None:
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "DenyIrreversibleDeletes"]


def reverse_statements(document: dict) -> None:
    document["Statement"].reverse()


def add_stranger(document: dict) -> None:
    statement(document, "SecondaryAccountsRead")["Principal"]["AWS"].append(f"arn:aws:iam::{STRANGER}:root")


def drop_organization(document: dict) -> None:
    for s in document["Statement"]:
        s.pop("Condition", None) if s["Effect"] == "Allow" else None


READER_444 = "reader-444455556666-reader-role"
GITHUB = f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"
WORKFLOW_REF = "token.actions.githubusercontent.com:job_workflow_ref"
ORGANIZATION = "o-abcdef1234"


def subject_like(document: dict) -> None:
    for s in document["Statement"]:
        s["Condition"]["StringLike"] = {SUB: "repo:acme/acme-core:*"}
        s["Condition"]["StringEquals"].pop(SUB)


def trust_organization(document: dict) -> None:
    document["Statement"][0]["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}}


def pin_workflow(document: dict) -> None:
    document["Statement"][0]["Condition"]["StringEquals"][WORKFLOW_REF] = \
        "acme/workflows/.github/workflows/publish.yml@refs/heads/main"


def any_workflow_ref(document: dict) -> None:
    conditions = document["Statement"][0]["Condition"]
    conditions["StringLike"] = {WORKFLOW_REF: "acme/workflows/.github/workflows/publish.yml@*"}
    conditions["StringEquals"].pop(WORKFLOW_REF)


def drop_immutable_subject(document: dict) -> None:
    conditions = document["Statement"][0]["Condition"]["StringEquals"]
    conditions[SUB] = [s for s in conditions[SUB] if "@" not in s]


def deny_pull_requests(document: dict) -> None:
    document["Statement"].append({"Sid": "NoPullRequests", "Effect": "Deny", "Principal": {"Federated": GITHUB},
                                  "Action": "sts:AssumeRoleWithWebIdentity",
                                  "Condition": {"StringLike": {SUB: "repo:*:pull_request"}}})


def deny_every_token(document: dict) -> None:
    statement(document, "NoPullRequests").pop("Condition")


def deny_deletes_to_all_but_the_owner(document: dict) -> None:
    deny = statement(document, "DenyIrreversibleDeletes")
    del deny["Principal"]
    deny["NotPrincipal"] = {"AWS": f"arn:aws:iam::{OWNER}:root"}


def trust_all_but_the_account(document: dict) -> None:
    document["Statement"][0]["NotPrincipal"] = document["Statement"][0].pop("Principal")


def deny_every(document: dict, pattern: str) -> None:
    document["Statement"].append({"Sid": "DenyEveryDelete", "Effect": "Deny", "Principal": "*", "Action": pattern,
                                  "Resource": "*"})


def with_repository(rendering: Rendering, name: str) -> Rendering:
    """The rendering with one more repository, a copy of `internal` without upstreams whose policy
    also lets the secondary accounts publish: every check on it is one the base never made."""
    added = []
    for resource in rendering.resources:
        if resource.name not in ("registry-internal", "registry-internal-policy"):
            continue
        inputs = {k: v for k, v in resource.inputs.items() if k != "upstreams"}
        outputs = {k: v for k, v in resource.outputs.items() if k != "upstreams"}
        inputs["repository"] = outputs["repository"] = name
        if "arn" in outputs:
            outputs["arn"] = outputs["arn"].replace("/internal", f"/{name}")
        if "policyDocument" in inputs:
            policy = json.loads(inputs["policyDocument"])
            read = statement(policy, "SecondaryAccountsRead")
            read["Resource"] = [r.replace("/internal", f"/{name}") for r in read["Resource"]]
            read["Action"].append("codeartifact:PublishPackageVersion")
            inputs["policyDocument"] = outputs["policyDocument"] = json.dumps(policy)
        renamed = resource.name.replace("internal", name)
        added.append(dataclasses.replace(resource, urn=resource.urn.replace(resource.name, renamed), name=renamed,
                                         inputs=inputs, outputs=outputs))
    assert len(added) == 2
    return dataclasses.replace(rendering, resources=[*rendering.resources, *added])


READ_ONLY_MANAGED = "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess"
UNRESOLVED_POLICIES = {
    "undeclared policy": f"arn:aws:iam::{OWNER}:policy/undeclared",
    "unknown AWS-managed policy": "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccessV2",
    "policy of another account": "arn:aws:iam::012345678901:policy/codeartifact-pypi-reader-acme",
}


def attached(rendering: Rendering, policy_arn: str) -> Rendering:
    """The rendering with `policy_arn` attached to the acme-core publisher (an attachment like a reader's)."""
    (template,) = [r for r in rendering.resources if r.name == "reader-444455556666-read-policy-attachment"]
    name = "publishers-acme-acme-core-extra"
    arguments = {"policyArn": policy_arn, "role": PUBLISHER.rsplit("/", 1)[1]}
    extra = dataclasses.replace(template, urn=template.urn.replace(template.name, name), name=name, account=OWNER,
                                inputs=arguments, outputs=dict(arguments))
    return dataclasses.replace(rendering, resources=[*rendering.resources, extra])


@cache
def base(mode: str = "explicit") -> dict:
    overrides = {"pypi-registry:organizationId": "o-abcdef1234"} if mode == "organization" else None
    return diff.rendering_json(render("prod", overrides=overrides))


@cache
def scenario(name: str) -> diff.DiffReport:
    """The diff from the prod stack (or the stack `name` starts from) to the stack changed as `name` says."""
    prod = render("prod")
    mode = "explicit"
    old: Rendering | None = None  # the prod stack unless the scenario starts elsewhere
    if name == "new action":
        new = changed(prod, "registry-internal-policy", "policyDocument", add_publish_to_secondaries)
    elif name == "wider resource":
        new = changed(prod, "publishers-acme-acme-core-publish", "policy", widen_publisher_resource)
    elif name == "dropped condition":
        new = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", drop_subject)
    elif name == "dropped condition (organization)":
        mode = "organization"
        organization = render("prod", overrides={"pypi-registry:organizationId": "o-abcdef1234"})
        new = changed(organization, "registry-domain-policy", "policyDocument", drop_organization)
    elif name == "dropped deny":
        new = changed(prod, "registry-domain-policy", "policyDocument", drop_deletes_deny)
    elif name == "new principal":
        accounts = ["012345678901", "444455556666", "777788889999", NEW_ACCOUNT]
        new = render("prod", overrides={"pypi-registry:secondaryAccountIds": accounts})
    elif name == "new principal (trust)":
        new = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", add_subject)
    elif name == "reordered statements":
        new = changed(prod, "registry-domain-policy", "policyDocument", reverse_statements)
        new = changed(new, "registry-key", "policy", reverse_statements)
    elif name == "reformatted JSON":
        new = changed(prod, "registry-internal-policy", "policyDocument", lambda d: d,
                      dump=lambda d: json.dumps(dict(reversed(d.items())), indent=4))
    elif name == "principal added by hand":
        new = changed(prod, "registry-internal-policy", "policyDocument", add_stranger)
    elif name == "package added to a publisher":
        publishers = [{"repository": "acme/acme-core", "packages": ["acme-core", "acme-core-testing", "acme-extra"]},
                      {"repository": "acme/data-tools", "packages": ["acme-data-tools"],
                       "subjects": ["repo:acme/data-tools:environment:pypi",
                                    "repo:acme@1342004/data-tools@86712231:environment:pypi"]}]
        new = render("prod", overrides={"pypi-registry:publishers": publishers})
    elif name == "subject loosened to a pattern":
        new = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", subject_like)
    elif name == "organization dropped from a trust":
        old = changed(prod, READER_444, "assumeRolePolicy", trust_organization)
        new = prod
    elif name == "organization added to a trust":
        new = changed(prod, READER_444, "assumeRolePolicy", trust_organization)
    elif name == "third claim loosened":
        old = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", pin_workflow)
        new = changed(old, "publishers-acme-acme-core", "assumeRolePolicy", any_workflow_ref)
    elif name == "subject removed":
        new = changed(prod, "publishers-acme-data-tools", "assumeRolePolicy", drop_immutable_subject)
    elif name == "trust deny dropped":
        old = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", deny_pull_requests)
        new = prod
    elif name == "trust deny widened":
        old = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", deny_pull_requests)
        new = changed(old, "publishers-acme-acme-core", "assumeRolePolicy", deny_every_token)
    elif name == "new repository":
        new = with_repository(prod, "staging")
    elif name == "NotPrincipal (resource)":
        new = changed(prod, "registry-domain-policy", "policyDocument", deny_deletes_to_all_but_the_owner)
    elif name == "NotPrincipal (trust)":
        new = changed(prod, READER_444, "assumeRolePolicy", trust_all_but_the_account)
    elif name.startswith("Deny of ") and name.endswith(" dropped"):
        pattern = name.removeprefix("Deny of ").removesuffix(" dropped")
        old = changed(prod, "registry-domain-policy", "policyDocument", lambda d: deny_every(d, pattern))
        new = prod
    elif name.startswith("attached "):
        old = attached(prod, READ_ONLY_MANAGED)
        new = attached(prod, UNRESOLVED_POLICIES[name.removeprefix("attached ")])
    else:
        raise AssertionError(name)
    before = base(mode) if old is None else diff.rendering_json(old)
    return diff.compare_renderings(before, diff.rendering_json(new), base_ref="base", base_commit="0" * 40)


def document(report: diff.DiffReport, name: str) -> diff.DocumentChange:
    (found,) = [d for d in report.documents if d.policy.name == name]
    return found


def gained(report: diff.DiffReport, label: str) -> list[str]:
    (change,) = [c for c in report.access.principals if c.label == label]
    return diff.group_lines(change.gained, "+")


WIDENING_KINDS = ["new action", "wider resource", "dropped condition", "dropped condition (organization)",
                  "dropped deny", "new principal", "new principal (trust)"]


def flagged_by_both(report: diff.DiffReport) -> None:
    """Both engines see access gained, agree, and the diff fails on widening of its own."""
    assert report.access.grants_more and report.access.widening, report.text()
    assert any(d.widening for d in report.documents), report.text()
    assert report.agree and report.exit_status == diff.EXIT_FAILED, report.text()


def quiet(report: diff.DiffReport) -> None:
    """Neither engine sees anything gained, so the diff passes."""
    assert not report.access.grants_more and not report.z3_grants_more, report.text()
    assert report.agree and not report.widening and report.exit_status == diff.EXIT_CLEAN, report.text()


def git(root: Path, *args: str) -> str:
    environment = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                   "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                          env=environment).stdout


def audit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", "--stack", "prod", *args], cwd=root, capture_output=True,
                          text=True, check=False, timeout=300)
