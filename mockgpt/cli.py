"""The `mockgpt` command: `serve`, `routes`, `openapi`, `har check` and `har import`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockgpt._version import __version__
from mockgpt.accesslog import AccessWriter, LineWriter, install
from mockgpt.catalogue import Catalogue, load_catalogue
from mockgpt.config import Config
from mockgpt.console import bind_problem, print_escaped, write_ready_file
from mockgpt.jsonfmt import dumps
from mockgpt.replies import corpus, generate_reply


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockgpt",
        description="Offline mock of the ChatGPT web backend and the OpenAI chat completions API.",
    )
    parser.add_argument("--version", action="version", version=f"mockgpt {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the mock server")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port; 0 picks a free one (default: %(default)s)"
    )
    serve.add_argument(
        "--ready-file",
        metavar="FILE",
        help="once listening, write the server's URL to FILE (for test runners in any language)",
    )
    serve.add_argument(
        "--seed", type=int, default=0, help="seed of all generated data (default: %(default)s)"
    )
    serve.add_argument("--quiet", action="store_true", help="no log line per request")
    serve.add_argument(
        "--samples",
        type=int,
        default=5,
        help="sample conversations to start with, for the sidebar (default: %(default)s)",
    )
    serve.add_argument(
        "--now",
        metavar="TIME",
        help="pin the clock's start, e.g. 2026-11-29T12:00:00Z: the same seed and --now "
        "give the same bytes on every route (default: the time the server starts)",
    )
    serve.add_argument(
        "--pace",
        choices=("real", "instant"),
        default="real",
        help="stream unscripted answers at the real service's speed, or at once "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--auth",
        choices=("lenient", "strict"),
        default="lenient",
        help="which bearer tokens pass (default: %(default)s)",
    )
    serve.add_argument(
        "--sentinel",
        choices=("off", "token", "pow"),
        default="off",
        help="what conversation requests must prove (default: %(default)s)",
    )
    serve.add_argument(
        "--account",
        choices=("personal", "workspace"),
        default="personal",
        help="the kind of account the mock plays (default: %(default)s)",
    )
    serve.add_argument(
        "--script",
        action="append",
        default=[],
        metavar="FILE",
        help="a JSON script file whose scripts answer the next turns, in order (repeatable)",
    )
    serve.add_argument(
        "--fixtures",
        metavar="DIR",
        help="a folder laid out like the package's fixtures/ (e.g. from `mockgpt har import`) "
        "whose files replace the built-in fixtures of the same names",
    )
    serve.add_argument(
        "--latency",
        type=_latency,
        default=None,
        metavar="MS",
        help="delay every answer by MS milliseconds, or by a seeded draw in LOW-HIGH (e.g. 50-300)",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="one line per request as text or as a JSON object (default: %(default)s)",
    )
    serve.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="the token every admin request must then send as Authorization: Bearer <token> "
        "(default: none on a loopback --host, else a random one printed at start)",
    )

    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS (HTTP/2 by ALPN) with a certificate for localhost and 127.0.0.1 made "
        "at start; the path of its CA file is printed for clients to trust",
    )
    serve.add_argument("--certfile", metavar="PEM", help="serve HTTPS with this certificate chain")
    serve.add_argument("--keyfile", metavar="PEM", help="the private key of --certfile")
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=None,
        metavar="S",
        help="close connections whose request head has not arrived in S seconds (default: 30)",
    )
    serve.add_argument(
        "--replay-speed",
        type=float,
        default=1.0,
        metavar="X",
        help="replay a recording's streams (from `mockgpt record`) with their gaps times X; "
        "0 sends them at once (default: %(default)s)",
    )
    serve.add_argument(
        "--replay-strict",
        action="store_true",
        help="answer 404 to requests a recording in --fixtures has no answer for, instead of "
        "the catalogue's answer",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=None,
        metavar="S",
        help="answer 408 and close when a request body has not arrived in S seconds (default: 30)",
    )

    routes = commands.add_parser("routes", help="list every route with its status and description")
    routes.add_argument("--format", choices=("table", "json", "markdown"), default="table")

    openapi = commands.add_parser(
        "openapi", help="print the OpenAPI document of the mocked services (/openapi.json)"
    )
    openapi.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    openapi.add_argument(
        "--admin",
        action="store_true",
        help="print the admin API's document instead (/__mockgpt__/openapi.json)",
    )

    har = commands.add_parser("har", help="check or import captured traffic (HAR files)")
    actions = har.add_subparsers(dest="har_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="compare a capture with the catalogue's schemas and report what drifted "
        "(exit 0: no drift, 1: drift, 2: unreadable file)",
    )
    check.add_argument("capture", metavar="CAPTURE.har")
    check.add_argument("--json", action="store_true", help="print the report as one JSON object")
    imported = actions.add_parser(
        "import", help="write sanitised fixtures and scripts for the routes a capture shows"
    )
    imported.add_argument("capture", metavar="CAPTURE.har")
    imported.add_argument("--out", required=True, metavar="DIR", help="the folder to write to")
    imported.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the fake values that replace real ones (default: %(default)s)",
    )
    from mockgpt.record_cli import add_parsers  # lazy: the recording commands' own module

    add_parsers(commands)
    return parser


def _latency(text: str) -> tuple[float, float]:
    """`--latency 120` or `--latency 50-300` (milliseconds) as (low, high) seconds."""
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        message = f"expected MS or LOW-HIGH milliseconds, not {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not 0 <= bounds[0] <= bounds[1] <= 600_000:
        raise argparse.ArgumentTypeError("latency must satisfy 0 <= LOW <= HIGH <= 600000 ms")
    return bounds[0] / 1000, bounds[1] / 1000


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line, with the request's fields when it is an access line."""

    FIELDS = ("method", "path", "status", "duration_ms")
    _second: tuple[int, str] = (-1, "")

    def _time(self, record: logging.LogRecord) -> str:
        """The record's time to the second, formatted once per second (not once per line)."""
        second = int(record.created)
        if self._second[0] != second:
            self._second = (second, self.formatTime(record, "%Y-%m-%dT%H:%M:%S"))
        return self._second[1]

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _loopback_host(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def routes_table(catalogue: Catalogue) -> str:
    """A plain-text table of the catalogue, one route a line."""
    rows = [("METHOD", "PATH", "STATUS", "DESCRIPTION")]
    rows += [(r.method, r.path, str(r.status), r.description) for r in catalogue]
    width_method = max(len(row[0]) for row in rows)
    width_path = max(len(row[1]) for row in rows)
    lines = [f"{m:<{width_method}}  {p:<{width_path}}  {s:<6}  {d}".rstrip() for m, p, s, d in rows]
    lines.append(f"{len(catalogue)} routes")
    return "\n".join(lines)


def routes_markdown(catalogue: Catalogue) -> str:
    """The route table of the README, one row a route."""
    lines = ["| Method | Path | Status | Auth | Description |", "|---|---|---|---|---|"]
    for route in catalogue:
        path = route.path
        if route.query:
            path += "?" + "&".join(param.name for param in route.query)
        lines.append(
            f"| {route.method} | `{path}` | {route.status} | {route.auth} | {route.description} |"
        )
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    if args.admin_token is not None and not args.admin_token.strip():
        print(
            "mockgpt: --admin-token must not be empty (leave it out for a random one)",
            file=sys.stderr,
        )
        return 2
    lines = LineWriter(sys.stdout)
    handler = BufferedLogHandler(sys.stdout, lines)
    handler.setFormatter(
        JsonLogFormatter() if args.log_format == "json" else logging.Formatter("%(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    previous = install(AccessWriter(lines, args.log_format))
    try:
        return _serve_logged(args, handler)
    finally:
        install(previous)
        lines.close()


def _serve_logged(args: argparse.Namespace, handler: logging.Handler) -> int:
    """`mockgpt serve` once its log is set up: the mock, the banner, then serving."""
    import secrets

    from mockgpt.controller import ADMIN_PREFIX, MockGPT  # lazy: only serving builds a mock
    from mockgpt.scripts import load_script  # lazy: only serving reads scripts
    from mockgpt.server import LiveServer  # lazy: only serving loads a server

    if (args.certfile is None) != (args.keyfile is None):
        print("mockgpt: --certfile and --keyfile go together", file=sys.stderr)
        return 2
    try:
        scripts = [script for path in args.script for script in load_script(path)]
        timeouts = {
            name: value
            for name, value in (
                ("header_timeout", args.header_timeout),
                ("body_timeout", args.body_timeout),
            )
            if value is not None
        }
        config = Config(
            seed=args.seed,
            log_requests=not args.quiet,
            sample_conversations=args.samples,
            auth=args.auth,
            sentinel=args.sentinel,
            account=args.account,
            latency=args.latency,
            fixtures=args.fixtures,
            now=args.now,
            pace=args.pace,
            replay_speed=args.replay_speed,
            replay_strict=args.replay_strict,
            **timeouts,
        )
        tls = _tls_files(args)
        if args.fixtures:
            from mockgpt.replay import load_recording  # lazy: only serving reads recordings

            load_recording(args.fixtures)  # a broken recording: one line before the banner
    except (OSError, ValueError) as error:
        print(f"mockgpt: {error}", file=sys.stderr)
        return 2
    busy = bind_problem(args.host, args.port)
    if busy is not None:
        print(f"mockgpt: {busy}", file=sys.stderr)
        return 2
    token = args.admin_token
    if token is None and not _loopback_host(args.host):
        token = secrets.token_urlsafe(24)
    mock = MockGPT(config, admin_token=token)
    mock.admin.listen_on(args.host)
    mock.queue(*scripts)
    print(f"mockgpt {__version__}: {len(mock.app.catalogue)} routes, seed {args.seed}")
    if scripts:
        print(f"{len(scripts)} scripted turns queued")
    if args.fixtures:
        print(f"fixtures from {args.fixtures} replace the built-in ones of the same names")
    if tls is not None and args.tls:
        print(f"TLS: clients trust the CA in {tls.ca}")

    def announce(base: str) -> None:
        """Say where the server listens once it does (the port may have been 0)."""
        print(f"listening on {base}  (Ctrl-C to stop)")
        print(f"  web client:  point chatgpt.com requests at {base} (e.g. {base}/backend-api/)")
        print(f'  OpenAI SDK:  OpenAI(base_url="{base}/v1", api_key="anything")')
        print(f"  inspector:   {base}{ADMIN_PREFIX}/  (admin API under {ADMIN_PREFIX}/)")
        if token is not None:
            print(f"  admin token: {token}  (send Authorization: Bearer <token>; the inspector")
            print(f"               opens as {base}{ADMIN_PREFIX}/#token=<token>)")
        sys.stdout.flush()
        if args.ready_file:
            write_ready_file(args.ready_file, base)
        # The seed's person, the reply corpus and the patterns a reply needs (some 20 ms
        # in all), made now on a thread of their own: the start did not wait for them,
        # and the first `/me`, the first look at the history (its sample answers) and
        # the first unscripted turn find them ready.
        threading.Thread(target=warm, name="mockgpt-corpus", daemon=True).start()

    def warm() -> None:
        try:
            _ = mock.app.varier.person  # drawn at first use, and kept
            corpus()
            generate_reply(args.seed, "Hello", "gpt-5")  # fills the caches of a reply's patterns
        except Exception:  # only a head start: the first request makes what is missing
            logging.getLogger("mockgpt.error").exception("warming up at start failed")

    server = LiveServer(
        mock,
        host=args.host,
        port=args.port,
        tls=tls.files if tls is not None else None,
        header_timeout=config.header_timeout,
        body_timeout=config.body_timeout,
    )
    try:
        server.serve_forever(on_ready=lambda: announce(server.url))
    except OSError as error:
        print(f"mockgpt: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    finally:
        handler.flush()
    print("mockgpt stopped")
    return 0


class BufferedLogHandler(logging.Handler):
    """Hands formatted log lines to a `LineWriter` (its own on `stream`, or the one given),
    whose thread writes them in batches: a line costs a deque append, not a write and a
    flush, and shares its order with the access lines on the same writer."""

    def __init__(self, stream: Any, lines: LineWriter | None = None) -> None:
        super().__init__()
        self.lines = lines if lines is not None else LineWriter(stream)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put(self.format(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.lines.flush()


@dataclass(frozen=True, slots=True)
class _TLS:
    files: Any
    ca: str | None


def _tls_files(args: argparse.Namespace) -> _TLS | None:
    """The certificate to serve HTTPS with: the user's, or (`--tls`) one made now."""
    from mockgpt.server import TLSFiles  # lazy: only serving loads a server

    if args.certfile is not None:
        if args.tls:
            raise ValueError("give --tls or --certfile/--keyfile, not both")
        for name in (args.certfile, args.keyfile):
            if not Path(name).is_file():
                raise ValueError(f"no such file: {name}")
        import ssl

        def no_passphrase() -> bytes:  # rather than OpenSSL asking on the terminal, twice
            raise ValueError(
                f"{args.keyfile} is encrypted: mockgpt serve needs a key without a passphrase"
            )

        try:  # loaded once now, so a bad pair is a line before the banner, not a failed listen
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
                args.certfile, args.keyfile, password=no_passphrase
            )
        except ssl.SSLError as error:
            problem = f"cannot serve HTTPS with {args.certfile} and {args.keyfile}: {error}"
            raise ValueError(problem) from None
        return _TLS(TLSFiles(args.certfile, args.keyfile), None)
    if not args.tls:
        return None
    import tempfile

    import trustme

    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1", "::1")
    folder = Path(tempfile.mkdtemp(prefix="mockgpt-tls-"))
    ca, chain, key = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    authority.cert_pem.write_to_path(str(ca))
    certificate.private_key_pem.write_to_path(str(key))
    for index, blob in enumerate(certificate.cert_chain_pems):
        blob.write_to_path(str(chain), append=index > 0)
    return _TLS(TLSFiles(str(chain), str(key)), str(ca))


def _har(args: argparse.Namespace) -> int:
    """`har check` (0: no drift, 1: drift) and `har import`; 2 for a file that cannot be read."""
    from mockgpt.har import HarError, check_har, import_har  # lazy: only `har` needs it

    try:
        if args.har_command == "check":
            report = check_har(args.capture)
            print_escaped(dumps(report.to_json()) if args.json else report.render())
            return 1 if report.drifted else 0
        result = import_har(args.capture, args.out, seed=args.seed)
    except HarError as error:
        print(f"mockgpt: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RecursionError) as error:
        print(f"mockgpt: cannot process {args.capture}: {error}", file=sys.stderr)
        return 2
    print_escaped(result.render())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status. A reader that goes away early (`| head`)
    ends the output quietly, with status 1, as Python's docs advise."""
    try:
        status = _command(_parser().parse_args(argv))
        sys.stdout.flush()  # inside the try: a short output fails here, not at exit
        return status
    except BrokenPipeError:
        # Later writes (and the flush at exit) go nowhere instead of raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _command(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "routes":
        catalogue = load_catalogue()
        if args.format == "markdown":
            print(routes_markdown(catalogue))
        elif args.format == "json":
            print(
                dumps(
                    [
                        {
                            "method": r.method,
                            "path": r.path,
                            "status": r.status,
                            "description": r.description,
                        }
                        for r in catalogue
                    ]
                )
            )
        else:
            print(routes_table(catalogue))
        return 0
    if args.command == "openapi":
        from mockgpt.admin import ENDPOINTS, PREFIX  # lazy: only `openapi` needs it
        from mockgpt.openapi import admin_document, openapi_document  # lazy: as above

        document = (
            admin_document(ENDPOINTS, PREFIX) if args.admin else openapi_document(load_catalogue())
        )
        print(json.dumps(document, indent=args.indent) if args.indent else dumps(document))
        return 0
    if args.command == "har":
        return _har(args)
    if args.command in ("record", "check"):
        from mockgpt.record_cli import run  # lazy: the recording commands' own module

        return run(args)
    return 2
