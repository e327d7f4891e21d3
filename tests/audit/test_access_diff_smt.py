"""The second engine of the access diff on its own: two versions of one document, compared by Z3.

Each test states an IAM rule and shows that a change across it is (or is not) found wider, with a
counterexample request that the new version allows and the old one does not.
"""

from __future__ import annotations

import json

import pytest

from audit import smt
from policies import iam_actions

OWNER = "111122223333"
SECONDARY = "444455556666"
DOMAIN = f"arn:aws:codeartifact:eu-west-1:{OWNER}:domain/acme"
INTERNAL = f"arn:aws:codeartifact:eu-west-1:{OWNER}:repository/acme/internal"
PACKAGES = f"arn:aws:codeartifact:eu-west-1:{OWNER}:package/acme/internal/pypi//"
READER = f"arn:aws:iam::{SECONDARY}:role/codeartifact-pypi-reader"
PROVIDER = f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def compare(old, new, roles=(), hints=None) -> smt.Comparison:
    return smt.compare(None if old is None else smt.Bound(old, roles), None if new is None else smt.Bound(new, roles),
                       hints)


def trust(condition: dict) -> dict:
    return policy({"Effect": "Allow", "Principal": {"Federated": PROVIDER},
                   "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition})


# --- actions ----------------------------------------------------------------------------------


def test_a_new_action_is_wider_and_the_counterexample_is_that_action():
    old = policy(allow("codeartifact:ReadFromRepository", INTERNAL))
    new = policy(allow(["codeartifact:ReadFromRepository", "codeartifact:PublishPackageVersion"], INTERNAL))
    result = compare(old, new)
    assert result.wider and result.how == "allows" and not result.read_only
    assert result.example.action == "codeartifact:PublishPackageVersion"
    assert result.example.resource == INTERNAL


def test_actions_match_without_case_and_by_wildcard_over_the_actions_that_exist():
    explicit = policy(allow(iam_actions.codeartifact_actions(), DOMAIN))
    assert not compare(explicit, policy(allow("codeartifact:*", DOMAIN))).wider
    assert not compare(policy(allow("codeartifact:ReadFromRepository")),
                       policy(allow("CodeArtifact:readfromrepository"))).wider
    reads = [a for a, level in iam_actions.actions_by_level().items() if level in ("Read", "List")]
    narrowed = compare(policy(allow(reads, DOMAIN)), policy(allow("codeartifact:Describe*", DOMAIN)))
    assert not narrowed.wider


def test_a_read_only_widening_is_told_apart_from_one_beyond_reading():
    old = policy(allow("codeartifact:DescribeDomain", DOMAIN))
    more = ["codeartifact:DescribeDomain", "codeartifact:ListRepositoriesInDomain"]
    reads = compare(old, policy(allow(more, DOMAIN)))
    assert reads.wider and reads.read_only
    writes = compare(old, policy(allow("codeartifact:*", DOMAIN)))
    assert writes.wider and not writes.read_only


def test_not_action_allows_everything_but_the_listed_actions():
    old = policy(allow("codeartifact:Get*", DOMAIN))
    result = compare(old, policy({"Effect": "Allow", "NotAction": "codeartifact:Delete*", "Resource": DOMAIN}))
    assert result.wider and not result.example.action.lower().startswith("codeartifact:delete")


@pytest.mark.parametrize("pattern", ["code*:Delete*", "*:Delete*", "CODE?RTIFACT:delete*"])
def test_a_wildcard_in_the_service_part_matches_the_actions_of_every_service_it_names(pattern):
    # As principalmapper matches an action: one wildcard pattern over the whole name, without case.
    added = compare(None, policy(allow(pattern, DOMAIN)))
    assert added.wider and not added.read_only
    assert added.example.action.lower().partition(":")[2].startswith("delete")
    reads = policy(allow("codeartifact:Get*", DOMAIN))
    hints = smt.Hints(actions=("codeartifact:GetAuthorizationToken", "codeartifact:DeleteRepository"))
    more = compare(reads, policy(allow(["codeartifact:Get*", pattern], DOMAIN)), hints=hints)
    assert more.wider and more.example.action == "codeartifact:DeleteRepository"
    grant = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}, "Action": "codeartifact:*",
             "Resource": "*"}
    deny = {"Effect": "Deny", "Principal": "*", "Action": pattern, "Resource": "*"}
    assert not compare(policy(grant, deny), policy(grant, deny)).wider
    dropped = compare(policy(grant, deny), policy(grant))
    assert dropped.wider and dropped.example.action.startswith("codeartifact:Delete")


# --- resources --------------------------------------------------------------------------------


