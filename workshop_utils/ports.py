"""Is a port on 127.0.0.1 free? Asked before starting a server, so that a taken port is one
clear line with the way out instead of a server that dies (or, for JupyterLab, quietly moves
to the next port while the README's address points at someone else's server).
"""

from __future__ import annotations

import socket
from typing import Any

from .cli_errors import CommandError
from .localcloud import CloudSettings, start, status

DEFAULT_AWS_PORT: int = CloudSettings.aws_port  # the dataclass's defaults: 4566 and 4510
DEFAULT_WS_PORT: int = CloudSettings.ws_port

HOST = "127.0.0.1"


def in_use(port: int, host: str = HOST) -> bool:
    """True if something listens on ``host:port`` (port 0, "any free port", never is).

    Binds the way the servers do (``SO_REUSEADDR``): on Linux that still fails while another
    socket listens there, and does not fail for connections lingering in TIME_WAIT.
    """
    if port == 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def require_free(port: int, what: str, fix: str) -> None:
    """Raise ``CommandError("port P (what) is already in use; fix")`` if ``port`` is taken."""
    if in_use(port):
        raise CommandError(f"port {port} ({what}) is already in use on {HOST}", fix)


def require_cloud_ports(aws_port: int, ws_port: int) -> None:
    """The local cloud's two ports are free, or one line that says how to choose others."""
    aws_alt = (aws_port or DEFAULT_AWS_PORT) + 100
    ws_alt = (ws_port or DEFAULT_WS_PORT) + 100
    fix = ("stop what uses it (another local cloud: `workshop cloud status`; LocalStack uses "
           f"{DEFAULT_AWS_PORT} and {DEFAULT_WS_PORT} too), or choose free ports: "
           f"WORKSHOP_AWS_PORT={aws_alt} WORKSHOP_WS_PORT={ws_alt} make lab "
           "(or workshop cloud start --aws-port … --ws-port …)")
    require_free(aws_port, "the local cloud's AWS APIs", fix)
    require_free(ws_port, "the local cloud's WebSockets", fix)


def start_cloud(settings: CloudSettings) -> dict[str, Any]:
    """The local cloud of ``settings.home``: the one running, or a new one once its ports are
    known to be free (``workshop cloud start`` and ``workshop lab``)."""
    running = status(settings.home)
    if running is not None:
        return running
    require_cloud_ports(settings.aws_port, settings.ws_port)
    return start(settings)
