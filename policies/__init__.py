"""CrossGuard policy pack for the registry (see guardrails.py)."""
