"""Minting tokens for the clients, and finding out whether a chat wants one.

The format has one definition (lambda_src/authorizer/chat_token.py); workshop_utils.tokens
loads that file. The round trips below would catch a second definition drifting apart, and
the pinned token catches a change of the format itself (tokens already handed out, and the
notebook's outputs, depend on it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

import pytest
from moto import mock_aws
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from workshop_utils import chat, tokens
from workshop_utils.localcloud import chat_page_url as page_url
from workshop_utils.target import Target

SECRET = "a-secret-for-the-tests-that-is-43-chars-lo"
REGION = "us-east-1"
PREFIX = "wschat-tok"
PARAMETER = f"{PREFIX}-chat-token-secret"


def test_the_helper_loads_the_authorizers_own_format(settings):
    """The helper mints with the very file the authorizer's zip holds
    (lambda_src/authorizer/chat_token.py), not a copy of it."""
    assert tokens.token_format().__file__ == str(
        settings.lambda_src / "authorizer" / "chat_token.py")


def test_the_format_is_pinned():
    """A token for alice minted at a given time is exactly v1.<base64url name>.<expiry>.<HMAC-
    SHA256 signature>, so a change of the format cannot pass unnoticed."""
    expected_mac = hmac.new(SECRET.encode(), b"v1.YWxpY2U.1795622460", hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(expected_mac).rstrip(b"=").decode()
    assert tokens.mint_token(SECRET, "alice", 60, now=1795622400.9) == (
        f"v1.YWxpY2U.1795622460.{signature}")


def test_minted_here_is_allowed_by_the_authorizer(authorizer, lambda_context):
    """A token the helper mints is allowed by the authorizer, which hands on its name and an expiry
    of now plus its lifetime."""
    before = int(time.time())
    token = tokens.mint_token(authorizer.secret, "zoë", 120)
    output = authorizer.app.lambda_handler(authorizer.request(token), lambda_context)
    assert output["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert output["context"]["name"] == "zoë"
    assert before + 120 <= output["context"]["tokenExpiresAt"] <= int(time.time()) + 120


def test_signed_by_the_deployed_module_is_read_by_the_helper(authorizer):
    # authorizer.app.chat_token is the module the authorizer imported from its folder,
    # exactly as its zip has it; tokens.token_format() is the helper's own load of it.
    """A token signed by the module the authorizer imported is read back by the helper's load of
    the format, name and expiry intact."""
    token = authorizer.app.chat_token.sign(SECRET, "bob", 1795626000)
    claims = tokens.token_format().verify(SECRET, token, now=1795622400)
    assert (claims.name, claims.expires_at) == ("bob", 1795626000)


@pytest.mark.parametrize("ttl_s", [0, -1, True, 1.5, "60", tokens.MAX_TTL_S + 1])
def test_mint_refuses_a_ttl_outside_a_second_to_a_week(ttl_s):
    """A lifetime that is not a whole number of seconds from one to a week is refused, naming
    ttl_s."""
    with pytest.raises(ValueError, match="ttl_s"):
        tokens.mint_token(SECRET, "alice", ttl_s)


@pytest.mark.parametrize("name", ["", "n" * 33, " alice", "alice ", "bob\nadmin", None])
def test_mint_refuses_names_the_chat_would_refuse(name):
    """A name the chat would refuse (empty, too long, padded with spaces, with a newline, not a
    string) gets no token."""
    with pytest.raises(ValueError, match="cannot sign a token"):
        tokens.mint_token(SECRET, name, 60)


def test_mint_refuses_a_secret_too_short_to_be_a_key():
    """A secret shorter than 32 bytes is refused as a signing key."""
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.mint_token("short", "alice", 60)


def test_new_secrets_are_long_random_and_usable():
    """Two new secrets differ, are at least 32 bytes long and can sign a token."""
    first, second = tokens.new_secret(), tokens.new_secret()
    assert first != second and len(first.encode()) >= 32
    assert tokens.mint_token(first, "alice", 60).startswith("v1.")


# --- the secret and the API on a target (moto) ----------------------------------------------

@pytest.fixture
def target():
    with mock_aws():
        yield Target("aws", region=REGION, prefix=PREFIX)


def chat_api(target, *, identity_source=None, connect_route=True) -> str:
    """A WebSocket API with an open $connect, or one behind a REQUEST authorizer."""
    apigw = target.client("apigatewayv2")
    api_id = apigw.create_api(Name=target.names.api, ProtocolType="WEBSOCKET",
                              RouteSelectionExpression="$request.body.action")["ApiId"]
    apigw.create_route(ApiId=api_id, RouteKey="$default")
    if not connect_route:
        return api_id
    route_id = apigw.create_route(ApiId=api_id, RouteKey="$connect")["RouteId"]
    if identity_source:
        authorizer_id = apigw.create_authorizer(
            ApiId=api_id, Name="chat-authorizer", AuthorizerType="REQUEST",
            AuthorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                          "arn:aws:lambda:us-east-1:123456789012:function:wschat-authorizer/"
                          "invocations",
            IdentitySource=identity_source)["AuthorizerId"]
        apigw.update_route(ApiId=api_id, RouteId=route_id, AuthorizationType="CUSTOM",
                           AuthorizerId=authorizer_id)
    return api_id


def put_secret(target, value: str = SECRET, kind: str = "SecureString") -> None:
    target.client("ssm").put_parameter(Name=PARAMETER, Value=value, Type=kind, Overwrite=True)


def test_the_parameter_is_named_for_the_learner():
    """The token secret's SSM parameter is the learner's prefix followed by -chat-token-secret."""
    assert Target("aws", region=REGION, prefix=PREFIX).names.token_parameter == PARAMETER


def test_read_secret_decrypts_the_secure_string(target):
    """read_secret returns the SecureString's decrypted value."""
    put_secret(target)
    assert tokens.read_secret(target) == SECRET


