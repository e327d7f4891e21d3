"""The S3 bucket naming rules (AWS, "General purpose bucket naming rules"), for `python -m bootstrap --state-bucket`:
each rule a name breaks, in words, so a bad name is refused naming the rule."""

from __future__ import annotations

import ipaddress
import re

_ALLOWED = re.compile(r"[a-z0-9.-]*")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problems(name: str) -> list[str]:
    """Every naming rule `name` breaks; [] for a valid general purpose bucket name that also has no period."""
    found = []
    if not 3 <= len(name) <= 63:
        found.append("must be 3 to 63 characters long")
    if not _ALLOWED.fullmatch(name):
        found.append("may hold only lowercase letters, digits, hyphens (and periods)")
    if name and not (name[0].isascii() and name[0].isalnum() and name[-1].isascii() and name[-1].isalnum()):
        found.append("must begin and end with a lowercase letter or a digit")
    if ".." in name:
        found.append("must not hold two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
        found.append("must not be formatted as an IP address")
    except ValueError:
        pass
    found += [f"must not begin with {prefix!r} (reserved by AWS)" for prefix in _RESERVED_PREFIXES
              if name.startswith(prefix)]
    found += [f"must not end with {suffix!r} (reserved by AWS)" for suffix in _RESERVED_SUFFIXES
              if name.endswith(suffix)]
    if "." in name:
        # Allowed by S3, but the bucket policy allows TLS only, and a name with a period breaks the certificate
        # check of virtual-hosted-style requests (*.s3.REGION.amazonaws.com matches one label only).
        found.append("must not hold a period: the state bucket allows TLS only, and the wildcard certificate of "
                     "virtual-hosted-style requests does not match a name with periods")
    return found
