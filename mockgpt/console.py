"""What the commands print and check before they start, shared by `cli` and `record_cli`."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path


def bind_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, found before the banner, or None.

    A quick bind and close, with the same SO_REUSEADDR the server sets, so a port
    in use (or a host that is not ours) is one clear line instead of a banner
    followed by the server's own error. Port 0 always binds.
    """
    if port == 0:
        return None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return (
                f"port {port} on {host} is in use; choose another with --port, "
                "or --port 0 for a free one"
            )
        return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def print_escaped(text: str) -> None:
    """Print text that may hold a capture's broken characters (lone surrogates) as escapes."""
    print(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def write_ready_file(path: str, url: str) -> None:
    """Write url to path whole or not at all, so a poller never reads it half written.

    The URL goes to a sibling file first and is renamed into place: a rename is
    atomic, so whoever waits for the file to appear finds the full line.
    """
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.write_text(url + "\n", encoding="utf-8")
    os.replace(partial, target)
