"""The access diff's second engine: two versions of one policy document, compared by Z3.

principalmapper (audit/access/) decides a fixed list of requests: the codeartifact actions on
the registry's ARNs, for the principals the settings name. This module shares none of that: it
turns each version of a policy document into a formula over one symbolic request (principal,
action, resource and condition keys) and asks Z3 whether some request satisfies the new version
and not the old one. A `sat` answer comes with a concrete request: the counterexample.

A document is wider when some request is allowed by the new version and not the old one, or
explicitly denied by the old version and not the new one (a Deny dropped in one document lets
through what another document allows).

The model (docs/audit.md, "Access diff"):
- an action is one the Service Authorization Reference lists for a service the documents name
  (or an action of no listed service), matched without case as IAM does; resources, principals
  and condition values are any strings, matched with case;
- `Principal` and `NotPrincipal`: `*`, `{"AWS": "*"}`, an account (`123456789012`,
  `arn:aws:iam::123456789012:root`) matching every principal of that account, an exact ARN;
  `Service`, `Federated` and `CanonicalUser` by exact value. An identity policy applies to the
  roles it is attached to, so its requests come from one of them;
- conditions: the String, Arn and Bool operators, `Null`, `...IfExists` and the `ForAnyValue:`
  and `ForAllValues:` qualifiers (a key with up to three values), with AWS's rules for an absent
  key; `aws:PrincipalArn` and `aws:PrincipalAccount` follow the request's principal. Any other
  clause (numeric, date, IP address, case-insensitive strings, policy variables) is an opaque
  proposition named by its text: the same clause in both versions is the same proposition,
  a changed one is a new one, so a change there counts as wider;
- a document that cannot be read is taken to allow everything.

Every counterexample is a request AWS could make where one shows the widening: an action the
action table lists (an action of a service no pattern names is stood in for by a real one), a
well-formed resource ARN (or `*` for an action the access proof decides on no resource), an AWS
principal whose ARN and account agree. What still falls short is said with it
(`Comparison.example_problems`, `request_problems`): the widening stands either way.
"""

from audit.smt.comparison import compare, resourceless_actions
from audit.smt.documents import (
    EVERYTHING,
    NOTHING,
    Bound,
    Comparison,
    Hints,
    Request,
    UnreadableDocumentError,
    canonical,
    read_document,
    request_problems,
    well_formed_arn,
)
from audit.smt.encoding import OTHER_ACTION

# What the access diff and the tests use.
__all__ = [
    "EVERYTHING",
    "NOTHING",
    "OTHER_ACTION",
    "Bound",
    "Comparison",
    "Hints",
    "Request",
    "UnreadableDocumentError",
    "canonical",
    "compare",
    "read_document",
    "request_problems",
    "resourceless_actions",
    "well_formed_arn",
]
