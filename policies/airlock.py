"""The curation airlock (pack config `publicIngest: airlock`): what keeps public packages out of consumers' reach
until the promoter admitted them, and the promoter's means from growing.

- no repository without an external connection has an upstream path to one with an external connection, and the
  vetted repository exists without a connection or an upstream;
- the domain policy's carve-outs are exact: the promoter copies into the vetted repository only, the pull-back role
  changes statuses in the vetted and internal repositories only, nobody but the promoter reads a repository with
  an external connection, and nobody publishes into the vetted repository (policies/stack.py lets the Denies
  exempt the two roles only when these hold);
- every S3 bucket is a ledger: Object Lock in COMPLIANCE mode with a default retention, versioning, encryption,
  public access blocked, and a policy that denies deleting objects and allows no delete;
- a role AWS Lambda or EventBridge Scheduler assumes holds only what the promoter, the pull-back job or a schedule
  needs, on named resources; a function runs as a role the stack declares, a schedule invokes a function the
  stack declares through such a role; an SNS topic is KMS-encrypted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial

from pulumi_policy import PolicyResource, StackValidationArgs

from . import config as cfg
from . import iam_documents as iam
from . import props as props_
from .aws_facts import OVERWRITE_ACTIONS, PUBLISH_ACTION, STATUS_ACTIONS
from .codeartifact import external_connections
from .identity import RoleReferences, _managed_by_arn, role_documents
from .props import REPOSITORY_TYPES, ROLE_TYPES

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_PARTS = (BUCKET_VERSIONING, BUCKET_LOCK, BUCKET_ENCRYPTION, BUCKET_PUBLIC_ACCESS, BUCKET_POLICY)
FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
TOPIC = "aws:sns/topic:Topic"

READ_ACTION = "codeartifact:ReadFromRepository"
# Deleting a decision, or the means to: an Allow of any of these in a bucket policy is refused.
LEDGER_LOSS_ACTIONS = (
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:DeleteBucket",
    "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning", "s3:PutBucketObjectLockConfiguration",
    "s3:DeleteBucketPolicy",
)
# What a denied delete of every decision must name.
LEDGER_DELETE_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion")
PUBLIC_ACCESS_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

LAMBDA_SERVICE = "lambda.amazonaws.com"
SCHEDULER_SERVICE = "scheduler.amazonaws.com"
CODEARTIFACT = r"arn:aws:codeartifact:[a-z0-9-]+:[0-9]{12}"
# What a role the airlock's services assume may do, each action on the resources of one shape (no wildcard
# before the repository, the bucket, the topic, the log group or the function): {action: resource pattern}.
# The vetted and internal names are filled in from the pack config.
AIRLOCK_GRANTS = {
    "codeartifact:GetAuthorizationToken": rf"{CODEARTIFACT}:domain/[a-z0-9-]+",
    "sts:GetServiceBearerToken": r"\*",  # the condition is bearer-token-codeartifact-only's
    "codeartifact:ReadFromRepository": rf"{CODEARTIFACT}:repository/[a-z0-9-]+/[A-Za-z0-9._-]+",
    "codeartifact:GetRepositoryEndpoint": rf"{CODEARTIFACT}:repository/[a-z0-9-]+/[A-Za-z0-9._-]+",
    "codeartifact:ListPackages": rf"{CODEARTIFACT}:repository/[a-z0-9-]+/[A-Za-z0-9._-]+",
    "codeartifact:ListPackageVersions": rf"{CODEARTIFACT}:package/[a-z0-9-]+/[A-Za-z0-9._-]+/.*",
    "codeartifact:DescribePackageVersion": rf"{CODEARTIFACT}:package/[a-z0-9-]+/[A-Za-z0-9._-]+/.*",
    "codeartifact:CopyPackageVersions": rf"{CODEARTIFACT}:(repository/[a-z0-9-]+/{{vetted}}|"
                                        rf"package/[a-z0-9-]+/{{vetted}}/.*)",
    "codeartifact:UpdatePackageVersionsStatus": rf"{CODEARTIFACT}:package/[a-z0-9-]+/({{vetted}}|{{internal}})/.*",
    "s3:PutObject": r"arn:aws:s3:::[a-z0-9.-]+/[^*?]*\*?",
    "sns:Publish": r"arn:aws:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+",
    "logs:CreateLogStream": r"arn:aws:logs:[a-z0-9-]+:[0-9]{12}:log-group:[^*?]+(:\*)?",
    "logs:PutLogEvents": r"arn:aws:logs:[a-z0-9-]+:[0-9]{12}:log-group:[^*?]+(:\*)?",
    "lambda:InvokeFunction": r"arn:aws:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+",
}


def airlock_mode(args: StackValidationArgs) -> bool:
    return cfg.config_str(args, "publicIngest") == "airlock"


# --- no upstream path to an external connection ---------------------------------------------------------


def _upstream_names(repository: PolicyResource) -> list[str]:
    names = []
    for upstream in iam.as_list(repository.props.get("upstreams")):
        name = upstream.get("repositoryName") if isinstance(upstream, Mapping) else upstream
        names.append(str(name))
    return names


def _links(repository: PolicyResource) -> tuple[str | None, list[str], list[str]]:
    """(name, external connections, upstream names) of a repository."""
    return (props_.repository_name(repository.props),
            external_connections(repository.resource_type, repository.props), _upstream_names(repository))


def validate_no_path_to_external(args: StackValidationArgs, report: cfg.Report) -> None:
    if not airlock_mode(args):
        return
    graph: dict[str, tuple[PolicyResource, list[str], list[str]]] = {}  # name -> (repo, connections, upstreams)
    for repository in props_.of_type(args, REPOSITORY_TYPES):
        read = cfg.when_known(partial(_links, repository), report, repository, "name or upstreams")
        if read is None:
            continue
        name, connections, upstreams = read
        if name is None:
            report(f"{repository.name}: its name is unknown during preview, so its upstream path cannot be "
                   "followed", repository.urn)
            continue
        graph[name] = (repository, connections, upstreams)
    vetted = cfg.config_str(args, "vettedRepositoryName")
    if vetted not in graph:
        report(f"publicIngest is airlock, but the vetted repository {vetted or '(vettedRepositoryName not set)'} is "
               "not declared: the promoter has nowhere to admit versions to")
    elif graph[vetted][1] or graph[vetted][2]:
        report(f"the vetted repository {vetted} has an external connection or an upstream: it must hold only what "
               "the promoter copied into it", graph[vetted][0].urn)
    for name, (repository, connections, _) in sorted(graph.items()):
        if connections:
            continue
        path, seen, pending = {name: [name]}, {name}, [name]
        while pending:
            current = pending.pop()
            for upstream in graph.get(current, (None, [], []))[2]:
                if upstream in seen:
                    continue
                seen.add(upstream)
                path[upstream] = [*path[current], upstream]
                found = graph.get(upstream)
                if found is None:
                    report(f"{name}'s upstream path reaches {upstream}, which this stack does not declare: whether "
                           "it has an external connection cannot be told", repository.urn)
                elif found[1]:
                    report(f"{' -> '.join(path[upstream])}: {name} reaches {upstream}, which has the external "
                           f"connection {found[1][0]}, through upstreams; in airlock mode public versions reach "
                           "consumers only through the promoter", repository.urn)
                else:
                    pending.append(upstream)


# --- the domain policy's carve-outs are exact ---------------------------------------------------------------


def _covers(statement: Mapping[str, object], arn: str) -> bool:
    """Does the statement apply to `arn` (Resource matches it, or NotResource does not)?"""
    if "NotResource" in statement:
        return not any(iam.matches(p, arn) for p in iam.as_list(statement.get("NotResource")))
    return any(iam.matches(p, arn) for p in iam.as_list(statement.get("Resource")))


def _names_action(statement: Mapping[str, object], action: str) -> bool:
    if "NotAction" in statement:
        return not any(iam.matches(p, action) for p in iam.as_list(statement.get("NotAction")))
    return any(iam.matches(p, action) for p in iam.actions(statement))


def _applies_to(statement: Mapping[str, object], role: str, exempt: set[str] | None = None) -> bool:
    """Does a Deny apply to `role` for sure? Its principal is everyone, and its condition is none, an ArnEquals
    or ArnLike on aws:PrincipalArn matching the role, or (with `exempt`) an ArnNotEquals whose roles are all
    exempt ones and not `role`."""
    if statement.get("Effect") != "Deny" or "NotPrincipal" in statement:
        return False
    if not any(kind == "AWS" and value == iam.WILDCARD for kind, value in iam.principals(statement)):
        return False
    found = list(iam.conditions(statement))
    if not found:
        return True
    if len(found) != 1:
        return False
    operator, key, values = found[0]
    if key != "aws:principalarn" or not values:
        return False
    if operator.lower() in ("arnequals", "arnlike"):
        return any(iam.matches(value, role) for value in values)
    if operator.lower() in ("arnnotequals", "arnnotlike") and exempt is not None:
        return role not in values and set(values) <= exempt
    return False


def denied(statements: list[Mapping[str, object]], action: str, arn: str, role: str,
           exempt: set[str] | None = None) -> bool:
    return any(_names_action(s, action) and _covers(s, arn) and _applies_to(s, role, exempt) for s in statements)


def _repository_arns(args: StackValidationArgs, report: cfg.Report) -> dict[str, tuple[str, bool]] | None:
    """{repository name: (its ARN, whether it has an external connection)}; None when one cannot be told."""
    from .stack import _repository_packages

    found = {}
    for repository in props_.of_type(args, REPOSITORY_TYPES):
        name = props_.repository_name(repository.props)
        packages, _ = _repository_packages(repository)
        connections = cfg.when_known(partial(external_connections, repository.resource_type, repository.props),
                                     report, repository, "external connection")
        if name is None or packages is None or connections is None:
            report(f"{repository.name}: its ARN is unknown during preview, so the airlock's Denies on it cannot be "
                   "checked", repository.urn)
            return None
        found[name] = (packages.rstrip("/").replace(":package/", ":repository/", 1), bool(connections))
    return found


def carve_out_problems(args: StackValidationArgs, statements: list[Mapping[str, object]],
                       report: cfg.Report) -> list[str]:
    """Why the airlock roles' exemptions from the domain policy's Denies are wider than the airlock needs (empty
    when they are exact); used by domain-denies-loss-and-reopening in airlock mode."""
    repositories = _repository_arns(args, report)
    if repositories is None:
        return []
    promoter, pull_back = cfg.config_str(args, "promoterRoleArn"), cfg.config_str(args, "pullBackRoleArn")
    vetted, internal = cfg.config_str(args, "vettedRepositoryName"), cfg.config_str(args, "internalRepositoryName")
    break_glass = {cfg.config_str(args, "breakGlassRoleArn")} - {""}
    problems = []
    someone = "arn:aws:iam::000000000000:role/anyone-else"
    for name, (arn, connected) in sorted(repositories.items()):
        package = arn.replace(":repository/", ":package/", 1) + "/pypi//example"
        if name != vetted:
            for resource in (arn, package):
                if not denied(statements, OVERWRITE_ACTIONS[0], resource, promoter):
                    problems.append(f"the promoter {promoter} is not denied CopyPackageVersions on {resource}: it may "
                                    f"copy into {vetted} only")
        if name not in (vetted, internal) and not denied(statements, STATUS_ACTIONS[0], package, pull_back):
            problems.append(f"the pull-back role {pull_back} is not denied UpdatePackageVersionsStatus on {package}: "
                            f"it may change statuses in {vetted} and {internal} only")
        if connected and not denied(statements, READ_ACTION, arn, someone, {promoter, *break_glass}):
            problems.append(f"ReadFromRepository on {name}, which has an external connection, is not denied to every "
                            "principal but the promoter (and the break-glass role): readers would reach versions "
                            "nobody admitted")
        if name == vetted and not denied(statements, PUBLISH_ACTION, package, someone, break_glass):
            problems.append(f"PublishPackageVersion into {vetted} is not denied to every principal (but the "
                            "break-glass role): it must hold only what the promoter copied")
    return problems


# --- the ledger ---------------------------------------------------------------------------------------------------


def _parts_of(args: StackValidationArgs, bucket: PolicyResource) -> dict[str, list[PolicyResource]]:
    """The bucket's versioning, lock, encryption, public access block and policy, by type: the ones naming it by
    its name or depending on it."""
    name = props_.known_str(bucket.props, "bucket")
    found: dict[str, list[PolicyResource]] = {t: [] for t in BUCKET_PARTS}
    for part in props_.of_type(args, BUCKET_PARTS):
        depends = any(dep.urn == bucket.urn for dep in part.property_dependencies.get("bucket", []))
        if depends or (name is not None and props_.known_str(part.props, "bucket") == name):
            found[part.resource_type].append(part)
    return found


def _bucket_problems(args: StackValidationArgs, bucket: PolicyResource, report: cfg.Report) -> list[str]:
    problems = []
    if bucket.props.get("objectLockEnabled") is not True:
        problems.append("Object Lock is not enabled on the bucket (objectLockEnabled: true)")
    parts = _parts_of(args, bucket)
    locks = parts[BUCKET_LOCK]
    retention = [props_.known(lock.props, "rule", "defaultRetention") for lock in locks]
    if not any(isinstance(r, Mapping) and r.get("mode") == "COMPLIANCE" and (r.get("days") or r.get("years"))
               for r in retention):
        problems.append("no Object Lock configuration with a COMPLIANCE default retention (GOVERNANCE can be "
                        "bypassed, and without a default a decision is not locked)")
    if not any(props_.known(v.props, "versioningConfiguration", "status") == "Enabled"
               for v in parts[BUCKET_VERSIONING]):
        problems.append("versioning is not enabled")
    if not parts[BUCKET_ENCRYPTION]:
        problems.append("no server-side encryption configuration")
    if not any(all(block.props.get(key) is True for key in PUBLIC_ACCESS_SETTINGS)
               for block in parts[BUCKET_PUBLIC_ACCESS]):
        problems.append(f"public access is not blocked ({', '.join(PUBLIC_ACCESS_SETTINGS)} all true)")
    name = props_.known_str(bucket.props, "bucket") or "BUCKET"
    objects = f"arn:aws:s3:::{name}/example"
    statements: list[Mapping[str, object]] = []
    for policy in parts[BUCKET_POLICY]:
        documents = cfg.when_known(partial(props_.parsed, [("policy", policy.props.get("policy"))]), report, policy,
                                   "policy document")
        statements += [s for _, document in documents or [] for s in iam.statements(document)]
    for statement in statements:
        if statement.get("Effect") == "Allow":
            allowed = [a for a in LEDGER_LOSS_ACTIONS if _names_action(statement, a)]
            if allowed:
                problems.append(f"the bucket policy allows {', '.join(allowed)}")
    for action in LEDGER_DELETE_ACTIONS:
        if not denied(statements, action, objects, "arn:aws:iam::000000000000:role/anyone"):
            problems.append(f"the bucket policy does not deny {action} on every object to every principal")
    return problems


def validate_ledger(args: StackValidationArgs, report: cfg.Report) -> None:
    for bucket in props_.of_type(args, BUCKET):
        for problem in _bucket_problems(args, bucket, report):
            report(f"{bucket.name}: {problem}: the ledger must keep every decision", bucket.urn)
    for topic in props_.of_type(args, TOPIC):
        if not props_.known_str(topic.props, "kmsMasterKeyId"):
            report(f"{topic.name}: the SNS topic is not KMS-encrypted (kmsMasterKeyId)", topic.urn)


# --- the airlock's roles, functions and schedules ---------------------------------------------------------------


def _services(role: PolicyResource) -> set[str] | None:
    try:
        documents = props_.trust_policy(role.resource_type, role.props)
    except Exception:  # unknown during preview: the trust rules report it
        return None
    return {value for _, document in documents for s in iam.allow_statements(document)
            for kind, value in iam.principals(s) if kind == "Service"}


def allowed_pattern(grants: Mapping[str, str], action: str, names: Mapping[str, str]) -> re.Pattern[str] | None:
    """The resource pattern `grants` allows `action` on, each {placeholder} filled with its name from `names`."""
    pattern = grants.get(action)
    if pattern is None:
        return None
    for placeholder, name in names.items():
        # An unset name matches no resource (a name never holds a space).
        pattern = pattern.replace(f"{{{placeholder}}}", re.escape(name or "not set"))
    return re.compile(pattern)


def grant_problems(statement: Mapping[str, object], grants: Mapping[str, str], names: Mapping[str, str],
                   job: str) -> list[str]:
    """Why an Allow statement grants more than `grants` ({action: resource pattern}) allows; `job` says whose."""
    if "NotAction" in statement or "NotResource" in statement:
        return ["NotAction or NotResource (everything it does not list)"]
    problems = []
    known = {a.lower(): a for a in grants}
    for pattern in iam.actions(statement):
        action = known.get(pattern.lower())
        if action is None:
            problems.append(f"{pattern} (not an action {job} needs)")
            continue
        allowed = allowed_pattern(grants, action, names)
        for resource in iam.resources(statement):
            if allowed is None or not allowed.fullmatch(resource):
                problems.append(f"{action} on {resource}")
    return problems


def statement_problems(statement: Mapping[str, object], vetted: str, internal: str) -> list[str]:
    """Why an Allow statement of an airlock role grants more than the airlock needs."""
    return grant_problems(statement, AIRLOCK_GRANTS, {"vetted": vetted, "internal": internal},
                          "the promoter, the pull-back job or a schedule")


def _declared_role_arns(args: StackValidationArgs) -> set[str]:
    return {arn for r in props_.of_type(args, ROLE_TYPES) if (arn := props_.known_str(r.props, "arn"))}


def validate_airlock_roles(args: StackValidationArgs, report: cfg.Report) -> None:
    from .backup import job_role_arns

    vetted, internal = cfg.config_str(args, "vettedRepositoryName"), cfg.config_str(args, "internalRepositoryName")
    by_arn = _managed_by_arn(args)
    references = RoleReferences(args.resources)
    # The backup's function roles are held to their own jobs by backup-roles-hold-what-they-need.
    backup_roles = job_role_arns(args)
    for role in props_.of_type(args, ROLE_TYPES):
        services = _services(role)
        if not services or not services & {LAMBDA_SERVICE, SCHEDULER_SERVICE}:
            continue
        if props_.known_str(role.props, "arn") in backup_roles:
            continue
        if services - {LAMBDA_SERVICE} and services - {SCHEDULER_SERVICE}:
            report(f"role {role.name} is trusted by {sorted(services)}: an airlock role is assumed by AWS Lambda or "
                   "by EventBridge Scheduler, never by more", role.urn)
        for where, document in role_documents(role, references, by_arn):
            if document is None:
                report(f"airlock role {role.name}: {where} cannot be read, so it is treated as allowing everything",
                       role.urn)
                continue
            for index, statement in enumerate(iam.allow_statements(document)):
                problems = statement_problems(statement, vetted, internal)
                if problems:
                    report(f"airlock role {role.name}: {where} {iam.label(statement, index)} allows "
                           f"{'; '.join(problems[:4])}: a role Lambda or Scheduler assumes holds only what the "
                           "promoter, the pull-back job or a schedule needs, on named resources", role.urn)
    roles = _declared_role_arns(args)
    functions = {arn for f in props_.of_type(args, FUNCTION) if (arn := props_.known_str(f.props, "arn"))}
    for function in props_.of_type(args, FUNCTION):
        role_arn = props_.known_str(function.props, "role")
        depends = any(d.resource_type in ROLE_TYPES for d in function.property_dependencies.get("role", []))
        if not depends and role_arn not in roles:
            report(f"{function.name}: the function runs as {role_arn or '(unknown role)'}, which this stack does not "
                   "declare: what it may do cannot be checked", function.urn)
    for schedule in props_.of_type(args, SCHEDULE):
        target = props_.known(schedule.props, "target")
        target = target if isinstance(target, Mapping) else {}
        arn, role_arn = target.get("arn"), target.get("roleArn")
        if arn not in functions:
            report(f"{schedule.name}: the schedule's target {arn or '(unknown)'} is not a Lambda function this stack "
                   "declares", schedule.urn)
        if role_arn not in roles:
            report(f"{schedule.name}: the schedule runs as {role_arn or '(unknown role)'}, which this stack does not "
                   "declare", schedule.urn)


POLICIES: list[cfg.Guardrail] = [
    cfg.stack_policy(
        "airlock-no-upstream-path-to-public-pypi",
        "In airlock mode the vetted repository exists with no external connection and no upstream, and no "
        "repository without an external connection reaches one that has it through upstreams.",
        validate_no_path_to_external, "publicIngest", "vettedRepositoryName",
    ),
    cfg.stack_policy(
        "airlock-ledger-keeps-every-decision",
        "Every S3 bucket has Object Lock with a COMPLIANCE default retention, versioning, encryption, public access "
        "blocked, and a policy that denies deleting objects to everyone and allows no delete; every SNS topic is "
        "KMS-encrypted.",
        validate_ledger,
    ),
    cfg.stack_policy(
        "airlock-roles-hold-what-they-need",
        "A role AWS Lambda or EventBridge Scheduler assumes holds only the promoter's, the pull-back job's or a "
        "schedule's actions on named resources (copies into the vetted repository only, status changes in the "
        "vetted and internal repositories only); functions run as declared roles, schedules invoke declared "
        "functions through declared roles.",
        validate_airlock_roles, "vettedRepositoryName", "internalRepositoryName", "backupRoleArn", "reconcileRoleArn",
        "retentionRoleArn",
    ),
]
