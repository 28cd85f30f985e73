"""Every ``workshop`` command fails with one line and its fix, never a traceback.

``main([...])`` runs in-process with the learner's situations made real, not mocked: an AWS
config with no credentials, an SSO profile whose cached token expired (both the legacy
``sso_start_url`` profile and the ``sso-session`` kind: botocore refuses both before any
request), a profile that does not exist, no region, a local cloud that is not running, an
unwritable home, a mistyped flag or command. botocore raises these before sending anything, and
a guard fails the test if anything but loopback is dialled (the instance metadata endpoint is
switched off, as it must be off a real EC2 host).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
from pathlib import Path

import pytest
from botocore import exceptions as boto

from workshop_utils import cli
from workshop_utils.cli_errors import CommandError, explain
from workshop_utils.target import Target

START_URL = "https://example.awsapps.com/start"
AWS_CONFIG = f"""
[profile legacy-sso]
sso_start_url = {START_URL}
sso_region = eu-west-1
sso_account_id = 111122223333
sso_role_name = Learner
region = eu-west-1

[profile session-sso]
sso_session = school
sso_account_id = 111122223333
sso_role_name = Learner
region = eu-west-1

[sso-session school]
sso_start_url = {START_URL}
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[profile no-region]
aws_access_key_id = AKIAEXAMPLEEXAMPLE00
aws_secret_access_key = example
"""

# Commands that read the workshop's target (AWS credentials, the local cloud) and how to call
# them; the others manage the local cloud or JupyterLab. A new command must be added to one.
TARGET_COMMANDS = {
    "cleanup": ["cleanup"],
    "chat": ["chat", "--name", "ada"],
    "class setup": ["class", "setup"],
    "class status": ["class", "status"],
    "class cleanup": ["class", "cleanup", "--all", "--yes"],
}
# The AWS target's commands that read the caller's identity (the owner tag), even with a prefix.
IDENTITY_COMMANDS = ["cleanup", "class setup", "class status", "class cleanup"]
OTHER_COMMANDS = {"lab", "cloud start", "cloud stop", "cloud status", "run"}


@pytest.fixture(autouse=True)
def learner_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with ~/.aws/config as above, no credentials anywhere, and a guard on sockets."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "WORKSHOP_PROFILE", "WORKSHOP_REGION", "WORKSHOP_PREFIX", "WORKSHOP_TARGET",
                 "WORKSHOP_DEBUG", "WORKSHOP_LAB_PORT", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    aws = tmp_path / ".aws"
    (aws / "sso" / "cache").mkdir(parents=True)
    (aws / "config").write_text(AWS_CONFIG)
    (aws / "credentials").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "no-cloud-here"))

    real_connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else ""
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in (
                "127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"the test tried to reach {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    return tmp_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def expired_sso_token(home: Path, key: str) -> None:
    """An SSO token in botocore's cache that expired in 2020 (as `aws sso login` leaves it)."""
    name = hashlib.sha1(key.encode()).hexdigest()
    (home / ".aws" / "sso" / "cache" / f"{name}.json").write_text(json.dumps({
        "startUrl": START_URL, "region": "eu-west-1", "accessToken": "expired",
        "expiresAt": "2020-01-01T00:00:00Z"}))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line(err: str, pattern: str) -> None:
    """One line on stderr, ``workshop: …`` (or ``workshop chat: …``), with ``pattern`` in it."""
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith(("workshop: ", "workshop chat: ")), err
    assert "Traceback" not in err
    assert pattern in err, err


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict:
    """Every runnable command of the parser: "cloud start" -> its parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(leaf_commands(sub, (*path, name)))
    if not found and path:
        found[" ".join(path)] = parser
    return found


def test_every_command_is_in_a_failure_table() -> None:
    """Every runnable command is in one of the two tables, so the failure tests reach it."""
    assert set(leaf_commands(cli.build_parser())) == set(TARGET_COMMANDS) | OTHER_COMMANDS


AWS_FAILURES = {
    # name: (environment, what the line must say)
    "no credentials": ({"WORKSHOP_REGION": "eu-west-1"},
                       "no AWS credentials found (profile default); configure them"),
    "legacy SSO token expired": ({"WORKSHOP_PROFILE": "legacy-sso"},
                                 "the AWS SSO session of profile legacy-sso has expired or was "
                                 "never started; log in again: aws sso login --profile "
                                 "legacy-sso"),
    "sso-session token expired": ({"WORKSHOP_PROFILE": "session-sso"},
                                  "log in again: aws sso login --profile session-sso"),
    "SSO never logged in": ({"AWS_PROFILE": "legacy-sso", "WORKSHOP_REGION": "eu-west-1"},
                            "aws sso login --profile legacy-sso"),
    "profile not found": ({"WORKSHOP_PROFILE": "nobody", "WORKSHOP_REGION": "eu-west-1"},
                          "AWS profile 'nobody' is not in your AWS config; set WORKSHOP_PROFILE"),
    "no region": ({"WORKSHOP_PROFILE": "no-region"},
                  "no AWS region: set WORKSHOP_REGION"),
}


@pytest.mark.parametrize("failure", list(AWS_FAILURES))
@pytest.mark.parametrize("command", list(TARGET_COMMANDS))
def test_aws_target_failures_are_one_line(command: str, failure: str, learner_machine: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Each way the AWS target's credentials, profile or region can be missing is one line with
    its fix, for every command that reads the target."""
    env, expected = AWS_FAILURES[failure]
    if "expired" in failure:
        expired_sso_token(learner_machine, "school" if "session" in failure else START_URL)
    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status, _out, err = run_cli(capsys, *TARGET_COMMANDS[command])
    assert status == 1
    assert_one_line(err, expected)


