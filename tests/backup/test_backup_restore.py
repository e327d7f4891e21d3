"""`python -m backup.restore`: the input the command refuses (exit 2), its dry run, and its help.

The restore's other tests: the manifests it does not understand, the project pages it reads and its
verification (test_backup_restore_manifests.py), and the drill with the real twine and pip
(test_backup_restore_drill.py).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from backup import restore, restore_index
from pypi_login import config as login_config
from tests.backup.restore_support import BUCKET, PYTHON, ROOT, STANDARD, WITH_TOKEN, NoBucket, back_up, run

# --- the input it refuses -------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    STANDARD,
    STANDARD + "simple/",
    "https://vpce-0a1b2c3d4e5f-abcdefgh.d.codeartifact.eu-west-1.vpce.amazonaws.com/pypi/d/acme-012345678901/internal/",
])
def test_a_codeartifact_endpoint_is_the_target_and_twine_gets_the_repository_url(url):
    target = restore_index.parse_index_url(url)
    assert target.repository_url == url.removesuffix("simple/")
    assert target.simple_url == target.repository_url + "simple/"
    assert target.repository == "internal" and target.region == "eu-west-1"


@pytest.mark.parametrize("url", [
    "http://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",  # not https
    "https://aws:token@acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",  # credentials
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com:8443/pypi/internal/",  # a port
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com.example.com/pypi/internal/",  # another host
    "https://pypi.org/pypi/internal/",
    "https://acme-12345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",  # 11-digit owner
    "https://acme-012345678901.d.codeartifact.cn-north-1.amazonaws.com/pypi/internal/",  # no CodeArtifact there
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/npm/internal/",  # not pypi
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/simple/acme-core/",
    "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/?x=1",
    "https://vpce-0a1b2c3d4e5f-abcdefgh.d.codeartifact.eu-west-1.vpce.amazonaws.com/pypi/internal/",  # no /d/
    "acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/",
])
def test_anything_but_a_codeartifact_endpoint_exits_2_before_the_bucket_is_read(url):
    code, out, err = run(["--bucket", BUCKET, "--index-url", url], NoBucket(), WITH_TOKEN)
    assert code == 2
    assert err.startswith("error: ") and "nothing was uploaded" in err
    assert out == ""


def test_the_names_it_accepts_follow_the_login_helpers_rules():
    assert login_config.ACCOUNT_ID.pattern == restore_index.ACCOUNT_ID
    assert login_config.DOMAIN_NAME.pattern == restore_index.DOMAIN_NAME
    assert login_config.REPOSITORY_NAME.pattern == restore_index.REPOSITORY_NAME
    assert restore_index.VPCE_HOST.pattern == login_config.ENDPOINT_HOST.pattern


@pytest.mark.parametrize(("argv", "environ", "said"), [
    (["--bucket", "Not_A_Bucket"], WITH_TOKEN, "--bucket must be an S3 bucket name"),
    (["--bucket", BUCKET, "--prefix", "../x"], WITH_TOKEN, "--prefix must be a package name"),
    (["--bucket", BUCKET], {"PATH": WITH_TOKEN["PATH"]}, "no token: set TWINE_PASSWORD"),
    (["--bucket", BUCKET], {**WITH_TOKEN, "TWINE_USERNAME": "someone"}, "TWINE_USERNAME must be 'aws'"),
    (["--bucket", BUCKET], {"TWINE_PASSWORD": "a-token", "PATH": "/nonexistent"}, "twine is not installed"),
    (["--bucket", BUCKET, "--topic-arn", "arn:aws:sqs:eu-west-1:111122223333:not-a-topic"], WITH_TOKEN,
     "--topic-arn must be an SNS topic ARN"),
])
def test_bad_input_exits_2_naming_it(argv, environ, said):
    code, _, err = run([*argv, "--index-url", STANDARD], NoBucket(), environ)
    assert code == 2
    assert said in err


def test_an_empty_bucket_exits_2(s3):
    s3.put_object(Bucket=BUCKET, Key="events/some-dedup-id", Body=b"")  # no manifest
    code, _, err = run(["--bucket", BUCKET, "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 2
    assert f"bucket {BUCKET!r} holds no manifest under manifests/" in err


def test_a_missing_bucket_exits_2(s3):
    code, _, err = run(["--bucket", "no-such-backup-bucket", "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 2
    assert "bucket 'no-such-backup-bucket' does not exist" in err


def test_a_prefix_that_matches_nothing_exits_2(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0")])
    code, _, err = run(["--bucket", BUCKET, "--index-url", STANDARD, "--prefix", "acme-tools"], s3, WITH_TOKEN)
    assert code == 2
    assert "holds no manifest under manifests/acme-tools" in err


def test_the_command_runs_as_a_module_and_its_help_says_twine_is_needed():
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    shown = subprocess.run([PYTHON, "-m", "backup.restore", "--help"], capture_output=True, text=True, cwd=ROOT,
                           env=environment, check=False)
    assert shown.returncode == 0
    assert "python -m pip install boto3 twine" in shown.stdout
    no_bucket = subprocess.run([PYTHON, "-m", "backup.restore", "--index-url", STANDARD], capture_output=True,
                               text=True, cwd=ROOT, env=environment, check=False)
    assert no_bucket.returncode == 2
    assert "the following arguments are required: --bucket" in no_bucket.stderr


def test_a_dry_run_prints_the_plan_without_a_token_or_twine(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_sdist, write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0"),
                                       write_sdist(tmp_path, "acme-core", "1.0.0")])
    back_up(s3, "acme-tools", "0.1.0", [write_wheel(tmp_path, "acme-tools", "0.1.0")])
    code, out, _ = run(["--bucket", BUCKET, "--index-url", STANDARD, "--dry-run"], s3, {"PATH": "/nonexistent"})
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"s3://{BUCKET}: 2 versions, 3 files -> {STANDARD}"
    assert lines[1].startswith("would restore acme-core 1.0.0: acme_core-1.0.0-py3-none-any.whl (")
    assert "acme_core-1.0.0.tar.gz" in lines[1]
    assert lines[2].startswith("would restore acme-tools 0.1.0: acme_tools-0.1.0-py3-none-any.whl (")
    assert "nothing was downloaded or uploaded" in lines[3]


def test_the_readmes_restore_commands_parse():
    import shlex

    readme = (ROOT / "docs" / "backup.md").read_text(encoding="utf-8")
    section = readme.split("## Restore and standby\n", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("#", 1)[0] for line in section.splitlines() if line.startswith("python -m backup.restore")]
    assert len(commands) == 3
    for command in commands:
        args = restore.build_parser().parse_args(shlex.split(command)[3:])
        assert args.bucket and args.index_url
    assert "python -m pip install boto3 twine" in " ".join(section.split())  # as --help says
