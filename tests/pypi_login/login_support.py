"""What the login command's tests share (tests/pypi_login/test_login*.py): the registry they log in to, the
answers the Stubber gives, a fake home to run the command in, and the scripted index the doctor asks."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pypi_login.cli import main
from pypi_login.codeartifact import LoginError

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
OWNER = "012345678901"  # a leading zero, as account IDs may have
DOMAIN = "acme"
HOST = f"acme-{OWNER}.d.codeartifact.{REGION}.amazonaws.com"
ENDPOINT = f"https://{HOST}/pypi/internal/"
INDEX = ENDPOINT + "simple/"
TOKEN = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.c2VjcmV0LXRva2Vu"
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
EXPIRES = NOW + timedelta(hours=12)
TARGET = ["--domain", DOMAIN, "--domain-owner", OWNER, "--region", REGION]


def expect_login(stubber, *, duration=43200, repository="internal", token=TOKEN, expires=EXPIRES):
    stubber.add_response(
        "get_authorization_token",
        {"authorizationToken": token, "expiration": expires},
        {"domain": DOMAIN, "domainOwner": OWNER, "durationSeconds": duration},
    )
    stubber.add_response(
        "get_repository_endpoint",
        {"repositoryEndpoint": ENDPOINT.replace("/internal/", f"/{repository}/")},
        {"domain": DOMAIN, "domainOwner": OWNER, "repository": repository, "format": "pypi"},
    )


class Home:
    """A fake home directory and environment, so nothing touches the real user's files."""

    def __init__(self, root: Path):
        self.home = root / "home"
        self.config = root / "config"
        self.environ = {"XDG_CONFIG_HOME": str(self.config)}
        self.pip = self.config / "pip" / "pip.conf"
        self.uv = self.config / "uv" / "uv.toml"
        self.poetry = self.config / "pypoetry" / "auth.toml"

    def run(self, argv, client=None, *, now=NOW, environ=None, cwd=None, pip_files=None):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(
            argv,
            client_factory=lambda region, profile: client,
            environ=self.environ if environ is None else environ,
            home=self.home,
            platform="linux",
            now=lambda: now,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd or self.home,
            # The files pip reads, as `pip config debug` lists them (tests/pypi_login/test_clients_real.py asks the
            # real pip).
            pip_files=pip_files or (lambda environ: [self.pip]),
        )
        return code, stdout.getvalue(), stderr.getvalue()


def exports_of(text: str) -> dict[str, str]:
    import shlex

    return {line[7:].split("=", 1)[0]: shlex.split(line.split("=", 1)[1])[0]
            for line in text.splitlines() if line.startswith("export ")}


class Index:
    """Answers like the index: a status per token (None: no token), 404 for anything else."""

    def __init__(self, answers: dict):
        self.answers = answers
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, url, username, password):
        self.calls.append((url, username))
        return self.answers.get(password, 404)


def no_aws(region, profile):
    raise LoginError("no AWS credentials: sign in first", "no-credentials")


def run_doctor(home, argv, *, environ=None, index=None, client=None, cwd=None):
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(
        ["--doctor", *argv],
        client_factory=(lambda region, profile: client) if client is not None else no_aws,
        environ={**home.environ, **(environ or {})}, home=home.home, platform="linux", now=lambda: NOW,
        stdout=stdout, stderr=stderr, cwd=cwd or home.home, fetch=index or Index({}),
    )
    return code, stdout.getvalue(), stderr.getvalue()


def write_outputs(home) -> Path:
    outputs = home.home / "outputs.json"
    outputs.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text(json.dumps({"domainName": DOMAIN, "domainOwner": OWNER, "region": REGION,
                                   "repositoryEndpoint": ENDPOINT}))
    return outputs
