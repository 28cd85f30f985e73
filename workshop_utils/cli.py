"""The ``workshop`` command: JupyterLab, the local cloud, the headless walk-through, clean-up,
chat.

Every failure of every command ends as one line on stderr, ``workshop: <what>; <fix>``, with
exit status 1 (2 for a command line that cannot be parsed): ``main`` maps what a command raises
through ``cli_errors.explain``; ``--debug`` (or ``WORKSHOP_DEBUG=1``) shows the traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from . import ports
from .cli_errors import USAGE, CommandError, explain
from .localcloud import process
from .localcloud.settings import CloudSettings, default_home


def _cloud_settings(args: argparse.Namespace) -> CloudSettings:
    return CloudSettings.from_env(
        home=args.home, aws_port=getattr(args, "aws_port", None),
        ws_port=getattr(args, "ws_port", None),
    )


def cmd_cloud_start(args: argparse.Namespace) -> int:
    state = ports.start_cloud(_cloud_settings(args))
    print(f"local cloud running (pid {state['pid']}): AWS APIs at {state['aws_endpoint']}, "
          f"WebSockets at {state['websocket_url_template']}")
    return 0


def cmd_cloud_stop(args: argparse.Namespace) -> int:
    home = Path(args.home or default_home())
    print("local cloud stopped" if process.stop(home) else "no local cloud was running")
    return 0


def cmd_cloud_status(args: argparse.Namespace) -> int:
    home = Path(args.home or default_home())
    state = process.status(home)
    if args.json:
        print(json.dumps(state or {"running": False}, indent=2))
        return 0 if state else 1
    if state is None:
        raise CommandError(f"no local cloud is running for {home}",
                           "start one: workshop cloud start")
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


def tcp_port(value: str) -> int:
    """A port a browser can be sent to: 1-65535 (argparse type of ``workshop lab --port``)."""
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (use 1 to 65535)")
    return int(value)


def _lab_port(args: argparse.Namespace) -> int:
    if args.port is not None:
        return args.port
    from .lab import DEFAULT_PORT

    value = os.environ.get("WORKSHOP_LAB_PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    try:
        return tcp_port(value)
    except argparse.ArgumentTypeError:
        raise CommandError(f"WORKSHOP_LAB_PORT={value!r} is not a port",
                           f"use a number from 1 to 65535, e.g. WORKSHOP_LAB_PORT={DEFAULT_PORT}",
                           status=USAGE) from None


def cmd_lab(args: argparse.Namespace) -> int:
    from .lab import LabOptions, run

    return run(LabOptions(
        port=_lab_port(args), home=Path(args.home) if args.home else None,
        aws_port=args.aws_port, ws_port=args.ws_port, browser=args.browser,
        stop_cloud=args.stop_cloud,
    ))


def cmd_chat(args: argparse.Namespace) -> int:
    from .terminal_chat import main as chat

    return chat(args.url, args.name, browser=args.browser, home=args.home)


DESCRIPTION = ("The workshop's commands: JupyterLab on the notebooks, the local cloud, the "
               "headless walk-through, clean-up and chat. A failure is one line with its fix; "
               "--debug shows the traceback.")


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: what is wrong, the closest match, where help is."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(usage_problem(self, message), f"see `{self.prog} --help`",
                           status=USAGE)


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    return [name for action in parser._actions
            if isinstance(action, argparse._SubParsersAction) for name in action.choices]


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def usage_problem(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's complaint, reworded for a learner (``invalid choice`` names a close one)."""
    commands = _commands(parser)
    if commands and "the following arguments are required" in message:
        return f"`{parser.prog}` needs a command: {', '.join(commands)}"
    if match := re.search(r"invalid choice: '([^']*)'", message):
        return f"unknown command {match[1]!r} for `{parser.prog}`" + _did_you_mean(
            match[1], commands)
    return message


def unrecognized(parser: argparse.ArgumentParser, extras: list[str]) -> CommandError:
    """Arguments no parser took, named with the leaf command's closest option."""
    options = [o for action in parser._actions for o in action.option_strings]
    first = extras[0]
    hint = _did_you_mean(first.split("=", 1)[0], options) if first.startswith("-") else ""
    what = "option" if first.startswith("-") else "argument"
    return CommandError(f"unknown {what} {' '.join(extras)!r} for `{parser.prog}`{hint}",
                        f"see `{parser.prog} --help`", status=USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="workshop", description=DESCRIPTION)
    parser.add_argument("--home", help="local cloud home (default $WORKSHOP_HOME or .workshop/)")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of a failure (or WORKSHOP_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    def leaf(group: Any, name: str, func: Any, **kwargs: Any) -> argparse.ArgumentParser:
        command = group.add_parser(name, **kwargs)
        command.set_defaults(func=func, parser=command)
        return command

    lab = leaf(sub, "lab", cmd_lab,
               help="start the local cloud and JupyterLab on the workshop (what `make lab` runs)")
    lab.add_argument("--port", type=tcp_port,
                     help="JupyterLab's port (env WORKSHOP_LAB_PORT, default 8888)")
    lab.add_argument("--aws-port", type=int, help="the local cloud's AWS API port "
                     "(env WORKSHOP_AWS_PORT)")
    lab.add_argument("--ws-port", type=int, help="its WebSocket port (env WORKSHOP_WS_PORT)")
    lab.add_argument("--browser", action=argparse.BooleanOptionalAction, default=None,
                     help="open a browser (default: when this machine has a display)")
    lab.add_argument("--stop-cloud", action="store_true",
                     help="stop the local cloud when JupyterLab stops (default: keep it)")

    cloud = sub.add_parser("cloud", help="the local cloud").add_subparsers(
        dest="cloud_command", required=True)
    start = leaf(cloud, "start", cmd_cloud_start, help="start in the background (idempotent)")
    start.add_argument("--aws-port", type=int, help="AWS API port (env WORKSHOP_AWS_PORT)")
    start.add_argument("--ws-port", type=int, help="WebSocket port (env WORKSHOP_WS_PORT)")
    leaf(cloud, "stop", cmd_cloud_stop, help="stop it")
    st = leaf(cloud, "status", cmd_cloud_status, help="endpoints, APIs, stages, open connections")
    st.add_argument("--json", action="store_true")

    run = leaf(sub, "run", cmd_run, help="execute the notebooks in order against the local cloud")
    run.add_argument("--write", action="store_true", help="save the outputs into the notebooks")
    run.add_argument("--fresh", action="store_true", help="use a fresh local cloud")

    leaf(sub, "cleanup", cmd_cleanup,
         help="delete every resource of the workshop (WORKSHOP_TARGET/PREFIX)")

    chat = leaf(sub, "chat", cmd_chat, help="chat in this terminal (or --browser) like wscat")
    chat.add_argument("url", nargs="?", help="the stage's ws:// or wss:// URL (default: the "
                      "workshop's API on the current target)")
    chat.add_argument("--name", help="your name in the chat (default: a guest name)")
    chat.add_argument("--browser", action="store_true",
                      help="open the browser chat page instead (and print its address)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; every failure is one line on stderr and exit status 1 (usage: 2)."""
    debug = os.environ.get("WORKSHOP_DEBUG", "").strip() not in ("", "0")
    try:
        parser = build_parser()
        args, extras = parser.parse_known_args(argv)
        debug = debug or args.debug
        if extras:
            raise unrecognized(args.parser, extras)
        return args.func(args)
    except (Exception, KeyboardInterrupt) as exc:
        if debug:
            raise
        line, status = explain(exc)
        print(f"workshop: {line}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
