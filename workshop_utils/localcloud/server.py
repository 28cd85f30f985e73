"""The local cloud process: moto + deployments + Lambda runtime + WebSocket gateway.

``python -m workshop_utils.localcloud serve`` runs this in the background (started by
``workshop cloud start``). It binds its two ports on 127.0.0.1 first, so ports 0 become real
ports before anything else starts, then writes ``state.json`` in its home: that file is how the
CLI, the notebooks and the tests find it.
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
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from . import moto_internals
from .awsapp import AwsApiApp, Forward
from .cloud import Cloud
from .keepalive import KeepAliveRequestHandler
from .settings import CloudSettings

log = logging.getLogger(__name__)

STATUS_PATH = "/_localcloud/status"


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


def endpoints(settings: CloudSettings) -> dict[str, Any]:
    """The URLs a client of this local cloud needs (also printed by ``workshop cloud status``)."""
    host = settings.host
    return {
        "aws_endpoint": f"http://{host}:{settings.aws_port}",
        "websocket_url_template": f"ws://{host}:{settings.ws_port}/{{api_id}}/{{stage}}",
        "management_url_template": f"http://{host}:{settings.ws_port}/{{api_id}}/{{stage}}",
        "region": settings.region,
        "account_id": settings.account_id,
        "home": str(settings.home),
    }


class StatusExtension:
    """``GET /_localcloud/status``: endpoints plus what the gateway serves right now."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def handle(self, request: Request, forward: Forward) -> Response | None:
        if request.path != STATUS_PATH:
            return None
        body = {**endpoints(self.cloud.settings), "pid": os.getpid()}
        body.update(self.cloud.gateway.status())
        return Response(json.dumps(body), mimetype="application/json")


class LocalCloudServer:
    def __init__(self, settings: CloudSettings) -> None:
        from ..chatpage import ChatPageExtension
        from .deployments import ApiGatewayV2Extension, DeploymentStore
        from .gateway import Gateway
        from .iam import DynamoDBEnforcement
        from .lambda_permissions import AddPermissionExtension
        from .lambda_runtime import LambdaRuntime

        moto_internals.apply_patches()
        self._aws_sock = bind(settings.host, settings.aws_port)
        self._ws_sock = bind(settings.host, settings.ws_port)
        settings = dataclasses.replace(
            settings,
            aws_port=self._aws_sock.getsockname()[1],
            ws_port=self._ws_sock.getsockname()[1],
        )
        self.settings = settings
        self.cloud = cloud = Cloud(settings)
        cloud.deployments = DeploymentStore(cloud)
        cloud.runtime = LambdaRuntime(cloud)
        cloud.gateway = Gateway(cloud)

        app = AwsApiApp(
            moto_internals.server_app(),
            [
                StatusExtension(cloud),
                DynamoDBEnforcement(cloud),
                ChatPageExtension(),
                ApiGatewayV2Extension(cloud),
                cloud.runtime.aws_extension(),
                AddPermissionExtension(cloud),
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
        self.cloud.loop.start()
        self.cloud.loop.run(self.cloud.runtime.start())
        self.cloud.loop.run(self.cloud.gateway.start(self._ws_sock))
        self._http_thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        try:
            self.cloud.loop.run(self.cloud.gateway.stop(), timeout=15)
        finally:
            self.cloud.loop.run(self.cloud.runtime.stop(), timeout=15)
            self.cloud.loop.stop()

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
    server = LocalCloudServer(settings)
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
