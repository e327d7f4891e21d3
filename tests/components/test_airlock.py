"""The curation airlock's program side (publicIngest: airlock): its settings, and what the real program declares
for tests/fixtures/Pulumi.airlock.yaml under Pulumi's mock engine. The prod stack stays direct: its URNs are
tests/fixtures/prod-urns.txt (tests/model/test_design.py). The pack's airlock rules are in
tests/policies/test_guardrails_airlock.py, the access report's in tests/audit/test_access_airlock.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.render import Rendering, run_program
from components.airlock import CONFIG_VARIABLE, package_modules
from model.documents.codeartifact import domain_permissions_policy
from model.documents.sizes import size_problems
from model.names import RESOURCE_POLICY_LIMIT
from model.parse import parse_settings
from model.settings import ConfigError, Settings
from model.stack_file import PROJECT_DIR
from model.trust_policy import to_json
from tests.expected import OWNER, REGION
from tests.stacks import AIRLOCK_STACK, airlock, airlock_config

REPOSITORY = "aws:codeartifact/repository:Repository"
GROUP = "aws-native:codeartifact:PackageGroup"
FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# The keys of PROMOTER_CONFIG, as the shared interface names them.
CONFIG_KEYS = {"domain", "domainOwner", "region", "storeRepository", "vettedRepository", "internalRepository",
               "publicPackages", "cooldownSeconds", "waivers", "refuseSeverity", "allowedLicenses", "ledgerBucket",
               "topicArn", "pypiUrl", "osvUrl"}


@pytest.fixture(scope="module")
def rendering() -> Rendering:
    return airlock()


def _raw(**changes: object) -> dict:
    return {key.removeprefix("pypi-registry:"): value for key, value in airlock_config(**changes).items()
            if key.startswith("pypi-registry:")}


def settings_of(**changes: object) -> Settings:
    return parse_settings(_raw(**changes), REGION)


def problems_of(**changes: object) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings_of(**changes)
    return raised.value.problems


# --- settings ---------------------------------------------------------------------------------------------


def test_the_default_is_direct_and_the_fixture_is_airlock():
    direct = settings_of(publicIngest=None, publicPackages=None, cooldown=None, waivers=None, refuseSeverity=None,
                         allowedLicenses=None)
    assert not direct.airlock_mode
    assert direct.repositories == direct.readable_repositories == ("pypi-store", "internal")
    settings = settings_of()
    assert settings.airlock_mode
    assert settings.repositories == ("pypi-store", "pypi-vetted", "internal")
    assert settings.readable_repositories == ("pypi-vetted", "internal")
    assert settings.cooldown_seconds == 3 * 86400
    assert [(w.name, w.version) for w in settings.waivers] == [("urllib3", "2.5.0")]


@pytest.mark.parametrize(("cooldown", "seconds"), [("3d", 259200), ("12h", 43200), ("90m", 5400)])
def test_cooldown_forms(cooldown, seconds):
    assert settings_of(cooldown=cooldown).cooldown_seconds == seconds


@pytest.mark.parametrize(("changes", "key", "rule"), [
    ({"publicIngest": "quarantine"}, "publicIngest", "must be one of direct, airlock"),
    ({"vettedRepositoryName": "PYPI-STORE"}, "vettedRepositoryName", "must differ from storeRepositoryName"),
    ({"vettedRepositoryName": "Internal"}, "vettedRepositoryName", "must differ from internalRepositoryName"),
    ({"vettedRepositoryName": "-bad"}, "vettedRepositoryName", "must match"),
    ({"publicPackages": ["Typing_Extensions"]}, "publicPackages[0]", "use 'typing-extensions'"),
    ({"publicPackages": ["acme-tools"]}, "publicPackages[0]", "under the internal prefix 'acme-'"),
    ({"publicPackages": ["requests", "requests"]}, "publicPackages[1]", "listed twice"),
    ({"publicPackages": ["req*"]}, "publicPackages[0]", "no wildcards"),
    ({"cooldown": "3 days"}, "cooldown", "<int>d, <int>h or <int>m"),
    ({"cooldown": "0d"}, "cooldown", "positive whole number"),
    ({"cooldown": 3}, "cooldown", "<int>d"),
    ({"waivers": [{"package": "urllib3>=2", "reason": "x"}]}, "waivers[0].package", "one exact version"),
    ({"waivers": [{"package": "flask==3.1.0", "reason": "x"}]}, "waivers[0].package",
     "'flask' is not in publicPackages"),
    ({"waivers": [{"package": "URLLib3==2.5.0", "reason": "x"}]}, "waivers[0].package", "normalised"),
    ({"waivers": [{"package": "urllib3==2.5.0", "reason": "  "}]}, "waivers[0].reason", "non-empty"),
    ({"waivers": [{"package": "urllib3==2.5.0"}]}, "waivers[0].reason", "non-empty"),
    ({"waivers": [{"package": "a==1", "reason": "x", "until": "2027"}]}, "waivers[0]", "unknown fields ['until']"),
    ({"waivers": [{"package": "requests==2.32.3", "reason": "x"},
                  {"package": "requests==2.32.3", "reason": "y"}]}, "waivers[1].package",
     "waived twice"),
    ({"waivers": ["a==1"]}, "waivers[0]", "must be an object"),
    ({"refuseSeverity": "SEVERE"}, "refuseSeverity", "LOW, MODERATE, HIGH, CRITICAL"),
    ({"refuseSeverity": "high"}, "refuseSeverity", "LOW, MODERATE, HIGH, CRITICAL"),
    ({"allowedLicenses": ["MIT OR Apache-2.0"]}, "allowedLicenses[0]", "SPDX licence identifier"),
    ({"allowedLicenses": ["MIT", "mit"]}, "allowedLicenses[1]", "listed twice"),
    ({"publicIngest": "direct"}, "publicPackages", "applies only with publicIngest: airlock"),
    ({"publicIngest": None}, "waivers", "applies only with publicIngest: airlock"),
    ({"deployPrincipalArns": ["arn:aws:iam::111122223333:role/pypi-registry-ci-deploy",
                              "arn:aws:iam::111122223333:role/pypi-registry-promoter"]},
     "deployPrincipalArns[1]", "names the airlock's role pypi-registry-promoter"),
    ({"breakGlassRoleArn": "arn:aws:iam::111122223333:role/pypi-registry-pull-back"}, "breakGlassRoleArn",
     "names the airlock's role pypi-registry-pull-back"),
])
def test_each_bad_airlock_value_is_refused_naming_its_key_and_rule(changes, key, rule):
    found = [p for p in problems_of(**changes) if p.startswith(f"pypi-registry:{key}: ")]
    assert found, problems_of(**changes)
    assert any(rule in p for p in found), found


def test_direct_mode_keeps_the_airlock_keys_at_their_defaults():
    """The CLI fills Pulumi.yaml's defaults in: a default value under `direct` is no problem."""
    settings = settings_of(publicIngest="direct", publicPackages=[], cooldown="3d", waivers=[],
                           refuseSeverity="HIGH", allowedLicenses=[], vettedRepositoryName="pypi-vetted")
    assert not settings.airlock_mode


