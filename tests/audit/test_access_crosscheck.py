"""A second evaluator under the access proof: every request principalmapper decides for the report
is asked again of @cloud-copilot/iam-simulate (tests/iam_simulate/, Node), and both must agree.

The requests are the report's own decisions (`DecisionGroups`, expanded to one row per principal and
check), each with the documents principalmapper was given: the principal's identity policies as the
program sends them, the resource policy of the resource (domain and repository policy together, or
the key policy) and its owner, and the condition keys. principalmapper infers the principal's keys
itself; iam-simulate infers none, so each request carries them. The documents are gathered by
audit.access and audit.grants as for principalmapper, so this checks the evaluation, not the
gathering (the moto-backed tests check that). The hand-made requests below have
answers known from AWS's documentation, and both engines must give them; the comparison is shown to
report a flipped decision and a request iam-simulate cannot read, naming the request.

`make crosscheck` installs the Node project (`npm ci`) and runs this module with
IAM_SIMULATE_REQUIRED=1, so that a missing Node fails instead of skipping (.ci/run does).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from audit.access import (
    ORGANIZATION_KEY,
    AccessEvaluator,
    Check,
    Principal,
    Registry,
    access_report,
    expand_decisions,
)
from audit.render import Rendering, render
from tests.expected import BREAK_GLASS, OWNER, REGION, SECONDARIES
from tests.stacks import orgscale

pytestmark = pytest.mark.iam_simulate

NODE_PROJECT = Path(__file__).parents[1] / "iam_simulate"
REQUIRED = "IAM_SIMULATE_REQUIRED"
ALLOWED = "Allowed"
DECISIONS = frozenset({ALLOWED, "ExplicitlyDenied", "ImplicitlyDenied"})

Document = dict[str, Any]


# --- the requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One (principal, action, resource, context) request with every document that decides it."""

    principal: Principal
    check: Check
    resource_policy: Document | None

    @classmethod
    def against(cls, registry: Registry, principal: Principal, check: Check) -> Request:
        policy = registry.resource_policy(check.resource) if check.resource.startswith("arn:") else None
        return cls(principal, check, policy if policy and policy.get("Statement") else None)

    @property
    def resource_account(self) -> str:
        """The resource's owner; a request on "*" (sts:GetServiceBearerToken) stays in the caller's account."""
        resource = self.check.resource
        return resource.split(":")[4] if resource.startswith("arn:") else self.principal.account

    def context(self) -> dict[str, str]:
        """The check's keys, and the keys principalmapper infers from the principal
        (query_interface._infer_condition_keys) or the evaluator adds (aws:PrincipalOrgID)."""
        now = dt.datetime.now(dt.timezone.utc)
        context = {
            "aws:PrincipalArn": self.principal.arn,
            "aws:PrincipalAccount": self.principal.account,
            "aws:userid": self.principal.unique_id,
            "aws:SecureTransport": "true",
            "aws:CurrentTime": now.isoformat(),
            "aws:EpochTime": str(round(now.timestamp())),
        }
        if self.principal.org_id:
            context[ORGANIZATION_KEY] = self.principal.org_id
        return {**context, **dict(self.check.context)}

    def as_json(self) -> Document:
        return {
            "principal": self.principal.arn,
            "identityPolicies": [{"name": source, "policy": json.loads(document)}
                                 for source, document in self.principal.policies],
            "resourcePolicy": self.resource_policy,
            "resourceAccount": self.resource_account,
            "action": self.check.action,
            "resource": self.check.resource,
            "context": self.context(),
        }

    def label(self) -> str:
        context = "".join(f" {key}={value}" for key, value in self.check.context)
        return f"{self.principal.arn} {self.check.action} on {self.check.resource}{context}"


