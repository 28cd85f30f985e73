"""The library cannot drift from the lessons: notebooks 01-04 and 06 and ``workshop_utils.stack``'s
builders make the same AWS calls with the same parameters, apart from names, ids and secrets.

``ensure_prerequisites(n)`` stands in for notebooks 01 to n-1 for a learner who joins late, and
the tests and benchmarks deploy the chat through it: if a cell changes a parameter (a timeout,
a tag, the integration method) and the library does not, or the other way round, a late joiner
would get another stack than the one the lessons describe. Both are recorded with a botocore
``before-parameter-build`` hook (``WORKSHOP_RECORD_CALLS``, which ``Target.client`` honours):
in the notebooks' kernels, and in this process for the library, each on a fresh local cloud.

Compared: every call that makes or changes something. Not compared: reads (Get/List/Describe/
Scan), and the calls that only teach (:data:`TEACHING_ONLY`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from tests.integration.chatstack import target_for
from workshop_utils import recording, stack
from workshop_utils.localcloud import LocalCloud
from workshop_utils.walkthrough import execute, notebook_paths

# 05 and 07 build nothing a later notebook needs (07's access log is its own lesson).
BUILDING = [p for p in notebook_paths() if p.name[:2] in ("01", "02", "03", "04", "06")]
READS = re.compile(r"^(Get|List|Describe|Scan|Query|BatchGet|Filter)")
TEACHING_ONLY = {
    "Invoke",  # 03's invocations by hand
    "PutItem", "DeleteItem",  # 01's check and answer, 03's answer: test items, deleted again
    "UpdateFunctionCode",  # 03's lesson and answer; each ends with lambda_src/'s code again
    "DeleteRoute",  # 04 on a re-run only: the $default route, for the mistake
    "UpdateStage",  # 04's second deployment, after the forgotten route; 06's deployment
    # (its CreateDeployment is compared: the stage points at the newest deployment either way)
}
# Per operation, parameters that are words for people, not what is built.
DESCRIPTIVE = {"CreateDeployment": {"Description"}}
ID_KEYS = {"ApiId", "IntegrationId", "RouteId", "DeploymentId", "AuthorizerId"}


def normalized(calls: list[dict[str, Any]]) -> Counter[str]:
    """The calls that build, ids replaced by placeholders, as comparable JSON strings."""
    api_ids = {c["params"]["ApiId"] for c in calls if "ApiId" in c["params"]}

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for api_id in api_ids:
                value = value.replace(api_id, "API-ID")
            value = re.sub(r"integrations/[a-z0-9]+", "integrations/INTEGRATION-ID", value)
            value = re.sub(r"authorizers/[a-z0-9]+", "authorizers/AUTHORIZER-ID", value)
            return re.sub(r"apigateway-authorizer-[a-z0-9]+", "apigateway-authorizer-ID", value)
        if isinstance(value, dict):
            return {k: (f"<{k}>" if k in ID_KEYS else clean(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    built: Counter[str] = Counter()
    for call in calls:
        operation = call["operation"]
        if READS.match(operation) or operation in TEACHING_ONLY:
            continue
        params = {k: v for k, v in call["params"].items()
                  if k not in DESCRIPTIVE.get(operation, ())}
        built[json.dumps({"operation": f"{call['service']}.{operation}",
                          "params": clean(params)}, sort_keys=True)] += 1
    return built


def test_the_building_notebooks_and_the_library_build_the_same_stack(tmp_path: Path,
                                                                     monkeypatch) -> None:
    """The set of building calls (operation and parameters, ids aside) of notebooks 01-04 and
    06 is the set stack.build_secure_chat makes; every one of them is there on both sides."""
    monkeypatch.setenv("WORKSHOP_TARGET", "local")
    monkeypatch.delenv("WORKSHOP_PREFIX", raising=False)
    with LocalCloud() as cloud:
        monkeypatch.setenv("WORKSHOP_HOME", str(cloud.settings.home))
        monkeypatch.setenv(recording.ENV, str(tmp_path / "notebooks.jsonl"))
        for path in BUILDING:
            ok, _, detail = execute(path, write=False)
            assert ok, f"{path.name}: {detail}"
    with LocalCloud() as cloud:
        monkeypatch.setenv(recording.ENV, str(tmp_path / "library.jsonl"))
        stack.build_secure_chat(target_for(cloud, "wschat"))
    lessons = normalized(recording.read(tmp_path / "notebooks.jsonl"))
    library = normalized(recording.read(tmp_path / "library.jsonl"))
    assert lessons, "nothing was recorded from the notebooks' kernels"
    for built in (lessons, library):  # notebook 06's calls are compared, not just allowed
        assert any('"apigatewayv2.CreateAuthorizer"' in call for call in built)
        assert any('"ssm.PutParameter"' in call for call in built)
    only_lessons = sorted(set(lessons) - set(library))
    only_library = sorted(set(library) - set(lessons))
    assert not only_lessons and not only_library, (
        "the notebooks and workshop_utils.stack build differently:\n"
        + "\n".join(f"  only in the notebooks: {c}" for c in only_lessons)
        + "\n" + "\n".join(f"  only in the library:   {c}" for c in only_library))


def test_a_recorded_call_is_what_the_caller_passed(tmp_path: Path, monkeypatch) -> None:
    """WORKSHOP_RECORD_CALLS writes each call's service, operation and parameters as passed,
    with bytes recorded as their CodeSha256 and the token secret's value as <secret>; unset,
    nothing is recorded."""
    from botocore.stub import Stubber

    from workshop_utils.packaging import code_sha256
    from workshop_utils.target import Target

    target = Target("aws", region="eu-west-1", prefix="wschat-rec")
    monkeypatch.setenv(recording.ENV, str(tmp_path / "calls.jsonl"))
    lam = target.client("lambda")
    with Stubber(lam) as stubbed:
        stubbed.add_response("update_function_code", {"FunctionName": "f"})
        lam.update_function_code(FunctionName="f", ZipFile=b"zip bytes")
    ssm = target.client("ssm")
    with Stubber(ssm) as stubbed:
        stubbed.add_response("put_parameter", {"Version": 1})
        ssm.put_parameter(Name="p", Value="the-secret-value", Type="SecureString")
    monkeypatch.delenv(recording.ENV)
    quiet = target.client("dynamodb")
    with Stubber(quiet) as stubbed:
        stubbed.add_response("list_tables", {"TableNames": []})
        quiet.list_tables()
    assert recording.read(tmp_path / "calls.jsonl") == [{
        "service": "lambda", "operation": "UpdateFunctionCode",
        "params": {"FunctionName": "f", "ZipFile": {"CodeSha256": code_sha256(b"zip bytes")}}}, {
        "service": "ssm", "operation": "PutParameter",
        "params": {"Name": "p", "Value": recording.SECRET, "Type": "SecureString"}}]
    assert "the-secret-value" not in (tmp_path / "calls.jsonl").read_text()
