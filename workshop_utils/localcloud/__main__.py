"""``python -m workshop_utils.localcloud serve --settings-json '{...}'``: the cloud process."""

from __future__ import annotations

import argparse

from .cloudserver import serve
from .settings import CloudSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workshop_utils.localcloud")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run a local cloud in the foreground")
    run.add_argument("--settings-json", help="CloudSettings as JSON (workshop cloud start)")
    run.add_argument("--aws-port", type=int)
    run.add_argument("--ws-port", type=int)
    args = parser.parse_args()
    if args.settings_json:
        settings = CloudSettings.from_json(args.settings_json)
    else:
        settings = CloudSettings.from_env(aws_port=args.aws_port, ws_port=args.ws_port)
    serve(settings)


if __name__ == "__main__":
    main()
