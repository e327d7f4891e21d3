"""principalmapper, importable on Python 3.10+.

principalmapper 1.1.5 imports `Mapping` and `MutableMapping` from `collections`, where
Python 3.10 removed them; restore the aliases before its first import. Everything taken from
principalmapper is imported here, so the shim lives in exactly one place. Two of its private
helpers are taken too, so that the access evaluator's shapes compare values exactly as its
evaluation does: condition blocks (`condition_block_matches`) and Resource/Action patterns
(`value_matches`); the lock pins the version they are read from.
"""

from __future__ import annotations

import collections
import collections.abc

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

from principalmapper.common import Node, Policy  # noqa: E402
from principalmapper.querying.local_policy_simulation import (  # noqa: E402
    _get_condition_match as condition_block_matches,
)
from principalmapper.querying.local_policy_simulation import (  # noqa: E402
    _matches_after_expansion as value_matches,
)
from principalmapper.querying.local_policy_simulation import policy_has_matching_statement  # noqa: E402
from principalmapper.querying.query_interface import local_check_authorization_full  # noqa: E402
from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict  # noqa: E402

__all__ = [
    "CaseInsensitiveDict",
    "Node",
    "Policy",
    "condition_block_matches",
    "local_check_authorization_full",
    "policy_has_matching_statement",
    "value_matches",
]
