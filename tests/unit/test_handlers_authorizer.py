"""The $connect authorizer: signed, expiring tokens; a clear Deny for everything else.

AWS's side of the contract, from the API Gateway developer guide:
- "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers"
  (apigateway-websocket-api-lambda-auth): the input event (``type: REQUEST``, ``methodArn``
  ending in ``/$connect``, headers, query string, stageVariables, requestContext), of which
  ``tests/events/authorizer_request.json`` is a copy with this suite's ids.
- "Output from an API Gateway Lambda authorizer" (api-gateway-lambda-authorizer-output): a
  ``principalId``, a ``policyDocument`` whose statement allows or denies
  ``execute-api:Invoke`` on the resource, and a ``context`` whose values are strings,
  numbers or booleans ("you cannot set a JSON object or array as a valid value").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from botocore.exceptions import EndpointConnectionError

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/$connect"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(secret: str, name_part: str, expires_part: str, version: str = "v1") -> str:
    """A token signed with ``secret`` over exactly these parts, whatever they hold: the way
    to reach the checks that come after the signature."""
    signed = f"{version}.{name_part}.{expires_part}"
    mac = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64(mac)}"


def later(seconds: int = 3600) -> str:
    return str(int(time.time()) + seconds)


def statement(output: dict) -> dict:
    (only,) = output["policyDocument"]["Statement"]
    return only


def denied(output: dict, resource: str = METHOD_ARN) -> bool:
    return statement(output) == {
        "Action": "execute-api:Invoke", "Effect": "Deny", "Resource": resource,
    } and "context" not in output


def deny_reason(logs) -> str:
    (line,) = [entry for entry in logs() if entry["event"] == "deny"]
    assert line["level"] == "WARNING"
    return line["reason"]


def test_a_valid_token_is_allowed_on_exactly_the_method_arn(authorizer, logs, lambda_context):
    """A valid token is allowed on exactly the event's methodArn, with the name and expiry in a
    context of scalars and one INFO log line."""
    event = authorizer.request(authorizer.sign("alice"))
    before = int(time.time())
    output = authorizer.app.lambda_handler(event, lambda_context)
    assert output["principalId"] == "alice"
    assert output["policyDocument"]["Version"] == "2012-10-17"
    assert statement(output) == {
        "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"],
    }
    assert output["context"]["name"] == "alice"
    assert before + 3600 <= output["context"]["tokenExpiresAt"] <= int(time.time()) + 3600
    # AWS accepts only string, number and boolean values in the context.
    assert all(isinstance(v, str | int | float | bool) for v in output["context"].values())
    (line,) = logs()
    assert line == {"level": "INFO", "event": "allow", "name": "alice",
                    "expiresAt": output["context"]["tokenExpiresAt"],
                    "awsRequestId": lambda_context.aws_request_id}


def test_the_resource_is_the_events_own_method_arn(authorizer, lambda_context):
    """The Allow statement's resource is whatever methodArn the event carries, not a fixed one."""
    event = authorizer.request(authorizer.sign("bob"))
    event["methodArn"] = "arn:aws:execute-api:eu-west-3:210987654321:zz9yy8xx7w/dev/$connect"
    output = authorizer.app.lambda_handler(event, lambda_context)
    assert statement(output)["Resource"] == event["methodArn"]
    assert statement(output)["Effect"] == "Allow"


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_a_method_arn_of_another_partition_is_allowed(authorizer, lambda_context, partition):
    """China and GovCloud APIs send methodArns of their own partition (``arn:aws-cn:…``; ARN
    format, AWS General Reference "Amazon Resource Names"): a valid token is allowed there."""
    event = authorizer.request(authorizer.sign("carol"))
    event["methodArn"] = f"arn:{partition}:execute-api:cn-north-1:123456789012:a1b2c3/dev/$connect"
    output = authorizer.app.lambda_handler(event, lambda_context)
    assert statement(output) == {"Action": "execute-api:Invoke", "Effect": "Allow",
                                 "Resource": event["methodArn"]}


@pytest.mark.parametrize("name", ["a" * 32, "zoë", "Ana María", "李小龍", "🦊 fox"])
def test_every_name_the_chat_accepts_can_be_in_a_token(authorizer, lambda_context, name):
    """Every name the chat accepts, up to 32 characters and non-ASCII included, round-trips through
    a token no longer than the limit."""
    output = authorizer.app.lambda_handler(authorizer.request(authorizer.sign(name)),
                                           lambda_context)
    assert (output["principalId"], output["context"]["name"]) == (name, name)
    assert len(authorizer.sign(name)) <= authorizer.app.chat_token.MAX_TOKEN_LENGTH


