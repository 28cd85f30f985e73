"""Notebook 00's environment check: each line says what is fine, or what to do about it."""

from __future__ import annotations

import importlib.metadata as md
import sys
from typing import Any

from .target import Target

REQUIRED = ["boto3", "websockets", "nest-asyncio2", "matplotlib"]
LOCAL_ONLY = ["moto"]


class EnvironmentCheckFailed(RuntimeError):
    """Something the workshop needs is missing; the message lists the fixes."""


def environment_check(target: Target) -> list[tuple[str, str]]:
    """Check packages, Python, the target's reachability and identity; raise with the fixes."""
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    rows.append(("python", sys.version.split()[0]))
    for package in REQUIRED + (LOCAL_ONLY if target.is_local else []):
        try:
            rows.append((package, md.version(package)))
        except md.PackageNotFoundError:
            problems.append(f"package {package} is missing: run `make lab` (or "
                            f"`pip install -e .`) and restart the kernel")
    rows.append(("target", f"{target.kind} ({target.region})"))
    if target.is_local:
        rows.append(("local cloud", str(target.aws_endpoint)))
    try:
        identity: dict[str, Any] = target.client("sts").get_caller_identity()
        rows.append(("account", identity["Account"]))
        rows.append(("identity", identity["Arn"]))
    except Exception as exc:  # noqa: BLE001 - any failure here is shown with its fix
        fix = ("is the local cloud running? `workshop cloud start`" if target.is_local else
               "configure credentials: `aws configure --profile <name>` or `aws sso login`, "
               "then set WORKSHOP_PROFILE")
        problems.append(f"cannot call sts:GetCallerIdentity ({exc}); {fix}")
    rows.append(("resource prefix", target.prefix))
    if problems:
        raise EnvironmentCheckFailed("\n".join(["the environment is not ready:", *problems]))
    return rows