# --- what the program declares ----------------------------------------------------------------------------


def test_the_vetted_repository_has_no_connection_no_upstream_and_is_kept(rendering):
    vetted = rendering.one(REPOSITORY, "registry-pypi-vetted")
    assert vetted.inputs["repository"] == "pypi-vetted"
    assert not vetted.inputs.get("externalConnections") and not vetted.inputs.get("upstreams")
    assert vetted.protect and vetted.retain_on_delete
    store = rendering.one(REPOSITORY, "registry-pypi-store")
    assert store.inputs["externalConnections"] == {"externalConnectionName": "public:pypi"}
    internal = rendering.one(REPOSITORY, "registry-internal")
    assert internal.inputs["upstreams"] == [{"repositoryName": "pypi-vetted"}]


def test_nobody_but_the_promoter_is_granted_the_store(rendering):
    policies = {r.inputs["repository"] for r in rendering.of_type(
        "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy")}
    assert policies == {"pypi-vetted", "internal"}
    reader = rendering.one("aws:iam/policy:Policy", "reader-444455556666-read-policy").policy("policy")
    granted = json.dumps(reader)
    assert "/pypi-store" not in granted and "/pypi-vetted" in granted
    ci_reader = rendering.one(ROLE_POLICY, "publishers-ci-reader-read").policy("policy")
    assert "/pypi-store" not in json.dumps(ci_reader)