def report_requests(rendering: Rendering) -> list[tuple[Request, bool]]:
    """Every request the access report decided, with principalmapper's decision as the report holds it."""
    report = access_report(rendering)
    registry = report.plan.registry
    subjects = {}
    for subject, _ in report.rows:
        assert subject.principal.arn not in subjects, f"two rows share {subject.principal.arn}: the join is unsafe"
        subjects[subject.principal.arn] = subject
    checks: dict[str, dict[tuple[str, str], Check]] = {
        arn: {(c.action, c.resource): c for c in report.plan.checks(subject.own_packages)}
        for arn, subject in subjects.items()
    }
    rows = expand_decisions(report.decisions.as_json())
    # Every check of every principal, once: the expansion is the whole of what was decided.
    assert len(rows) == sum(len(by_key) for by_key in checks.values())
    assert len({(r["principal"], r["action"], r["resource"]) for r in rows}) == len(rows)
    return [(Request.against(registry, subjects[row["principal"]].principal,
                             checks[row["principal"]][(row["action"], row["resource"])]), row["allowed"])
            for row in rows]


# --- iam-simulate --------------------------------------------------------------------------------


def missing_node() -> str | None:
    """Why iam-simulate cannot run here, or None: Node as package.json asks, and node_modules as locked."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    wanted = re.fullmatch(r">=(\d+)", json.loads((NODE_PROJECT / "package.json").read_text())["engines"]["node"])
    assert wanted, "package.json engines.node must read >=MAJOR"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < int(wanted[1]):
        return f"node {version} is older than {wanted[0]}"
    return install_problem(NODE_PROJECT)


def install_problem(project: Path) -> str | None:
    """Whether node_modules holds every package of the lock at the lock's version (npm ci makes it so)."""
    lock = json.loads((project / "package-lock.json").read_text())
    for path, entry in lock["packages"].items():
        if not path:
            continue  # the project itself
        manifest = project / path / "package.json"
        if not manifest.exists():
            return f"{path} is not installed (npm ci --prefix tests/iam_simulate, or make crosscheck)"
        installed = json.loads(manifest.read_text())["version"]
        if installed != entry["version"]:
            return f"{path} is {installed}, the lock says {entry['version']} (npm ci --prefix tests/iam_simulate)"
    return None


@pytest.fixture(scope="module")
def simulator() -> Iterator[None]:
    reason = missing_node()
    if reason:
        if os.environ.get(REQUIRED) == "1":
            pytest.fail(f"the iam-simulate cross-check must run here ({REQUIRED}=1) but: {reason}")
        pytest.skip(f"iam-simulate cross-check not run: {reason}")
    yield


def simulate(requests: Sequence[Request]) -> list[Document]:
    """iam-simulate's answer to each request, in order."""
    return simulate_json([request.as_json() for request in requests])


