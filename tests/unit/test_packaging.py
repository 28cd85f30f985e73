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

from workshop_utils.packaging import (
    build_zip,
    functions,
    handler_source,
    render_policy,
    trust_policy,
)

FUNCTIONS = ["broadcast", "connect", "disconnect"]


def entries(data: bytes) -> list[zipfile.ZipInfo]:
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


def test_lists_the_three_functions(settings):
    assert functions() == FUNCTIONS


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_zip_holds_its_app_and_the_shared_code_at_the_root(function, settings):
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


def test_clutter_is_left_out(src_copy):
    names = [info.filename for info in entries(build_zip("connect", src_copy))]
    assert names == ["app.py", "chat_common.py"]


def test_a_file_in_both_the_function_and_shared_is_an_error(src_copy):
    (src_copy / "connect" / "chat_common.py").write_text("# shadow")
    with pytest.raises(ValueError, match="chat_common.py is in both"):
        build_zip("connect", src_copy)


@pytest.mark.parametrize("function", ["shared", "nope", "../connect"])
def test_unknown_functions_are_refused(function):
    with pytest.raises(ValueError, match="no function"):
        build_zip(function)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_zip_imports_on_its_own_as_lambda_would(function, tmp_path):
    zipfile.ZipFile(io.BytesIO(build_zip(function))).extractall(tmp_path)
    # Only AWS_REGION, no AWS_DEFAULT_REGION: the code must not depend on the latter.
    env = {
        "PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }
    check = "import app; assert callable(app.lambda_handler); print(app.__file__)"
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {check}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "app.py")


def test_handler_source_is_the_deployed_text(settings):
    for function in FUNCTIONS:
        assert handler_source(function) == (
            settings.lambda_src / function / "app.py"
        ).read_text(encoding="utf-8")
    with pytest.raises(ValueError):
        handler_source("shared")


def test_render_policy_fills_every_placeholder(settings):
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
    values = {"region": "us-east-1", "account_id": "123456789012", "table_name": "t-conn",
              "api_id": "abc", "stage": "prod", "function_prefix": "wschat", **overrides}
    with pytest.raises(ValueError, match="is not a valid value"):
        render_policy(**values)


def test_trust_policy_is_the_file(settings):
    assert trust_policy() == json.loads((settings.lambda_src / "trust-policy.json").read_text())
