"""`python -m backup.restore`: replay the backup bucket into a CodeArtifact repository with twine.

Every version the bucket has a manifest for (`manifests/NAME/VERSION.json`) is restored from its files
(`packages/NAME/VERSION/FILENAME`), and every file is checked twice: its sha256 against the manifest
after it leaves the bucket and before anything is uploaded, and again after it is downloaded back
through the target's index. Any mismatch fails the run naming the file.

The restore runs on an operator's machine (not in the backup Lambda): it needs boto3 and twine.
twine cannot skip existing files on CodeArtifact (twine 7 refuses --skip-existing for any repository
but PyPI's and TestPyPI's: "UnsupportedConfiguration"), so the target's index is asked first: a file
already there with the manifest's sha256 is skipped, one there with other bytes is refused, and only
missing files are uploaded. A second run therefore uploads nothing.

The bucket side is backup/restore_bucket.py, the target's side (its URL and index) backup/restore_index.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from backup.config import TOPIC_ARN
from backup.layout import Asset
from backup.restore_bucket import FILE_NAME, BackupBucket, Manifest, read_manifests, stage
from backup.restore_errors import RestoreError, UsageError
from backup.restore_index import TOKEN_USERNAME, Index, Listed, Target, parse_index_url

# S3's bucket naming rules (general purpose buckets).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

DESCRIPTION = """\
Replay the backup bucket into a CodeArtifact repository (the standby's `internal`, or a rebuilt one) with
twine. Every file's sha256 is checked against its manifest before upload and again after it is downloaded
back through the index; a mismatch fails the run naming the file, and nothing is uploaded while any file
of the bucket fails the first check. Files already in the index with the same bytes are skipped, so a
second run uploads nothing.

Run it on an operator's machine with boto3 and twine installed (`python -m pip install boto3 twine`),
with AWS credentials that may read the bucket and a CodeArtifact token that may publish to the target:

  export TWINE_USERNAME=aws
  export TWINE_PASSWORD="$(aws codeartifact get-authorization-token --domain DOMAIN \\
      --domain-owner OWNER --region REGION --query authorizationToken --output text)"
  python -m backup.restore --bucket BUCKET --index-url URL --dry-run   # the plan
  python -m backup.restore --bucket BUCKET --index-url URL
"""

EPILOG = """\
--index-url is the target repository's endpoint (stack output repositoryEndpoint, or the index URL ending in
simple/): https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/, or its form on a
repositories VPC endpoint (https://vpce-...d.codeartifact.REGION.vpce.amazonaws.com/pypi/d/DOMAIN-OWNER/
REPOSITORY/). The token is sent to that host only.

