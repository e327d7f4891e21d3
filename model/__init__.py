"""What the stack is, as plain Python: its settings and the policy documents, with no Pulumi resource in sight.

Layered from the bottom, each module importing only those below it: names (the constants), rules and github (the
value checks), trust_policy (GitHub's OIDC trust, whose size packs the reader roles), settings (the frozen
dataclasses), documents/ (the policy documents as functions of the settings), parse and its sections
(parse_values, parse_roles, parse_github, parse_airlock, parse_backup, parse_stackset), stack_file (the project
and stack files as the Pulumi CLI reads them) and pulumi_config (pulumi.Config, for the program alone).
components/ declares the resources from them; audit/, bootstrap/ and bench/ read them.
tests/model/test_layering.py holds this in place.
"""