def simulate_json(requests: Sequence[Document]) -> list[Document]:
    payload = json.dumps(requests)
    result = subprocess.run(["node", str(NODE_PROJECT / "evaluate.mjs")], input=payload, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, f"evaluate.mjs failed: {result.stderr}"
    answers = json.loads(result.stdout)
    assert len(answers) == len(requests)
    return answers


def disagreements(requests: Sequence[Request], principalmapper: Sequence[bool],
                  answers: Sequence[Document]) -> list[str]:
    """A line per request the engines do not decide alike, or that iam-simulate could not decide
    as asked (an error, an unknown decision, a condition key it dropped): none may pass unseen."""
    found = []
    for request, allowed, answer in zip(requests, principalmapper, answers, strict=True):
        if "error" in answer:
            found.append(f"{request.label()}: iam-simulate cannot decide it: {json.dumps(answer['error'])}")
        elif answer.get("decision") not in DECISIONS:
            found.append(f"{request.label()}: iam-simulate answered {answer!r}")
        elif answer["ignoredContextKeys"]:
            found.append(f"{request.label()}: iam-simulate ignored the condition keys {answer['ignoredContextKeys']}")
        elif (answer["decision"] == ALLOWED) != allowed:
            said = "allowed" if allowed else "denied"
            found.append(f"{request.label()}: principalmapper {said} it, iam-simulate {answer['decision']}")
    return found


@dataclass(frozen=True)
class Comparison:
    requests: list[Request]
    principalmapper: list[bool]
    answers: list[Document]

    def summary(self, name: str) -> str:
        validated = sum(bool(a.get("validated")) for a in self.answers)
        decisions = Counter(a.get("decision") for a in self.answers)
        return (f"iam-simulate cross-check, {name}: {len(self.requests)} requests compared "
                f"({validated} validated for the action's resource type, {len(self.requests) - validated} "
                f"by the policy language alone; {dict(sorted(decisions.items()))}), "
                f"{len(disagreements(self.requests, self.principalmapper, self.answers))} disagreements")


def compare(rendering: Rendering) -> Comparison:
    pairs = report_requests(rendering)
    requests = [request for request, _ in pairs]
    return Comparison(requests, [allowed for _, allowed in pairs], simulate(requests))


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Shown in the test output, so that the number compared is on record in every run."""
    with capsys.disabled():
        print(f"\n{line}")


# --- both engines agree on every request the report decides ---------------------------------------


@pytest.fixture(scope="module")
def prod_comparison(prod: Rendering, simulator: None) -> Comparison:
    return compare(prod)


def test_prod_every_request_of_the_report_is_decided_alike(prod_comparison, capsys):
    report(capsys, prod_comparison.summary("prod"))
    comparison = prod_comparison
    assert disagreements(comparison.requests, comparison.principalmapper, comparison.answers) == []
    # Not vacuous: allows, explicit Denies and implicit denies, with validation and without.
    assert Counter(a["decision"] for a in comparison.answers).keys() == DECISIONS
    assert {a["validated"] for a in comparison.answers} == {True, False}
    principals = {r.principal.arn for r in comparison.requests}
    assert len(principals) == 12 and len(comparison.requests) > 5000


@pytest.mark.parametrize("name", ["prod in organization mode with a break-glass role and a GitHub reader",
                                  "orgscale (StackSet readers)"])
def test_other_stacks_every_request_is_decided_alike(name, simulator, capsys):
    if name.startswith("prod"):
        rendering = render("prod", overrides={
            "pypi-registry:organizationId": "o-a1b2c3d4e5",
            "pypi-registry:breakGlassRoleArn": BREAK_GLASS,
            "pypi-registry:githubReaders": [{"repository": "partner/app"}],
        })
    else:
        rendering = orgscale()
    comparison = compare(rendering)
    report(capsys, comparison.summary(name))
    assert disagreements(comparison.requests, comparison.principalmapper, comparison.answers) == []
    # aws:PrincipalOrgID is in play: some principal carries it.
    assert any(ORGANIZATION_KEY in r.context() for r in comparison.requests)


# --- the comparison can fail ----------------------------------------------------------------------


def test_a_flipped_decision_is_reported_naming_the_request(prod_comparison):
    comparison = prod_comparison
    index = next(i for i, r in enumerate(comparison.requests) if r.check.action == "codeartifact:DeleteDomain")
    flipped = list(comparison.principalmapper)
    flipped[index] = not flipped[index]
    found = disagreements(comparison.requests, flipped, comparison.answers)
    request = comparison.requests[index]
    assert found == [f"{request.label()}: principalmapper {'allowed' if flipped[index] else 'denied'} it, "
                     f"iam-simulate {comparison.answers[index]['decision']}"]
    assert request.principal.arn in found[0] and "DeleteDomain" in found[0]


@pytest.mark.parametrize("validated", [True, False], ids=["validated", "by the policy language alone"])
def test_a_request_iam_simulate_cannot_read_is_reported(prod_comparison, validated):
    """A policy iam-simulate cannot read fails the request, whichever way the request is decided;
    the second request of a pair takes evaluate.mjs's shortcut for actions not on the resource."""
    comparison = prod_comparison
    index = next(i for i, a in enumerate(comparison.answers) if a["validated"] is validated)
    request = comparison.requests[index]
    broken = replace(request, principal=Principal.role(request.principal.arn, {"inline:broken": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}}))
    answers = simulate([request, broken])
    assert answers[0] == comparison.answers[index]
    (found,) = disagreements([request, broken], [comparison.principalmapper[index], False], answers)
    assert found.startswith(f"{broken.label()}: iam-simulate cannot decide it")
    assert "Permit" in found or "Effect" in found


