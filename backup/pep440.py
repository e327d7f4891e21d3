"""The little of PEP 440 retention needs: is a version a dev or pre-release, which release series is it in, and
its normalised form (for matching the keep-list).

`packaging` is not in Lambda's runtime and nothing is vendored, so this reads a version with the regular
expression PEP 440 itself publishes (Appendix B, "Parsing version strings with regular expressions", the
permissive form that accepts every spelling PEP 440 normalises). tests/backup/test_backup_selection.py checks every
answer against `packaging.version` over generated versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# PEP 440, Appendix B (the same text as packaging.version.VERSION_PATTERN).
VERSION_PATTERN: Final = r"""
    v?
    (?:
        (?:(?P<epoch>[0-9]+)!)?                           # epoch
        (?P<release>[0-9]+(?:\.[0-9]+)*)                  # release segment
        (?P<pre>                                          # pre-release
            [-_\.]?
            (?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)
            [-_\.]?
            (?P<pre_n>[0-9]+)?
        )?
        (?P<post>                                         # post release
            (?:-(?P<post_n1>[0-9]+))
            |
            (?:
                [-_\.]?
                (?P<post_l>post|rev|r)
                [-_\.]?
                (?P<post_n2>[0-9]+)?
            )
        )?
        (?P<dev>                                          # dev release
            [-_\.]?
            (?P<dev_l>dev)
            [-_\.]?
            (?P<dev_n>[0-9]+)?
        )?
    )
    (?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?       # local version
"""

_VERSION: Final = re.compile(r"^\s*" + VERSION_PATTERN + r"\s*$", re.VERBOSE | re.IGNORECASE)
# PEP 440, "Pre-release spelling": alpha, beta, c, pre and preview normalise to a, b, rc, rc and rc.
_PRE_SPELLING: Final = {
    "alpha": "a",
    "a": "a",
    "beta": "b",
    "b": "b",
    "c": "rc",
    "pre": "rc",
    "preview": "rc",
    "rc": "rc",
}


class VersionError(ValueError):
    """Not a PEP 440 version: retention never archives what it cannot read."""


@dataclass(frozen=True)
class Version:
    epoch: int
    release: tuple[int, ...]
    pre: tuple[str, int] | None
    post: int | None
    dev: int | None
    local: str | None

    @property
    def is_dev_or_pre_release(self) -> bool:
        """True for a dev release or a pre-release (PEP 440's "pre-releases" include dev releases)."""
        return self.pre is not None or self.dev is not None

    @property
    def series(self) -> str:
        """The release series: epoch and release segment without trailing zeros (2.1.0rc1 and 2.1rc2 are both
        in 2.1, since PEP 440 compares 2.1.0 equal to 2.1)."""
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        text = ".".join(str(part) for part in release)
        return f"{self.epoch}!{text}" if self.epoch else text

    def key(self) -> tuple[object, ...]:
        """Equal keys are equal versions under PEP 440 (trailing zeros of the release do not count: 7.0rc1 is
        7.0.0rc1)."""
        return (self.series, self.pre, self.post, self.dev, self.local)

    def __str__(self) -> str:
        """The normalised form (PEP 440, "Normalization")."""
        text = f"{self.epoch}!" if self.epoch else ""
        text += ".".join(str(part) for part in self.release)
        if self.pre is not None:
            text += f"{self.pre[0]}{self.pre[1]}"
        if self.post is not None:
            text += f".post{self.post}"
        if self.dev is not None:
            text += f".dev{self.dev}"
        if self.local is not None:
            text += f"+{self.local}"
        return text


def parse(text: str) -> Version:
    match = _VERSION.match(text)
    if match is None:
        raise VersionError(f"{text!r} is not a PEP 440 version")
    pre = None
    if match.group("pre_l"):
        pre = (_PRE_SPELLING[match.group("pre_l").lower()], int(match.group("pre_n") or 0))
    post = None
    if match.group("post"):
        post = int(match.group("post_n1") or match.group("post_n2") or 0)
    dev = int(match.group("dev_n") or 0) if match.group("dev") else None
    local = match.group("local")
    return Version(
        epoch=int(match.group("epoch") or 0),
        release=tuple(int(part) for part in match.group("release").split(".")),
        pre=pre,
        post=post,
        dev=dev,
        # Local segments: lower case, separators as ".", numeric parts without leading zeros.
        local=None if local is None else ".".join(_local_part(part) for part in re.split(r"[-_.]", local.lower())),
    )


def _local_part(part: str) -> str:
    return str(int(part)) if part.isdigit() else part


def same_version(first: str, second: str) -> bool:
    """Equal under PEP 440; text that is not a PEP 440 version equals only itself."""
    if first == second:
        return True
    try:
        return parse(first).key() == parse(second).key()
    except VersionError:
        return False
