"""The `record` and `check` commands of `mockgpt`: a recording proxy, and drift of a recording."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mockgpt.console import bind_problem, print_escaped, write_ready_file
from mockgpt.jsonfmt import dumps


def add_parsers(commands: Any) -> None:
    """`record` (a recording proxy) and `check` (drift of a recording folder)."""
    record = commands.add_parser(
        "record", help="forward to a real service and record what it answers, for replay"
    )
    record.add_argument(
        "--upstream", required=True, metavar="URL", help="the service, e.g. https://chatgpt.com"
    )
    record.add_argument("--out", required=True, metavar="DIR", help="the folder to write to")
    record.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    record.add_argument(
        "--port", type=int, default=8000, help="port; 0 picks a free one (default: %(default)s)"
    )
    record.add_argument(
        "--ready-file", metavar="FILE", help="once listening, write the proxy's URL to FILE"
    )
    record.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the fake values that replace real ones (default: %(default)s)",
    )
    record.add_argument(
        "--upstream-ca",
        metavar="PEM",
        help="trust this CA file for an https upstream (default: the system's)",
    )
    check = commands.add_parser(
        "check",
        help="compare a recording folder with the catalogue's schemas "
        "(exit 0: no drift, 1: drift, 2: unreadable folder)",
    )
    check.add_argument("folder", metavar="DIR")
    check.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Run `record` or `check`; the exit status."""
    return _record(args) if args.command == "record" else _check(args)


def _record(args: argparse.Namespace) -> int:
    from mockgpt.record import RecordingProxy  # lazy: start-up
    from mockgpt.server import LiveServer  # lazy: start-up

    busy = bind_problem(args.host, args.port)
    if busy is not None:
        print(f"mockgpt: {busy}", file=sys.stderr)
        return 2
    try:
        proxy = RecordingProxy(
            args.upstream,
            args.out,
            seed=args.seed,
            hosts=(args.host,),
            verify=args.upstream_ca or True,
        )
    except (OSError, ValueError) as error:
        print(f"mockgpt: {error}", file=sys.stderr)
        return 2
    server = LiveServer(proxy, host=args.host, port=args.port)

    def announce() -> None:
        print(f"recording {args.upstream} into {args.out}")
        print(f"listening on {server.url}  (Ctrl-C to stop and write the last files)")
        sys.stdout.flush()
        if args.ready_file:
            write_ready_file(args.ready_file, server.url)

    try:
        server.serve_forever(on_ready=announce)
    except OSError as error:
        print(f"mockgpt: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    finally:
        written = proxy.flush()
    print(f"recorded {len(proxy.recorded)} exchanges: {len(written)} files in {args.out}")
    print(f"replay them with: mockgpt serve --fixtures {args.out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """`check DIR`: 0 no drift, 1 drift, 2 no readable recording."""
    from mockgpt.recorded import check_recording  # lazy: start-up

    try:
        report = check_recording(args.folder)
    except (OSError, ValueError, RecursionError) as error:
        print(f"mockgpt: {error}", file=sys.stderr)
        return 2
    print_escaped(dumps(report.to_json()) if args.json else report.render())
    return 1 if report.drifted else 0
