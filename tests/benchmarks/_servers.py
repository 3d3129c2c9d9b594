"""What the benchmark scripts share: their server subprocesses and report helpers.

`start_server` runs `python -c CODE PORT NAME ARGS…` from the repository root
on a free 127.0.0.1 port, optionally writing `stdin` to it, and returns once
that port accepts connections: it polls the port until a deadline
(`STARTUP_TIMEOUT`) and fails early if the process exits. `stop_server` ends
the process by its pid (terminate, then kill if it lingers; `stop_process` for
a process started otherwise). `round_options` adds the options the throughput
benchmarks share (a timed window, rounds, connections) and `check_rounds`
refuses bad values. `percentile` and `report_line` format the numbers the
benchmarks print.

A plain module, not a package: the scripts import it as `_servers`, which works
because a script's own folder is on `sys.path` when run as
`python tests/benchmarks/<script>.py`.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 20.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass(slots=True)
class Server:
    """A server subprocess and the port it listens on."""

    name: str
    port: int
    process: subprocess.Popen[bytes]


# -- servers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def start_server(
    name: str, code: str, args: list[str], stdin: bytes | None = None, *, quiet: bool = False
) -> Server:
    """Start `python -c code port name *args` and return once its port accepts connections;
    `quiet` sends its standard output (an access log) to /dev/null."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(port), name, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if quiet else None,
    )
    server = Server(name, port, process)
    try:
        if stdin is not None:
            assert process.stdin is not None
            process.stdin.write(stdin)
            process.stdin.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} server exited with code {process.returncode}")
            try:
                socket.create_connection((HOST, port), timeout=0.5).close()
                return server
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} server not listening on {HOST}:{port}") from None
                time.sleep(0.02)
    except BaseException:
        stop_server(server)
        raise


def stop_server(server: Server) -> None:
    stop_process(server.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """End a process this script started: terminate, then kill if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- options ---------------------------------------------------------------------


def round_options(
    parser: argparse.ArgumentParser,
    *,
    window: str,
    connections: int,
    connections_help: str,
    rounds: int = 3,
    seconds: float = 3.0,
) -> None:
    """Add `--seconds` (the timed `window`), `--rounds` and `--connections`."""
    parser.add_argument(
        "--seconds",
        type=float,
        default=seconds,
        help=f"timed window per {window} (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds", type=int, default=rounds, help="rounds per target (default: %(default)s)"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=connections,
        help=f"{connections_help} (default: %(default)s)",
    )


def check_rounds(parser: argparse.ArgumentParser, args: argparse.Namespace, *more: str) -> None:
    """Refuse a window that is not positive, and rounds, connections or `more` counts below 1."""
    counts = ["rounds", "connections", *more]
    if args.seconds <= 0 or any(getattr(args, name) < 1 for name in counts):
        names = ", ".join(f"--{name.replace('_', '-')}" for name in counts)
        parser.error(f"--seconds must be positive, {names} at least 1")


# -- report ----------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def report_line(cells: list[str], widths: list[int]) -> str:
    """Cells padded to `widths`: a negative width left-aligns the cell."""
    padded = [
        cell.ljust(-width) if width < 0 else cell.rjust(width)
        for cell, width in zip(cells, widths, strict=True)
    ]
    return "  ".join(padded).rstrip()
