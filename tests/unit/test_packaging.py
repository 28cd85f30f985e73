"""The deployment zips are what Lambda needs and byte-identical from run to run."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.timing import SECOND
from workshop_utils.packaging import (
    build_zip,
    functions,
    handler_source,
    render_authorizer_policy,
    render_policy,
    trust_policy,
)

CHAT_FUNCTIONS = ["broadcast", "connect", "disconnect"]  # the ones that import chat_common
FUNCTIONS = ["authorizer", *CHAT_FUNCTIONS]


def entries(data: bytes) -> list[zipfile.ZipInfo]:
    """The members of a zip archive, in archive order."""
    return zipfile.ZipFile(io.BytesIO(data)).infolist()


def code_sha256(data: bytes) -> str:
    """What Lambda reports as CodeSha256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def src_copy(tmp_path, settings):
    """A copy of lambda_src with the clutter a working tree collects."""
    root = tmp_path / "lambda_src"
    shutil.copytree(settings.lambda_src, root, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("connect", "shared"):
        (root / folder / "__pycache__").mkdir()
        (root / folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0junk")
    (root / "connect" / "notes.txt").write_text("scratch")
    (root / "connect" / "tests").mkdir()
    (root / "connect" / "tests" / "test_app.py").write_text("assert False")
    return root


def test_lists_every_function(settings):
    """functions() lists every folder of lambda_src with an app.py: the chat's three and the
    authorizer."""
    assert functions() == FUNCTIONS


@pytest.mark.parametrize("function", CHAT_FUNCTIONS)
def test_each_zip_holds_its_app_and_the_shared_code_at_the_root(function, settings):
    """A function's zip holds exactly its app.py and the shared chat_common.py, byte for byte, at
    the root where Lambda's import finds them."""
    data = build_zip(function)
    names = [info.filename for info in entries(data)]
    assert names == ["app.py", "chat_common.py"]
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.read("app.py") == (settings.lambda_src / function / "app.py").read_bytes()
    assert archive.read("chat_common.py") == (
        settings.lambda_src / "shared" / "chat_common.py"
    ).read_bytes()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_zips_are_deterministic(function, src_copy):
    """Zips built twice, with other file times in between, are byte-identical (same CodeSha256),
    with fixed dates, 0644 permissions and deflate."""
    first = build_zip(function, src_copy)
    for path in src_copy.rglob("*.py"):
        os.utime(path, (1_900_000_000, 1_900_000_000))  # a fresh checkout, other mtimes
    second = build_zip(function, src_copy)
    assert first == second
    assert code_sha256(first) == code_sha256(second)
    for info in entries(first):
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_the_authorizers_zip_holds_only_its_own_code(settings):
    """It imports nothing from shared/: no chat_common, so no DynamoDB client, no thread
    pool and no fan-out code in the function that runs on every handshake."""
    archive = zipfile.ZipFile(io.BytesIO(build_zip("authorizer")))
    assert archive.namelist() == ["app.py", "chat_token.py"]
    for name in archive.namelist():
        assert archive.read(name) == (settings.lambda_src / "authorizer" / name).read_bytes()


def test_shared_modules_come_when_imported_directly_or_through_another(src_copy):
    """A function's zip takes the shared modules it imports, directly or through another shared
    module, and no others."""
    (src_copy / "shared" / "unused_helper.py").write_text("X = 1\n")
    (src_copy / "shared" / "chat_extra.py").write_text("import chat_common\n")
    (src_copy / "authorizer" / "app.py").write_text(
        "from chat_extra import thing\n\ndef lambda_handler(event, context):\n    pass\n")
    assert [i.filename for i in entries(build_zip("authorizer", src_copy))] == [
        "app.py", "chat_common.py", "chat_extra.py", "chat_token.py"]
    assert [i.filename for i in entries(build_zip("connect", src_copy))] == [
        "app.py", "chat_common.py"]


def test_clutter_is_left_out(src_copy):
    """Caches, notes and tests next to the code are not packaged."""
    names = [info.filename for info in entries(build_zip("connect", src_copy))]
    assert names == ["app.py", "chat_common.py"]


def test_a_file_in_both_the_function_and_shared_is_an_error(src_copy):
    """A file both in a function's folder and in shared/ is refused, naming the file, instead of
    one silently shadowing the other."""
    (src_copy / "connect" / "chat_common.py").write_text("# shadow")
    with pytest.raises(ValueError, match="chat_common.py is in both"):
        build_zip("connect", src_copy)


@pytest.mark.parametrize("function", ["shared", "nope", "../connect"])
def test_unknown_functions_are_refused(function):
    """shared, an unknown name or a path are refused as functions."""
    with pytest.raises(ValueError, match="no function"):
        build_zip(function)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_zip_imports_on_its_own_as_lambda_would(function, tmp_path):
    """Each zip, extracted alone, imports its lambda_handler in an isolated interpreter with only
    AWS_REGION set, as Lambda runs it."""
    zipfile.ZipFile(io.BytesIO(build_zip(function))).extractall(tmp_path)
    # Only AWS_REGION, no AWS_DEFAULT_REGION: the code must not depend on the latter.
    env = {
        "PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }
    check = "import app; assert callable(app.lambda_handler); print(app.__file__)"
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {check}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60 * SECOND,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "app.py")


def test_handler_source_is_the_deployed_text(settings):
    """handler_source gives the exact text of each deployed app.py, and refuses shared."""
    for function in FUNCTIONS:
        assert handler_source(function) == (
            settings.lambda_src / function / "app.py"
        ).read_text(encoding="utf-8")
    with pytest.raises(ValueError):
        handler_source("shared")


def test_render_policy_fills_every_placeholder(settings):
    """policy.json has exactly six placeholders and render_policy fills each of them."""
    template = (settings.lambda_src / "policy.json").read_text()
    placeholders = set(__import__("re").findall(r"\$\{(\w+)\}", template))
    assert placeholders == {"Partition", "Region", "AccountId", "TableName", "ApiId",
                            "Stage", "FunctionPrefix"}
    policy = render_policy("eu-west-3", "210987654321", "me-connections", "q1w2e3r4t5",
                           "dev", "me")
    text = json.dumps(policy)
    assert "${" not in text
    for value in ("eu-west-3", "210987654321", "table/me-connections", "q1w2e3r4t5/dev/POST",
                  "/aws/lambda/me-connect", "arn:aws:logs:eu-west-3:"):
        assert value in text


def test_render_policy_accepts_any_api_before_the_api_exists():
    """An api id of "*" gives a policy for any API of the stage, for the role made before the
    API exists."""
    policy = render_policy("us-east-1", "123456789012", "t-connections", "*", "prod", "wschat")
    assert "arn:aws:execute-api:us-east-1:123456789012:*/prod/POST/@connections/*" in json.dumps(
        policy
    )


@pytest.mark.parametrize(
    ("region", "partition"),
    [("eu-west-1", "aws"), ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_render_policy_uses_the_regions_partition_in_every_arn(region, partition):
    """China and GovCloud ARNs start arn:aws-cn: / arn:aws-us-gov: (IAM User Guide, "IAM
    identifiers"); an ARN with the wrong partition matches nothing there."""
    policy = render_policy(region, "123456789012", "t-connections", "abc", "dev", "wschat")
    resources = [r for s in policy["Statement"] for r in
                 ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert resources and all(r.startswith(f"arn:{partition}:") for r in resources), resources


@pytest.mark.parametrize(
    ("region", "partition"),
    [("eu-west-1", "aws"), ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_render_authorizer_policy_uses_the_regions_partition_in_every_arn(region, partition):
    """The authorizer's own role has the same partition rule as the chat's: its parameter and
    log group ARNs start arn:<partition>: for the region."""
    policy = render_authorizer_policy(region, "123456789012", "wschat-chat-token-secret",
                                      "wschat-authorizer")
    resources = [r for s in policy["Statement"] for r in
                 ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert resources and all(r.startswith(f"arn:{partition}:") for r in resources), resources
    with pytest.raises(ValueError, match="Partition"):
        render_authorizer_policy(region, "123456789012", "wschat-chat-token-secret",
                                 "wschat-authorizer",
                                 partition="aws-cn" if partition != "aws-cn" else "aws")


def test_render_policy_refuses_a_partition_the_workshop_does_not_support():
    """An ISO region, or a partition that is not the region's, is refused."""
    with pytest.raises(ValueError, match="aws-iso"):
        render_policy("us-iso-east-1", "123456789012", "t-connections", "abc", "dev", "wschat")
    with pytest.raises(ValueError, match="Partition"):
        render_policy("eu-west-1", "123456789012", "t-connections", "abc", "dev", "wschat",
                      partition="aws-cn")


@pytest.mark.parametrize(
    "overrides",
    [
        {"region": "us-east-1*"},
        {"account_id": "1234"},
        {"table_name": 'x", "Resource": "*'},
        {"api_id": "a/b"},
        {"stage": "prod/*"},
        {"function_prefix": ""},
    ],
)
def test_render_policy_refuses_values_that_would_widen_or_break_it(overrides):
    """A value with wildcards, JSON, slashes, a short account id or an empty prefix is refused
    rather than put into the policy."""
    values = {"region": "us-east-1", "account_id": "123456789012", "table_name": "t-conn",
              "api_id": "abc", "stage": "prod", "function_prefix": "wschat", **overrides}
    with pytest.raises(ValueError, match="is not a valid value"):
        render_policy(**values)


def test_render_authorizer_policy_fills_every_placeholder(settings):
    """The authorizer's policy template has five placeholders, and rendering fills each with the
    parameter's and the log group's ARNs."""
    template = (settings.lambda_src / "authorizer-policy.json").read_text()
    placeholders = set(__import__("re").findall(r"\$\{(\w+)\}", template))
    assert placeholders == {"Partition", "Region", "AccountId", "ParameterName", "FunctionName"}
    policy = render_authorizer_policy("eu-west-3", "210987654321", "me-chat-token-secret",
                                      "me-authorizer")
    text = json.dumps(policy)
    assert "${" not in text
    for value in ("arn:aws:ssm:eu-west-3:210987654321:parameter/me-chat-token-secret",
                  "arn:aws:logs:eu-west-3:210987654321:log-group:/aws/lambda/me-authorizer"):
        assert value in text


@pytest.mark.parametrize(
    "overrides",
    [
        {"region": "*"},
        {"account_id": "12345678901x"},
        {"parameter_name": "me-*"},
        {"parameter_name": "/me/chat-token-secret"},  # a path: its ARN has another form
        {"parameter_name": ""},
        {"function_name": "me-*"},
        {"function_name": 'x", "Resource": "*'},
    ],
)
def test_render_authorizer_policy_refuses_values_that_would_widen_or_break_it(overrides):
    """A value with wildcards, JSON, a path, a bad account id or nothing at all is refused rather
    than put into the authorizer's policy."""
    values = {"region": "us-east-1", "account_id": "123456789012",
              "parameter_name": "wschat-chat-token-secret", "function_name": "wschat-authorizer",
              **overrides}
    with pytest.raises(ValueError, match="is not a valid value"):
        render_authorizer_policy(**values)


def test_trust_policy_is_the_file(settings):
    """trust_policy() is trust-policy.json as written."""
    assert trust_policy() == json.loads((settings.lambda_src / "trust-policy.json").read_text())
