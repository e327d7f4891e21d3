"""`pypi-login` (`python -m pypi_login`): --write: the files it writes, privately, and the settings it refuses.

The token call is answered by botocore's Stubber (no network); the fixtures are in tests/pypi_login/conftest.py.
"""

from __future__ import annotations

import configparser
import os
import stat
from pathlib import Path

import pytest

from pypi_login import clients
from pypi_login.codeartifact import Login, LoginError
from tests.pypi_login.login_support import ENDPOINT, EXPIRES, HOST, INDEX, TARGET, TOKEN, expect_login


def read_toml(path: Path) -> dict:
    # tomllib is in the standard library from Python 3.11; on 3.10 its backport tomli (dev lock).
    parser = clients._toml_parser()
    assert parser is not None
    return parser.loads(path.read_text())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- writing configuration files ------------------------------------------------------


def test_write_creates_private_settings_for_every_tool(home, stubbed):
    client, stubber = stubbed
    expect_login(stubber)
    code, out, err = home.run([*TARGET, "--write"], client)
    assert code == 0, err
    assert out == ""
    authenticated = f"https://aws:{TOKEN}@{HOST}/pypi/internal/simple/"

    pip = configparser.ConfigParser()
    pip.read(home.pip)
    assert pip["global"]["index-url"] == authenticated
    assert "extra-index-url" not in pip["global"]

    uv = read_toml(home.uv)
    assert uv["index"] == [{"name": "internal", "url": authenticated, "default": True}]

    poetry = read_toml(home.poetry)
    assert poetry["http-basic"]["internal"] == {"username": "aws", "password": TOKEN}

    for path in (home.pip, home.uv, home.poetry):
        assert mode(path) == 0o600, path
        assert "expires 2026-11-25T18:00:00Z" in path.read_text()
        assert f"wrote {path} (mode 0600)" in err


def test_write_keeps_other_pip_settings_replaces_the_old_token_and_tightens_the_mode(home, stubbed):
    client, stubber = stubbed
    home.pip.parent.mkdir(parents=True)
    original = ("# my settings\n[global]\ntimeout = 60\nindex-url = https://pypi.org/simple\n\n"
                "[install]\nextra-index-url = https://example.org/simple\n    https://example.net/simple\n")
    home.pip.write_text(original)
    home.pip.chmod(0o644)
    # A second index: refused before any AWS call, the file untouched, the line and the fix named.
    code, out, err = home.run([*TARGET, "--write", "--tool", "pip"], client)
    assert (code, out) == (1, "")
    assert f"error: pip: {home.pip}:7 [install] extra-index-url adds a second index (dependency confusion): " \
        "remove line 7" in err
    assert "Nothing was written" in err and home.pip.read_text() == original
    # --fix comments it out (its continuation line too), then writes.
    expect_login(stubber, token="first-token")
    expect_login(stubber, token="second-token")
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip", "--fix"], client)
    assert code == 0, err
    assert f"fixed: commented out lines 7, 8 of {home.pip}" in err
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip"], client)
    assert code == 0, err

    text = home.pip.read_text()
    assert text.startswith("# my settings\n[global]\n")
    assert text.count("\nindex-url = ") == 1 and "second-token" in text and "first-token" not in text
    assert text.count("pypi-login: token for") == 1
    parsed = configparser.ConfigParser()
    parsed.read_string(text)
    assert parsed["global"]["timeout"] == "60"
    assert "extra-index-url" not in parsed["install"]
    assert "# disabled by pypi-login --fix: extra-index-url = https://example.org/simple" in text
    assert mode(home.pip) == 0o600
    assert not (home.uv.exists() or home.poetry.exists())


def test_write_uv_rewrites_its_own_block_and_keeps_the_users_settings(home, stubbed):
    client, stubber = stubbed
    home.uv.parent.mkdir(parents=True)
    home.uv.write_text('native-tls = true\n\n[pip]\ncompile-bytecode = true\n')
    expect_login(stubber, token="first-token")
    expect_login(stubber, token="second-token")
    for _ in range(2):
        code, _, err = home.run([*TARGET, "--write", "--tool", "uv"], client)
        assert code == 0, err
    settings = read_toml(home.uv)
    assert settings["native-tls"] is True and settings["pip"] == {"compile-bytecode": True}
    assert [index["url"] for index in settings["index"]] == [f"https://aws:second-token@{HOST}/pypi/internal/simple/"]


