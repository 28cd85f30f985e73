"""The environment Lambda gives a function's process: its variables, credentials, endpoints.

As AWS's Python runtime sets them (``_HANDLER``, ``AWS_LAMBDA_*``, ``LAMBDA_TASK_ROOT``,
``LAMBDA_RUNTIME_DIR``, the execution role's credentials), plus the two that point the SDK
inside the function at the local cloud: ``AWS_ENDPOINT_URL`` (the AWS API port) and
``_LOCALCLOUD_GATEWAY`` (where ``bootstrap.py`` sends ``*.execute-api.*.amazonaws.com``), so its
code has no ``if local``; and ``_LOCALCLOUD_OPT``, the directory that stands for ``/opt`` (the
layers). Nothing of the cloud's own environment is passed on (no ``PYTHONPATH``, no
``VIRTUAL_ENV``): the process starts from these variables alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...settings import CloudSettings
    from .functions import FunctionSpec


def environment(settings: CloudSettings, spec: FunctionSpec, stream: str, task_root: str,
                credentials: tuple[str, str, str], *, opt: str, runtime_dir: str
                ) -> dict[str, str]:
    """The variables of one execution environment (``stream`` is its log stream, ``opt`` its
    layers' directory, ``runtime_dir`` the runtime's packages, :mod:`.runtimedir`)."""
    key_id, secret, token = credentials
    env = {
        # AWS's PATH ends with /opt/bin, where layers put their executables
        "PATH": os.pathsep.join([os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                                 str(Path(opt) / "bin")]),
        "LANG": "en_US.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # no ~/.aws of the learner inside the function (there is none on Lambda either)
        "AWS_CONFIG_FILE": str(Path(settings.home) / "lambda" / ".no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(Path(settings.home) / "lambda" / ".no-aws-creds"),
    }
    env.update(dict(spec.env))
    env.update({
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "TZ": ":UTC",
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": token,
        # the SDK inside the function reaches the local cloud, with no `if local` in it
        "AWS_ENDPOINT_URL": f"http://{settings.host}:{settings.aws_port}",
        "_LOCALCLOUD_GATEWAY": f"http://{settings.host}:{settings.ws_port}",
        "_LOCALCLOUD_OPT": opt,
    })
    return env
