"""Stands in for `twine upload`: records its arguments and TWINE_* variables to FAKE_CALLS.

FAKE_TWINE_STATUS (default 0) is its exit status; a failure prints what twine prints when
CodeArtifact refuses a token.
"""

import json
import os
import sys


def main() -> None:
    record = {
        "program": "twine",
        "argv": sys.argv[1:],
        "env": {name: os.environ.get(name) for name in ("TWINE_USERNAME", "TWINE_PASSWORD", "TWINE_REPOSITORY_URL")},
    }
    with open(os.environ["FAKE_CALLS"], "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    status = int(os.environ.get("FAKE_TWINE_STATUS", "0"))
    if status:
        print(f"ERROR    HTTPError: 404 Not Found from {os.environ.get('TWINE_REPOSITORY_URL')}", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