def test_read_secret_says_what_is_missing(target):
    """A missing parameter is a TokenSecretError naming the parameter and the target."""
    with pytest.raises(tokens.TokenSecretError, match=f"'{PARAMETER}' on the aws target does "
                                                      "not exist yet"):
        tokens.read_secret(target)


def test_read_secret_refuses_a_plain_string(target):
    """A parameter stored as a plain String is refused: the secret must be a SecureString."""
    put_secret(target, kind="String")
    with pytest.raises(tokens.TokenSecretError, match="is a String, not a SecureString"):
        tokens.read_secret(target)


@pytest.mark.parametrize(("setup", "expected"), [
    ({"identity_source": ["route.request.querystring.token"]}, True),
    ({"identity_source": ["route.request.header.Authorization"]}, False),
    ({}, False),  # $connect without authorization
    ({"connect_route": False}, False),
])
def test_whether_the_api_wants_a_workshop_token(target, setup, expected):
    """Only an API whose $connect has a REQUEST authorizer reading the token query string wants a
    workshop token."""
    api_id = chat_api(target, **setup)
    assert tokens.expects_workshop_token(target, api_id) is expected


# --- workshop chat: which token it sends --------------------------------------------------

def test_a_given_token_is_sent_as_is(target):
    """A token given on the command line is sent unchanged."""
    from workshop_utils.terminal_chat import choose_token

    api_id = chat_api(target)
    assert choose_token("given.token", "alice", (target, api_id), home=None,
                        ttl_s=60) == "given.token"


def test_no_token_for_an_open_api_or_a_url_given_by_hand(target):
    """No token is minted for an API without the authorizer, nor for a URL given by hand, even when
    a secret exists."""
    from workshop_utils.terminal_chat import choose_token

    put_secret(target)
    api_id = chat_api(target)
    assert choose_token(None, "alice", (target, api_id), home=None, ttl_s=60) is None
    assert choose_token(None, "alice", None, home=None, ttl_s=60) is None


def test_minted_for_the_workshops_api_with_the_authorizer(target):
    """For the workshop's API behind the authorizer, no --token and --token auto both mint a token
    for the name, valid for the asked lifetime."""
    from workshop_utils.terminal_chat import choose_token

    put_secret(target)
    api_id = chat_api(target, identity_source=tokens.TOKEN_IDENTITY_SOURCE)
    for asked in (None, "auto"):
        token = choose_token(asked, "alice", (target, api_id), home=None, ttl_s=60)
        claims = tokens.token_format().verify(SECRET, token, time.time())
        assert claims.name == "alice" and claims.expires_at <= time.time() + 60


