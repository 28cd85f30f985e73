"""`workshop cleanup` and `workshop class …` fail in one line with the fix, not a traceback."""

from __future__ import annotations

import pytest

from workshop_utils import cli

NO_CREDENTIALS = {
    # nothing in the credential chain: no keys, no profile files, no instance metadata
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
}
COMMANDS = [["cleanup"], ["class", "status"], ["class", "setup"],
            ["class", "cleanup", "--all", "--yes"]]


@pytest.fixture
def no_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "WORKSHOP_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    monkeypatch.setenv("WORKSHOP_REGION", "eu-west-1")


def one_line(capsys) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workshop: ")  # each test checks that its line says the fix
    return lines[0]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_without_credentials_and_without_a_prefix(no_credentials, monkeypatch, capsys, argv):
    """No credentials and no WORKSHOP_PREFIX: one line naming credentials and WORKSHOP_PROFILE."""
    monkeypatch.delenv("WORKSHOP_PREFIX", raising=False)
    assert cli.main(argv) == 1
    line = one_line(capsys)
    assert "credentials" in line and "WORKSHOP_PROFILE" in line


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_without_credentials_with_a_prefix(no_credentials, monkeypatch, capsys, argv):
    """No credentials with a prefix set: one line, no traceback, how to configure them."""
    monkeypatch.setenv("WORKSHOP_PREFIX", "wschat-alice")
    assert cli.main(argv) == 1
    line = one_line(capsys)
    assert line.startswith("workshop: no AWS credentials were found; configure them")


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_with_the_local_cloud_stopped(monkeypatch, capsys, tmp_path, argv):
    """A stopped local cloud: one line saying how to start it."""
    monkeypatch.setenv("WORKSHOP_TARGET", "local")
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))  # no cloud was ever started here
    assert cli.main(argv) == 1
    assert one_line(capsys) == (
        "workshop: the local cloud is not running: run `workshop cloud start`")