@pytest.mark.parametrize("command", list(TARGET_COMMANDS))
def test_stopped_local_cloud_is_one_line(command: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A command that needs the local cloud, when it is stopped, says how to start it."""
    status, _out, err = run_cli(capsys, *TARGET_COMMANDS[command])
    assert status == 1
    assert_one_line(err, "the local cloud is not running: run `workshop cloud start`")


def test_cloud_status_of_a_stopped_cloud_is_one_line(
        learner_machine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cloud status of a stopped cloud is one line on stderr and status 1; cloud stop is not
    a failure."""
    status, out, err = run_cli(capsys, "cloud", "status")
    assert status == 1 and out == ""
    assert_one_line(err, "no local cloud is running for "
                         f"{learner_machine / 'no-cloud-here'}; start one: workshop cloud start")
    assert run_cli(capsys, "cloud", "stop") == (0, "no local cloud was running\n", "")


@pytest.mark.parametrize("command", ["cloud start", "lab"])
def test_home_that_cannot_be_written_is_one_line(
        command: str, learner_machine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A home that cannot be made (under a file) is one line naming it and WORKSHOP_HOME."""
    blocker = learner_machine / "a-file"
    blocker.write_text("")
    lab_args = ["--port", str(free_port()), "--no-browser"] if command == "lab" else []
    status, _out, err = run_cli(capsys, "--home", str(blocker / "home"), *command.split(),
                                *lab_args, "--aws-port", "0", "--ws-port", "0")
    assert status == 1
    assert_one_line(err, f"cannot write {blocker / 'home'} (Not a directory); set "
                         "WORKSHOP_HOME (or --home) to a directory you can write")


def test_bad_lab_port_variable_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A WORKSHOP_LAB_PORT that is not a port is a usage error (status 2) saying what to use."""
    monkeypatch.setenv("WORKSHOP_LAB_PORT", "88a8")
    status, _out, err = run_cli(capsys, "lab")
    assert status == 2
    assert_one_line(err, "WORKSHOP_LAB_PORT='88a8' is not a port; use a number from 1 to 65535")


def _mistyped(option: str) -> str:
    """``--name`` -> ``--nme``: one letter dropped from the middle of the word."""
    word = option[2:]
    return "--" + word[: len(word) // 2] + word[len(word) // 2 + 1:]


@pytest.mark.parametrize("command", sorted(set(TARGET_COMMANDS) | OTHER_COMMANDS))
def test_flag_typos_are_one_line_with_the_closest_flag(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown flag names the command and its help, and a flag with one letter dropped
    names the flag it meant (after the command's required arguments, if it has any)."""
    parser = leaf_commands(cli.build_parser())[command]
    options = [o for a in parser._actions for o in a.option_strings
               if o.startswith("--") and o != "--help" and len(o) > 5]
    argv = TARGET_COMMANDS.get(command, command.split())
    status, out, err = run_cli(capsys, *argv, "--no-such-flag")
    assert status == 2 and out == ""
    assert_one_line(err, f"unknown option '--no-such-flag' for `workshop {command}`; see "
                         f"`workshop {command} --help`")
    for option in options:
        typo = _mistyped(option)
        status, _out, err = run_cli(capsys, *argv, typo)
        assert status == 2
        assert_one_line(err, f"(did you mean {option}?)")


@pytest.mark.parametrize(("argv", "expected"), [
    ([], "`workshop` needs a command: lab, cloud, run, cleanup, class, chat"),
    (["class"], "`workshop class` needs a command: setup, status, cleanup"),
    (["class", "cleanup"], "one of the arguments --prefix --all is required"),
    (["clod"], "unknown command 'clod' for `workshop` (did you mean cloud?)"),
    (["cloud"], "`workshop cloud` needs a command: start, stop, status"),
    (["cloud", "strat"], "unknown command 'strat' for `workshop cloud` (did you mean start?)"),
    (["cloud", "start", "--aws-port", "x"], "argument --aws-port: invalid int value: 'x'"),
    (["lab", "--port", "0"], "argument --port: '0' is not a port (use 1 to 65535)"),
])
def test_command_typos_are_one_line(argv: list[str], expected: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A missing or mistyped command is a usage error that lists or guesses the command."""
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and out == ""
    assert_one_line(err, expected)


def test_unknown_failures_are_one_line_and_debug_shows_them(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A failure nobody foresaw is one line with its type and the --debug hint; --debug and
    WORKSHOP_DEBUG=1 raise it with its traceback."""
    def broken(_args: argparse.Namespace) -> int:
        raise ValueError("something nobody foresaw\nsecond line")

    monkeypatch.setattr(cli, "cmd_cloud_stop", broken)
    status, _out, err = run_cli(capsys, "cloud", "stop")
    assert status == 1
    assert_one_line(err, "workshop: unexpected ValueError: something nobody foresaw; run it "
                         "again with WORKSHOP_DEBUG=1 (or `workshop --debug …`) for the traceback")
    with pytest.raises(ValueError, match="nobody foresaw"):
        cli.main(["--debug", "cloud", "stop"])
    monkeypatch.setenv("WORKSHOP_DEBUG", "1")
    with pytest.raises(ValueError, match="nobody foresaw"):
        cli.main(["cloud", "stop"])


def test_ctrl_c_is_one_line(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C is one line and status 130, as a shell reports it."""
    def interrupted(_args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_cleanup", interrupted)
    assert run_cli(capsys, "cleanup") == (130, "", "workshop: interrupted\n")


def _client_error(code: str, operation: str = "CreateRole") -> boto.ClientError:
    return boto.ClientError({"Error": {"Code": code, "Message": f"{code} happened\nmore"}},
                            operation)


@pytest.mark.parametrize(("exc", "expected"), [
    (boto.NoRegionError(), "no AWS region is configured; set WORKSHOP_REGION"),
    (boto.EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/"),
     "the local cloud does not answer at http://127.0.0.1:4566/; start it: workshop cloud start"),
    (boto.EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/"),
     "cannot reach https://dynamodb.eu-west-1.amazonaws.com/; check the network"),
    (boto.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
     "incomplete AWS credentials (env lacks AWS_SECRET_ACCESS_KEY)"),
    (boto.CredentialRetrievalError(provider="custom-process", error_msg="exit 1"),
     "could not get AWS credentials for profile default"),
    (_client_error("ExpiredTokenException", "Scan"),
     "the AWS credentials have expired (ExpiredTokenException on Scan); refresh them"),
    (_client_error("InvalidClientTokenId", "GetCallerIdentity"),
     "AWS does not accept these credentials (InvalidClientTokenId on GetCallerIdentity)"),
    (_client_error("AccessDenied"),
     "not allowed to call CreateRole (AccessDenied: AccessDenied happened); your IAM identity "
     "lacks this permission: ask your instructor"),
    (_client_error("LimitExceededException", "CreateDeployment"),
     "AWS refused CreateDeployment (LimitExceededException: LimitExceededException happened)"),
    (CommandError("what", "fix", status=2), "what; fix"),
])
def test_explain_known_failures(exc: BaseException, expected: str) -> None:
    """Each known botocore failure and the workshop's own CommandError read as their one line
    with the fix."""
    line, status = explain(exc, env={})
    assert "\n" not in line
    assert line.startswith(expected), line
    assert status == (2 if isinstance(exc, CommandError) else 1)


@pytest.mark.parametrize("command", IDENTITY_COMMANDS)
def test_no_credentials_with_a_prefix_is_one_line(command: str, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """With WORKSHOP_PREFIX set no STS call names the resources, but the owner tag needs one:
    without credentials that call fails as one line saying how to configure them."""
    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    monkeypatch.setenv("WORKSHOP_REGION", "eu-west-1")
    monkeypatch.setenv("WORKSHOP_PREFIX", "wschat-alice")
    status, _out, err = run_cli(capsys, *TARGET_COMMANDS[command])
    assert status == 1
    assert_one_line(err, "workshop: no AWS credentials found (profile default); configure them")


def test_no_credentials_without_a_prefix_says_the_prefix_avoids_the_call(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without WORKSHOP_PREFIX the AWS target learns the learner's name from STS; when that
    fails the line says so, with the credentials' fix and WORKSHOP_PREFIX as the way around."""
    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    monkeypatch.setenv("WORKSHOP_REGION", "eu-west-1")
    status, _out, err = run_cli(capsys, "cleanup")
    assert status == 1
    assert_one_line(err, "workshop: cannot learn your AWS identity to name your resources: no "
                         "AWS credentials found (profile default); configure them")
    assert err.rstrip().endswith("; or set WORKSHOP_PREFIX")


@pytest.mark.parametrize("prefix", ["WSCHAT", "ws", "wschat-", "wschat_alice"])
def test_class_cleanup_of_a_malformed_prefix_is_one_line(
        prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """class cleanup --prefix with a prefix no learner can have says what a prefix may hold,
    before any AWS call."""
    teacher = Target("aws", region="eu-west-1", prefix="wschat-teacher")  # no call is made
    monkeypatch.setattr("workshop_utils.target.from_environment", lambda **_kwargs: teacher)
    status, _out, err = run_cli(capsys, "class", "cleanup", "--prefix", prefix, "--yes")
    assert status == 1
    assert_one_line(err, f"workshop: prefix {prefix!r} is not usable in every resource name")


def test_global_options_work_after_the_command_too(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``workshop cloud status --home X`` reads X's cloud, as ``workshop --home X cloud status``
    does, and a home given before the command is kept when none follows it."""
    home = tmp_path / "elsewhere"
    after = cli.main(["cloud", "status", "--home", str(home)])
    said_after = capsys.readouterr()
    before = cli.main(["--home", str(home), "cloud", "status"])
    said_before = capsys.readouterr()
    assert after == before == 1
    assert str(home) in said_after.err and said_after.err == said_before.err


def test_a_reader_that_leaves_early_gets_no_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``workshop cloud status | head -1``: a closed pipe ends the command quietly, with no
    ``workshop: Broken pipe`` line."""
    def closed_pipe(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_cloud_status", closed_pipe)
    assert cli.main(["cloud", "status"]) == 1
    assert capsys.readouterr().err == ""
