"""Stands in for `aws codeartifact ...` in the publish workflow's upload script.

State comes from the JSON file named by FAKE_REGISTRY:
  {"token": str, "endpoint": str,
   "published": {package: {version: {file name: sha256}}},
   "deny": [operation, ...]}
Every call is appended to FAKE_CALLS as one JSON line. Errors and exit codes mimic AWS CLI v2
(a service error prints "An error occurred (Code) when calling the Op operation: ..." and exits 254).
"""

import json
import os
import sys

OPERATIONS = {
    "get-authorization-token": "GetAuthorizationToken",
    "get-repository-endpoint": "GetRepositoryEndpoint",
    "describe-package-version": "DescribePackageVersion",
    "list-package-version-assets": "ListPackageVersionAssets",
}


def options(argv: list[str]) -> dict[str, str]:
    parsed = {}
    for index, word in enumerate(argv):
        if word.startswith("--") and index + 1 < len(argv) and not argv[index + 1].startswith("--"):
            parsed[word[2:]] = argv[index + 1]
    return parsed


def service_error(code: str, operation: str, message: str) -> None:
    print(f"\nAn error occurred ({code}) when calling the {operation} operation: {message}", file=sys.stderr)
    sys.exit(254)


def main() -> None:
    argv = sys.argv[1:]
    with open(os.environ["FAKE_CALLS"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"program": "aws", "argv": argv}) + "\n")
    with open(os.environ["FAKE_REGISTRY"], encoding="utf-8") as handle:
        state = json.load(handle)

    if len(argv) < 2 or argv[0] != "codeartifact" or argv[1] not in OPERATIONS:
        print(f"fake aws: unsupported command {argv}", file=sys.stderr)
        sys.exit(2)
    command, operation, args = argv[1], OPERATIONS[argv[1]], options(argv)
    for required in ("domain", "domain-owner", "region"):
        if required not in args:
            print(f"fake aws: --{required} is missing", file=sys.stderr)
            sys.exit(2)

    if command in state.get("deny", []):
        service_error(
            "AccessDeniedException", operation,
            f"User: arn:aws:sts::{args['domain-owner']}:assumed-role/gh-publish/run is not authorized "
            f"to perform: codeartifact:{operation}",
        )

    if command == "get-authorization-token":
        assert args.get("query") == "authorizationToken" and args.get("output") == "text", args
        print(state["token"])
    elif command == "get-repository-endpoint":
        assert args.get("format") == "pypi" and args.get("output") == "text", args
        print(state["endpoint"])
    else:
        assert args.get("format") == "pypi", args
        package, version = args["package"], args["package-version"]
        assets = state.get("published", {}).get(package, {}).get(version)
        if assets is None:
            service_error("ResourceNotFoundException", operation,
                          f"Package version {version} of package {package} not found")
        if command == "describe-package-version":
            print("Published")
        else:
            for name, sha256 in assets.items():
                print(f"{name}\t{sha256}")


if __name__ == "__main__":
    main()
