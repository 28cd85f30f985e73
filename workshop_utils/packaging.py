"""Zip the chat's Lambda code and fill in its IAM policies.

Plumbing the notebooks hide: the teaching cells call ``create_function(Code={"ZipFile":
build_zip("broadcast")}, ...)`` and ``put_role_policy(PolicyDocument=json.dumps(
render_policy(...)))`` and show ``handler_source(...)``; how the zip is made stays here.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import re
import string
import zipfile
from pathlib import Path

from .partitions import UnsupportedRegion, partition_of

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
SHARED_DIR = "shared"
# 1980-01-01 is the earliest time a zip entry can hold; a fixed one keeps the bytes, and so
# Lambda's CodeSha256, identical from run to run (update_function_code then changes nothing).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

_PLACEHOLDER_RULES = {
    # The partitions the workshop supports (workshop_utils.partitions); the region must be one
    # of the partition's (checked in render_policy).
    "Partition": re.compile(r"aws|aws-cn|aws-us-gov"),
    "Region": re.compile(r"[a-z]{2}(-[a-z]+)+-\d"),
    "AccountId": re.compile(r"\d{12}"),
    "TableName": re.compile(r"[A-Za-z0-9_.-]{3,255}"),
    # "*" only before the API exists (stack.ensure_role); narrowed once the API id is known.
    "ApiId": re.compile(r"[a-z0-9]{1,32}|\*"),
    "Stage": re.compile(r"[A-Za-z0-9_-]{1,128}"),
    "FunctionPrefix": re.compile(r"[A-Za-z0-9_-]{1,50}"),
    "FunctionName": re.compile(r"[A-Za-z0-9_-]{1,64}"),
    # A name without "/" (its ARN is ``parameter/<name>``; a path's would differ).
    "ParameterName": re.compile(r"[A-Za-z0-9_.-]{1,1011}"),
}


def _root(src_root: Path | None) -> Path:
    return Path(src_root) if src_root is not None else LAMBDA_SRC


def functions(src_root: Path | None = None) -> list[str]:
    """The deployable functions: every folder of ``lambda_src`` with an ``app.py``."""
    root = _root(src_root)
    return sorted(p.parent.name for p in root.glob("*/app.py"))


def _function_dir(function: str, src_root: Path | None) -> Path:
    root = _root(src_root)
    folder = root / function
    if function == SHARED_DIR or not (folder / "app.py").is_file():
        known = ", ".join(functions(root)) or "none"
        raise ValueError(f"no function {function!r} in {root} (functions: {known})")
    return folder


def _imported_modules(path: Path) -> set[str]:
    """The top-level names of the modules that ``path`` imports (``import a.b`` gives a)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _shared_modules(sources: list[Path], src_root: Path | None) -> list[Path]:
    """The ``shared/*.py`` that ``sources`` import, directly or through each other."""
    available = {p.stem: p for p in sorted((_root(src_root) / SHARED_DIR).glob("*.py"))}
    wanted: dict[str, Path] = {}
    pending = list(sources)
    while pending:
        for name in sorted(_imported_modules(pending.pop()) & available.keys()):
            if name not in wanted:
                wanted[name] = available[name]
                pending.append(available[name])
    return sorted(wanted.values())


def build_zip(function: str, src_root: Path | None = None) -> bytes:
    """The deployment package of ``function``: its ``*.py`` plus the ``shared/*.py`` it
    imports, all at the zip root (handler ``app.lambda_handler``; ``import chat_common``
    works as is). A function that imports nothing from ``shared/`` (the authorizer) gets
    none of it: no code it never runs, no clients it never uses.

    Deterministic: entries sorted, timestamps fixed, permissions fixed; ``__pycache__`` and
    anything that is not a ``.py`` file are left out.
    """
    folder = _function_dir(function, src_root)
    own = sorted(folder.glob("*.py"))
    files: dict[str, Path] = {}
    for path in [*own, *_shared_modules(own, src_root)]:
        if path.name in files:
            raise ValueError(
                f"{path.name} is in both {files[path.name].parent} and {path.parent}; "
                "the zip root can hold only one"
            )
        files[path.name] = path

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever machine builds it
            info.external_attr = 0o100644 << 16  # regular file, rw-r--r--
            archive.writestr(info, files[name].read_bytes())
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's ``CodeSha256`` of a deployment package: the base64 of its SHA-256 digest.

    Introduced in notebook 03, which compares it with the deployed function's to decide
    between "up to date" and ``update_function_code``."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")


