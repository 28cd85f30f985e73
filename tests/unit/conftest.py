"""Fixtures for the Lambda handler tests: moto in-process, AWS-shaped events, a fake gateway.

moto's apigatewaymanagementapi accepts every post and never answers 410, so the management
client gets a ``before-send`` hook (registered first, ahead of moto's) that plays the gateway:
it records frames and answers 410 GoneException or another error for the ids a test chooses,
with the headers AWS sends, so botocore raises the same exceptions it raises on AWS. A string
that is not shaped as a connection id gets AWS's 400 ``BadRequestException: Invalid
connectionId: <id>`` (observed: /work/research/apigateway.md §1; the local gateway's rule), so
the tests' ids are shaped as AWS's are: 15 URL-safe base64 characters and ``=``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from workshop_utils.localcloud.gateway.ids import is_connection_id

REPO = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO / "lambda_src"
EVENTS_DIR = REPO / "tests" / "events"
for _path in (REPO, LAMBDA_SRC / "shared"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
TABLE_NAME = "wschat-connections"
API_ID = "a1b2c3d4e5"  # the apiId of every event in tests/events
STAGE = "prod"
ENDPOINT = f"https://{API_ID}.execute-api.{REGION}.amazonaws.com/{STAGE}"
FUNCTIONS = ("connect", "disconnect", "broadcast")
SECRET_PARAMETER = "wschat-chat-token-secret"
# 43 characters, like tokens.new_secret(): long enough to be an HMAC-SHA256 key.
SECRET = "s3cr3t-0nly-the-authorizer-and-the-minter-know"


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that a handler might read."""

    function_name: str = "wschat-broadcast"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:wschat-broadcast"
    )
    aws_request_id: str = "6f3c1b8e-2d4a-4b7e-9a51-0c2e8d7f1a23"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def load_event(name: str) -> dict:
    """A fresh copy of ``tests/events/<name>.json``."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def message_event(connection_id: str, body: str | None, **context) -> dict:
    """The captured MESSAGE event, from ``connection_id`` with ``body`` (None: no body)."""
    event = load_event("message")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"].update(context)
    if body is None:
        del event["body"]
    else:
        event["body"] = body
    return event


def disconnect_event(connection_id: str) -> dict:
    event = load_event("disconnect")
    event["requestContext"]["connectionId"] = connection_id
    return event


class _RawBody:
    """The ``raw`` a botocore AWSResponse reads its body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


def aws_response(url: str, status: int, error_code: str | None = None,
                 message: str | None = None) -> AWSResponse:
    """A response as API Gateway sends it; the error type header is what makes botocore raise
    ``client.exceptions.<error_code>`` instead of a bare ClientError."""
    headers = {"x-amzn-RequestId": "fake-request-id"}
    body = b""
    if error_code:
        headers["x-amzn-ErrorType"] = error_code
        headers["Content-Type"] = "application/json"
        body = json.dumps({"message": message}).encode()
    return AWSResponse(url, status, headers, _RawBody(body))


class FakeGateway:
    """Plays the @connections side of API Gateway for one management client."""

    def __init__(self, client) -> None:
        self.frames: dict[str, list[dict]] = defaultdict(list)
        self.raw: dict[str, list[bytes]] = defaultdict(list)
        self.attempts: Counter[str] = Counter()
        self.hosts: set[str] = set()
        self.gone: set[str] = set()
        self.errors: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        client.meta.events.register_first(
            "before-send.apigatewaymanagementapi", self._answer
        )

    def _answer(self, request, **_kwargs):
        url = urlsplit(request.url)
        connection_id = unquote(url.path.rsplit("/", 1)[-1])
        with self._lock:
            self.attempts[connection_id] += 1
            self.hosts.add(url.netloc)
        if not is_connection_id(connection_id):
            return aws_response(request.url, 400, "BadRequestException",
                                f"Invalid connectionId: {connection_id}")
        if connection_id in self.gone:
            return aws_response(request.url, 410, "GoneException")
        if connection_id in self.errors:
            status, code = self.errors[connection_id]
            return aws_response(request.url, status, code)
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        with self._lock:
            self.raw[connection_id].append(body)
            self.frames[connection_id].append(json.loads(body.decode("utf-8")))
        return aws_response(request.url, 200)

    @property
    def posted_to(self) -> set[str]:
        return {cid for cid, frames in self.frames.items() if frames}


