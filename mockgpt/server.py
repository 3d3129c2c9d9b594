"""How mockgpt is served: uvicorn's httptools protocol on a loop of our own, HTTP/2 bridged.

    with LiveServer(create_app()) as server:
        httpx.get(server.url + "/backend-api/me")

`mockgpt serve`, `LiveServer` (and so `MockGPT.start` and the pytest fixture)
and the benchmarks all go through `server_config`, the one place the server
is chosen. HTTP/1.1, nearly all the traffic, is uvicorn's httptools protocol
with uvloop, the fastest stock stack for an ASGI app, plus what mockgpt adds to
it (`mockgpt.http1`): the body of a request offering `Upgrade: h2c` is kept
(stock httptools drops it), and a head must arrive within the header timeout.
HTTP/2, by prior knowledge in cleartext or by ALPN over TLS, is spliced to an
embedded granian started on first use (`mockgpt.bridge`). WebSockets are
uvicorn's, on the `websockets` library.

The listening socket is bound and listening before `start()` returns, so its
real port (port 0 picks a free one) is known at once and an early client is
queued, never refused. Readiness is awaited by polling that, never by sleeping
a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email.utils import formatdate
from types import TracebackType
from typing import Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockgpt.bridge import SERVER_HEADER, Bridge

#: How long stopping waits at each step: requests to end, then the server to close.
STOP_GRACE = 0.5

_BODY_TIMEOUT_ANSWER = b'{"detail":"Request body not received in time"}'


#: Connections the kernel queues before the server accepts them.
BACKLOG = 1024


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """A certificate chain and its key, in PEM files, for HTTPS (and ALPN `h2`)."""

    certfile: str
    keyfile: str


class Stack:
    """What serves an app: where it listens, uvicorn's settings, and the HTTP/2 bridge."""

    def __init__(
        self, app: Any, host: str, port: int, tls: TLSFiles | None, header_timeout: float
    ) -> None:
        import uvicorn  # lazy: the library and the fixture's in-process client need no server

        from mockgpt.http1 import Http1  # lazy: as uvicorn above

        self.app = app
        self.host = host
        self.port = port
        self.tls = tls
        self.header_timeout = header_timeout
        self.bridge = Bridge(app, tls=tls is not None)
        self.protocol = Http1
        self.config = uvicorn.Config(
            app,
            http=Http1,
            ws=cast(Any, _websocket_protocol),  # a factory works where a class is named
            lifespan="on",
            interface="asgi3",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            proxy_headers=False,
            timeout_keep_alive=max(1, round(header_timeout)),
            ssl_certfile=tls.certfile if tls else None,
            ssl_keyfile=tls.keyfile if tls else None,
        )
        self.socket: socket.socket | None = None

    def bind(self) -> int:
        """Bind and listen now (the same SO_REUSEADDR as `bind_problem`); the real port."""
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listening = socket.socket(family, kind, proto)
        try:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind(address)
            listening.listen(BACKLOG)
            listening.setblocking(False)
        except OSError:
            listening.close()
            raise
        self.socket = listening
        port: int = listening.getsockname()[1]
        return port


def _websocket_protocol(**options: Any) -> asyncio.Protocol:
    """uvicorn's WebSocket protocol on the `websockets` library, imported when the first
    WebSocket arrives: the library takes longer to import than the rest of the server."""
    global _refusable
    if _refusable is None:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

        class Refusable(WebSocketsSansIOProtocol):
            """uvicorn's protocol, for which an HTTP answer before the upgrade (a 401 for a
            bad `verify`, a 403 for a foreign origin) completes the handshake: stock, it
            logs "ASGI callable returned without completing handshake." at ERROR for it."""

            async def send(self, message: Any) -> None:
                await super().send(message)
                if message["type"] == "websocket.http.response.body" and not message.get(
                    "more_body", False
                ):
                    self.handshake_complete = True

        _refusable = Refusable
    protocol: asyncio.Protocol = _refusable(**options)
    return protocol


_refusable: Any = None  # the protocol class, made on the first WebSocket


def server_config(
    app: Any,
    host: str,
    port: int,
    *,
    tls: TLSFiles | None = None,
    header_timeout: float = 30.0,
) -> Stack:
    """The server for `app`: HTTP/1.1 and WebSockets on uvicorn with httptools, HTTP/2
    bridged to granian, one port, on the caller's event loop, no access log of its own
    (mockgpt writes its own) and only warnings from the server itself."""
    return Stack(app, host, port, tls, header_timeout)


