"""HTTP/2 for a server that speaks HTTP/1.1: connections spliced to an embedded granian.

mockgpt's front server (`mockgpt.http1` on uvicorn) hands over every connection
that speaks HTTP/2, by prior knowledge in cleartext or by ALPN `h2` over TLS
(already decrypted). The bridge starts granian (a Rust HTTP server that speaks
HTTP/2) on a loopback port of its own the first time one arrives, serving the
same app, and copies bytes both ways. The app sees the front connection's
client address and scheme, not the loopback hop. HTTP/1.1, the bulk of the
traffic, never pays for the hop; HTTP/2 pays one local copy each way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: How long stopping waits for granian to close.
STOP_GRACE = 0.5

#: What chatgpt.com and api.openai.com answer in `server` (both sit behind Cloudflare).
SERVER_HEADER = (b"server", b"cloudflare")


class Bridge:
    """The embedded HTTP/2 server, started on first use, and the connections spliced to it."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.clients: dict[int, Any] = {}  # splice's local port -> the front's client address
        #: Requests running behind the bridge, for a stopping server to end.
        self.active: set[asyncio.Task[Any]] = set()
        self.app = _AsTheFront(app, "https" if tls else "http", self.clients, self.active)
        self.splices: set[_Front] = set()
        self._port: asyncio.Task[int] | None = None
        self._server: Any = None
        self._serving: asyncio.Task[None] | None = None

    def take(self, transport: asyncio.Transport, data: bytes, client: Any) -> None:
        """Serve this connection (its first bytes `data`) over HTTP/2."""
        front = _Front(self, transport, client)
        transport.set_protocol(front)
        front.start(data)

    async def port(self) -> int:
        """The loopback port of the HTTP/2 server, started now if it was not."""
        if self._port is None:
            self._port = asyncio.get_running_loop().create_task(self._start())
        return await asyncio.shield(self._port)

    async def _start(self) -> int:
        self._server = granian_server(self.app, "127.0.0.1", 0)
        self._serving = asyncio.get_running_loop().create_task(self._server.serve())
        while getattr(self._server, "_shd", None) is None:
            if self._serving.done():
                self._serving.result()
                raise RuntimeError("the HTTP/2 server stopped before it listened")
            await asyncio.sleep(0.002)
        return bound_port(self._server._sfd)

    async def stop(self) -> None:
        """Close every spliced connection and stop the HTTP/2 server if it was started."""
        for front in list(self.splices):
            front.close()
        if self._port is not None and not self._port.done():
            self._port.cancel()
        serving = self._serving
        if serving is None or serving.done():
            return
        self._server.stop()
        await asyncio.wait((serving,), timeout=STOP_GRACE)
        if not serving.done():
            serving.cancel()
            await asyncio.wait((serving,), timeout=STOP_GRACE)


class _AsTheFront:
    """The app behind the bridge, told the front connection's scheme and client; its
    answers name the real service's server, and its running requests are known."""

    def __init__(
        self, app: ASGIApp, scheme: str, clients: dict[int, Any], active: set[asyncio.Task[Any]]
    ) -> None:
        self.app = app
        self.scheme = scheme
        self.clients = clients
        self.active = active

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        front = self.clients.get(client[1]) if client else None
        scope = {**scope, "scheme": self.scheme, "client": front or client}
        task = asyncio.current_task()
        if task is not None:
            self.active.add(task)
        try:
            await self.app(scope, receive, _naming_the_server(send))
        finally:
            if task is not None:
                self.active.discard(task)


def _naming_the_server(send: Send) -> Send:
    """`send` with `server: cloudflare` added to the answer's head (granian would add its
    own name to an answer without one)."""

    def sending(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), SERVER_HEADER]}
        return send(message)

    return sending


