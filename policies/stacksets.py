"""CloudFormation StackSets: the IAM resources of a template deployed into every member account.

The trust, identity, cross-account and document rules read a StackSet template's roles and
policies like any other (policies/props.py). These two checks add what only a template can get
wrong; the existing policies run them, so the pack keeps its policy names and config:

- `validate_template_readable` (in policy-documents-within-aws-limits): parts that cannot be read
  offline, resources other than IAM roles and their policies, the template size;
- `validate_template_read_only` (in cross-account-codeartifact-read-only): any action of any
  service beyond Read and List, attached policies that are not the template's own or read-only
  AWS-managed ones, policies put on roles the template does not declare.
"""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs

from . import config as cfg
from . import grants
from .aws_managed import aws_managed_document, is_aws_managed
from .iam_actions import document_beyond_read_only
from .templates import IAM_RESOURCE_TYPES, STACK_SET_PROPS, TEMPLATE_BODY_LIMIT, stack_set_template

EVERYTHING = "it counts as allowing everything"


def validate_template_readable(args: ResourceValidationArgs, report: cfg.Report) -> None:
    template = stack_set_template(args.resource_type, args.props)
    if template is None:
        return
    body = args.props.get(STACK_SET_PROPS[args.resource_type][0])
    if isinstance(body, str) and len(body.encode()) > TEMPLATE_BODY_LIMIT:
        report(f"templateBody is {len(body.encode())} bytes, over CloudFormation's limit of {TEMPLATE_BODY_LIMIT}")
    for problem in template.problems:
        report(f"{problem}: {EVERYTHING}")
    for logical, kind in template.other_resources:
        report(f"template resource {logical} is {kind}: a StackSet template may hold only IAM roles and their "
               f"policies ({', '.join(IAM_RESOURCE_TYPES)}), which the guardrails check; nothing else is checked")
    for role in template.roles:
        if role.trust is None:
            report(f"template Role {role.logical_id} trust policy {role.trust_problem}: it counts as trusting anyone")
    for policy in template.policies:
        if policy.document is None:
            report(f"{policy.what} {policy.problem}: {EVERYTHING}")


def validate_template_read_only(args: ResourceValidationArgs, report: cfg.Report) -> None:
    template = stack_set_template(args.resource_type, args.props)
    if template is None:
        return
    declared = {role.logical_id for role in template.roles}
    policy_arns = {policy.arn for policy in template.policies if policy.arn}
    for role in template.roles:
        where = f"template Role {role.logical_id}"
        for arn in role.managed_policy_arns:
            if arn is None:
                report(f"{where} attaches a managed policy whose ARN cannot be resolved: {EVERYTHING}")
            elif arn in policy_arns:
                continue  # the template's own, checked below
            elif is_aws_managed(arn):
                document = aws_managed_document(arn)
                beyond = document_beyond_read_only(document) if document is not None else ["(unreadable)"]
                if beyond:
                    report(f"{where} attaches {arn}, which allows {grants.summary(beyond)}: roles a StackSet deploys "
                           "into every member account may only read")
            else:
                report(f"{where} attaches {arn}, which the template does not declare: {EVERYTHING}")
    for policy in template.policies:
        if policy.document is None:
            continue  # reported by validate_template_readable
        beyond = document_beyond_read_only(policy.document)
        if beyond:
            report(f"{policy.what} allows {grants.summary(beyond)}: a StackSet deploys it into every member account, "
                   "where it may only read (Read and List actions)")
        for reference in policy.roles:
            if reference not in declared:
                report(f"{policy.what} is put on {reference}, a role the template does not declare (an existing role "
                       "in every member account)")