def test_answers_iam_simulate_could_not_give_as_asked_are_reported(prod_comparison):
    request = prod_comparison.requests[0]
    for answer, said in [({"decision": "Maybe", "validated": True, "ignoredContextKeys": []}, "answered"),
                         ({"decision": ALLOWED, "validated": True, "ignoredContextKeys": ["aws:userid"]}, "ignored")]:
        (found,) = disagreements([request], [True], [answer])
        assert found.startswith(request.label()) and said in found


def test_an_install_that_is_not_the_lock_is_refused(tmp_path):
    lock = json.loads((NODE_PROJECT / "package-lock.json").read_text())
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    packages = {path: entry["version"] for path, entry in lock["packages"].items() if path}
    assert "node_modules/@cloud-copilot/iam-simulate" in packages
    problem = install_problem(tmp_path)
    assert problem and "is not installed" in problem
    for path, version in packages.items():
        (tmp_path / path).mkdir(parents=True)
        (tmp_path / path / "package.json").write_text(json.dumps({"version": version}))
    assert install_problem(tmp_path) is None
    stale = tmp_path / "node_modules/@cloud-copilot/iam-simulate/package.json"
    stale.write_text(json.dumps({"version": "0.0.1"}))
    assert install_problem(tmp_path) == (f"node_modules/@cloud-copilot/iam-simulate is 0.0.1, the lock says "
                                         f"{packages['node_modules/@cloud-copilot/iam-simulate']} "
                                         "(npm ci --prefix tests/iam_simulate)")


def lock_problems(manifest: Document, lock: Document) -> list[str]:
    """What keeps package.json and package-lock.json from being one exact, hashed, script-free install."""
    problems = []
    direct = manifest.get("dependencies", {})
    if "@cloud-copilot/iam-simulate" not in direct:
        problems.append("package.json does not depend on @cloud-copilot/iam-simulate")
    packages = lock.get("packages", {})
    if packages.get("", {}).get("dependencies") != direct:
        problems.append("package-lock.json is not package.json's lock")
    for name, version in direct.items():
        if not re.fullmatch(r"\d+\.\d+\.\d+", version):
            problems.append(f"{name}: {version} is not one exact version")
        elif packages.get(f"node_modules/{name}", {}).get("version") != version:
            problems.append(f"{name}: the lock does not hold {version}")
    for path, entry in packages.items():
        if not path:
            continue
        if not re.fullmatch(r"sha512-[A-Za-z0-9+/]+=*", entry.get("integrity", "")):
            problems.append(f"{path}: no sha512 integrity hash")
        if entry.get("hasInstallScript"):
            problems.append(f"{path}: runs a script at install")
    return problems


def test_the_node_project_pins_exact_versions_each_with_an_integrity_hash():
    manifest = json.loads((NODE_PROJECT / "package.json").read_text())
    lock = json.loads((NODE_PROJECT / "package-lock.json").read_text())
    assert lock_problems(manifest, lock) == []
    simulate_entry = "node_modules/@cloud-copilot/iam-simulate"
    ranged = {**manifest, "dependencies": {**manifest["dependencies"], "@cloud-copilot/iam-simulate": "^0.1.173"}}
    assert "@cloud-copilot/iam-simulate: ^0.1.173 is not one exact version" in lock_problems(
        ranged, {**lock, "packages": {**lock["packages"], "": {**lock["packages"][""],
                                                                "dependencies": ranged["dependencies"]}}})
    assert lock_problems(ranged, lock) == ["package-lock.json is not package.json's lock",
                                           "@cloud-copilot/iam-simulate: ^0.1.173 is not one exact version"]
    unhashed = {k: {key: v for key, v in e.items() if key != "integrity"} if k == simulate_entry else e
                for k, e in lock["packages"].items()}
    assert lock_problems(manifest, {**lock, "packages": unhashed}) == [f"{simulate_entry}: no sha512 integrity hash"]
    scripted = {**lock["packages"], simulate_entry: {**lock["packages"][simulate_entry], "hasInstallScript": True}}
    assert lock_problems(manifest, {**lock, "packages": scripted}) == [f"{simulate_entry}: runs a script at install"]


