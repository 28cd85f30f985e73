"""Lambda's Python runtime, as AWS gives it: the standard library, boto3, the package, the layers.

A function must not see what the local cloud's own environment has (websockets, requests,
numpy, moto, workshop_utils): on AWS ``import requests`` fails with Runtime.ImportModuleError
("No module named 'requests'", observed many times, e.g. ASFHyP3/hyp3#2269). What AWS's
runtime includes: "Your code runs in an environment that includes the SDK for Python (Boto3)"
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html), that is boto3, botocore and
their requirements (s3transfer, jmespath, python-dateutil, six, urllib3). Chosen: nothing
more (awslambdaric and simplejson, AWS's own runtime internals, are not provided). Sources of
each rule: /work/research/lambda-and-iam.md §1-§3.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from workshop_utils.localcloud import LocalCloud

from . import kit
from .test_lambda_runtime import assert_failed_init_log, request_id, stream_of

NOT_PROVIDED = ("requests", "moto", "workshop_utils", "websockets", "numpy", "flask",
                "werkzeug", "pytest")
PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3",
            "json", "decimal", "sqlite3", "ctypes", "asyncio", "zoneinfo")

PROBE = """
import importlib, importlib.util, importlib.metadata, os, pkgutil, sys

def attempt(how, name):
    try:
        if how == "import":
            __import__(name)
        elif how == "importlib":
            importlib.import_module(name)
        elif how == "find_spec":
            if importlib.util.find_spec(name) is None:
                raise ImportError(f"no spec for {name}")
        elif how == "metadata":
            importlib.metadata.version(name)
        return "ok"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"

def handler(event, context):
    names = event["names"]
    return {
        "results": {f"{how} {name}": attempt(how, name) for name in names
                    for how in ("import", "importlib", "find_spec", "metadata")},
        "listed": sorted(m.name for m in pkgutil.iter_modules()
                         if m.name in names),
        "path": sys.path,
        "pythonpath": os.environ.get("PYTHONPATH"),
        "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"],
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "boto3": __import__("boto3").__version__,
    }