@pytest.mark.parametrize("seconds_ago", [0, 1, 86400])
def test_an_expired_token_is_denied(authorizer, logs, lambda_context, seconds_ago):
    """A token whose expiry is now or past is denied, logged as expired."""
    token = forge(authorizer.secret, b64(b"alice"), str(int(time.time()) - seconds_ago))
    assert denied(authorizer.app.lambda_handler(authorizer.request(token), lambda_context))
    assert deny_reason(logs) == "token expired"


def test_a_forged_signature_is_denied(authorizer, logs, lambda_context):
    """A token with one character of its signature changed is denied as a bad signature."""
    good = authorizer.sign("alice")
    head, signature = good.rsplit(".", 1)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert denied(authorizer.app.lambda_handler(authorizer.request(f"{head}.{flipped}"),
                                                lambda_context))
    assert deny_reason(logs) == "bad signature"


def test_another_name_under_a_valid_signature_is_denied(authorizer, logs, lambda_context):
    """Another name under a valid token's signature is denied as a bad signature."""
    _, name, expires, signature = authorizer.sign("alice").split(".")
    token = f"v1.{b64(b'mallory')}.{expires}.{signature}"
    assert denied(authorizer.app.lambda_handler(authorizer.request(token), lambda_context))
    assert deny_reason(logs) == "bad signature"


def test_a_later_expiry_under_a_valid_signature_is_denied(authorizer, logs, lambda_context):
    """A later expiry under a valid token's signature is denied as a bad signature."""
    _, name, expires, signature = authorizer.sign("alice").split(".")
    token = f"v1.{name}.{int(expires) + 86400}.{signature}"
    assert denied(authorizer.app.lambda_handler(authorizer.request(token), lambda_context))
    assert deny_reason(logs) == "bad signature"


def test_a_token_signed_with_another_secret_is_denied(authorizer, logs, lambda_context):
    """A token signed with another secret is denied as a bad signature."""
    token = authorizer.sign("alice", secret="an-entirely-different-secret-of-43-chars!!")
    assert denied(authorizer.app.lambda_handler(authorizer.request(token), lambda_context))
    assert deny_reason(logs) == "bad signature"


def test_after_the_secret_changes_old_tokens_are_denied(authorizer, logs, lambda_context):
    """Once the secret changes, a new execution environment denies tokens signed with the old
    one."""
    old = authorizer.sign("alice")
    authorizer.ssm.put_parameter(Name=authorizer.parameter, Value="n" * 40,
                                 Type="SecureString", Overwrite=True)
    # A new execution environment (the secret is kept for an environment's life).
    authorizer.app._secret = None
    assert denied(authorizer.app.lambda_handler(authorizer.request(old), lambda_context))
    assert deny_reason(logs) == "bad signature"


MALFORMED = [
    # (what, token or a function of the secret giving one, the reason logged)
    ("three parts", lambda s: f"v1.{b64(b'alice')}.{later()}", "token must have 4 parts"),
    ("five parts", lambda s: forge(s, b64(b"alice"), later()) + ".x", "token must have 4 parts"),
    ("empty parts", lambda s: "...", "unknown token version"),
    ("unknown version", lambda s: forge(s, b64(b"alice"), later(), version="v2"),
     "unknown token version"),
    ("name not base64url", lambda s: forge(s, "al!ce", later()), "not base64url"),
    ("name with padding", lambda s: forge(s, base64.urlsafe_b64encode(b"al").decode(), later()),
     "not base64url"),
    ("name not canonical base64", lambda s: forge(s, "YWxpY2F", later()), "not base64url"),
    ("name of impossible length", lambda s: forge(s, "YWxpY", later()), "not base64url"),
    ("empty name", lambda s: forge(s, "", later()), "not base64url"),
    ("signature not base64url", lambda s: f"v1.{b64(b'alice')}.{later()}.$$$",
     "not base64url"),
    ("signature with padding", lambda s: forge(s, b64(b"alice"), later()) + "=",
     "not base64url"),
    ("expiry not a number", lambda s: forge(s, b64(b"alice"), "soon"), "expiry is not a number"),
    ("negative expiry", lambda s: forge(s, b64(b"alice"), "-1"), "expiry is not a number"),
    ("expiry with a leading zero", lambda s: forge(s, b64(b"alice"), "0" + later()),
     "expiry is not a number"),
    ("expiry in exponent form", lambda s: forge(s, b64(b"alice"), "2e9"),
     "expiry is not a number"),
    ("expiry of 13 digits", lambda s: forge(s, b64(b"alice"), "9" * 13),
     "expiry is not a number"),
    ("expiry with spaces", lambda s: forge(s, b64(b"alice"), f" {later()}"),
     "expiry is not a number"),
    ("huge", lambda s: "v1." + "A" * 100_000, "token too long"),
    ("just over the limit", lambda s: "v" * 257, "token too long"),
    ("not ASCII", lambda s: forge(s, b64(b"alice"), later()).replace("v1", "v¹"),
     "token is not ASCII"),
    ("name not UTF-8", lambda s: forge(s, b64(b"\xff\xfe"), later()), "name is not UTF-8"),
    ("name with a control character", lambda s: forge(s, b64(b"bell\x07"), later()),
     "name has characters that are not printable"),
    ("name with a newline", lambda s: forge(s, b64(b"bob\nadmin"), later()),
     "name has characters that are not printable"),
    ("name too long", lambda s: forge(s, b64(b"n" * 33), later()),
     "name longer than 32 characters"),
    ("name with spaces around it", lambda s: forge(s, b64(b" alice "), later()),
     "name starts or ends with a space"),
]