def test_a_wider_resource_pattern_is_wider_with_a_resource_only_it_matches():
    old = policy(allow("codeartifact:PublishPackageVersion", PACKAGES + "acme-core"))
    new = policy(allow("codeartifact:PublishPackageVersion", PACKAGES + "*"))
    result = compare(old, new)
    assert result.wider
    assert result.example.resource.startswith(PACKAGES) and result.example.resource != PACKAGES + "acme-core"


def test_the_counterexample_takes_a_resource_from_the_hints_when_one_shows_the_widening():
    old = policy(allow("codeartifact:PublishPackageVersion", PACKAGES + "acme-core"))
    new = policy(allow("codeartifact:PublishPackageVersion", PACKAGES + "acme-*"))
    hints = smt.Hints(resources=(PACKAGES + "acme-core", PACKAGES + "acme-data-tools", DOMAIN))
    assert compare(old, new, hints=hints).example.resource == PACKAGES + "acme-data-tools"


def test_question_mark_matches_one_character_and_not_resource_excludes():
    assert not compare(policy(allow("s3:GetObject", "arn:aws:s3:::b/a?")),
                       policy(allow("s3:GetObject", "arn:aws:s3:::b/a1"))).wider
    old = policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/secret*"})
    new = policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/secret-a*"})
    result = compare(old, new)
    assert result.wider and result.example.resource.startswith("arn:aws:s3:::b/secret")


# --- conditions -------------------------------------------------------------------------------


def test_a_dropped_condition_is_wider_with_the_key_it_no_longer_checks():
    old = policy(allow("sts:GetServiceBearerToken", "*",
                       Condition={"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}))
    new = policy(allow("sts:GetServiceBearerToken", "*"))
    result = compare(old, new, roles=(READER,))
    assert result.wider
    assert result.example.principal == READER
    assert result.example.context["sts:awsservicename"] != ("codeartifact.amazonaws.com",)


def test_an_absent_key_fails_a_condition_unless_negated_or_if_exists():
    equals = policy(allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}}))
    if_exists = policy(allow("s3:GetObject", Condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}))
    result = compare(equals, if_exists)
    assert result.wider and result.example.context["aws:principalorgid"] == ()
    assert not compare(if_exists, equals).wider
    not_equals = policy(allow("s3:GetObject", Condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}}))
    # StringNotEquals is true when the key is absent: it allows at least what IfExists-less Null false does.
    null_false = policy(allow("s3:GetObject", Condition={
        "StringNotEquals": {"aws:PrincipalOrgID": "o-1"}, "Null": {"aws:PrincipalOrgID": "false"}}))
    assert not compare(not_equals, null_false).wider
    assert compare(null_false, not_equals).example.context["aws:principalorgid"] == ()


def test_for_all_values_is_true_without_the_key():
    strict = trust({"StringEquals": {AUD: "sts.amazonaws.com"}})
    loose = trust({"ForAllValues:StringEquals": {AUD: "sts.amazonaws.com"}})
    result = compare(strict, loose)
    assert result.wider and result.example.context[AUD.lower()] == ()