"""


def test_a_function_imports_the_stdlib_and_boto3_but_nothing_of_the_workshop_s_environment(
        cloud: LocalCloud) -> None:
    """The standard library, boto3, botocore and their requirements import; requests, moto,
    workshop_utils, websockets, numpy (all in the cloud's environment) do not, by import,
    importlib, find_spec, importlib.metadata or pkgutil listing."""
    kit.deploy_function(cloud, "py-probe", PROBE)
    result = kit.invoke_json(cloud, "py-probe",
                             {"names": list(PROVIDED + NOT_PROVIDED)})["Payload"]
    for name in PROVIDED:
        assert result["results"][f"import {name}"] == "ok", name
        assert result["results"][f"importlib {name}"] == "ok", name
    for name in NOT_PROVIDED:
        assert result["results"][f"import {name}"] == (
            f"ModuleNotFoundError: No module named '{name}'"), name
        assert result["results"][f"importlib {name}"].startswith("ModuleNotFoundError"), name
        assert result["results"][f"find_spec {name}"] == f"ImportError: no spec for {name}"
        assert result["results"][f"metadata {name}"].startswith("PackageNotFoundError"), name
    assert set(result["listed"]) <= set(PROVIDED)  # pkgutil lists none of the others
    assert result["results"]["metadata boto3"] == "ok"  # installed as pip installs it
    import boto3

    assert result["boto3"] == boto3.__version__


def test_sys_path_is_in_aws_s_order_and_pythonpath_is_the_runtime_dir(
        cloud: LocalCloud) -> None:
    """sys.path: task root, /opt/python/lib/python3.X/site-packages, /opt/python (X the
    function's runtime), the runtime's packages, then the standard library; no
    site-packages of the cloud's environment; PYTHONPATH is LAMBDA_RUNTIME_DIR.

    AWS: /var/runtime/bootstrap.py of public.ecr.aws/lambda/python:3.11 (set_default_sys_path,
    add_default_site_directories, set_default_pythonpath) and a python3.13 function's printed
    sys.path (/work/research/lambda-and-iam.md §1.1)."""
    kit.deploy_function(cloud, "py-path", PROBE, runtime="python3.12")
    result = kit.invoke_json(cloud, "py-path", {"names": []})["Payload"]
    path = result["path"]
    assert path[0] == result["task_root"]
    assert re.fullmatch(r".*/python/lib/python3\.12/site-packages", path[1]), path
    assert path[2] == path[1].removesuffix("/lib/python3.12/site-packages")
    assert path[3] == result["runtime_dir"] + "/site-packages"
    assert path[4] == result["runtime_dir"]
    assert re.fullmatch(r".*/python3\d+\.zip", path[5]), path  # then the standard library
    assert result["pythonpath"] == result["runtime_dir"]
    assert not any("/.venv/" in p or p.endswith("-packages") and "/lambda/" not in p
                   for p in path), path


def test_a_pythonpath_in_the_configuration_replaces_the_layer_and_runtime_entries(
        cloud: LocalCloud) -> None:
    """With PYTHONPATH set in the function's environment, the runtime does not insert /opt and
    its own directory in front: the task root, then PYTHONPATH's entries, then the standard
    library; boto3 stays importable (the interpreter's own site-packages come last).

    AWS: bootstrap.py skips those inserts when "PYTHONPATH" is in os.environ (§1.2)."""
    kit.deploy_function(cloud, "py-pythonpath", PROBE, environment={"PYTHONPATH": "/vendor"})
    result = kit.invoke_json(cloud, "py-pythonpath", {"names": ["boto3"]})["Payload"]
    path = result["path"]
    assert path[0] == result["task_root"]
    assert path.index("/vendor") < min(i for i, p in enumerate(path) if p.endswith(".zip"))
    assert not any("/python/lib/python3" in p for p in path), path
    assert path[-1] == result["runtime_dir"] + "/site-packages"
    assert result["pythonpath"] == "/vendor"
    assert result["results"]["import boto3"] == "ok"


def test_importing_what_the_runtime_lacks_is_an_import_module_error_logged_as_aws_logs_it(
        cloud: LocalCloud) -> None:
    """A handler that imports requests fails each invocation with AWS's ImportModuleError
    payload and the log stream AWS writes (LAMBDA_WARNING, [ERROR], INIT_REPORT Phase: init,
    the same in the invoke phase, START, END, REPORT with Status: error)."""
    kit.deploy_function(cloud, "py-requests", """
import requests

def handler(event, context):
    return requests.get("https://example.com").status_code
""")
    message = "Unable to import module 'app': No module named 'requests'"
    resp = kit.invoke_json(cloud, "py-requests")
    assert resp["FunctionError"] == "Unhandled"
    assert resp["Payload"] == {"errorMessage": message, "errorType": "Runtime.ImportModuleError",
                               "requestId": "", "stackTrace": []}
    _, messages = stream_of(cloud, "py-requests", request_id(resp))
    assert_failed_init_log(messages, request_id(resp), "Runtime.ImportModuleError", message)


VENDORED = {
    "app.py": """
import chatlib
import jmespath

def handler(event, context):
    return {"greeting": chatlib.greet(event["name"]), "jmespath": jmespath.__file__}
""",
    # a dependency vendored in the zip (pip install --target .), shadowing the runtime's too
    "chatlib/__init__.py": "def greet(name):\n    return f'hello {name}'\n",
    "jmespath/__init__.py": "VENDORED = True\n",
}


def test_a_dependency_vendored_in_the_zip_imports_before_the_runtime_s(
        cloud: LocalCloud) -> None:
    """A package in the deployment zip imports, and one named like a runtime package shadows
    it: the task root comes first ("your version will take precedence", python-image.html)."""
    kit.deploy_function(cloud, "py-vendored", VENDORED)
    result = kit.invoke_json(cloud, "py-vendored", {"name": "ada"})["Payload"]
    assert result["greeting"] == "hello ada"
    vendored = result["jmespath"]
    assert "/lambda/py-vendored/" in vendored and "site-packages" not in vendored, vendored


def publish(cloud: LocalCloud, name: str, files: dict[str, str], **kwargs: object
            ) -> dict[str, object]:
    """publish_layer_version of a zip holding ``files``; the response without metadata."""
    resp = cloud.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": kit.zip_source(files)}, **kwargs)
    resp.pop("ResponseMetadata")
    return resp


LAYER_USER = """
import os
import greeting

def handler(event, context):
    import tool
    return {"greeting": greeting.WHO, "tool": tool.ORIGIN, "pid": os.getpid(),
            "file": greeting.__file__}
"""


def test_layers_are_on_the_path_as_aws_extracts_them_into_opt(cloud: LocalCloud) -> None:
    """A layer's python/ and python/lib/python3.X/site-packages are importable; layers are
    extracted in their order (a file of a later layer wins); the package wins over layers;
    a changed layer list is a cold start.

    AWS: "Lambda extracts the layers in the order (low to high) listed by the function ...
    the function uses the version in the last extracted layer" (invocation-layers.md); a
    Python layer holds python/… (configuration-layers.md)."""
    lam = cloud.client("lambda")
    first = publish(cloud, "py-layer-a", {
        "python/greeting.py": "WHO = 'layer a'\n",
        "python/lib/python3.11/site-packages/tool.py": "ORIGIN = 'a site-packages'\n"})
    second = publish(cloud, "py-layer-b", {"python/greeting.py": "WHO = 'layer b'\n"})
    kit.deploy_function(cloud, "py-layers", LAYER_USER)
    lam.update_function_configuration(FunctionName="py-layers",
                                      Layers=[first["LayerVersionArn"]])
    one = kit.invoke_json(cloud, "py-layers")["Payload"]
    assert (one["greeting"], one["tool"]) == ("layer a", "a site-packages")
    config = lam.update_function_configuration(
        FunctionName="py-layers", Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    assert [layer["Arn"] for layer in config["Layers"]] == [first["LayerVersionArn"],
                                                            second["LayerVersionArn"]]
    two = kit.invoke_json(cloud, "py-layers", LogType="Tail")
    assert two["Payload"]["greeting"] == "layer b"  # the last layer's file
    assert two["Payload"]["tool"] == "a site-packages"  # merged with the first one's
    assert two["Payload"]["pid"] != one["pid"]  # a new environment
    assert "Init Duration" in base64.b64decode(two["LogResult"]).decode()
    # the package's own module comes before the layers'
    kit.deploy_function(cloud, "py-layers", {"app.py": LAYER_USER,
                                             "greeting.py": "WHO = 'the package'\n"})
    lam.update_function_configuration(
        FunctionName="py-layers", Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    assert kit.invoke_json(cloud, "py-layers")["Payload"]["greeting"] == "the package"


def test_publish_layer_version_answers_with_aws_s_members(cloud: LocalCloud) -> None:
    """publish_layer_version: 201 with LayerArn, LayerVersionArn, Version (1, 2, ...),
    Content's CodeSha256 and CodeSize, an empty Description when none was given and no
    LicenseInfo (LocalStack's AWS snapshot TestLambdaLayer::test_layer_exceptions,
    2026-01-12); get_layer_version answers the same."""
    first = publish(cloud, "py-members", {"python/x.py": "X = 1\n"},
                    CompatibleRuntimes=["python3.12"])
    assert first["LayerArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:py-members"
    assert first["LayerVersionArn"] == first["LayerArn"] + ":1" and first["Version"] == 1
    assert first["Description"] == "" and "LicenseInfo" not in first
    assert first["CompatibleRuntimes"] == ["python3.12"]
    assert set(first["Content"]) >= {"CodeSha256", "CodeSize", "Location"}
    second = publish(cloud, "py-members", {"python/x.py": "X = 2\n"}, Description="two",
                     LicenseInfo="MIT")
    assert (second["Version"], second["Description"], second["LicenseInfo"]) == (2, "two", "MIT")
    got = cloud.client("lambda").get_layer_version(LayerName="py-members", VersionNumber=1)
    assert got["Description"] == "" and "LicenseInfo" not in got


@pytest.mark.parametrize("layers, code, message", [
    (["arn:aws:lambda:us-east-1:123456789012:layer:py-nope:1"], "InvalidParameterValueException",
     "Layer version arn:aws:lambda:us-east-1:123456789012:layer:py-nope:1 does not exist."),
    (["arn:aws:lambda:us-east-1:123456789012:layer:py-bad:9"], "InvalidParameterValueException",
     "Layer version arn:aws:lambda:us-east-1:123456789012:layer:py-bad:9 does not exist."),
    (["arn:aws:lambda:us-east-1:123456789012:layer:py-bad:1"] * 6,
     "InvalidParameterValueException", "Cannot reference more than 5 layers."),
    (["arn:aws:lambda:us-east-1:123456789012:layer:py-bad:1",
      "arn:aws:lambda:us-east-1:123456789012:layer:py-bad:2"],
     "InvalidParameterValueException",
     "Two different versions of the same layer are not allowed to be referenced in the same "
     "function. arn:aws:lambda:us-east-1:123456789012:layer:py-bad:1 and "
     "arn:aws:lambda:us-east-1:123456789012:layer:py-bad:2 are versions of the same layer."),
    (["arn:aws:lambda:eu-west-1:123456789012:layer:py-bad:1"], "InvalidParameterValueException",
     "Layers are not in the same region as the function. Layers are expected to be in region "
     "us-east-1."),
    (["arn:aws:lambda:us-east-1:123456789012:layer:py-bad"], "ValidationException",
     "1 validation error detected: Value '[arn:aws:lambda:us-east-1:123456789012:layer:py-bad]' "
     "at 'layers' failed to satisfy constraint: Member must satisfy constraint: "),
])
def test_a_layer_list_aws_refuses_is_refused_with_its_error(
        cloud: LocalCloud, layers: list[str], code: str, message: str) -> None:
    """Layers that do not exist, more than five, two versions of one layer, another region or
    an ARN without its version: AWS's error (LocalStack's AWS snapshots, 2025-2026, in
    /work/research/lambda-and-iam.md §3.3), on create and on update."""
    publish(cloud, "py-bad", {"python/x.py": "X = 1\n"})
    publish(cloud, "py-bad", {"python/x.py": "X = 2\n"})
    lam = cloud.client("lambda")
    kit.deploy_function(cloud, "py-bad-layers", "def handler(e, c):\n    return 1\n")
    for call in (
        lambda: lam.update_function_configuration(FunctionName="py-bad-layers", Layers=layers),
        lambda: lam.create_function(
            FunctionName="py-bad-layers-new", Runtime="python3.12", Role=kit.ensure_role(cloud),
            Handler="app.handler", Layers=layers,
            Code={"ZipFile": kit.zip_source({"app.py": "x = 1\n"})}),
    ):
        with pytest.raises(lam.exceptions.ClientError) as refused:
            call()
        error = refused.value.response["Error"]
        assert error["Code"] == code
        assert error["Message"].startswith(message), error["Message"]
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "py-bad-layers-new" not in json.dumps(lam.list_functions()["Functions"])