def test_the_makefile_installs_the_node_project_only_from_its_lock():
    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    npm = [line[match.start():].split() for line in makefile.splitlines() if not line.startswith("#")
           for match in re.finditer(r"\bnpm\s+[a-z]", line)]
    assert npm, "the Makefile does not install tests/iam_simulate"
    for argv in npm:
        assert argv[:2] == ["npm", "ci"] and "--ignore-scripts" in argv, argv
    (recipe,) = re.findall(r"^crosscheck: .*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert f"{REQUIRED}=1" in recipe and "tests/audit/test_access_crosscheck.py" in recipe
    assert "make crosscheck" in (Path(__file__).parents[2] / ".ci" / "run").read_text().splitlines()


# --- requests whose answer is known ------------------------------------------------------------------

OTHER = SECONDARIES[1]
ORG = "o-a1b2c3d4e5"
DOMAIN = f"arn:aws:codeartifact:{REGION}:{OWNER}:domain/known"
REPOSITORY = f"arn:aws:codeartifact:{REGION}:{OWNER}:repository/known/internal"
READ = "codeartifact:ReadFromRepository"
DELETE_DOMAIN = "codeartifact:DeleteDomain"
DESCRIBE_DOMAIN = "codeartifact:DescribeDomain"


def policy(*statements: Document) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], **extra: Any) -> Document:
    return {"Effect": "Allow", "Action": action, "Resource": "*", **extra}


def role(account: str, identity: Document | None, org_id: str | None = None) -> Principal:
    documents = {"inline:known": identity} if identity else {}
    return Principal.role(f"arn:aws:iam::{account}:role/known", documents, org_id)


def registry(domain_policy: Document) -> Registry:
    return Registry(domain_arn=DOMAIN, repository_arns={"internal": REPOSITORY}, domain_policy=domain_policy,
                    repository_policies={})


