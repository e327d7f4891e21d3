"""`aws codeartifact ...` for the publish workflow's upload step, made of boto3 (no AWS CLI here).

It reads the command line the way AWS CLI v2 does for the subset the workflow uses: the operation
(`describe-package-version` -> DescribePackageVersion), `--kebab-case` options mapped to the
operation's input members through botocore's model (integers converted), `--region`, `--query`
(JMESPath) and `--output text` (tab-separated rows, as the CLI prints them). boto3 then calls the
endpoint in AWS_ENDPOINT_URL_CODEARTIFACT. A service error is printed as the CLI prints it,
"An error occurred (Code) when calling the Operation operation: message", with exit status 254.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
import botocore
import jmespath
from botocore.exceptions import ClientError


def _text(value: Any) -> str:
    """AWS CLI `--output text`: scalars as is, lists of lists as tab-separated rows."""
    if value is None:
        return "None"
    if isinstance(value, list):
        rows = []
        for item in value:
            rows.append("\t".join(_text(cell) for cell in item) if isinstance(item, list) else _text(item))
        return "\n".join(rows)
    if isinstance(value, dict):
        return "\t".join(_text(item) for item in value.values())
    return str(value)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "codeartifact":
        print(f"aws (test stand-in): only `aws codeartifact OPERATION` is offered, got {argv}", file=sys.stderr)
        return 252
    client = boto3.client("codeartifact", region_name=_option(argv, "--region"))
    operation_name = client.meta.method_to_api_mapping.get(argv[1].replace("-", "_"))
    if operation_name is None:
        print(f"aws: error: argument operation: Invalid choice: {argv[1]}", file=sys.stderr)
        return 252
    operation = client.meta.service_model.operation_model(operation_name)
    members = {botocore.xform_name(name, "-"): (name, shape) for name, shape in operation.input_shape.members.items()}
    params: dict[str, Any] = {}
    query, output = None, "json"
    words = iter(argv[2:])
    for word in words:
        value = next(words, None)
        if value is None or not word.startswith("--"):
            print(f"aws: error: cannot read {word!r}", file=sys.stderr)
            return 252
        option = word[2:]
        if option == "region":
            continue
        if option == "query":
            query = value
        elif option == "output":
            output = value
        elif option in members:
            name, shape = members[option]
            params[name] = int(value) if shape.type_name in ("integer", "long") else value
        else:
            print(f"aws: error: Unknown options: {word}", file=sys.stderr)
            return 252
    try:
        response = getattr(client, argv[1].replace("-", "_"))(**params)
    except ClientError as error:
        details = error.response.get("Error", {})
        print(f"\nAn error occurred ({details.get('Code')}) when calling the {operation_name} operation: "
              f"{details.get('Message')}", file=sys.stderr)
        return 254
    response.pop("ResponseMetadata", None)
    result = jmespath.search(query, response) if query else response
    print(_text(result) if output == "text" else json.dumps(result, default=str, indent=4))
    return 0


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
