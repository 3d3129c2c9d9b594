"""A live mockgpt server on a real socket, in a background thread.

    with LiveServer(create_app()) as server:
        httpx.get(server.url + "/backend-api/me")

The port defaults to 0 (a free one, read back once listening). Readiness is
awaited by polling uvicorn's own `started` flag, never by sleeping a fixed time.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


def server_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """How mockgpt is served, by `mockgpt serve`, `LiveServer` and the benchmarks alike.

    The h11 protocol, because uvicorn's httptools parser drops the body of
    requests that carry `Connection: Upgrade` / `Upgrade: h2c`, as some clients send.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
    )


class LiveServer:
    """Run an ASGI app with uvicorn in a thread for the span of a `with` block."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0
    ) -> None:
        self.app = app
        self.host = host
        self._timeout = startup_timeout
        self._server = uvicorn.Server(server_config(app, host, port))
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> LiveServer:
        self._thread = threading.Thread(target=self._server.run, name="mockgpt-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"mockgpt server did not start on {self.host}:{self.port}")
            time.sleep(0.005)
        sockets = [sock for server in self._server.servers for sock in server.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self._timeout)
            self._thread = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