@pytest.mark.parametrize(("token_of", "reason"), [(t, r) for _, t, r in MALFORMED],
                         ids=[what for what, _, _ in MALFORMED])
def test_malformed_tokens_are_denied_with_a_clear_reason(
    authorizer, logs, lambda_context, token_of, reason
):
    """Each malformed token is denied for anonymous, with a reason in the log that says what is
    wrong with it."""
    token = token_of(authorizer.secret)
    output = authorizer.app.lambda_handler(authorizer.request(token), lambda_context)
    assert denied(output)
    assert output["principalId"] == "anonymous"
    assert deny_reason(logs) == reason


@pytest.mark.parametrize("query", ["absent", None, {}, {"token": ""}, {"name": "alice"},
                                   {"token": None}])
def test_no_token_is_denied_without_reading_the_secret(authorizer, logs, lambda_context, query):
    """A request without a token, however the query is absent or empty, is denied without a call to
    SSM."""
    event = authorizer.request()
    if query != "absent":
        event["queryStringParameters"] = query
    else:
        del event["queryStringParameters"]
    event.pop("multiValueQueryStringParameters", None)
    assert denied(authorizer.app.lambda_handler(event, lambda_context))
    assert deny_reason(logs) == "no token"
    assert authorizer.recorder.count("GetParameter") == 0


def test_two_tokens_are_denied(authorizer, logs, lambda_context):
    """A request with two token parameters is denied, even when one of them is valid."""
    event = authorizer.request(authorizer.sign("alice"))
    event["multiValueQueryStringParameters"]["token"] = [authorizer.sign("mallory"),
                                                         authorizer.sign("alice")]
    assert denied(authorizer.app.lambda_handler(event, lambda_context))
    assert deny_reason(logs) == "more than one token"


@pytest.mark.parametrize("event", [None, "text", {}, {"methodArn": 7},
                                   {"methodArn": "arn:aws:lambda:us-east-1:1:function:f"}])
def test_an_event_without_a_method_arn_is_denied_everywhere(
    authorizer, logs, lambda_context, event
):
    """An event without a usable $connect methodArn is denied on every resource."""
    assert denied(authorizer.app.lambda_handler(event, lambda_context), resource="*")
    assert deny_reason(logs) == "no methodArn"


def test_the_secret_is_read_lazily_and_once_per_environment(authorizer, lambda_context):
    """Importing the function reads nothing; three invocations read the secret once, decrypted."""
    assert authorizer.imported_without_client  # importing the module made no client, read nothing
    for name in ("alice", "bob", "carol"):
        output = authorizer.app.lambda_handler(authorizer.request(authorizer.sign(name)),
                                               lambda_context)
        assert statement(output)["Effect"] == "Allow"
    (call,) = [c for c in authorizer.recorder.calls if c.operation == "GetParameter"]
    assert call.params == {"Name": authorizer.parameter, "WithDecryption": True}


def test_the_sdk_timeouts_fit_in_the_functions_time(authorizer):
    """The SSM client's attempts times its connect and read timeouts, plus the longest wait
    before its one retry (an x-amz-retry-after header's included), fit in the function's 10 s."""
    config = authorizer.app._ssm_client().meta.config
    attempts = config.retries["total_max_attempts"]  # the first attempt included
    assert attempts == 2
    backoff_s = 1  # standard mode: random up to 2**0 s before the one retry
    retry_after_s = 5  # what an x-amz-retry-after header may add (botocore/retries/standard.py)
    worst_s = attempts * (config.connect_timeout + config.read_timeout) + backoff_s + (
        retry_after_s)
    assert worst_s < 10  # the function's Timeout in the workshop (stack.py: Timeout=10)