def handler_source(function: str, src_root: Path | None = None) -> str:
    """The text of ``lambda_src/<function>/app.py``, for a notebook to show what it deploys."""
    return (_function_dir(function, src_root) / "app.py").read_text(encoding="utf-8")


def _substitute(node, values: dict[str, str]):
    """Fill placeholders in every string of the parsed template (never in the raw JSON text,
    so no value can change the document's structure)."""
    if isinstance(node, str):
        return string.Template(node).substitute(values)
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    return node


def _render(template: str, values: dict[str, str], src_root: Path | None) -> dict:
    """``lambda_src/<template>`` with ``values`` filled in, each checked first against the
    rule for what its placeholder may hold (ValueError names the one that is not)."""
    for key, value in values.items():
        if not _PLACEHOLDER_RULES[key].fullmatch(value or ""):
            raise ValueError(f"{key} {value!r} is not a valid value for the policy")
    document = json.loads((_root(src_root) / template).read_text(encoding="utf-8"))
    return _substitute(document, values)


def render_policy(
    region: str,
    account_id: str,
    table_name: str,
    api_id: str,
    stage: str,
    function_prefix: str,
    src_root: Path | None = None,
    partition: str | None = None,
) -> dict:
    """``lambda_src/policy.json`` with its placeholders filled: the least-privilege inline
    policy for the functions' role. Raises ValueError for a value that cannot be in an ARN.

    ``api_id="*"`` is accepted for the role created before the API (notebook 02); the policy is
    put again with the real id once the API exists. ``partition`` defaults to the region's
    (``aws``, ``aws-cn`` or ``aws-us-gov``); a region of another partition is refused.
    """
    return _render("policy.json", {
        "Partition": _partition(region, partition),
        "Region": region,
        "AccountId": str(account_id),
        "TableName": table_name,
        "ApiId": api_id,
        "Stage": stage,
        "FunctionPrefix": function_prefix,
    }, src_root)


def render_authorizer_policy(
    region: str,
    account_id: str,
    parameter_name: str,
    function_name: str,
    src_root: Path | None = None,
    partition: str | None = None,
) -> dict:
    """``lambda_src/authorizer-policy.json`` filled in: the authorizer's own role may read
    exactly one SSM parameter (the signing secret) and write its own function's logs;
    nothing of the chat's table or connections. ValueError for a value that cannot be in an
    ARN (a parameter path with ``/`` is refused: its ARN has another form).

    No ``kms:Decrypt``: a SecureString under the AWS managed key ``aws/ssm`` is decrypted
    for any principal of the account that may read the parameter (that key's own policy).
    ``partition`` as for :func:`render_policy`.
    """
    return _render("authorizer-policy.json", {
        "Partition": _partition(region, partition),
        "Region": region,
        "AccountId": str(account_id),
        "ParameterName": parameter_name,
        "FunctionName": function_name,
    }, src_root)


def _partition(region: str, partition: str | None) -> str:
    """``partition``, or the region's when None; ValueError for a region the workshop does
    not know or a partition that is not the region's (its ARNs would match nothing)."""
    if not _PLACEHOLDER_RULES["Region"].fullmatch(region or ""):
        raise ValueError(f"Region {region!r} is not a valid value for the policy")
    try:
        region_partition = partition_of(region)
    except UnsupportedRegion as exc:
        raise ValueError(f"Region {region!r} is not a valid value for the policy: {exc}") from None
    partition = partition or region_partition
    if partition != region_partition:
        raise ValueError(f"Partition {partition!r} is not a valid value for the policy: region "
                         f"{region} is in {region_partition}")
    return partition


def trust_policy(src_root: Path | None = None) -> dict:
    """``lambda_src/trust-policy.json``: only the Lambda service may assume the role."""
    return json.loads((_root(src_root) / "trust-policy.json").read_text(encoding="utf-8"))