def test_write_uv_refuses_a_second_default_index_and_writes_nothing(home, stubbed):
    client, _ = stubbed
    home.uv.parent.mkdir(parents=True)
    original = '[[index]]\nname = "mirror"\nurl = "https://mirror.example/simple"\ndefault = true\n'
    home.uv.write_text(original)
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv"], client)  # refused before any AWS call
    assert code == 1
    assert f"{home.uv}:1 [[index]] 'mirror' is read over the default index pypi-login writes: remove lines 1-4" in err
    assert home.uv.read_text() == original
    # The last guard, should the check before it miss one: the edit itself refuses and writes nothing.
    with pytest.raises(LoginError, match=r"already declares a default index \(mirror\)"):
        clients.write_settings("uv", home.uv, Login(TOKEN, EXPIRES, ENDPOINT), "internal")
    assert home.uv.read_text() == original


def test_write_poetry_refuses_credentials_it_did_not_write(home, stubbed):
    client, stubber = stubbed
    home.poetry.parent.mkdir(parents=True)
    home.poetry.write_text('[http-basic.internal]\nusername = "someone"\n')
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "poetry"], client)
    assert code == 1
    assert "poetry config --unset http-basic.internal" in err


# --- token files: private from the moment they exist ------------------------------------------------


class SpyOs:
    """os, as clients.write_private sees it, recording each write and mode change in order."""

    def __init__(self, final: Path, events: list):
        self.final, self.events = final, events

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, descriptor, data):
        opened = os.fstat(descriptor)
        at_final = self.final.exists() and os.stat(self.final).st_ino == opened.st_ino
        self.events.append(("write", stat.S_IMODE(opened.st_mode), at_final))
        return os.write(descriptor, data)

    def fchmod(self, descriptor, mode):
        self.events.append(("fchmod", mode))
        return os.fchmod(descriptor, mode)

    def chmod(self, *args, **kwargs):
        self.events.append(("chmod",))
        return os.chmod(*args, **kwargs)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_token_files_are_private_from_the_moment_they_exist(tmp_path, monkeypatch, umask):
    path = tmp_path / "pip" / "pip.conf"
    path.parent.mkdir()
    path.write_text("[global]\nindex-url = https://old.example/simple/\n")
    path.chmod(0o644)
    old_inode = path.stat().st_ino
    events: list = []
    real_mkstemp = clients.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        descriptor, name = real_mkstemp(*args, **kwargs)
        events.append(("created", stat.S_IMODE(os.fstat(descriptor).st_mode), name))
        return descriptor, name

    monkeypatch.setattr(clients, "os", SpyOs(path, events))
    monkeypatch.setattr(clients.tempfile, "mkstemp", mkstemp)
    previous = os.umask(umask)
    try:
        clients.write_private(path, "[global]\nindex-url = https://aws:secret@host/simple/\n")
    finally:
        os.umask(previous)

    created, *rest = events
    # Created by mkstemp: exclusive, in the same directory, with no permission for group or others.
    assert created[0] == "created" and Path(created[2]).parent == path.parent
    assert created[1] & 0o077 == 0
    writes = [event for event in rest if event[0] == "write"]
    assert writes, "nothing was written"
    first_write = rest.index(writes[0])
    # Exactly 0600 before the first byte, whatever the umask; never a mode change after it.
    assert [event for event in rest[:first_write] if event[0] != "write"] == [("fchmod", 0o600)]
    assert all(event[0] == "write" for event in rest[first_write:]), rest
    assert all(mode == 0o600 and not at_final for _, mode, at_final in writes)
    # Renamed over the old file: a new file (new inode), private, with the new text only.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != old_inode
    assert "secret" in path.read_text() and "old.example" not in path.read_text()
    assert [entry.name for entry in path.parent.iterdir()] == ["pip.conf"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "uv.toml"
    path.write_text("native-tls = true\n")

    class Full(SpyOs):
        def write(self, descriptor, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(clients, "os", Full(path, []))
    with pytest.raises(OSError, match="No space left"):
        clients.write_private(path, "token")
    assert path.read_text() == "native-tls = true\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["uv.toml"]


# --- --write never leaves a client elsewhere ------------------------------------------------------------


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("tool", "setup", "message"), [
    ("pip", lambda home, project: {"PIP_INDEX_URL": "https://pypi.org/simple/"},
     "pip: $PIP_INDEX_URL is read over {home.pip}: unset PIP_INDEX_URL"),
    ("pip", lambda home, project: {"PIP_EXTRA_INDEX_URL": "https://pypi.org/simple/"},
     "pip: $PIP_EXTRA_INDEX_URL adds a second index (dependency confusion): unset it"),
    # A per-venv file is read over the user's; [install] in any file over every [global].
    ("pip", lambda home, project: {"VIRTUAL_ENV": str(write_file(
        project / ".venv" / "pip.conf", "[global]\nindex-url = https://mirror.example/simple/\n").parent)},
     "pip: {project}/.venv/pip.conf:2 [global] index-url is read over {home.pip} (a file pip loads later): "
     "remove line 2"),
    ("uv", lambda home, project: {"UV_DEFAULT_INDEX": "https://pypi.org/simple/"},
     "uv: $UV_DEFAULT_INDEX is read over {home.uv}: unset UV_DEFAULT_INDEX"),
    ("uv", lambda home, project: {"UV_INDEX_URL": "https://pypi.org/simple/"}, "uv: $UV_INDEX_URL is read over"),
    ("uv", lambda home, project: {"UV_NO_CONFIG": "1"}, "uv: $UV_NO_CONFIG makes uv ignore {home.uv}"),
    ("uv", lambda home, project: write_file(project / "uv.toml", '[[index]]\nname = "corp"\nurl = '
                                            '"https://mirror.example/simple/"\ndefault = true\n') and {},
     "uv: {project}/uv.toml:1 [[index]] 'corp' is read over the default index pypi-login writes: remove lines 1-4"),
    ("uv", lambda home, project: write_file(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.uv]\n'
                                            'extra-index-url = ["https://pypi.org/simple/"]\n') and {},
     "uv: {project}/pyproject.toml:5 tool.uv.extra-index-url adds a second index (dependency confusion): "
     "remove line 5"),
    ("uv", lambda home, project: write_file(home.uv, '[[index]]\nname = "mirror"\nurl = "https://m.example/simple/"\n')
     and {}, "uv: {home.uv}:1 [[index]] 'mirror' is searched before the default index (dependency confusion)"),
    # find-links: a link page beside the index, wherever each tool reads it.
    ("pip", lambda home, project: {"PIP_FIND_LINKS": "https://links.example/"},
     "pip: $PIP_FIND_LINKS adds a link page beside the index (dependency confusion): unset it"),
    ("pip", lambda home, project: write_file(home.pip, "[global]\nfind-links = https://links.example/\n") and {},
     "pip: {home.pip}:2 [global] find-links adds a link page beside the index (dependency confusion): remove line 2"),
    ("pip", lambda home, project: {"VIRTUAL_ENV": str(write_file(
        project / ".venv" / "pip.conf", "[install]\nfind_links = /srv/wheels\n").parent)},
     "pip: {project}/.venv/pip.conf:2 [install] find-links adds a link page beside the index (dependency "
     "confusion): remove line 2"),
    ("uv", lambda home, project: {"UV_FIND_LINKS": "https://links.example/"},
     "uv: $UV_FIND_LINKS adds a link page beside the index (dependency confusion): unset UV_FIND_LINKS"),
    ("uv", lambda home, project: write_file(project / "uv.toml", 'find-links = ["https://links.example/"]\n') and {},
     "uv: {project}/uv.toml:1 find-links adds a link page beside the index (dependency confusion): remove line 1"),
    ("uv", lambda home, project: write_file(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.uv]\n'
                                            'find-links = ["/srv/wheels"]\n') and {},
     "uv: {project}/pyproject.toml:5 tool.uv.find-links adds a link page beside the index (dependency confusion): "
     "remove line 5"),
    ("uv", lambda home, project: write_file(home.uv, 'native-tls = true\nfind-links = ["https://links.example/"]\n')
     and {}, "uv: {home.uv}:2 find-links adds a link page beside the index (dependency confusion): remove line 2"),
    # uv's [pip] table, which `uv pip` reads over every other setting.
    ("uv", lambda home, project: write_file(project / "uv.toml", '[pip]\nindex-url = "https://pypi.org/simple/"\n')
     and {}, "uv: {project}/uv.toml:2 pip.index-url replaces the index for `uv pip`: remove line 2"),
    ("uv", lambda home, project: write_file(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.uv.pip]\n'
                                            'extra-index-url = ["https://pypi.org/simple/"]\n') and {},
     "uv: {project}/pyproject.toml:5 tool.uv.pip.extra-index-url adds a second index (dependency confusion): "
     "remove line 5"),
    ("uv", lambda home, project: write_file(home.uv, '[pip]\nfind-links = ["/srv/wheels"]\n') and {},
     "uv: {home.uv}:2 pip.find-links adds a link page beside the index (dependency confusion): remove line 2"),
    ("poetry", lambda home, project: {"POETRY_HTTP_BASIC_INTERNAL_PASSWORD": "old"},
     "poetry: $POETRY_HTTP_BASIC_INTERNAL_PASSWORD is read over {home.poetry}: unset"),
    ("poetry", lambda home, project: {"POETRY_REPOSITORIES_INTERNAL_URL": "https://mirror.example/simple/"},
     "poetry: $POETRY_REPOSITORIES_INTERNAL_URL sends source 'internal' to another URL"),
    ("poetry", lambda home, project: write_file(project / "pyproject.toml", '[tool.poetry]\npackage-mode = false\n')
     and {}, "poetry: {project}/pyproject.toml has no source named 'internal': run `poetry source add "
     "--priority=primary internal <index URL>`"),
    ("poetry", lambda home, project: write_file(project / "pyproject.toml", f'[tool.poetry]\npackage-mode = false\n\n'
                                                f'[[tool.poetry.source]]\nname = "internal"\nurl = "{INDEX}"\n\n'
                                                '[[tool.poetry.source]]\nname = "mirror"\nurl = "https://m.example/"\n'
                                                'priority = "supplemental"\n') and {},
     "poetry: {project}/pyproject.toml:8 also declares source 'mirror' (priority supplemental): a second index"),
    ("poetry", lambda home, project: write_file(project / "pyproject.toml", f'[tool.poetry]\npackage-mode = false\n\n'
                                                f'[[tool.poetry.source]]\nname = "internal"\nurl = "{INDEX}"\n'
                                                'priority = "explicit"\n') and {},
     "poetry: {project}/pyproject.toml:4 declares source 'internal' with priority explicit: poetry then installs "
     "from PyPI"),
])
def test_write_refuses_a_setting_that_would_send_the_tool_elsewhere(home, stubbed, tmp_path, tool, setup, message):
    client, _ = stubbed  # no response queued: refused before any AWS call
    project = tmp_path / "project"
    project.mkdir()
    environ = {**home.environ, **setup(home, project)}
    before = {path: path.read_text() for path in (home.pip, home.uv, home.poetry) if path.exists()}
    code, out, err = home.run([*TARGET, "--write", "--tool", tool], client, environ=environ, cwd=project)
    assert (code, out) == (1, "")
    assert f"error: {message.format(home=home, project=project)}" in err
    assert "Nothing was written" in err
    assert {path: path.read_text() for path in (home.pip, home.uv, home.poetry) if path.exists()} == before


