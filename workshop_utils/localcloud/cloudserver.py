"""The local cloud process: binds its ports, assembles its parts, serves until stopped.

``python -m workshop_utils.localcloud serve`` runs this in the background (started by
:func:`~.lifecycle.start`, i.e. ``workshop cloud start``). It binds its two ports on 127.0.0.1
first, so ports 0 become real ports before anything else starts, then writes ``state.json`` in
its home: that file is how the CLI, the notebooks and the tests find it.

The AWS API port is moto's server behind the extensions, in this order: the status page,
DynamoDB's IAM enforcement, the chat page, apigatewayv2's additions, apigateway's account
(the CloudWatch role check), Lambda's Invoke API, ``add_permission``'s strictness and the rest
of Lambda's control plane (AWS's refusals, deletes and permission removals that take effect at
once). The gateway port is the WebSocket data plane.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import threading
import time

from werkzeug.serving import make_server

from . import moto_internals
from .apigateway.responses import ApiGatewayAccountExtension
from .apigatewayv2.models import DeploymentStore
from .apigatewayv2.responses import ApiGatewayV2Extension
from .awsapi.connection import KeepAliveRequestHandler
from .awsapi.dispatch import AwsApiApp
from .awsapi.status import StatusExtension
from .awslambda.responses import (
    AddPermissionExtension,
    LambdaControlExtension,
    LambdaInvokeExtension,
)
from .awslambda.runtime.runtime import LambdaRuntime
from .chatpage.responses import ChatPageExtension
from .dynamodb.enforcement import DynamoDBEnforcement
from .gateway.gateway import Gateway
from .parts import CloudParts
from .settings import CloudSettings, endpoints

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(
            f"local cloud: cannot listen on {host}:{port} ({exc.strerror}); "
            "another local cloud may be running: `workshop cloud status`, or pick other ports "
            "with --aws-port/--ws-port"
        ) from None
    sock.listen(1024)
    return sock


class CloudServer:
    """The running cloud in its own process: its two ports, its parts, its threads."""

    def __init__(self, settings: CloudSettings) -> None:
        moto_internals.apply_patches(settings.region)
        self._aws_sock = bind(settings.host, settings.aws_port)
        self._ws_sock = bind(settings.host, settings.ws_port)
        settings = dataclasses.replace(
            settings,
            aws_port=self._aws_sock.getsockname()[1],
            ws_port=self._ws_sock.getsockname()[1],
        )
        self.settings = settings
        self.parts = parts = CloudParts(settings)
        parts.deployments = DeploymentStore(parts)
        parts.runtime = LambdaRuntime(parts)
        parts.gateway = Gateway(parts)

        app = AwsApiApp(
            moto_internals.server_app(),
            [
                StatusExtension(parts),
                DynamoDBEnforcement(parts),
                ChatPageExtension(),
                ApiGatewayV2Extension(parts),
                ApiGatewayAccountExtension(parts),
                LambdaInvokeExtension(parts),
                AddPermissionExtension(parts),
                LambdaControlExtension(parts),
            ],
        )

        class Handler(KeepAliveRequestHandler, moto_internals.request_handler_class()):
            """moto's environ (it keeps S3's underscored headers), served with keep-alive."""

        self._http = make_server(
            settings.host,
            settings.aws_port,
            app,
            threaded=True,
            request_handler=Handler,
            fd=self._aws_sock.fileno(),
        )
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="aws-api", daemon=True
        )

    def start(self) -> None:
        moto_internals.seed_ids(self.settings.seed)  # deterministic ids: stable notebook outputs
        self.parts.loop.start()
        self.parts.loop.run(self.parts.runtime.start())
        self.parts.loop.run(self.parts.gateway.start(self._ws_sock))
        self._http_thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        try:
            self.parts.loop.run(self.parts.gateway.stop(), timeout=15)
        finally:
            self.parts.loop.run(self.parts.runtime.stop(), timeout=15)
            self.parts.loop.stop()

    def write_state(self) -> None:
        state = {**endpoints(self.settings), "pid": os.getpid(), "started_at": time.time()}
        state["settings"] = json.loads(self.settings.to_json())
        path = self.settings.home / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)


def serve(settings: CloudSettings) -> None:
    """Run a local cloud until SIGTERM/SIGINT; the body of ``workshop cloud start``."""
    settings.home.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = CloudServer(settings)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    server.start()
    server.write_state()
    log.info("local cloud ready: %s", json.dumps(endpoints(server.settings)))
    try:
        stopping.wait()
    finally:
        log.info("local cloud stopping")
        try:
            server.stop()
        finally:
            (server.settings.home / "state.json").unlink(missing_ok=True)
