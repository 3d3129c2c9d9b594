"""A synchronous httpx transport that calls an ASGI app in-process, with no socket.

httpx ships `ASGITransport` for async clients only. This one runs that
transport on an event loop in a helper thread (an anyio blocking portal) so
that a plain `httpx.Client` can drive the app too: `MockGPT.client(in_process=True)`.
The response body is read whole before it is returned, as `ASGITransport` does.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal


class InProcessTransport(httpx.BaseTransport):
    """Send each request straight to `app`, on a private event loop."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None

    def _started(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None:
                stack = contextlib.ExitStack()
                self._portal = stack.enter_context(start_blocking_portal())
                self._stack = stack
            return self._portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a sync body becomes bytes the async transport can stream

        async def call() -> httpx.Response:
            answer = await self._asgi.handle_async_request(request)
            body = await answer.aread()
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=body, request=request
            )

        return self._started().call(call)

    def close(self) -> None:
        with self._lock:
            if self._stack is not None:
                self._stack.close()
            self._stack = None
            self._portal = None