@pytest.mark.parametrize("setup", [
    lambda home, project: write_file(project / "uv.toml", f'[[index]]\nname = "internal"\nurl = "{INDEX}"\n'
                                     'default = true\n'),  # the project names the registry's own index
    lambda home, project: write_file(project / "uv.toml", '[[index]]\nname = "torch"\nurl = "https://t.example/"\n'
                                     'explicit = true\n'),  # explicit: only for packages pinned to it
    lambda home, project: write_file(Path(home.environ["XDG_CONFIG_HOME"]) / "uv" / "uv.toml",
                                     'index-url = "https://pypi.org/simple/"\n'),  # in our file: replaced below
    lambda home, project: write_file(project / "uv.toml", f'[pip]\nindex-url = "{INDEX}"\n'),  # `uv pip` too
])
def test_write_accepts_settings_that_keep_uv_on_the_registry(home, stubbed, tmp_path, setup):
    client, stubber = stubbed
    project = tmp_path / "project"
    project.mkdir()
    setup(home, project)
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv", "--fix"], client, cwd=project)
    assert code == 0, err


def test_write_fix_comments_out_a_second_uv_index_and_refuses_what_it_cannot_fix(home, stubbed, tmp_path):
    client, stubber = stubbed
    write_file(home.uv, 'native-tls = true\n\n[[index]]\nname = "mirror"\nurl = "https://m.example/simple/"\n\n'
                        '[pip]\ncompile-bytecode = true\n')
    environ = {**home.environ, "UV_INDEX": "https://x.example/simple/"}
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv", "--fix"], client, environ=environ)
    assert code == 1
    assert f"fixed: commented out lines 3, 4, 5, 6 of {home.uv}" in err
    assert "error: uv: $UV_INDEX adds a second index (dependency confusion): unset UV_INDEX" in err
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "uv"], client)
    assert code == 0, err
    settings = read_toml(home.uv)
    assert [index["name"] for index in settings["index"]] == ["internal"]
    assert settings["native-tls"] is True and settings["pip"] == {"compile-bytecode": True}