def test_github_subjects_are_matched_exactly_or_by_wildcard():
    one = trust({"StringEquals": {AUD: "sts.amazonaws.com", SUB: "repo:acme/lib:environment:pypi"}})
    two = trust({"StringEquals": {AUD: "sts.amazonaws.com",
                                  SUB: ["repo:acme/lib:environment:pypi", "repo:acme/other:environment:pypi"]}})
    result = compare(one, two)
    assert result.wider and result.example.context[SUB.lower()] == ("repo:acme/other:environment:pypi",)
    assert result.example.principal_type == "Federated" and result.example.principal == PROVIDER
    assert not compare(two, one).wider
    owner_wide = trust({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:acme/*"}})
    assert not compare(owner_wide, two).wider
    assert compare(two, owner_wide).wider


def test_clauses_outside_the_model_are_the_same_proposition_in_both_versions_and_new_when_changed():
    ip = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    old = policy(allow("s3:GetObject", Condition=ip))
    reordered = policy(allow("s3:GetObject", Condition=json.loads(json.dumps(ip))))
    assert not compare(old, reordered).wider
    assert compare(old, policy(allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}))).wider
    assert compare(old, policy(allow("s3:GetObject"))).wider


# --- principals -------------------------------------------------------------------------------


def resource_policy(*accounts: str) -> dict:
    return policy({"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
                   "Action": "codeartifact:GetAuthorizationToken", "Resource": DOMAIN})


def test_a_new_account_in_a_resource_policy_is_wider_with_a_principal_of_that_account():
    result = compare(resource_policy(SECONDARY), resource_policy(SECONDARY, "999988887777"))
    assert result.wider and result.example.account == "999988887777"
    assert "999988887777" in result.example.who


def test_an_account_id_and_its_root_arn_are_the_same_principal():
    as_id = policy({"Effect": "Allow", "Principal": {"AWS": SECONDARY}, "Action": "codeartifact:GetAuthorizationToken",
                    "Resource": DOMAIN})
    assert not compare(resource_policy(SECONDARY), as_id).wider
    assert not compare(as_id, resource_policy(SECONDARY)).wider


def test_a_role_arn_is_narrower_than_its_account_and_star_is_wider_than_both():
    role = policy({"Effect": "Allow", "Principal": {"AWS": READER}, "Action": "codeartifact:GetAuthorizationToken",
                   "Resource": DOMAIN})
    assert not compare(resource_policy(SECONDARY), role).wider
    assert compare(role, resource_policy(SECONDARY)).wider
    anyone = policy({"Effect": "Allow", "Principal": "*", "Action": "codeartifact:GetAuthorizationToken",
                     "Resource": DOMAIN})
    assert compare(resource_policy(SECONDARY), anyone).wider


def test_not_principal_and_an_identity_policy_moved_to_another_role():
    old = policy({"Effect": "Deny", "NotPrincipal": {"AWS": READER}, "Action": "s3:*", "Resource": "*"})
    assert not compare(old, old).wider
    document = policy(allow("codeartifact:ReadFromRepository", INTERNAL))
    other = f"arn:aws:iam::{SECONDARY}:role/other"
    result = smt.compare(smt.Bound(document, (READER,)), smt.Bound(document, (other,)))
    assert result.wider and result.example.principal == other


def test_not_principal_leaves_out_every_principal_of_a_named_account_or_exactly_a_named_role():
    # As principalmapper reads NotPrincipal: an account (ID or root ARN) leaves out all its principals.
    everyone = {"Effect": "Deny", "Principal": "*", "Action": "codeartifact:DeleteDomain", "Resource": DOMAIN}
    for owner in (OWNER, f"arn:aws:iam::{OWNER}:root"):
        but_owner = {**{k: v for k, v in everyone.items() if k != "Principal"}, "NotPrincipal": {"AWS": owner}}
        result = compare(policy(everyone), policy(but_owner))
        assert result.wider and result.how == "no longer denies" and result.example.account == OWNER
        assert not compare(policy(but_owner), policy(everyone)).wider
    but_reader = {**{k: v for k, v in everyone.items() if k != "Principal"}, "NotPrincipal": {"AWS": READER}}
    result = compare(policy(everyone), policy(but_reader))
    assert result.wider and result.example.principal == READER
    # An Allow with NotPrincipal lets in everyone else, of any account.
    allow_all_but = {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{SECONDARY}:root"},
                     "Action": "codeartifact:GetAuthorizationToken", "Resource": DOMAIN}
    outsider = "arn:aws:iam::999988887777:role/administrator"
    result = compare(resource_policy(SECONDARY), policy(allow_all_but), hints=smt.Hints(principals=(outsider,)))
    assert result.wider and result.example.principal == outsider and result.example.account == "999988887777"
    excluded = compare(resource_policy(SECONDARY), policy(allow_all_but), hints=smt.Hints(principals=(READER,)))
    assert excluded.example.principal != READER


# --- denies, added and removed documents, unreadable ones ------------------------------------


def test_a_dropped_deny_no_longer_denies():
    deny = {"Effect": "Deny", "Principal": "*", "Action": "codeartifact:DeleteDomain", "Resource": "*"}
    grant = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}, "Action": "codeartifact:*",
             "Resource": "*"}
    result = compare(policy(grant, deny), policy(grant))
    assert result.wider and result.example.action == "codeartifact:DeleteDomain"
    # Whichever question finds it: the grant now also allows DeleteDomain to the owner.
    assert result.how in ("allows", "no longer denies")
    deny_only = compare(policy(deny), policy())
    assert deny_only.wider and deny_only.how == "no longer denies"


def test_the_order_of_statements_and_of_list_entries_changes_nothing():
    first = allow(["codeartifact:ReadFromRepository", "codeartifact:GetRepositoryEndpoint"], INTERNAL)
    second = {"Effect": "Deny", "Principal": "*", "Action": "codeartifact:DeleteDomain", "Resource": "*"}
    swapped = allow(["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"], INTERNAL)
    assert not compare(policy(first, second), policy(second, swapped)).wider


def test_an_added_document_is_wider_when_it_allows_anything_and_a_removed_one_never():
    document = policy(allow("codeartifact:ReadFromRepository", INTERNAL))
    assert compare(None, document).wider
    assert not compare(document, None).wider
    assert not compare(None, policy()).wider


def test_an_unreadable_document_allows_everything():
    with pytest.raises(smt.UnreadableDocumentError):
        smt.read_document('{"Statement": [{"Effect": "Allow", "Resource": "*"}]}')
    with pytest.raises(smt.UnreadableDocumentError):
        smt.read_document('{"Statement": [], "Statement": []}')
    old = smt.Bound(policy(allow("codeartifact:ReadFromRepository", INTERNAL)))
    result = smt.compare(old, smt.Bound(smt.NOTHING, unreadable="not JSON"))
    assert result.wider and not result.read_only


def test_an_undecided_question_counts_as_wider():
    old = policy(allow("s3:GetObject", "arn:aws:s3:::b/*a*b*c*", Condition={"StringLike": {"s3:prefix": "*x*y*"}}))
    new = policy(allow("s3:GetObject", "arn:aws:s3:::b/*a*c*", Condition={"StringLike": {"s3:prefix": "*x*"}}))
    result = smt.compare(smt.Bound(old), smt.Bound(new), timeout_ms=1)
    assert result.wider
    assert result.undecided or result.example is not None


# --- counterexamples are requests AWS could make ----------------------------------------------------


def test_a_counterexample_for_an_action_of_another_service_names_a_real_action_and_arn():
    old = policy(allow("codeartifact:Get*", DOMAIN))
    result = compare(old, policy({"Effect": "Allow", "NotAction": "codeartifact:*", "Resource": "*"}))
    example = result.example
    assert result.wider and not result.read_only
    assert iam_actions.access_level(example.action) not in (None, "Read", "List")
    assert not example.action.lower().startswith("codeartifact:") and example.action != smt.OTHER_ACTION
    assert smt.well_formed_arn(example.resource) and example.resource.split(":")[2] == example.action.split(":")[0]
    assert result.example_problems == ()


def test_a_counterexample_on_an_any_resource_pattern_is_a_well_formed_arn():
    result = compare(policy(allow("s3:GetObject", "arn:aws:s3:::acme-artifacts/public/*")),
                     policy(allow("s3:GetObject", "arn:aws:s3:::acme-artifacts/*")))
    assert result.wider and result.example.action == "s3:GetObject"
    assert result.example.resource.startswith("arn:aws:s3:::acme-artifacts/")
    assert not result.example.resource.startswith("arn:aws:s3:::acme-artifacts/public/")
    assert smt.well_formed_arn(result.example.resource) and result.example_problems == ()


def test_what_no_possible_request_shows_is_still_wider_and_says_so():
    # An action the table does not list (stale table, or a typo): counted, and named as no real action.
    made_up = compare(policy(allow("codeartifact:ReadFromRepository", INTERNAL)),
                      policy(allow(["codeartifact:ReadFromRepository", "codeartifact:LaunchRockets"], INTERNAL)))
    assert made_up.wider and made_up.example.action == "codeartifact:LaunchRockets"
    assert made_up.example_problems == ("codeartifact:LaunchRockets is no action the action table lists",)
    # A resource that is no ARN.
    no_arn = compare(None, policy(allow("codeartifact:PublishPackageVersion", "internal")))
    assert no_arn.wider and no_arn.example.resource == "internal"
    assert no_arn.example_problems == ('resource "internal" is not a well-formed ARN',)


ROLE = f"arn:aws:iam::{SECONDARY}:role/ci"


@pytest.mark.parametrize(("request_", "problems"), [
    (smt.Request("AWS", ROLE, "codeartifact:ReadFromRepository", INTERNAL, account=SECONDARY), []),
    (smt.Request("AWS", f"arn:aws:iam::{SECONDARY}:root", "sts:GetServiceBearerToken", "*", account=SECONDARY), []),
    (smt.Request("Federated", PROVIDER, "sts:AssumeRoleWithWebIdentity", READER), []),
    (smt.Request("AWS", ROLE, "codeartifact:ReadFromRepositry", INTERNAL, account=SECONDARY),
     ["codeartifact:ReadFromRepositry is no action the action table lists"]),
    (smt.Request("AWS", ROLE, "codeartifact:ReadFromRepository", "arn:aws:codeartifact:::", account=SECONDARY),
     ['resource "arn:aws:codeartifact:::" is not a well-formed ARN']),
    (smt.Request("AWS", ROLE, "s3:GetObject", "arn:aws:s3:::bucket/", account=SECONDARY),
     ['resource "arn:aws:s3:::bucket/" is not a well-formed ARN']),
    (smt.Request("AWS", ROLE, "codeartifact:PublishPackageVersion", "*", account=SECONDARY),
     ["resource * for codeartifact:PublishPackageVersion, an action decided on resources"]),
    (smt.Request("AWS", ROLE, "codeartifact:ReadFromRepository", INTERNAL, account=OWNER),
     [f"principal {ROLE} is not of account {OWNER}"]),
    (smt.Request("AWS", "bob", "codeartifact:ReadFromRepository", INTERNAL, account=SECONDARY),
     ['principal "bob" is not a well-formed principal ARN']),
])
def test_request_problems_names_what_aws_could_not_receive(request_, problems):
    assert smt.request_problems(request_, resourceless={"sts:getservicebearertoken"}) == problems
