"""What an invocation needs to know about a function, read from moto as it is now."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ... import moto_internals
from ..exceptions import FunctionNotFound

if TYPE_CHECKING:
    from ...parts import CloudParts

ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):)?"
    r"(?:function:)?(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


@dataclass(frozen=True)
class FunctionSpec:
    """What one invocation needs to know about the function, read from moto."""

    name: str
    arn: str  # unqualified
    version: str  # "$LATEST" or "1", "2", ...
    handler: str
    runtime: str
    env: tuple[tuple[str, str], ...]
    timeout: int
    memory: int
    role: str
    code_sha: str  # hex digest of the zip
    region: str
    layers: tuple[tuple[str, str], ...] = ()  # (layer version ARN, its code's digest), in order
    incarnation: int = 0  # new for every function created, even under an old name
    reserved_concurrency: int | None = None  # put_function_concurrency; None: unreserved

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """What AWS would redeploy on: any change means new execution environments. A
        function deleted and created again under its name is another function (another
        incarnation), even with the same code: it starts cold, as on AWS."""
        return (self.incarnation, self.code_sha, self.handler, self.runtime, self.env,
                self.timeout, self.memory, self.role, self.layers)


def resolve(parts: CloudParts, function: str, qualifier: str | None = None) -> FunctionSpec:
    """The function as moto holds it now, or FunctionNotFound (with AWS's ARN in it)."""
    settings = parts.settings
    match = ARN.match(function)
    if not match:
        raise FunctionNotFound(function_arn(parts, function, qualifier))
    region = match["region"] or settings.region
    name = match["name"]
    qualifier = match["qualifier"] or qualifier
    unqualified = function_arn(parts, name, None, region)
    if (match["account"] or settings.account_id) != settings.account_id:
        raise FunctionNotFound(function_arn(parts, function, qualifier, region))
    try:
        backend = parts.moto_backend("lambda", region)
        fn = backend.get_function(name, qualifier)
    except Exception:
        raise FunctionNotFound(
            unqualified + (f":{qualifier}" if qualifier else "")
        ) from None
    env = fn.environment_vars or {}
    layers = []
    for layer in getattr(fn, "layers", None) or []:
        arn = layer.get("Arn", "") if isinstance(layer, dict) else str(layer)
        version = backend.layers_versions_by_arn(arn)
        layers.append((arn, getattr(version, "code_digest", "") if version else ""))
    # reserved concurrency belongs to the function, whatever version is invoked
    unqualified_fn = fn if qualifier in (None, "$LATEST") else backend.get_function(name)
    reserved = getattr(unqualified_fn, "reserved_concurrency", None)
    return FunctionSpec(
        name=fn.function_name, arn=unqualified, version=str(fn.version),
        handler=fn.handler or "", runtime=fn.run_time or "python3.12",
        env=tuple(sorted((str(k), str(v)) for k, v in env.items())),
        timeout=int(fn.timeout or 3), memory=int(fn.memory_size or 128),
        role=fn.role or "", code_sha=fn.code_digest or "", region=region,
        layers=tuple(layers), incarnation=moto_internals.incarnation_of(fn),
        reserved_concurrency=None if reserved is None else int(reserved),
    )


def function_arn(parts: CloudParts, name: str, qualifier: str | None,
                 region: str | None = None) -> str:
    """The ARN AWS names in its errors for ``name`` (a name, partial ARN or ARN)."""
    if name.startswith("arn:"):
        return name
    settings = parts.settings
    if ":" in name:  # partial ARN / name:qualifier
        name, _, rest = name.partition(":")
        if name.isdigit():  # 123456789012:function:name
            return f"arn:aws:lambda:{region or settings.region}:{name}:{rest}"
        qualifier = rest
    arn = f"arn:aws:lambda:{region or settings.region}:{settings.account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def code_of(parts: CloudParts, spec: FunctionSpec) -> bytes:
    """The deployed zip of ``spec``'s version, as moto keeps it."""
    backend = parts.moto_backend("lambda", spec.region)
    fn = backend.get_function(spec.name, None if spec.version == "$LATEST" else spec.version)
    return getattr(fn, "code_bytes", b"") or b""


def layer_zips(parts: CloudParts, spec: FunctionSpec) -> list[bytes]:
    """The zips of ``spec``'s layers, in the function's order (a layer version deleted since
    is skipped: its content is gone from moto)."""
    backend = parts.moto_backend("lambda", spec.region)
    zips = []
    for arn, _ in spec.layers:
        version = backend.layers_versions_by_arn(arn)
        if version is not None:
            zips.append(getattr(version, "code_bytes", b"") or b"")
    return zips
