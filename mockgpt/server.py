"""How mockgpt is served: granian, in-process, on an asyncio loop of our own.

    with LiveServer(create_app()) as server:
        httpx.get(server.url + "/backend-api/me")

`mockgpt serve`, `LiveServer` (and so `MockGPT.start` and the pytest fixture)
and the benchmarks all go through `server_config`, the one place the server
is chosen. Granian (a Rust HTTP server) because, measured here, it serves the
app within a few per cent of uvicorn with httptools and uvloop while also
keeping the body of requests that carry `Upgrade: h2c` (httptools drops it),
speaking HTTP/2 (cleartext with prior knowledge, and over TLS with ALPN) and
WebSockets through ASGI.

The port defaults to 0: the listening socket is bound before any worker runs,
so its real port is known as soon as `start()` returns. Readiness is awaited by
polling that bind, never by sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from asyncio import current_task
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: How long stopping waits at each step: requests to end, then the server to close.
STOP_GRACE = 0.5

_BODY_TIMEOUT_ANSWER = b'{"detail":"Request body not received in time"}'

#: What chatgpt.com and api.openai.com answer in `server` (both sit behind Cloudflare).
#: Sent on every answer so that the server underneath (granian adds its own name when
#: an answer has none) is not advertised.
SERVER_HEADER = (b"server", b"cloudflare")


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """A certificate chain and its key, in PEM files, for HTTPS (and ALPN `h2`)."""

    certfile: str
    keyfile: str


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


def server_config(
    app: Any,
    host: str,
    port: int,
    *,
    tls: TLSFiles | None = None,
    header_timeout: float = 30.0,
) -> Any:
    """The embedded granian server for `app`: HTTP/1.1 and HTTP/2 on one port,
    WebSockets on, one worker on the caller's event loop, no access log of its own
    (mockgpt writes its own) and only errors from the server itself."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import common
    from granian.server.embed import Server

    class Embedded(Server):
        """Binds its socket in `startup` (so port 0 is known at once) and hands it to the worker."""

        def _init_shared_socket(self) -> None:
            from granian._granian import ListenerSpec

            try:
                holder: Any = ListenerSpec(self.bind_addr, self.bind_port, self.backlog).build()
            except RuntimeError as error:  # granian reports bind errors so, with a backtrace
                raise OSError(str(error).splitlines()[0]) from None
            self._shd = holder
            self._sfd = holder.get_fd()
            self._ssp = None
            # The spec only binds; the worker listens later. Listen now, so that a
            # client connecting as soon as `start()` returns is queued, not refused.
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
        http=HTTPModes.auto,
        websockets=True,
        backlog=1024,
        http1_settings=HTTP1Settings(header_read_timeout=max(1, round(header_timeout * 1000))),
        log_enabled=True,
        log_level=LogLevels.error,
        log_access=False,
        ssl_cert=Path(tls.certfile) if tls else None,
        ssl_key=Path(tls.keyfile) if tls else None,
    )


class Guarded:
    """The served app behind two guards: a request whose body has not all arrived
    `body_timeout` seconds after its head gets 408 and its connection closed (instead of
    being held open), and every running request is known so that stopping can end them."""

    def __init__(self, app: ASGIApp, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.active: set[asyncio.Task[Any]] = set()
        self.closing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        task = current_task()
        active = self.active
        if task is not None:
            active.add(task)
        try:
            if kind != "http":
                await self.app(scope, receive, send)
            elif _has_body(scope):
                await self._with_deadline(scope, receive, _as_the_real_server(send))
            else:
                await self.app(scope, receive, _as_the_real_server(send))
        except asyncio.CancelledError:
            if not self.closing:
                raise
            # Ended by a stopping server: the connection closes, nothing to report.
        finally:
            if task is not None:
                active.discard(task)

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

    def end_all(self) -> list[asyncio.Task[Any]]:
        """Cancel every running request (the server is stopping); the tasks cancelled."""
        self.closing = True
        ended = [task for task in self.active if not task.done()]
        for task in ended:
            task.cancel()
        return ended


def _as_the_real_server(send: Send) -> Send:
    """`send` with the real service's `server` header added to the answer's head."""

    def sending(message: Message) -> Awaitable[None]:
        # A plain function handing back send's awaitable: no extra coroutine per body chunk.
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            for key, _ in headers:  # a loop, not any(): no generator per answer
                if key.lower() == b"server":
                    break
            else:
                message = {**message, "headers": [*headers, SERVER_HEADER]}
        return send(message)

    return sending


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

    def __init__(self, server: Any, guard: Guarded | None = None) -> None:
        self.server = server
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
        slow client must not hold the exit) and give the server `STOP_GRACE` to close."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        task = asyncio.create_task(self.server.serve())
        try:
            while getattr(self.server, "_shd", None) is None:
                if task.done():
                    task.result()
                    return
                await asyncio.sleep(0.002)
            self.port = _bound_port(self.server._sfd)
            if on_ready is not None:
                on_ready(self.port)
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
        finally:
            await self._wind_down(task)
        if task.done() and not task.cancelled():
            task.result()

    async def _wind_down(self, task: asyncio.Task[None]) -> None:
        if task.done():
            return
        self.server.stop()
        if self.guard is not None:
            ended = self.guard.end_all()
            if ended:
                await asyncio.wait(ended, timeout=STOP_GRACE)
        await asyncio.wait((task,), timeout=STOP_GRACE)
        if not task.done():
            task.cancel()
            await asyncio.wait((task,), timeout=STOP_GRACE)

    def stop(self) -> None:
        """Ask the server to stop; safe from any thread."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)


def _bound_port(fd: int) -> int:
    probe = socket.socket(fileno=os.dup(fd))
    try:
        port: int = probe.getsockname()[1]
    finally:
        probe.close()
    return port


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
