"""The helper's own checks (--status, --doctor) with the real boto3 path, against a local CodeArtifact
stand-in (tests/codeartifact_stub).

Every test starts its own stand-in on 127.0.0.1 and stops it (the fixture `stub`, tests/pypi_login/conftest.py);
the machine the clients run on is tests/pypi_login/clients_support.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pypi_login.clients import fingerprint
from tests.pypi_login.clients_support import INTERNAL, PUBLIC, PYTHON, ROOT, Machine, exported, record

pytestmark = pytest.mark.clients


# --- the helper's own checks, against the real boto3 path ------------------------------------------


def test_status_without_arguments_after_eval_of_the_exports_sees_every_token(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine")
    helper = machine.helper()
    script = 'eval "$EXPORTS"\npython -m pypi_login --status'
    result = machine.shell(script, env={"EXPORTS": helper.stdout, "PYTHONPATH": str(ROOT)})
    record("helper", "--status after eval (documented usage)", "ok" if result.returncode == 0 else "fails")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "poetry: token in $POETRY_HTTP_BASIC_INTERNAL_PASSWORD valid until" in result.stdout
    assert result.stdout.count("valid until") == 3


def test_a_token_that_has_already_expired_is_refused(stub, tmp_path):
    # The session behind the access key has ended: CodeArtifact's token is dead on arrival.
    machine = Machine(stub, tmp_path / "machine", access_key="AKIDENDED")
    machine.add_poetry_source(stub.registry.index_url())  # else --write refuses before asking for a token
    for mode in ((), ("--write",)):
        result = machine.helper(*mode, "--duration-seconds", "0")
        assert result.returncode == 1
        assert result.stdout == ""
        assert "CodeArtifact returned a token that already expired" in result.stderr
        assert "Nothing was printed or written" in result.stderr
    assert not (Path(machine.env["XDG_CONFIG_HOME"]) / "pip").exists()
    record("helper", "token already expired", "refused (exit 1, nothing printed or written)")


def doctor(machine: Machine, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return machine.run([PYTHON, "-m", "pypi_login", "--doctor", *args],
                       env={"PYTHONPATH": str(ROOT), **(env or {})}, cwd=machine.project)


def test_doctor_after_the_printed_exports_says_ok_for_every_tool(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine")
    helper = machine.helper()
    machine.add_poetry_source(stub.registry.index_url())
    result = doctor(machine, "--package", INTERNAL, env=exported(helper.stdout))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0:2] for line in lines] == [["pip", " ok"], ["uv", " ok"], ["poetry", " ok"]]
    token = exported(helper.stdout)["UV_INDEX_INTERNAL_PASSWORD"]
    assert token not in result.stdout + result.stderr
    record("helper", "--doctor after eval", "ok for pip, uv, poetry")


def test_doctor_after_write_reads_the_files(stub, tmp_path):
    machine = Machine(stub, tmp_path / "machine")
    machine.add_poetry_source(stub.registry.index_url())
    assert machine.helper("--write").returncode == 0
    result = doctor(machine, "--package", PUBLIC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pip: ok: token from " + machine.env["XDG_CONFIG_HOME"] in result.stdout


def test_doctor_names_each_problem_in_one_line(stub, tmp_path):
    index = stub.registry.index_url()
    cases = {}

    def verdict(result: subprocess.CompletedProcess[str]) -> str:
        assert result.returncode == 1, result.stdout + result.stderr
        return result.stdout.splitlines()[0]

    # Nothing configured.
    machine = Machine(stub, tmp_path / "none")
    cases["no token"] = verdict(doctor(machine, "--tool", "pip"))
    # The recorded expiry has passed.
    cases["expired"] = verdict(doctor(machine, "--tool", "pip", env={
        "PIP_INDEX_URL": index.replace("https://", "https://aws:whatever@"),
        "CODEARTIFACT_TOKEN_EXPIRES_PIP": f"2020-01-01T00:00:00Z {fingerprint('whatever')}"}))
    # A repository that does not exist (a typo), and a URL that is not CodeArtifact's shape.
    typo = index.replace("/internal/", "/internl/").replace("https://", "https://aws:whatever@")
    cases["wrong URL (repository)"] = verdict(doctor(machine, "--tool", "pip", env={"PIP_INDEX_URL": typo}))
    cases["wrong URL (extra index)"] = verdict(doctor(machine, "--tool", "pip", env={
        "PIP_INDEX_URL": index.replace("https://", "https://aws:whatever@"),
        "PIP_EXTRA_INDEX_URL": "https://pypi.org/simple/"}))
    # A token whose role may not read the repository.
    reader_less = Machine(stub, tmp_path / "no-read", access_key="AKIDNOREAD")
    exports = exported(reader_less.helper().stdout)
    cases["no permission"] = verdict(doctor(reader_less, "--tool", "pip", "--package", INTERNAL, env=exports))
    # A valid token and a package that is not there.
    ok = Machine(stub, tmp_path / "ok")
    exports = exported(ok.helper().stdout)
    cases["package missing"] = verdict(doctor(ok, "--tool", "pip", "--package", "acme-nothing", env=exports))
    # A token revoked before its recorded expiry: 401 says so directly.
    stub.registry.expire(exports["UV_INDEX_INTERNAL_PASSWORD"])
    cases["token refused (401)"] = verdict(doctor(ok, "--tool", "uv", "--package", INTERNAL, env=exports))

    assert cases["no token"].startswith("pip: no token: $PIP_INDEX_URL is not set")
    assert cases["expired"].startswith("pip: expired: token in $PIP_INDEX_URL expired 2020-01-01")
    assert cases["wrong URL (repository)"].startswith("pip: wrong URL: $PIP_INDEX_URL names ")
    assert "CodeArtifact found no domain" in cases["wrong URL (repository)"]
    assert cases["wrong URL (extra index)"].startswith("pip: wrong URL: $PIP_EXTRA_INDEX_URL adds a second index")
    assert cases["no permission"].startswith("pip: no permission: ")
    assert "codeartifact:ReadFromRepository" in cases["no permission"]
    assert cases["package missing"].startswith("pip: package missing: 'acme-nothing' is not in internal")
    assert cases["token refused (401)"].startswith("uv: token refused: ")
    for name, line in cases.items():
        record("helper", f"--doctor: {name}", line.split(":")[1].strip())


def test_doctor_tells_a_refused_token_from_a_missing_package_behind_404(stub, tmp_path):
    stub.registry.unauthorized_status = 404
    machine = Machine(stub, tmp_path / "machine")
    exports = exported(machine.helper().stdout)
    stub.registry.expire(exports["UV_INDEX_INTERNAL_PASSWORD"])
    # With AWS credentials: a new token gets 200, so this one is refused.
    refused = doctor(machine, "--tool", "pip", "--package", INTERNAL, env=exports)
    assert refused.stdout.startswith("pip: token refused: "), refused.stdout + refused.stderr
    assert "but 200 to a new one" in refused.stdout
    # A new token gets 404 too: the package is missing.
    fresh = exported(machine.helper().stdout)
    missing = doctor(machine, "--tool", "pip", "--package", "acme-nothing", env=fresh)
    assert missing.stdout.startswith("pip: package missing: "), missing.stdout
    # Without AWS credentials, 404 and 404 cannot be told apart: it says so instead of guessing.
    no_aws = {**exports, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    unsure = doctor(machine, "--tool", "pip", "--package", INTERNAL, env=no_aws)
    assert unsure.returncode == 1
    assert unsure.stdout.startswith("pip: token refused or package missing: "), unsure.stdout
    assert "aws: not checked: no AWS credentials" in unsure.stdout
    record("helper", "--doctor: refused token behind 404", "token refused (a new token gets 200)")
    record("helper", "--doctor: 404 without AWS credentials", "token refused or package missing (says so)")