class _Front(asyncio.Protocol):
    """The client's side of a splice: bytes go to the HTTP/2 server once connected."""

    def __init__(self, bridge: Bridge, transport: asyncio.Transport, client: Any) -> None:
        self.bridge = bridge
        self.transport = transport
        self.client = client
        self.back: asyncio.Transport | None = None
        self.waiting: list[bytes] = []
        self.closed = False
        self.local_port: int | None = None
        self.connecting: asyncio.Task[None] | None = None

    def start(self, data: bytes) -> None:
        self.bridge.splices.add(self)
        if data:
            self.waiting.append(data)
        # Kept on the splice: the loop holds only a weak reference to a task.
        self.connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            port = await self.bridge.port()
            back, _ = await loop.create_connection(lambda: _Back(self), "127.0.0.1", port)
        except (OSError, RuntimeError, asyncio.CancelledError):
            self.close()
            return
        if self.closed:
            back.close()
            return
        self.local_port = back.get_extra_info("sockname")[1]
        self.bridge.clients[self.local_port] = self.client
        self.back = back
        for data in self.waiting:
            back.write(data)
        self.waiting.clear()

    def data_received(self, data: bytes) -> None:
        if self.back is not None:
            self.back.write(data)
        else:
            self.waiting.append(data)

    def eof_received(self) -> bool | None:
        self.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def pause_writing(self) -> None:  # the client reads slowly: stop reading from the server
        if self.back is not None:
            self.back.pause_reading()

    def resume_writing(self) -> None:
        if self.back is not None:
            self.back.resume_reading()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.bridge.splices.discard(self)
        if self.local_port is not None:
            self.bridge.clients.pop(self.local_port, None)
        self.transport.close()
        if self.back is not None:
            self.back.close()


class _Back(asyncio.Protocol):
    """The HTTP/2 server's side of a splice: its bytes go to the client."""

    def __init__(self, front: _Front) -> None:
        self.front = front

    def data_received(self, data: bytes) -> None:
        self.front.transport.write(data)

    def eof_received(self) -> bool | None:
        self.front.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.close()

    def pause_writing(self) -> None:  # the server is slow to take bytes: stop reading the client
        self.front.transport.pause_reading()

    def resume_writing(self) -> None:
        self.front.transport.resume_reading()


def _granian_logging(*_: Any, **__: Any) -> None:
    """Granian's own log lines go to the root logger, so they share mockgpt's log format.

    Replaces granian's `configure_logging`, which would run `dictConfig` and close
    every handler the process has (the CLI's, pytest's) each time a server is made.
    """
    for name in ("_granian", "granian.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Errors only: granian warns at every start that its embedded mode is experimental.
    logging.getLogger("_granian").setLevel(logging.ERROR)


def granian_server(app: Any, host: str, port: int) -> Any:
    """Embedded granian for `app` in cleartext HTTP/2, one worker on the caller's loop,
    no access log of its own (mockgpt writes its own) and only errors from the server."""
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import common
    from granian.server.embed import Server

    class Embedded(Server):
        """Binds its socket in `startup`, so its port is known at once."""

        def _init_shared_socket(self) -> None:
            from granian._granian import ListenerSpec

            try:
                holder: Any = ListenerSpec(self.bind_addr, self.bind_port, self.backlog).build()
            except RuntimeError as error:  # granian reports bind errors so, with a backtrace
                raise OSError(str(error).splitlines()[0]) from None
            self._shd = holder
            self._sfd = holder.get_fd()
            self._ssp = None
            # The spec only binds; listen now so a connection made at once is queued.
            listening = socket.socket(fileno=os.dup(holder.get_fd()))
            try:
                listening.listen(self.backlog)
            finally:
                listening.close()

    common.configure_logging = _granian_logging  # type: ignore[attr-defined]
    return Embedded(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http2,
        websockets=False,
        backlog=1024,
        log_enabled=True,
        log_level=LogLevels.error,
        log_access=False,
    )


def bound_port(fd: int) -> int:
    """The port a listening socket's file descriptor is bound to."""
    probe = socket.socket(fileno=os.dup(fd))
    try:
        port: int = probe.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            probe.close()
    return port
