"""The restore's two failures (`python -m backup.restore`), each with its exit status."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input: exit 2, nothing uploaded."""


class RestoreError(Exception):
    """A refused file or a failed step: exit 1, naming what failed."""