@pytest.mark.parametrize(("change", "reason"), [
    ("delete", "get_parameter failed (ParameterNotFound)"),
    ("plain", "the parameter is not a SecureString"),
    ("short", "the secret is shorter than 32 bytes"),
    ("unset", "SECRET_PARAMETER is not set"),
])
def test_no_usable_secret_means_deny_and_a_logged_reason(
    authorizer, logs, lambda_context, monkeypatch, change, reason
):
    """A deleted, plain, too short or unnamed secret denies every token and logs an ERROR saying
    which."""
    if change == "delete":
        authorizer.ssm.delete_parameter(Name=authorizer.parameter)
    elif change == "plain":
        authorizer.ssm.put_parameter(Name=authorizer.parameter, Value=authorizer.secret,
                                     Type="String", Overwrite=True)
    elif change == "short":
        authorizer.ssm.put_parameter(Name=authorizer.parameter, Value="short",
                                     Type="SecureString", Overwrite=True)
    else:
        monkeypatch.delenv("SECRET_PARAMETER")
    output = authorizer.app.lambda_handler(authorizer.request(authorizer.sign("alice")),
                                           lambda_context)
    assert denied(output)
    (line,) = logs()
    assert line["level"] == "ERROR" and line["event"] == "secret_unavailable"
    assert line["reason"] == reason


def test_a_failed_read_is_not_cached(authorizer, lambda_context):
    """A failed read of the secret is tried again on the next invocation, which allows once the
    secret is back."""
    secret = authorizer.secret
    authorizer.ssm.delete_parameter(Name=authorizer.parameter)
    token = authorizer.sign("alice")
    assert denied(authorizer.app.lambda_handler(authorizer.request(token), lambda_context))
    authorizer.ssm.put_parameter(Name=authorizer.parameter, Value=secret, Type="SecureString")
    output = authorizer.app.lambda_handler(authorizer.request(token), lambda_context)
    assert statement(output)["Effect"] == "Allow"
    assert authorizer.recorder.count("GetParameter") == 2


def test_an_unreachable_ssm_is_a_deny_not_a_crash(authorizer, logs, lambda_context, monkeypatch):
    """An SSM endpoint that cannot be reached gives a Deny and a logged reason, not an unhandled
    error."""
    def unreachable(**_kwargs):
        raise EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com")

    monkeypatch.setattr(authorizer.app._ssm_client(), "get_parameter", unreachable)
    assert denied(authorizer.app.lambda_handler(authorizer.request(authorizer.sign("alice")),
                                                lambda_context))
    (line,) = logs()
    assert line["reason"] == "get_parameter failed (EndpointConnectionError)"


def test_a_bug_is_a_deny_logged_without_any_value(authorizer, logs, lambda_context, monkeypatch):
    """An unexpected error in the check is a Deny whose log line names the error and where it
    happened, never the token or the secret."""
    token = authorizer.sign("alice")

    def broken(secret, seen, now):
        raise ValueError(f"something went wrong with {seen} and {secret}")

    monkeypatch.setattr(authorizer.app.chat_token, "verify", broken)
    assert denied(authorizer.app.lambda_handler(authorizer.request(token), lambda_context))
    (line,) = logs()
    assert line["event"] == "authorizer_failed" and line["error"] == "ValueError"
    assert "broken" in line["stackTrace"]  # where it happened
    assert token not in str(line) and authorizer.secret not in str(line)


def test_the_signature_is_compared_in_constant_time(authorizer, lambda_context, monkeypatch):
    """The signature is compared with hmac.compare_digest on the 32-byte MACs, and its answer
    decides."""
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    token = authorizer.sign("alice")
    assert statement(authorizer.app.lambda_handler(authorizer.request(token),
                                                   lambda_context))["Effect"] == "Allow"
    ((expected, given),) = compared
    assert isinstance(expected, bytes) and len(expected) == 32 and expected == given
    # and its answer is the one that counts: a "no" from it refuses the right signature
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: False)
    assert denied(authorizer.app.lambda_handler(authorizer.request(token), lambda_context))


def test_nothing_secret_reaches_the_logs(authorizer, capsys, lambda_context):
    """Every path, its whole stdout: never the secret, a token or a signature."""
    app, request = authorizer.app, authorizer.request
    seen = [authorizer.secret]
    for name in ("alice", "bob"):
        token = authorizer.sign(name)
        seen += [token, token.rsplit(".", 1)[1]]
        app.lambda_handler(request(token), lambda_context)
    for _, token_of, _ in MALFORMED:
        token = token_of(authorizer.secret)
        seen.append(token)
        app.lambda_handler(request(token), lambda_context)
    expired = forge(authorizer.secret, b64(b"eve"), "1")
    seen.append(expired)
    app.lambda_handler(request(expired), lambda_context)
    authorizer.ssm.delete_parameter(Name=authorizer.parameter)
    app._secret = None
    app.lambda_handler(request(authorizer.sign("carol")), lambda_context)
    out = capsys.readouterr().out
    assert out.count("\n") >= len(MALFORMED) + 4  # every invocation logged its line
    for value in seen:
        assert len(value) < 8 or value not in out, value[:20]
