"""The audit checks the stack against the checked-in pack config, not against itself."""

from __future__ import annotations

from audit.guardrails import guardrails_section, pack_config, rendering_violations, stack_pack_config
from audit.render import render
from tests.expected import SECONDARIES, STRANGER


def test_prod_audit_uses_the_checked_in_pack_config(prod):
    _, source = stack_pack_config(prod)
    assert source == "policies/policy-config.prod.json"
    assert not guardrails_section(prod).failed


def test_account_added_to_the_stack_but_not_to_the_pack_config_is_reported():
    rendering = render("prod", overrides={"pypi-registry:secondaryAccountIds": [*SECONDARIES, STRANGER]})
    section = guardrails_section(rendering)
    assert section.failed
    assert any(STRANGER in v["message"] and v["enforcement"] == "mandatory" for v in section.json_value)


def test_the_derived_pack_config_allows_the_owners_of_github_readers_too():
    # A consuming repository of another GitHub owner than any publisher's: the settings accept it,
    # so the pack config derived from them must too.
    rendering = render("prod", overrides={"pypi-registry:githubReaders": [{"repository": "partner/app"}]})
    assert "partner" in pack_config(rendering.settings)["github-oidc-trust-pinned"]["allowedGithubOwners"]
    assert [v for v in rendering_violations(rendering) if v.mandatory] == []