class CallRecorder:
    """Every AWS call a client makes, as (service, operation, HTTP method, URL, params)."""

    def __init__(self) -> None:
        self.calls: list[SimpleNamespace] = []
        self._lock = threading.Lock()

    def attach(self, client) -> None:
        client.meta.events.register("before-call", self._record)

    def _record(self, model, params, **_kwargs):
        body = params.get("body") or b""
        try:
            payload = json.loads(body) if body else {}
        except (ValueError, TypeError):
            payload = {}
        call = SimpleNamespace(
            service=model.service_model.service_name,
            operation=model.name,
            method=model.http["method"],
            url=params.get("url", ""),
            params=payload,
        )
        with self._lock:
            self.calls.append(call)

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    """Fake credentials and the Lambda environment; nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def ddb():
    """moto running, the connections table created as the workshop creates it."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE_NAME,
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_time_to_live(
            TableName=TABLE_NAME,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
        )
        yield client


def _import_fresh(module_name: str, path: Path):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def chat(ddb):
    """The three handlers imported fresh inside moto (all three are named ``app``), sharing
    one fresh ``chat_common`` whose clients are wired to a FakeGateway and a CallRecorder."""
    sys.modules.pop("chat_common", None)
    common = _import_fresh("chat_common", LAMBDA_SRC / "shared" / "chat_common.py")
    handlers = {
        name: _import_fresh(f"{name}_app", LAMBDA_SRC / name / "app.py") for name in FUNCTIONS
    }
    recorder = CallRecorder()
    recorder.attach(common.dynamodb)
    management = common.management_client(ENDPOINT)
    recorder.attach(management)
    gateway = FakeGateway(management)

    def add(connection_id: str, name: str | None = None, announced: bool = False, **extra):
        item = {
            "connectionId": {"S": connection_id},
            "name": {"S": name or connection_id.lower()},
            "connectedAt": {"N": "1795622400000"},
            "expiresAt": {"N": str(int(time.time()) + 2 * 3600)},  # live: TTL not passed
            **extra,
        }
        if announced:
            item["announced"] = {"BOOL": True}
        ddb.put_item(TableName=TABLE_NAME, Item=item)

    def item(connection_id: str) -> dict | None:
        return ddb.get_item(
            TableName=TABLE_NAME, Key={"connectionId": {"S": connection_id}},
            ConsistentRead=True,
        ).get("Item")

    def ids() -> set[str]:
        pages = ddb.get_paginator("scan").paginate(TableName=TABLE_NAME)
        return {i["connectionId"]["S"] for page in pages for i in page["Items"]}

    yield SimpleNamespace(
        common=common, gateway=gateway, recorder=recorder, ddb=ddb, endpoint=ENDPOINT,
        add=add, item=item, ids=ids, **handlers,
    )
    common._executor.shutdown(wait=True)
    for name in ("chat_common", *(f"{n}_app" for n in FUNCTIONS)):
        sys.modules.pop(name, None)


@pytest.fixture
def authorizer(monkeypatch):
    """The authorizer imported fresh inside moto, with its secret in SSM (a SecureString, as
    the workshop puts it) and a CallRecorder on its SSM client; ``sign(name, ttl_s)`` makes
    a token with the same secret."""
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name=SECRET_PARAMETER, Value=SECRET, Type="SecureString")
        monkeypatch.setenv("SECRET_PARAMETER", SECRET_PARAMETER)
        monkeypatch.syspath_prepend(str(LAMBDA_SRC / "authorizer"))
        sys.modules.pop("chat_token", None)
        app = _import_fresh("authorizer_app", LAMBDA_SRC / "authorizer" / "app.py")
        imported_without_client = app._ssm is None and app._secret is None
        recorder = CallRecorder()
        recorder.attach(app._ssm_client())

        def sign(name: str, ttl_s: int = 3600, secret: str = SECRET) -> str:
            return app.chat_token.sign(secret, name, int(time.time()) + ttl_s)

        def request(token: str | None = None, **query) -> dict:
            event = load_event("authorizer_request")
            params = {**({"token": token} if token is not None else {}), **query}
            event["queryStringParameters"] = params or None
            event["multiValueQueryStringParameters"] = (
                {k: [v] for k, v in params.items()} or None)
            return event

        yield SimpleNamespace(app=app, ssm=ssm, recorder=recorder, sign=sign, request=request,
                              secret=SECRET, parameter=SECRET_PARAMETER,
                              imported_without_client=imported_without_client)
    for name in ("authorizer_app", "chat_token"):
        sys.modules.pop(name, None)


@pytest.fixture
def logs(capsys):
    """The JSON log lines the handlers wrote to stdout so far (call it to read them)."""

    def read() -> list[dict]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read


@pytest.fixture
def settings():
    """The names every test event and the table share (conftest is not importable)."""
    return SimpleNamespace(
        region=REGION, account_id=ACCOUNT_ID, table_name=TABLE_NAME, api_id=API_ID,
        stage=STAGE, endpoint=ENDPOINT, lambda_src=LAMBDA_SRC, repo=REPO,
    )


@pytest.fixture
def events():
    return SimpleNamespace(
        load=lambda name: copy.deepcopy(load_event(name)),
        message=message_event,
        disconnect=disconnect_event,
    )