def test_every_other_pypi_name_comes_only_through_the_promoter(rendering):
    group = rendering.one(GROUP, "registry-group-public")
    assert group.inputs["pattern"] == "/pypi/*"
    restrictions = group.inputs["originConfiguration"]["restrictions"]
    assert restrictions == {
        "externalUpstream": {"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["pypi-store"]},
        "internalUpstream": {"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["internal"]},
        "publish": {"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["pypi-vetted"]},
    }
    prefix = rendering.one(GROUP, "registry-group-acme-").inputs["originConfiguration"]["restrictions"]
    assert prefix["externalUpstream"] == {"restrictionMode": "BLOCK"}


def _statements(rendering: Rendering) -> dict[str, dict]:
    domain = rendering.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    return {s["Sid"]: s for s in json.loads(domain.inputs["policyDocument"])["Statement"]}


def test_the_domain_policy_carves_out_exactly_the_airlock_roles(rendering):
    statements = _statements(rendering)
    promoter = f"arn:aws:iam::{OWNER}:role/pypi-registry-promoter"
    pull_back = f"arn:aws:iam::{OWNER}:role/pypi-registry-pull-back"
    prefix = f"arn:aws:codeartifact:{REGION}:{OWNER}"
    assert statements["DenyOverwritingVersions"]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": promoter}}
    assert statements["DenyPromoterCopyingOutsideVetted"] == {
        "Sid": "DenyPromoterCopyingOutsideVetted", "Effect": "Deny", "Principal": "*",
        "Action": ["codeartifact:CopyPackageVersions"],
        "NotResource": [f"{prefix}:repository/acme/pypi-vetted", f"{prefix}:package/acme/pypi-vetted/*"],
        "Condition": {"ArnEquals": {"aws:PrincipalArn": promoter}}}
    assert pull_back in statements["DenyChangingVersionStatus"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert statements["DenyPullBackOutsideVettedAndInternal"]["NotResource"] == [
        f"{prefix}:package/acme/pypi-vetted/*", f"{prefix}:package/acme/internal/*"]
    assert statements["DenyReadingTheStore"]["Resource"] == f"{prefix}:repository/acme/pypi-store"
    assert statements["DenyPublishingIntoVetted"]["Action"] == ["codeartifact:PublishPackageVersion"]


def test_prod_domain_policy_has_no_airlock_statement(prod):
    assert not any("Vetted" in sid or "Store" in sid for sid in _statements(prod))


def test_the_functions_run_the_promoter_package_with_the_shared_config(rendering):
    functions = {f.inputs["name"]: f for f in rendering.of_type(FUNCTION)}
    assert set(functions) == {"pypi-registry-promoter", "pypi-registry-pull-back"}
    handlers = {name: f.inputs["handler"] for name, f in functions.items()}
    assert handlers == {"pypi-registry-promoter": "promoter.handler.promote",
                        "pypi-registry-pull-back": "promoter.handler.pull_back"}
    for function in functions.values():
        assert function.inputs["runtime"] == "python3.12"
        assert function.inputs["code"] == {"assetArchive": {"promoter": {"assetArchive": {
            path.name: {"fileAsset": f"promoter/{path.name}"} for path in Path("promoter").glob("*.py")}}}}
        config = json.loads(function.inputs["environment"]["variables"][CONFIG_VARIABLE])
        assert set(config) == CONFIG_KEYS
        assert config["cooldownSeconds"] == 259200
        assert config["waivers"] == [{"name": "urllib3", "version": "2.5.0",
                                      "reason": "fixes CVE-2025-50181 before its cooldown ends"}]
        assert config["vettedRepository"] == "pypi-vetted" and config["storeRepository"] == "pypi-store"
        assert config["topicArn"] == f"arn:aws:sns:{REGION}:{OWNER}:pypi-registry-airlock"


def test_the_schedules_invoke_one_function_each_through_their_own_role(rendering):
    schedules = {s.inputs["name"]: s.inputs for s in rendering.of_type(SCHEDULE)}
    assert schedules["pypi-registry-promote"]["scheduleExpression"] == "rate(15 minutes)"
    assert schedules["pypi-registry-pull-back"]["scheduleExpression"] == "rate(1 day)"
    for name, function, role in (("pypi-registry-promote", "pypi-registry-promoter", "pypi-registry-promote-schedule"),
                                 ("pypi-registry-pull-back", "pypi-registry-pull-back",
                                  "pypi-registry-pull-back-schedule")):
        target = schedules[name]["target"]
        assert target["arn"] == f"arn:aws:lambda:{REGION}:{OWNER}:function:{function}"
        assert target["roleArn"] == f"arn:aws:iam::{OWNER}:role/{role}"
        policy = next(p for p in rendering.of_type(ROLE_POLICY) if p.inputs["name"] == role).policy("policy")
        assert policy["Statement"] == [{"Sid": "InvokeOneFunction", "Effect": "Allow",
                                        "Action": "lambda:InvokeFunction", "Resource": target["arn"]}]


def test_the_airlock_roles_are_bounded_and_trusted_by_their_service_only(rendering):
    roles = {r.inputs["name"]: r for r in rendering.of_type(ROLE) if r.name.startswith("airlock-")}
    assert len(roles) == 4
    for name, role in roles.items():
        assert role.inputs["permissionsBoundary"] == f"arn:aws:iam::{OWNER}:policy/pypi-registry-airlock-roles-boundary"
        (statement,) = role.policy("assumeRolePolicy")["Statement"]
        service = "scheduler.amazonaws.com" if name.endswith("-schedule") else "lambda.amazonaws.com"
        assert statement["Principal"] == {"Service": service}


def test_the_promoter_may_copy_into_vetted_only_and_the_pull_back_archive_in_vetted_and_internal(rendering):
    def policy(name: str) -> dict[str, dict]:
        found = next(p for p in rendering.of_type(ROLE_POLICY) if p.inputs["name"] == name).policy("policy")
        return {s["Sid"]: s for s in found["Statement"]}

    prefix = f"arn:aws:codeartifact:{REGION}:{OWNER}"
    promoter = policy("pypi-registry-promoter")
    assert promoter["CopyIntoVetted"]["Resource"] == [f"{prefix}:repository/acme/pypi-vetted",
                                                      f"{prefix}:package/acme/pypi-vetted/*"]
    assert promoter["ReadTheStore"]["Resource"] == f"{prefix}:repository/acme/pypi-store"
    assert not any("UpdatePackageVersionsStatus" in json.dumps(s) for s in promoter.values())
    pull_back = policy("pypi-registry-pull-back")
    assert pull_back["ArchiveInVettedAndInternal"]["Resource"] == [f"{prefix}:package/acme/pypi-vetted/*",
                                                                   f"{prefix}:package/acme/internal/*"]
    assert not any("CopyPackageVersions" in json.dumps(s) for s in pull_back.values())
    for statements in (promoter, pull_back):
        # Where the ledger writes, no more: each decision, and the once-only marker of an unchanged one.
        assert statements["AppendToTheLedger"]["Resource"] == [
            f"arn:aws:s3:::pypi-registry-ledger-{OWNER}-{REGION}/decisions/*",
            f"arn:aws:s3:::pypi-registry-ledger-{OWNER}-{REGION}/seen/*"]
        assert statements["BearerTokenForCodeArtifactOnly"]["Condition"] == {
            "StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}


def test_the_ledger_keeps_every_decision(rendering):
    bucket = rendering.one("aws:s3/bucket:Bucket", "airlock-ledger-bucket")
    assert bucket.inputs["objectLockEnabled"] is True and bucket.protect and bucket.retain_on_delete
    lock = rendering.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                         "airlock-ledger-object-lock")
    assert lock.inputs["rule"]["defaultRetention"]["mode"] == "COMPLIANCE"
    versioning = rendering.one("aws:s3/bucketVersioning:BucketVersioning", "airlock-ledger-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    block = rendering.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "airlock-ledger-public-access")
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                 "restrictPublicBuckets"))
    statements = {s["Sid"]: s for s in rendering.one("aws:s3/bucketPolicy:BucketPolicy", "airlock-ledger-policy")
                  .policy("policy")["Statement"]}
    assert all(s["Effect"] == "Deny" for s in statements.values())
    assert "Condition" not in statements["DenyDeletingDecisions"]
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    topic = rendering.one("aws:sns/topic:Topic", "airlock-ledger-topic")
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"


def test_airlock_documents_stay_within_aws_limits():
    settings = settings_of()
    assert not size_problems(settings)
    assert len(to_json(domain_permissions_policy(settings))) <= RESOURCE_POLICY_LIMIT


def test_the_functions_code_is_the_packages_modules_only(tmp_path, monkeypatch):
    """What else a checkout holds beside the modules (the package's README, bytecode, an editor's file) is not in
    the function's code, so its hash is the same from every checkout; an empty folder is refused, named."""
    package = tmp_path / "promoter"
    (package / "__pycache__").mkdir(parents=True)
    for name in ("handler.py", "__init__.py", "README.md", "handler.py~", "__pycache__/handler.cpython-312.pyc"):
        (package / name).write_text("")
    monkeypatch.chdir(tmp_path)
    assert package_modules(Path("promoter")) == ("promoter/__init__.py", "promoter/handler.py")
    with pytest.raises(ValueError, match="elsewhere/ holds no Python module to package"):
        package_modules(Path("elsewhere"))


def test_a_lambda_package_with_no_module_fails_before_any_resource_is_declared(tmp_path, monkeypatch):
    """The program lists the packages' modules first: run from a folder that has none, it fails with the folder
    named and has declared nothing (not the registry that comes before the airlock)."""
    monkeypatch.chdir(tmp_path)
    recorded: list = []
    with pytest.raises(ValueError, match="promoter/ holds no Python module to package"):
        run_program(airlock_config(), AIRLOCK_STACK, PROJECT_DIR, recorded=recorded)
    assert [r.urn for r in recorded if r.custom] == []
