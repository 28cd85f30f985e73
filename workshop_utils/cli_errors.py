"""Every failure of a ``workshop`` command as one line, ``<what happened>; <how to fix it>``.

``workshop_utils.cli.main`` is the one place that prints them: a learner whose credentials are
missing, whose SSO session expired, whose local cloud stopped or whose port is taken reads one
line on stderr and what to do next, never a traceback. Failures nobody foresaw still get one
line, and ``WORKSHOP_DEBUG=1`` (or ``workshop --debug …``) shows their traceback.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from botocore import exceptions as boto

USAGE = 2  # exit status of a command line that cannot be parsed (argparse's convention)
FAILED = 1
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C

DEBUG_HINT = "run it again with WORKSHOP_DEBUG=1 (or `workshop --debug …`) for the traceback"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# Error codes AWS answers when the request's credentials are the problem, not the request.
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
INVALID_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                 "InvalidSignatureException", "AuthFailure", "InvalidAccessKeyId"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                "UnauthorizedAccess", "403"}
# A home (or a file in it) that cannot be made: not the learner's, read-only, under a file.
UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR}


class CommandError(RuntimeError):
    """A command's own failure: what happened and how to fix it (``workshop: what; fix``)."""

    def __init__(self, what: str, fix: str | None = None, status: int = FAILED) -> None:
        super().__init__(f"{what}; {fix}" if fix else what)
        self.status = status


def _profile(env: Mapping[str, str]) -> str:
    return env.get("WORKSHOP_PROFILE") or env.get("AWS_PROFILE") or "default"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # LocalCloudError ends its first line with the log whose tail follows: point there.
    return re.sub(r";? last lines of (\S+):$", r"; see \1", lines[0])


def _is_local(url: str | None) -> bool:
    return bool(url) and urlsplit(url).hostname in LOCAL_HOSTS


def _credentials_fix(env: Mapping[str, str]) -> str:
    profile = _profile(env)
    return (f"configure them (`aws configure --profile {profile}`, or `aws sso login --profile "
            f"{profile}` for IAM Identity Center) and set WORKSHOP_PROFILE={profile}; or work "
            "offline on the local cloud (unset WORKSHOP_TARGET)")


def _client_error(exc: boto.ClientError, env: Mapping[str, str]) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = _first_line(str(error.get("Message") or "")) or "no message"
    call = exc.operation_name
    profile = _profile(env)
    if code in EXPIRED_CODES:
        return (f"the AWS credentials have expired ({code} on {call}); refresh them "
                f"(`aws sso login --profile {profile}`, or new keys) and run the command again")
    if code in INVALID_CODES:
        return (f"AWS does not accept these credentials ({code} on {call}); check the keys of "
                f"profile {profile} (`aws configure list --profile {profile}`) or set "
                "WORKSHOP_PROFILE to another profile")
    if code in DENIED_CODES:
        return (f"not allowed to call {call} ({code}: {message}); your IAM identity lacks "
                "this permission: ask your instructor (the learner policy is in "
                "docs/classroom/)")
    return f"AWS refused {call} ({code}: {message}); {DEBUG_HINT}"


def explain(exc: BaseException, env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The one line (without ``workshop: ``) and exit status for a command that raised ``exc``.

    Unknown failures get their type and first line plus the ``--debug`` hint.
    """
    env = os.environ if env is None else env
    profile = _profile(env)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", INTERRUPTED
    if isinstance(exc, CommandError):
        return str(exc), exc.status
    if isinstance(exc, boto.NoCredentialsError | boto.NoAuthTokenError):
        return (f"no AWS credentials found (profile {profile}); {_credentials_fix(env)}",
                FAILED)
    if isinstance(exc, boto.PartialCredentialsError):
        return (f"incomplete AWS credentials ({exc.kwargs.get('provider')} lacks "
                f"{exc.kwargs.get('cred_var')}); {_credentials_fix(env)}", FAILED)
    if isinstance(exc, boto.SSOError) or (
            isinstance(exc, boto.TokenRetrievalError) and exc.kwargs.get("provider") == "sso"):
        return (f"the AWS SSO session of profile {profile} has expired or was never started; "
                f"log in again: aws sso login --profile {profile}", FAILED)
    if isinstance(exc, boto.LoginError):
        return (f"the AWS console-login session of profile {profile} has expired; "
                f"log in again: aws login --profile {profile}", FAILED)
    if isinstance(exc, boto.ProfileNotFound):
        name = exc.kwargs.get("profile", profile)
        return (f"AWS profile {name!r} is not in your AWS config; set WORKSHOP_PROFILE to one "
                f"that `aws configure list-profiles` shows, or create it: "
                f"aws configure --profile {name}", FAILED)
    if isinstance(exc, boto.NoRegionError):
        return ("no AWS region is configured; set WORKSHOP_REGION (e.g. "
                "WORKSHOP_REGION=eu-west-1)", FAILED)
    if isinstance(exc, boto.CredentialRetrievalError | boto.TokenRetrievalError):
        return (f"could not get AWS credentials for profile {profile} "
                f"({_first_line(str(exc))}); check that profile's settings in ~/.aws/config "
                f"(`aws configure list --profile {profile}`)", FAILED)
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError
                  | boto.ConnectionClosedError | boto.ReadTimeoutError):
        url = exc.kwargs.get("endpoint_url")
        if _is_local(url):
            return (f"the local cloud does not answer at {url}; start it: workshop cloud start",
                    FAILED)
        return (f"cannot reach {url}; check the network and WORKSHOP_REGION, then try again",
                FAILED)
    if isinstance(exc, boto.ClientError):
        return _client_error(exc, env), FAILED
    if isinstance(exc, OSError) and exc.filename and exc.errno in UNWRITABLE:
        return (f"cannot write {exc.filename} ({exc.strerror}); set WORKSHOP_HOME (or --home) "
                "to a directory you can write, or run as the user who owns the checkout",
                FAILED)
    if isinstance(exc, RuntimeError) and type(exc).__module__.startswith("workshop_utils"):
        # The workshop's own errors (TargetError, LocalCloudError, …) say what to do.
        return _first_line(str(exc)) or type(exc).__name__, FAILED
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}; {DEBUG_HINT}", FAILED
    detail = _first_line(str(exc))
    return (f"unexpected {type(exc).__name__}{': ' + detail if detail else ''}; {DEBUG_HINT}",
            FAILED)
