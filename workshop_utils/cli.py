"""The ``workshop`` command: JupyterLab, the local cloud, the headless walk-through, clean-up,
chat, and the instructor's ``workshop class`` commands.

Every failure of every command ends as one line on stderr, ``workshop: <what>; <fix>``, with
exit status 1 (2 for a command line that cannot be parsed): ``main`` maps what a command raises
through ``cli_errors.explain``; ``--debug`` (or ``WORKSHOP_DEBUG=1``) shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from . import localcloud, ports
from .cli_errors import FAILED, USAGE, CommandError, explain
from .localcloud import CloudSettings, default_home


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
    print("local cloud stopped" if localcloud.stop(home) else "no local cloud was running")
    return 0


def cmd_cloud_status(args: argparse.Namespace) -> int:
    home = Path(args.home or default_home())
    state = localcloud.status(home)
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


def with_target(command: Any) -> Any:
    """Run ``command(target, args)`` on the target of the environment (the local cloud is not
    started: a new one would hold nothing to clean up or list). Its failures, like every
    command's, are turned into one line by :func:`main`."""

    def run(args: argparse.Namespace) -> int:
        from .target import from_environment

        return command(from_environment(start_cloud=False), args)

    return run


def _where(target: Any) -> str:
    return f"the {target.kind} target ({target.region})"


def _listed(found: dict[str, list[str]]) -> str:
    """``{"functions": ["a"], "tables": ["t"]}`` as ``function a, table t``."""
    from .inventory import SINGULAR

    return ", ".join(f"{SINGULAR.get(kind, kind)} {name}" for kind, names in found.items()
                     for name in names)


@with_target
def cmd_cleanup(target: Any, args: argparse.Namespace) -> int:
    from .cleanup import delete_everything, leftovers

    print(f"cleaning up what the workshop made for prefix {target.prefix} (owner "
          f"{target.owner}) on {_where(target)}")
    others = delete_everything(target)
    left = {kind: items for kind, items in leftovers(target).items() if items}
    if left:
        raise CommandError(f"still there: {_listed(left)}",
                           "run `workshop cleanup` again; if it stays, delete it by hand")
    if others:
        print(f"nothing of yours is left; {len(others)} resource(s) with your names belong to "
              f"someone else (listed above): pick another WORKSHOP_PREFIX, or ask an "
              f"instructor to run `workshop class cleanup --prefix {target.prefix}`")
        return 0
    print("nothing left")
    return 0


def _time(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "-"
    import datetime as dt

    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def format_class_status(stacks: list[Any]) -> str:
    header = ["prefix", "01 table", "02 role", "03 functions", "04 API", "06 access log",
              "authorizer", "last activity", "owner"]
    rows = [header]
    for stack in stacks:
        progress = stack.progress()
        rows.append([stack.prefix, progress["01"], progress["02"], progress["03"],
                     progress["04"], progress["06"], progress["authorizer"],
                     _time(stack.last_activity_ms),
                     ", ".join(stack.owners) or "(no owner tag)"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


@with_target
def cmd_class_status(target: Any, args: argparse.Namespace) -> int:
    from .classroom import stacks

    found = stacks(target)
    print(f"{len(found)} learner stack{'s' if len(found) != 1 else ''} in account "
          f"{target.account_id}, {_where(target)}")
    if found:
        print(format_class_status(found))
    return 0


@with_target
def cmd_class_cleanup(target: Any, args: argparse.Namespace) -> int:
    from .classroom import stacks
    from .cleanup import delete
    from .inventory import SINGULAR
    from .target import valid_prefix

    if args.prefix:
        valid_prefix(args.prefix)
    found = stacks(target, only=args.prefix)
    if not found:
        what = f"prefix {args.prefix}" if args.prefix else "any prefix"
        print(f"nothing of the workshop's for {what} in account {target.account_id}, "
              f"{_where(target)}")
        return 0
    count = sum(len(s.resources) for s in found)
    print(f"this deletes {count} resource{'s' if count != 1 else ''} of {len(found)} learner "
          f"stack{'s' if len(found) != 1 else ''} in account {target.account_id}, "
          f"{_where(target)}:")
    for stack in found:
        print(f"  {stack.prefix} ({', '.join(stack.owners) or 'no owner tag'})")
        for item in stack.resources:
            print(f"    {SINGULAR[item.kind]} {item.name}")
    if not args.yes:
        try:
            answer = input("delete them? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            raise CommandError("nothing was deleted",
                               "answer y, or pass --yes to delete without asking")
    for stack in found:
        delete(target, stack.resources, say=lambda line, p=stack.prefix: print(f"{p}: {line}"))
    left = stacks(target, only=args.prefix)
    if left:
        raise CommandError(f"still there: {', '.join(s.prefix for s in left)}",
                           "run `workshop class status` and `workshop class cleanup` again")
    print("done: nothing of theirs is left")
    return 0


@with_target
def cmd_class_setup(target: Any, args: argparse.Namespace) -> int:
    from .logging_role import setup

    setup(target)
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

    return chat(args.url, args.name, browser=args.browser, home=args.home, token=args.token)


DESCRIPTION = ("The workshop's commands: JupyterLab on the notebooks, the local cloud, the "
               "headless walk-through, clean-up, chat, and the instructor's class commands. A "
               "failure is one line with its fix; --debug shows the traceback.")


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
        # The global options work after the command too (`workshop cloud status --home X`);
        # SUPPRESS keeps a value given before the command when none is given after it.
        command.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=argparse.SUPPRESS)
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
         help="delete every resource the workshop made for you (WORKSHOP_TARGET/PREFIX): "
              "exact names, your own only")

    klass = sub.add_parser("class", help="for instructors: every learner's stack in the "
                           "account and region").add_subparsers(dest="class_command",
                                                                required=True)
    leaf(klass, "setup", cmd_class_setup,
         help="set API Gateway's CloudWatch Logs role (once per account and region; idempotent)")
    leaf(klass, "status", cmd_class_status,
         help="each learner's prefix, progress and last activity")
    kc = leaf(klass, "cleanup", cmd_class_cleanup,
              help="delete what the workshop made for learners")
    which = kc.add_mutually_exclusive_group(required=True)
    which.add_argument("--prefix", help="one learner's prefix (exactly)")
    which.add_argument("--all", action="store_true", help="every learner's stack")
    kc.add_argument("--yes", action="store_true", help="do not ask before deleting")

    chat = leaf(sub, "chat", cmd_chat, help="chat in this terminal (or --browser) like wscat")
    chat.add_argument("url", nargs="?", help="the stage's ws:// or wss:// URL (default: the "
                      "workshop's API on the current target)")
    chat.add_argument("--name", help="your name in the chat (default: a guest name)")
    chat.add_argument("--browser", action="store_true",
                      help="open the browser chat page instead (and print its address)")
    chat.add_argument("--token", help="a token for a chat with the authorizer; 'auto' mints one "
                      "for --name from the workshop's secret (default: minted when the workshop's "
                      "own API has the authorizer)")
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
    except BrokenPipeError:
        # `workshop cloud status | head`: the reader left; say nothing more (and let the
        # interpreter's final flush of stdout go nowhere instead of failing again).
        with contextlib.suppress(OSError, ValueError):  # stdout may be no file (a test)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    except (Exception, KeyboardInterrupt) as exc:
        if debug:
            raise
        line, status = explain(exc)
        print(f"workshop: {line}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
