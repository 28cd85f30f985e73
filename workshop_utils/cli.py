"""The ``workshop`` command: the local cloud, the headless walk-through, clean-up, chat."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import localcloud
from .localcloud import CloudSettings, default_home


def _cloud_settings(args: argparse.Namespace) -> CloudSettings:
    return CloudSettings.from_env(
        home=args.home, aws_port=getattr(args, "aws_port", None),
        ws_port=getattr(args, "ws_port", None),
    )


def cmd_cloud_start(args: argparse.Namespace) -> int:
    settings = _cloud_settings(args)
    try:
        state = localcloud.start(settings)
    except localcloud.LocalCloudError as exc:
        print(f"workshop: {exc}", file=sys.stderr)
        return 1
    print(f"local cloud running (pid {state['pid']}): AWS APIs at {state['aws_endpoint']}, "
          f"WebSockets at {state['websocket_url_template']}")
    return 0


def cmd_cloud_stop(args: argparse.Namespace) -> int:
    home = Path(args.home or default_home())
    print("local cloud stopped" if localcloud.stop(home) else "no local cloud was running")
    return 0


def cmd_cloud_status(args: argparse.Namespace) -> int:
    home = Path(args.home or default_home())
    state = localcloud.status(home)
    if args.json:
        print(json.dumps(state or {"running": False}, indent=2))
        return 0 if state else 1
    if state is None:
        print(f"no local cloud is running for {home} (start one: workshop cloud start)")
        return 1
    print(format_status(state))
    return 0


def format_status(state: dict[str, Any]) -> str:
    lines = [
        f"local cloud pid {state['pid']}  home {state.get('home')}",
        f"  AWS APIs (endpoint_url): {state['aws_endpoint']}",
        f"  WebSocket URL:           {state['websocket_url_template']}",
        f"  @connections endpoint:   {state['management_url_template']}",
    ]
    apis = state.get("apis") or []
    if not apis:
        lines.append("  no WebSocket API deployed yet")
    for api in apis:
        lines.append(f"  API {api.get('api_id')} {api.get('name', '')}")
        for stage in api.get("stages", []):
            conns = stage.get("connections", [])
            lines.append(f"    stage {stage.get('stage')}: {stage.get('url')}  "
                         f"({len(conns)} open connection{'s' if len(conns) != 1 else ''})")
            for conn in conns:
                lines.append(f"      {conn.get('connection_id')}  since {conn.get('connected_at')}"
                             f"  from {conn.get('source_ip')}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from .walkthrough import run_notebooks

    return run_notebooks(write=args.write, fresh=args.fresh)


def cmd_cleanup(args: argparse.Namespace) -> int:
    from .cleanup import delete_everything, leftovers
    from .target import TargetError, from_environment

    try:
        target = from_environment(start_cloud=False)
    except TargetError as exc:
        print(f"workshop: {exc}", file=sys.stderr)
        return 1
    print(f"cleaning up everything named {target.prefix}-* on the {target.kind} target "
          f"({target.region})")
    delete_everything(target)
    left = {kind: items for kind, items in leftovers(target).items() if items}
    if left:
        print("still there:", json.dumps(left, indent=2))
        return 1
    print("nothing left")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from .terminal_chat import main as chat

    return chat(args.url, args.name, browser=args.browser, home=args.home, token=args.token)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workshop", description=__doc__)
    parser.add_argument("--home", help="local cloud home (default $WORKSHOP_HOME or .workshop/)")
    sub = parser.add_subparsers(dest="command", required=True)

    cloud = sub.add_parser("cloud", help="the local cloud").add_subparsers(
        dest="cloud_command", required=True)
    start = cloud.add_parser("start", help="start in the background (idempotent)")
    start.add_argument("--aws-port", type=int, help="AWS API port (env WORKSHOP_AWS_PORT)")
    start.add_argument("--ws-port", type=int, help="WebSocket port (env WORKSHOP_WS_PORT)")
    start.set_defaults(func=cmd_cloud_start)
    cloud.add_parser("stop", help="stop it").set_defaults(func=cmd_cloud_stop)
    st = cloud.add_parser("status", help="endpoints, APIs, stages, open connections")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_cloud_status)

    run = sub.add_parser("run", help="execute the notebooks in order against the local cloud")
    run.add_argument("--write", action="store_true", help="save the outputs into the notebooks")
    run.add_argument("--fresh", action="store_true", help="use a fresh local cloud")
    run.set_defaults(func=cmd_run)

    sub.add_parser(
        "cleanup", help="delete every resource of the workshop (WORKSHOP_TARGET/PREFIX)"
    ).set_defaults(func=cmd_cleanup)

    chat = sub.add_parser("chat", help="chat in this terminal (or --browser) like wscat")
    chat.add_argument("url", nargs="?", help="the stage's ws:// or wss:// URL (default: the "
                      "workshop's API on the current target)")
    chat.add_argument("--name", help="your name in the chat (default: a guest name)")
    chat.add_argument("--browser", action="store_true",
                      help="open the browser chat page instead (and print its address)")
    chat.add_argument("--token", help="a token for a chat with the authorizer; 'auto' mints one "
                      "for --name from the workshop's secret (default: minted when the workshop's "
                      "own API has the authorizer)")
    chat.set_defaults(func=cmd_chat)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