Exit status: 0 every file restored (or already there) and verified; 1 a file refused (sha256 or size
mismatch, a different file already at the target, an upload or a verification failed), each named;
2 bad input (no bucket, a URL that is not a CodeArtifact endpoint, an empty bucket, no token), nothing
uploaded.
"""


# --- plan, upload, verify --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    manifest: Manifest
    upload: tuple[Asset, ...]  # missing at the target
    present: tuple[Asset, ...]  # already there with the manifest's sha256 (or a sha256 the index did not give)


def plan(manifests: Sequence[Manifest], index: Index) -> list[Step]:
    """What each version needs; RestoreError naming every file the target holds with other bytes."""
    steps, conflicts = [], []
    listings: dict[str, dict[str, Listed]] = {}
    for manifest in manifests:
        if manifest.package not in listings:
            listings[manifest.package] = index.files(manifest.package)
        listed = listings[manifest.package]
        upload, present = [], []
        for asset in manifest.assets:
            there = listed.get(asset.name)
            if there is None:
                upload.append(asset)
            elif there.sha256 is not None and there.sha256 != asset.sha256:
                conflicts.append(f"{asset.name}: the target has sha256 {there.sha256}, the backup {asset.sha256}")
            else:
                present.append(asset)
        steps.append(Step(manifest, tuple(upload), tuple(present)))
    if conflicts:
        raise RestoreError("refused, the target already holds other bytes under these names (a version cannot be "
                           "overwritten):\n  " + "\n  ".join(conflicts))
    return steps


def upload(step: Step, target: Target, staged: Mapping[str, Path], twine: str, environ: Mapping[str, str],
           say: Callable[[str], None]) -> None:
    """One twine run for the version's missing files; RestoreError with twine's output when it fails."""
    files = [str(staged[step.manifest.object_key(asset)]) for asset in step.upload]
    command = [twine, "upload", "--repository-url", target.repository_url, "--non-interactive",
               "--disable-progress-bar", *files]
    # The token stays in the environment (TWINE_PASSWORD), never on the command line.
    result = subprocess.run(command, env={**environ, "TWINE_USERNAME": TOKEN_USERNAME}, capture_output=True,  # noqa: S603
                            text=True, stdin=subprocess.DEVNULL, timeout=600, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        hint = (" A 401 or 404 from CodeArtifact means a missing, expired or refused token: check the token in "
                "TWINE_PASSWORD."
                if " 401 " in output or " 404 " in output else "")
        raise RestoreError(f"twine failed for {step.manifest.package} {step.manifest.version} "
                           f"({', '.join(asset.name for asset in step.upload)}):{hint}\n{output}")
    say(f"uploaded {step.manifest.package} {step.manifest.version}: {', '.join(asset.name for asset in step.upload)}")


def verify(manifests: Sequence[Manifest], index: Index) -> None:
    """Download every file back through the index and compare; RestoreError naming every file that differs."""
    problems = []
    for package in sorted({manifest.package for manifest in manifests}):
        listed = index.files(package)
        for manifest in manifests:
            if manifest.package != package:
                continue
            for asset in manifest.assets:
                there = listed.get(asset.name)
                if there is None:
                    problems.append(f"{asset.name}: not in the index after the restore")
                    continue
                digest = index.download_sha256(there)
                if digest != asset.sha256:
                    problems.append(f"{asset.name}: downloaded sha256 {digest}, the backup {asset.sha256}")
    if problems:
        raise RestoreError("verification failed, the index does not serve the backup's bytes:\n  "
                           + "\n  ".join(problems))


# --- the command -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backup.restore", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bucket", required=True,
                        help="the backup bucket (or its replica in the second region)")
    parser.add_argument("--index-url", required=True, metavar="URL",
                        help="the target repository's endpoint or index URL (stack output repositoryEndpoint)")
    parser.add_argument("--prefix", default="", metavar="NAME",
                        help="restore only packages whose name starts with NAME (a package name, or a prefix "
                             "such as acme-)")
    parser.add_argument("--topic-arn", metavar="ARN",
                        help="the backup's SNS topic (stack output backupTopicArn): a restore that succeeded is "
                             "announced there as a 'restored' event, as the backup announces what it copied")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (every version and file in the bucket) and stop: no download, no "
                             "upload, no token needed")
    return parser


def default_bucket() -> BackupBucket:
    import boto3

    client: BackupBucket = boto3.client("s3")
    return client


class Topic(Protocol):
    """The SNS call the restore makes (boto3's SNS client)."""

    def publish(self, **kwargs: object) -> object: ...


def restored_event(bucket: str, target: Target, manifests: Sequence[Manifest], uploaded: int) -> dict[str, object]:
    return {"event": "restored", "bucket": bucket, "target": target.repository_url, "uploaded": uploaded,
            "versions": [f"{m.package}=={m.version}" for m in manifests]}


def main(argv: Sequence[str] | None = None, *, bucket: BackupBucket | None = None, topic: Topic | None = None,
         environ: Mapping[str, str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the restore; the keywords exist so tests can pass a bucket client and the environment."""
    environ = os.environ if environ is None else environ
    out, err = stdout or sys.stdout, stderr or sys.stderr

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    args = build_parser().parse_args(argv)
    try:
        target, twine, token = check_input(args, environ)
        bucket = bucket or default_bucket()
        manifests = read_manifests(bucket, args.bucket, args.prefix)
    except UsageError as error:
        print(f"error: {error}; nothing was uploaded", file=err)
        return 2
    except RestoreError as error:
        print(f"error: {error}\nnothing was uploaded", file=err)
        return 1

    files = sum(len(manifest.assets) for manifest in manifests)
    say(f"s3://{args.bucket}: {len(manifests)} versions, {files} files -> {target.repository_url}")
    if args.dry_run:
        for manifest in manifests:
            names = ", ".join(f"{asset.name} ({asset.size} bytes)" for asset in manifest.assets)
            say(f"would restore {manifest.package} {manifest.version}: {names}")
        say("dry run: nothing was downloaded or uploaded; files already in the index are skipped when it runs")
        return 0

    index = Index(target, token)
    uploaded = 0
    try:
        with tempfile.TemporaryDirectory(prefix="backup-restore-") as scratch:
            staged = stage(bucket, args.bucket, manifests, Path(scratch))
            say(f"all {files} files match their manifests (sha256 and size)")
            for step in plan(manifests, index):
                if step.present:
                    say(f"already in the index: {step.manifest.package} {step.manifest.version}: "
                        f"{', '.join(asset.name for asset in step.present)}")
                if step.upload:
                    upload(step, target, staged, twine, environ, say)
                    uploaded += len(step.upload)
        verify(manifests, index)
    except RestoreError as error:
        print(f"error: {error}", file=err)
        print(f"{uploaded} files were uploaded before the failure", file=err)
        return 1
    say(f"restored: {uploaded} files uploaded, {files - uploaded} already there; all {files} downloaded back "
        "through the index and byte-identical to the backup")
    if args.topic_arn:
        import boto3

        topic = topic or boto3.client("sns", region_name=args.topic_arn.split(":")[3])
        event = restored_event(args.bucket, target, manifests, uploaded)
        topic.publish(TopicArn=args.topic_arn, Subject=f"restored {len(manifests)} versions",
                      Message=json.dumps(event, sort_keys=True))
        say(f"announced on {args.topic_arn}")
    return 0


def check_input(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[Target, str, str]:
    """The target, twine's path and the token; UsageError naming the first thing missing."""
    if not BUCKET_NAME.fullmatch(args.bucket):
        raise UsageError(f"--bucket must be an S3 bucket name ({BUCKET_NAME.pattern}), got {args.bucket!r}")
    if "/" in args.prefix or (args.prefix and not FILE_NAME.fullmatch(args.prefix)):
        raise UsageError(f"--prefix must be a package name or the start of one, got {args.prefix!r}")
    if args.topic_arn is not None and not TOPIC_ARN.match(args.topic_arn):
        raise UsageError(f"--topic-arn must be an SNS topic ARN, got {args.topic_arn!r}")
    target = parse_index_url(args.index_url)
    if args.dry_run:
        return target, "", ""
    if environ.get("TWINE_USERNAME", TOKEN_USERNAME) != TOKEN_USERNAME:
        raise UsageError(f"TWINE_USERNAME must be {TOKEN_USERNAME!r} (CodeArtifact's user name for a token), "
                         f"got {environ['TWINE_USERNAME']!r}")
    token = environ.get("TWINE_PASSWORD", "")
    if not token:
        raise UsageError("no token: set TWINE_PASSWORD to a CodeArtifact token that may publish to the target "
                         "(aws codeartifact get-authorization-token ... --query authorizationToken --output text)")
    twine = shutil.which("twine", path=environ.get("PATH"))
    if twine is None:
        raise UsageError("twine is not installed (the restore uploads with it): python -m pip install twine")
    return target, twine, token


if __name__ == "__main__":
    sys.exit(main())