@pytest.mark.parametrize("setup", [
    lambda home, project: None,  # nothing set
    # no-index only keeps pip off indexes: it cannot bring in another source.
    lambda home, project: write_file(home.pip, "[global]\ntimeout = 60\n\n[install]\nno-index = false\n"),
])
def test_write_accepts_pip_and_uv_without_another_source(home, stubbed, tmp_path, setup):
    client, stubber = stubbed
    project = tmp_path / "project"
    project.mkdir()
    setup(home, project)
    expect_login(stubber)
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip", "--tool", "uv"], client, cwd=project)
    assert code == 0, err
    assert "error:" not in err


@pytest.mark.parametrize(("name", "text", "lines"), [
    ("uv.toml", 'native-tls = true\nfind-links = [\n  "https://links.example/",\n  "/srv/wheels",\n]\n', "2, 3, 4, 5"),
    ("pyproject.toml", '[project]\nname = "x"\n\n[tool.uv]\nnative-tls = true\nfind-links = [\n'
                       '  "https://links.example/",\n]\n', "6, 7, 8"),
])
def test_write_fix_comments_out_find_links_then_a_rerun_passes(home, stubbed, tmp_path, name, text, lines):
    client, stubber = stubbed
    project = tmp_path / "project"
    uv_file = write_file(project / name, text)
    write_file(home.pip, "[global]\ntimeout = 60\n\n[install]\nfind-links =\n    https://links.example/\n"
                         "    /srv/wheels\n")
    expect_login(stubber, token="first-token")
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip", "--tool", "uv", "--fix"], client, cwd=project)
    assert code == 0, err
    assert f"fixed: commented out lines 5, 6, 7 of {home.pip}" in err
    assert f"fixed: commented out lines {lines} of {uv_file}" in err  # the whole array: no stray `]`
    expect_login(stubber, token="second-token")
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip", "--tool", "uv"], client, cwd=project)
    assert code == 0, err
    parsed = configparser.ConfigParser()
    parsed.read(home.pip)
    assert parsed["global"]["timeout"] == "60" and "find-links" not in parsed["install"]
    settings = read_toml(uv_file)
    uv = settings["tool"]["uv"] if name == "pyproject.toml" else settings
    assert uv == {"native-tls": True}


@pytest.mark.parametrize(("files", "message"), [
    ("no pip on PATH to ask which configuration files it reads (`pip config debug`)",
     "pip: no pip on PATH to ask which configuration files it reads"),
    ([Path("/etc/pip.conf")], "pip: pip does not read {home.pip}"),
])
def test_write_refuses_pip_when_pip_cannot_say_what_it_reads(home, stubbed, files, message):
    client, _ = stubbed
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip"], client, pip_files=lambda environ: files)
    assert code == 1
    assert message.format(home=home) in err and not home.pip.exists()


def test_write_refuses_an_install_section_in_a_file_of_lower_precedence(home, stubbed, tmp_path):
    client, _ = stubbed
    system = write_file(tmp_path / "etc" / "pip.conf", "[install]\nindex-url = https://mirror.example/simple/\n")
    code, _, err = home.run([*TARGET, "--write", "--tool", "pip"], client,
                            pip_files=lambda environ: [system, home.pip])
    assert code == 1
    assert f"error: pip: {system}:2 [install] index-url is read over [global] index-url in {home.pip}" in err


def test_fix_goes_with_write(home):
    code, _, err = home.run([*TARGET, "--fix"])
    assert code == 2 and "--fix goes with --write" in err