class Guarded:
    """The served app behind the body guard: a request whose body has not all arrived
    `body_timeout` seconds after its head gets 408 and its connection closed (instead of
    being held open). Once the server is `closing`, a request it cancels ends quietly."""

    def __init__(self, app: ASGIApp, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.closing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["type"] == "http" and _has_body(scope):
                await self._with_deadline(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if not self.closing:
                raise
            # Ended by a stopping server: the connection is closed, nothing to report.

    async def _with_deadline(self, scope: Scope, receive: Receive, send: Send) -> None:
        deadline = time.monotonic() + self.body_timeout
        timed_out = False
        answered = False
        received = False  # the whole body: later reads (a stream's watch) have no deadline

        async def timed_receive() -> Message:
            nonlocal timed_out, received
            if timed_out:
                return {"type": "http.disconnect"}
            if received:
                return await receive()
            try:
                async with asyncio.timeout_at(_loop_deadline(deadline)):
                    message: Message = await receive()
                received = message["type"] == "http.request" and not message.get("more_body")
                return message
            except TimeoutError:
                timed_out = True
                if not answered:
                    await _refuse_slow_body(send)
                return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if timed_out:
                return  # the 408 went out already
            answered = True
            await send(message)

        await self.app(scope, timed_receive, guarded_send)


def _loop_deadline(deadline: float) -> float:
    """A `time.monotonic()` deadline on the running loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


def _has_body(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return value.strip() not in (b"0", b"")
        if key == b"transfer-encoding":
            return True
    return False


async def _refuse_slow_body(send: Send) -> None:
    with contextlib.suppress(Exception):
        await send(
            {
                "type": "http.response.start",
                "status": 408,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_BODY_TIMEOUT_ANSWER)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BODY_TIMEOUT_ANSWER})


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (faster), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class Serving:
    """One server on one event loop: started, told where it listens, stopped promptly."""

    def __init__(self, stack: Stack, guard: Guarded | None = None) -> None:
        self.stack = stack
        self.guard = guard
        self.port: int | None = None
        self.failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def bound(self) -> bool:
        return self.port is not None

    async def run(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Serve until `stop()`: then end the running requests (a pending latency, stall or
        slow client must not hold the exit) and give the connections `STOP_GRACE` to close."""
        from uvicorn.lifespan.on import LifespanOn
        from uvicorn.server import ServerState

        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping = asyncio.Event()
        stack = self.stack
        config = stack.config
        if not config.loaded:
            config.load()
        self.port = stack.bind()
        listening = stack.socket
        assert listening is not None
        lifespan = LifespanOn(config)
        state = ServerState()
        dates = _DateHeader(loop, state)
        server: asyncio.Server | None = None
        try:
            await lifespan.startup()
            if lifespan.should_exit:
                raise RuntimeError("the app failed to start")

            def connection() -> asyncio.Protocol:
                return stack.protocol(
                    config=config,
                    server_state=state,
                    app_state=lifespan.state,
                    _loop=loop,
                    bridge=stack.bridge,
                    header_timeout=stack.header_timeout,
                )

            server = await loop.create_server(
                connection, sock=listening, ssl=config.ssl, backlog=BACKLOG
            )
            if on_ready is not None:
                on_ready(self.port)
            await self._stopping.wait()
        finally:
            await self._wind_down(server, state, lifespan)
            dates.stop()

    async def _wind_down(self, server: asyncio.Server | None, state: Any, lifespan: Any) -> None:
        """Stop listening, close every connection (one waiting for its answer gets none),
        end the requests still running, and close the HTTP/2 bridge and the app."""
        if server is not None:
            server.close()
        elif self.stack.socket is not None:
            self.stack.socket.close()
        if self.guard is not None:
            self.guard.closing = True
        for connection in list(state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is not None and not cycle.response_complete:
                connection.transport.close()  # its request learns the client is gone
            else:
                connection.shutdown()  # idle HTTP/1.1 closes; a WebSocket is told 1012
        await asyncio.sleep(0)  # the closed connections' `connection_lost` runs
        pending = [*state.tasks, *self.stack.bridge.active]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=STOP_GRACE)
        for connection in list(state.connections):
            connection.transport.close()
        await self.stack.bridge.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(lifespan.shutdown(), STOP_GRACE)

    def stop(self) -> None:
        """Ask the server to stop; safe from any thread."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)


class _DateHeader:
    """The headers the protocol puts on every answer: `date`, updated each second, and
    `server: cloudflare`, as chatgpt.com and api.openai.com answer (the app sends none)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, state: Any) -> None:
        self.loop = loop
        self.state = state
        self.handle: asyncio.TimerHandle | None = None
        self.tick()

    def tick(self) -> None:
        now = time.time()
        date = formatdate(now, usegmt=True).encode("ascii")
        self.state.default_headers = [(b"date", date), SERVER_HEADER]
        self.handle = self.loop.call_later(1.0 - now % 1.0, self.tick)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


def run_on_new_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to its end on a fresh (uvloop) event loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main)


class LiveServer:
    """Run an ASGI app on the mockgpt server stack in a thread for a `with` block."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        tls: TLSFiles | None = None,
        header_timeout: float = 30.0,
        body_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.tls = tls
        self._timeout = startup_timeout
        guard = Guarded(app, body_timeout)
        self._serving = Serving(
            server_config(guard, host, port, tls=tls, header_timeout=header_timeout), guard
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> LiveServer:
        self._thread = threading.Thread(target=self._run, name="mockgpt-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._serving.bound:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mockgpt server did not start on {self.host}:{self.port}"
                ) from self._serving.failed
            time.sleep(0.002)
        assert self._serving.port is not None
        self.port = self._serving.port
        return self

    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve in this thread until SIGINT or SIGTERM (`mockgpt serve`); `on_ready` runs
        once the socket is bound and `url` has the real port."""

        def ready(port: int) -> None:
            self.port = port
            if on_ready is not None:
                on_ready()

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self._serving.stop)
            await self._serving.run(ready)

        run_on_new_loop(main())

    def _run(self) -> None:
        try:
            run_on_new_loop(self._serving.run())
        except BaseException as error:  # reported by start()
            self._serving.failed = error
            logging.getLogger("mockgpt.error").exception("the mockgpt server failed")

    def stop(self) -> None:
        self._serving.stop()
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
