"""The ``workshop`` command: the local cloud, the headless walk-through, clean-up, chat, and
the instructor's ``workshop class`` commands."""

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


def fail(what: str, fix: str) -> int:
    """One line on stderr, ``workshop: <what>; <fix>``, and exit status 1."""
    print(f"workshop: {what}; {fix}", file=sys.stderr)
    return 1


def aws_failure(exc: Exception, target: Any | None) -> tuple[str, str]:
    """(what happened, the fix) for an error of an AWS call, in one line each."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    local = target is not None and target.is_local
    if isinstance(exc, NoCredentialsError):
        return ("no AWS credentials were found", "configure them (`aws configure --profile "
                "<name>` or `aws sso login`) and set WORKSHOP_PROFILE")
    if isinstance(exc, ProfileNotFound):
        return (str(exc), "set WORKSHOP_PROFILE to a profile of `aws configure list-profiles`")
    if isinstance(exc, NoRegionError):
        return ("no AWS region", "set WORKSHOP_REGION (e.g. eu-west-1)")
    if isinstance(exc, EndpointConnectionError):
        if local:
            return (f"cannot reach the local cloud at {target.aws_endpoint}",
                    "restart it: workshop cloud stop && workshop cloud start")
        return (str(exc), "check your network and WORKSHOP_REGION")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        operation = getattr(exc, "operation_name", "the call")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return ("your AWS session has expired", "log in again (e.g. `aws sso login`)")
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"):
            return (f"AWS refused {operation} ({code}: {message})",
                    "ask your instructor for that permission, or check WORKSHOP_PROFILE")
        return (f"{operation} failed ({code}: {message})", "fix the cause above and run it again")
    return (f"{type(exc).__name__}: {exc}", "run it again; if it persists, report it")


def with_target(command: Any) -> Any:
    """Run ``command(target, args)`` on the target of the environment, turning every error
    it can meet into one line (``workshop: <what>; <fix>``) and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        from .logging_role import LoggingRoleMissing
        from .ownership import OwnershipError
        from .target import TargetError, from_environment

        target = None
        try:
            target = from_environment(start_cloud=False)
            return command(target, args)
        except (TargetError, OwnershipError, LoggingRoleMissing) as exc:
            print(f"workshop: {exc}", file=sys.stderr)  # their messages end with the fix
            return 1
        except (BotoCoreError, ClientError) as exc:
            return fail(*aws_failure(exc, target))

    return run


def _where(target: Any) -> str:
    return f"the {target.kind} target ({target.region})"


@with_target
def cmd_cleanup(target: Any, args: argparse.Namespace) -> int:
    from .cleanup import delete_everything, leftovers

    print(f"cleaning up what the workshop made for prefix {target.prefix} (owner "
          f"{target.owner}) on {_where(target)}")
    others = delete_everything(target)
    left = {kind: items for kind, items in leftovers(target).items() if items}
    if left:
        print("still there:", json.dumps(left, indent=2))
        return 1
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
            return fail("nothing was deleted", "answer y, or pass --yes to delete without "
                        "asking")
    for stack in found:
        delete(target, stack.resources, say=lambda line, p=stack.prefix: print(f"{p}: {line}"))
    left = stacks(target, only=args.prefix)
    if left:
        return fail(f"still there: {', '.join(s.prefix for s in left)}",
                    "run `workshop class status` and `workshop class cleanup` again")
    print("done: nothing of theirs is left")
    return 0


@with_target
def cmd_class_setup(target: Any, args: argparse.Namespace) -> int:
    from .logging_role import setup

    setup(target)
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
        "cleanup", help="delete every resource the workshop made for you (WORKSHOP_TARGET/"
        "PREFIX): exact names, your own only"
    ).set_defaults(func=cmd_cleanup)

    klass = sub.add_parser("class", help="for instructors: every learner's stack in the "
                           "account and region").add_subparsers(dest="class_command",
                                                                required=True)
    klass.add_parser("setup", help="set API Gateway's CloudWatch Logs role (once per account "
                     "and region; idempotent)").set_defaults(func=cmd_class_setup)
    klass.add_parser("status", help="each learner's prefix, progress and last activity"
                     ).set_defaults(func=cmd_class_status)
    kc = klass.add_parser("cleanup", help="delete what the workshop made for learners")
    which = kc.add_mutually_exclusive_group(required=True)
    which.add_argument("--prefix", help="one learner's prefix (exactly)")
    which.add_argument("--all", action="store_true", help="every learner's stack")
    kc.add_argument("--yes", action="store_true", help="do not ask before deleting")
    kc.set_defaults(func=cmd_class_cleanup)

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