@pytest.mark.parametrize(("token", "name", "message"), [
    ("auto", None, "a token carries your chat name: give --name too"),
    (None, None, "a token carries your chat name: give --name too"),
    ("  ", "alice", "--token is empty"),
    ("auto", "n" * 33, "cannot mint a token for 'nnn"),
])
def test_what_cannot_be_minted_is_one_clear_line(target, token, name, message):
    """A token that cannot be minted (no name, an empty --token, a name the chat refuses) is one
    line saying why."""
    from workshop_utils.terminal_chat import ChatError, choose_token

    put_secret(target)
    api_id = chat_api(target, identity_source=tokens.TOKEN_IDENTITY_SOURCE)
    with pytest.raises(ChatError, match=message) as caught:
        choose_token(token, name, (target, api_id), home=None, ttl_s=60)
    assert "\n" not in str(caught.value)


def test_an_authorizer_without_a_readable_secret_is_said_before_connecting(target):
    """When the API has the authorizer and the secret does not exist, the error names the parameter
    before any connection is tried."""
    from workshop_utils.terminal_chat import ChatError, choose_token

    api_id = chat_api(target, identity_source=tokens.TOKEN_IDENTITY_SOURCE)
    with pytest.raises(ChatError, match=f"the token secret '{PARAMETER}' .* does not exist"):
        choose_token(None, "alice", (target, api_id), home=None, ttl_s=60)


def test_not_knowing_the_routes_means_no_token(target):
    """An API whose routes cannot be read is taken as wanting no token."""
    assert tokens.auto_token(target, "no-such-api", "alice") is None


# --- where the token goes in a URL ---------------------------------------------------------

def test_connect_url_sets_name_and_token_and_keeps_the_rest():
    """connect_url sets or replaces name and token in the query and keeps every other parameter."""
    assert chat.connect_url("wss://a.example/dev", "al ice") == "wss://a.example/dev?name=al+ice"
    assert chat.connect_url("ws://h/x/dev?k=1&name=old&token=old", "new", "v1.a.b.c") == (
        "ws://h/x/dev?k=1&name=new&token=v1.a.b.c")
    assert chat.connect_url("ws://h/x/dev", None) == "ws://h/x/dev"
    assert chat.connect_url("ws://h/x/dev", None, "t") == "ws://h/x/dev?token=t"


def test_the_page_gets_the_token_in_its_fragment_only():
    """The chat page's address carries the token in its fragment, never in the part sent to the
    server."""
    url = page_url("http://127.0.0.1:4566", "ws://127.0.0.1:4510/abc/dev", "alice", "v1.a.b.c")
    assert url == ("http://127.0.0.1:4566/_localcloud/chat/?url=ws%3A%2F%2F127.0.0.1%3A4510"
                   "%2Fabc%2Fdev&name=alice#token=v1.a.b.c")
    assert "token" not in url.split("#")[0]


@pytest.fixture
def refusing(monkeypatch):
    """ChatRoom's connect replaced by one that records the URL and refuses the handshake
    with ``refusing.status``."""
    attempt = type("Attempt", (), {"urls": [], "status": 403})()

    async def refuse(url, **_kwargs):
        attempt.urls.append(url)
        raise InvalidStatus(Response(attempt.status, "Refused", Headers()))

    monkeypatch.setattr(chat, "connect", refuse)
    return attempt


def test_chatroom_join_sends_the_token_and_never_repeats_it(refusing):
    """ChatRoom.join puts the token in the WebSocket URL, and a refusal says why without repeating
    the token."""
    room = chat.ChatRoom("ws://127.0.0.1:9/abc/dev")
    with pytest.raises(ConnectionRefusedError) as caught:
        asyncio.run(room.join("alice", token="v1.secret-bits.1.sig"))
    assert refusing.urls == ["ws://127.0.0.1:9/abc/dev?name=alice&token=v1.secret-bits.1.sig"]
    assert str(caught.value) == ("alice: the chat refused the token (HTTP 403 Forbidden): it "
                                 "is expired, or not signed with this chat's secret")
    assert "secret-bits" not in str(caught.value)


def test_chatroom_join_without_a_token_is_as_before(refusing):
    """Without a token join sends only the name, and a 401 says that the chat needs a token."""
    refusing.status = 401
    with pytest.raises(ConnectionRefusedError, match="alice: the chat needs a token"):
        asyncio.run(chat.ChatRoom("ws://127.0.0.1:9/abc/dev").join("alice"))
    assert refusing.urls == ["ws://127.0.0.1:9/abc/dev?name=alice"]
