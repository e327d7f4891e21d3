"""The audit checks the stack against the checked-in pack config, not against itself."""

from __future__ import annotations

from audit.guardrails import guardrails_section, stack_pack_config
from audit.render import render

PROD_ACCOUNTS = ["012345678901", "444455556666", "777788889999"]


def test_prod_audit_uses_the_checked_in_pack_config():
    rendering = render("prod")
    _, source = stack_pack_config(rendering)
    assert source == "policies/policy-config.prod.json"
    assert not guardrails_section(rendering).failed


def test_account_added_to_the_stack_but_not_to_the_pack_config_is_reported():
    rendering = render("prod", overrides={"pypi-registry:secondaryAccountIds": [*PROD_ACCOUNTS, "999988887777"]})
    section = guardrails_section(rendering)
    assert section.failed
    assert any("999988887777" in v["message"] and v["enforcement"] == "mandatory" for v in section.json_value)
