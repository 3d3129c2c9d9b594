"""A synchronous httpx transport that calls an ASGI app in-process, with no socket.

httpx ships `ASGITransport` for async clients only. This one runs that
transport on an event loop in a daemon thread of its own, so that a plain
`httpx.Client` can drive the app too: `MockGPT.client(in_process=True)`. A
client that is never closed does not keep the interpreter from exiting. The
response body is read whole before it is returned, as `ASGITransport` does.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import httpx


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
    if not loop.is_running() and not loop.is_closed():
        loop.close()


class InProcessTransport(httpx.BaseTransport):
    """Send each request straight to `app`, on a private event loop."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: weakref.finalize[Any, InProcessTransport] | None = None

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="mockgpt-in-process", daemon=True
                )
                thread.start()
                self._loop = loop
                self._closer = weakref.finalize(self, _stop, loop, thread)
            return self._loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a sync body becomes bytes the async transport can stream

        async def call() -> httpx.Response:
            answer = await self._asgi.handle_async_request(request)
            body = await answer.aread()
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=body, request=request
            )

        return asyncio.run_coroutine_threadsafe(call(), self._started()).result()

    def close(self) -> None:
        with self._lock:
            if self._closer is not None:
                self._closer()
            self._closer = None
            self._loop = None
