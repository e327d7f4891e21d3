"""Every policy document a resource declares: valid JSON, unambiguous, under its AWS size limit."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ResourceValidationArgs

from . import config as cfg
from . import iam_documents as iam
from . import props as props_
from .aws_facts import KEY_POLICY_LIMIT, MANAGED_POLICY_LIMIT, RESOURCE_POLICY_LIMIT, TRUST_POLICY_LIMIT
from .stacksets import validate_template_readable


def _size_checks(resource_type: str, props: Mapping[str, object]) -> list[tuple[str, object, int | None, bool]]:
    """(what, raw document, size limit, whether whitespace counts) for every document of a resource. Each is
    measured on the text the provider sends: CodeArtifact and KMS count all of it, IAM its non-whitespace
    characters."""
    checks: list[tuple[str, object, int | None, bool]] = [
        (what, raw, RESOURCE_POLICY_LIMIT, True) for what, raw in props_.raw_resource_policy(resource_type, props)
    ]
    checks += [(what, raw, limit, False) for what, raw, limit in props_.raw_identity_policies(resource_type, props)]
    checks += [(what, raw, TRUST_POLICY_LIMIT, False) for what, raw in props_.raw_trust_policy(resource_type, props)]
    checks += [(what, raw, KEY_POLICY_LIMIT, True) for what, raw in props_.raw_key_policy(resource_type, props)]
    return checks


def validate_documents(args: ResourceValidationArgs, report: cfg.Report) -> None:
    validate_template_readable(args, report)
    for what, raw, limit, with_whitespace in _size_checks(args.resource_type, args.props):
        try:
            document = iam.parse_document(raw)
        except iam.InvalidDocumentError as error:
            report(f"{what} {error}")
            continue
        if document is None or limit is None:
            continue
        size = len(iam.document_text(raw)) if with_whitespace else iam.non_whitespace_length(raw)
        if size > limit:
            report(f"{what} is {size} characters, over the AWS limit of {limit}")


POLICIES: list[cfg.Guardrail] = [
    cfg.resource_policy(
        "policy-documents-within-aws-limits",
        "Every policy document is a JSON object without duplicate keys and under its AWS size limit "
        f"({RESOURCE_POLICY_LIMIT} CodeArtifact resource policy, {TRUST_POLICY_LIMIT} trust policy, "
        f"{MANAGED_POLICY_LIMIT} managed policy, {KEY_POLICY_LIMIT} key policy); a StackSet template is JSON, "
        "holds only IAM roles and their policies, and every part of them can be read offline.",
        validate_documents,
    ),
]