EVERYTHING = policy(allow("*"))
DENY_DELETE = {"Effect": "Deny", "Principal": "*", "Action": DELETE_DOMAIN, "Resource": "*"}
READ_FOR_OTHER = {**allow(READ), "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}}
READ_IN_ORG = {**allow(READ), "Principal": "*", "Condition": {"StringEquals": {ORGANIZATION_KEY: ORG}}}

# (what it shows, resource policy, principal, action, resource, allowed)
KNOWN = [
    ("same account: the identity policy alone allows", policy(), role(OWNER, EVERYTHING),
     DELETE_DOMAIN, DOMAIN, True),
    ("an explicit Deny in the resource policy beats the Allow", policy(DENY_DELETE), role(OWNER, EVERYTHING),
     DELETE_DOMAIN, DOMAIN, False),
    ("an explicit Deny in the identity policy beats the resource policy's Allow",
     policy({**allow(READ), "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}}),
     role(OWNER, policy(allow(READ), {"Effect": "Deny", "Action": READ, "Resource": "*"})), READ, REPOSITORY, False),
    ("cross-account: the identity policy alone is not enough", policy(), role(OTHER, EVERYTHING),
     READ, REPOSITORY, False),
    ("cross-account: the resource policy alone is not enough", policy(READ_FOR_OTHER), role(OTHER, None),
     READ, REPOSITORY, False),
    ("cross-account: both sides allow", policy(READ_FOR_OTHER), role(OTHER, policy(allow(READ))),
     READ, REPOSITORY, True),
    ("NotAction allows what it does not name", policy(), role(OWNER, policy(
        {"Effect": "Allow", "NotAction": "codeartifact:Delete*", "Resource": "*"})), DESCRIBE_DOMAIN, DOMAIN, True),
    ("NotAction leaves out what it names", policy(), role(OWNER, policy(
        {"Effect": "Allow", "NotAction": "codeartifact:Delete*", "Resource": "*"})), DELETE_DOMAIN, DOMAIN, False),
    ("aws:PrincipalOrgID: a member of the organization", policy(READ_IN_ORG), role(OTHER, EVERYTHING, ORG),
     READ, REPOSITORY, True),
    ("aws:PrincipalOrgID: another organization", policy(READ_IN_ORG), role(OTHER, EVERYTHING, "o-zzzzzzzzzz"),
     READ, REPOSITORY, False),
    ("aws:PrincipalOrgID: no organization", policy(READ_IN_ORG), role(OTHER, EVERYTHING), READ, REPOSITORY, False),
]


@pytest.fixture(scope="module")
def known_answers(simulator: None) -> list[tuple[str, bool, bool, Document]]:
    """(what it shows, the known answer, principalmapper's, iam-simulate's) for each known request."""
    requests, principalmapper = [], []
    for _, domain_policy, principal, action, resource, _ in KNOWN:
        known = registry(domain_policy)
        requests.append(Request.against(known, principal, Check(action, resource)))
        principalmapper.append(AccessEvaluator(known).allowed(principal, action, resource))
    answers = simulate(requests)
    return [(case[0], case[-1], mapped, answer)
            for case, mapped, answer in zip(KNOWN, principalmapper, answers, strict=True)]


@pytest.mark.parametrize("index", range(len(KNOWN)), ids=[case[0] for case in KNOWN])
def test_known_answers_both_engines(known_answers, index):
    shows, expected, principalmapper, answer = known_answers[index]
    assert principalmapper == expected, f"principalmapper: {shows}"
    assert answer.get("decision") in DECISIONS and (answer["decision"] == ALLOWED) == expected, \
        f"iam-simulate: {shows}: {answer}"


def test_the_comparison_reports_a_flipped_known_answer(known_answers):
    """The Deny case, with principalmapper's answer flipped: the comparison names it."""
    index = next(i for i, case in enumerate(KNOWN) if case[0].startswith("an explicit Deny in the resource"))
    _, domain_policy, principal, action, resource, _ = KNOWN[index]
    request = Request.against(registry(domain_policy), principal, Check(action, resource))
    (found,) = disagreements([request], [True], [known_answers[index][3]])
    assert found == f"{request.label()}: principalmapper allowed it, iam-simulate ExplicitlyDenied"


def test_evaluate_mjs_applies_permission_boundaries_and_scps(simulator):
    """The proof ignores both (they only narrow); the script still passes them on when given."""
    owner = Request.against(registry(policy()), role(OWNER, EVERYTHING), Check(DESCRIBE_DOMAIN, DOMAIN)).as_json()
    # DeleteDomain on a package ARN: decided by the policy language alone, through the other path.
    package = f"arn:aws:codeartifact:{REGION}:{OWNER}:package/known/internal/pypi//acme-x"
    alone = {**owner, "action": DELETE_DOMAIN, "resource": package}
    narrow = policy(allow("codeartifact:List*"))
    requests = []
    for request in (owner, alone):
        requests += [request,
                     {**request, "permissionBoundaries": [{"name": "boundary", "policy": narrow}]},
                     {**request, "serviceControlPolicies": [{"orgIdentifier": "r-root", "policies": [
                         {"name": "scp", "policy": narrow}]}]}]
    answers = simulate_json(requests)
    assert [(a["decision"], a["validated"]) for a in answers] == [
        (ALLOWED, True), ("ImplicitlyDenied", True), ("ImplicitlyDenied", True),
        (ALLOWED, False), ("ImplicitlyDenied", False), ("ImplicitlyDenied", False)]
