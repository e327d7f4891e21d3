"""The rules a configured value must follow (AWS's naming rules, account IDs, role ARNs, tags, regions, the
names AWS reserves), as patterns and as checks that say what is wrong. GitHub's rules are in model/github.py."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from model.names import DEPENDABOT_ROLE_NAME, GITHUB_READER_ROLE_NAME

# AWS's naming rules (see docs/configuration.md). Every pattern is
# applied with `fullmatch`: `re.match(r"^...$")` would accept a trailing newline.
ACCOUNT_ID = re.compile(r"[0-9]{12}")
DOMAIN_NAME = re.compile(r"[a-z][a-z0-9-]{0,48}[a-z0-9]")
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}")
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
# StackSet deployment targets: an organizational unit, or the organization's root (every account).
ORGANIZATIONAL_UNIT_ID = re.compile(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}")
ROOT_ID = re.compile(r"r-[a-z0-9]{4,32}")
IAM_ROLE_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
# A role in the aws partition (every ARN this program builds is arn:aws:...). Path segments use
# the role-name characters, so no `*` or `?` (ArnEquals and ArnNotEquals treat them as wildcards).
ROLE_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):role/(?P<path>(?:[A-Za-z0-9+=,.@_-]+/)*)(?P<name>[A-Za-z0-9+=,.@_-]{1,64})"
)
ROLE_PATH_MAX = 512
# A PEP 503 normalised project name, and a prefix of one (it may end in "-").
NORMALISED_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
NORMALISED_PREFIX = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*-?")
# AWS tag rules. IAM is the strictest service the tags reach (roles, policies, the OIDC provider):
# at most 50 tags, keys 1-128 and values 0-256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@].
TAGS_MAX = 50
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
TAG_SYMBOLS = set("_.:/=+-@")
RESERVED_TAG_PREFIX = "aws:"
# A cooldown: a whole number of days, hours or minutes.
COOLDOWN = re.compile(r"(?P<amount>[1-9][0-9]{0,5})(?P<unit>[dhm])")
# An SPDX licence identifier (a `LicenseRef-` one included): letters, digits, `.`, `-` and a trailing `+`.
SPDX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*\+?")
# A waiver names one exact version: `name==version`, the name normalised, the version without spaces or operators.
WAIVER_PACKAGE = re.compile(r"(?P<name>[a-z0-9]+(?:-[a-z0-9]+)*)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)")
# Any name a CI or Dependabot reader role can take (`gh-pypi-reader-2`, ...), ignoring case as IAM does.
READER_ROLE_NAME = re.compile(
    rf"(?:{GITHUB_READER_ROLE_NAME}|{DEPENDABOT_ROLE_NAME})(?:-[1-9][0-9]*)?", re.IGNORECASE)


def normalise_name(name: str) -> str:
    """PEP 503 normalisation, as CodeArtifact applies to PyPI package names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def normalised_name_hint(value: object) -> str:
    """What to write instead of a package name that is not normalised: its normalised form when that is a name (a
    wildcard or other character is not)."""
    normalised = normalise_name(value) if isinstance(value, str) else ""
    return (f" (use {normalised!r})" if NORMALISED_NAME.fullmatch(normalised)
            else ": lower-case letters and digits joined by single hyphens, no wildcards")


@functools.cache
def codeartifact_regions() -> tuple[str, ...]:
    """Regions where CodeArtifact is offered in the aws partition, from botocore's offline endpoint data."""
    import botocore.session

    return tuple(sorted(botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")))


def region_problem(region: Any) -> str | None:
    """Why `region` (aws:region) cannot hold the registry, or None."""
    regions = codeartifact_regions()
    rule = f"a region where CodeArtifact is offered, one of {', '.join(regions)} (botocore's endpoint data)"
    if region is None or region == "":
        return f"is required: {rule}"
    if not isinstance(region, str):
        return f"must be a string, {rule}; got {type(region).__name__} {region!r}"
    if region in regions:
        return None
    import botocore.session

    try:
        partition = botocore.session.get_session().get_partition_for_region(region)
    except Exception:  # not shaped like any partition's region names
        partition = "aws"
    if partition != "aws":
        return (
            f"{region!r} is in the {partition} partition; every ARN here is arn:aws:..., and CodeArtifact is "
            f"offered only in commercial regions (no GovCloud, no China): use {rule}"
        )
    return f"{region!r} is not {rule}"


def role_arn_problem(value: object, owner: str | None, why_owner: str = "") -> str | None:
    """Why a value is not a full IAM role ARN in the owner account (any account when `owner` is None);
    `why_owner` says, for a role of another account, why it must be the owner's."""
    rule = "arn:aws:iam::ACCOUNT:role/[PATH/]NAME, no wildcards"
    if not isinstance(value, str):
        return f"{value!r} must be an IAM role ARN as a string ({rule})"
    match = ROLE_ARN.fullmatch(value)
    if not match:
        return f"{value!r} must be an IAM role ARN in the aws partition ({rule})"
    if len(match["path"]) + 1 > ROLE_PATH_MAX:
        return f"{value!r} has a role path longer than IAM's {ROLE_PATH_MAX} characters"
    if owner is not None and match["account"] != owner:
        return f"{value!r} is a role in account {match['account']}, not in the owner account {owner}; {why_owner}"
    return None


# Roles AWS or the organization owns in member accounts (exact names, then name prefixes), ignoring case: the
# organization's administrator role, Control Tower's, self-managed StackSets', service-linked roles and
# Identity Center's.
RESERVED_ROLE_NAMES = {
    "organizationaccountaccessrole": "the AWS Organizations administrator role of member accounts",
    "awscontroltowerexecution": "AWS Control Tower's administrator role of member accounts",
    "awscloudformationstacksetexecutionrole": "the execution role of self-managed CloudFormation StackSets",
    "awscloudformationstacksetadministrationrole": "the administration role of self-managed CloudFormation StackSets",
}
RESERVED_ROLE_PREFIXES = {
    "awsservicerolefor": "a service-linked role name (AWSServiceRoleFor...), reserved to AWS services",
    "awsreservedsso_": "an IAM Identity Center role name (AWSReservedSSO_...), managed by Identity Center",
    "stacksets-exec-": "a service-managed StackSet execution role name (stacksets-exec-...)",
}


def reserved_role(name: str) -> str | None:
    """What a role name belongs to when AWS or the organization reserves it, else None."""
    lowered = name.lower()
    if lowered in RESERVED_ROLE_NAMES:
        return RESERVED_ROLE_NAMES[lowered]
    return next((what for prefix, what in RESERVED_ROLE_PREFIXES.items() if lowered.startswith(prefix)), None)


def role_name_of(arn: str) -> str:
    """The name of a role ARN that ROLE_ARN matched (its path left out)."""
    return arn.rsplit("/", 1)[1]


def tag_characters_problem(text: str) -> str | None:
    """IAM's [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]: letters, separators (spaces), numbers and six symbols."""
    bad = sorted({c for c in text if unicodedata.category(c)[0] not in "LZN" and c not in TAG_SYMBOLS})
    if bad:
        return (f"contains {''.join(bad)!r}; allowed are letters, digits, spaces and "
                f"{' '.join(sorted(TAG_SYMBOLS))}")
    return None
