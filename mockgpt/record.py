"""Recording: a proxy in front of the real service that writes what it sees as fixtures.

`mockgpt record --upstream URL --out DIR` serves `RecordingProxy`: clients point
at it as they point at the mock, every request goes on to the upstream with the
client's own headers and body, and every answer comes back as it arrives, a
stream chunk by chunk. Each finished exchange is kept (in memory, bounded) and
the folder is rewritten from all of them with one `Sanitiser`, so a value
learned late (a name in the tenth answer) is replaced in the first file too:

* `recording/NNN.json`: the exchange, what `replay` answers from (a stream as
  its events, each with the milliseconds since the one before);
* the route's fixture file (the first JSON answer of each), as `har import`
  writes it, for `serve --fixtures DIR` to serve the same documents;
* `scripts/turn-NNN.json` and `scripts/turns.json`: conversation streams as
  scripts, to replay through the mock's own engine with `--script`.

Credentials only pass through: the headers a client sends are forwarded, and
nothing is written before the sanitiser has replaced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from mockgpt.controller import ADMIN_PREFIX, MockGPT
from mockgpt.framing import SSEReader
from mockgpt.recorded import (
    KEPT_ANSWER_BYTES,
    KEPT_REQUEST_BYTES,
    Recorded,
    RecordedEvent,
    RecordingWriter,
)

log = logging.getLogger("mockgpt.record")

#: Headers that belong to one connection, not to the request or answer (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "http2-settings",
    }
)
#: Exchanges one recording keeps; later ones are passed through only.
MAX_EXCHANGES = 2000
#: Bytes of bodies one recording keeps in memory; later exchanges are passed through only.
MAX_RECORDED_BYTES = 512 * 1024 * 1024
#: Request bodies the proxy takes at most (past it: 413, as the mock answers).
MAX_BODY_BYTES = 64 * 1024 * 1024


def _trusting(cafile: str) -> ssl.SSLContext:
    """A TLS context that trusts `cafile` (a ValueError, at start, when it cannot be read)."""
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"cannot read the CA file {cafile}: {error}") from None


class RecordingProxy:
    """The recording proxy as an ASGI app (a Starlette app, for its lifespan)."""

    def __init__(
        self,
        upstream: str,
        out: str | Path,
        *,
        seed: int = 0,
        hosts: tuple[str, ...] = (),
        verify: str | bool = True,
        max_exchanges: int = MAX_EXCHANGES,
    ) -> None:
        self.upstream = httpx.URL(upstream.rstrip("/"))
        if self.upstream.scheme not in ("http", "https") or not self.upstream.host:
            raise ValueError(f"upstream must be an http:// or https:// URL, not {upstream!r}")
        self.writer = RecordingWriter(out, seed=seed)
        self.recorded: list[Recorded] = []
        self.max_exchanges = max_exchanges
        named = {h.strip("[]").lower() for h in hosts} - {"0.0.0.0", "::", ""}
        self.hosts = {"localhost", "127.0.0.1", "::1", *named}
        self._verify: ssl.SSLContext | bool = (
            verify if isinstance(verify, bool) else _trusting(verify)
        )
        self._client: httpx.AsyncClient | None = None
        self._lock = threading.Lock()
        self._dirty = False
        self._kept_bytes = 0
        self._writing: asyncio.Task[None] | None = None
        self.app = Starlette(routes=[Mount("", app=self._forward)], lifespan=self._lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # not recorded
            return
        await self.app(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        yield
        await self.aclose()

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            try:
                import h2  # noqa: F401

                http2 = True
            except ImportError:  # HTTP/1.1 only, as the web client also speaks
                http2 = False
            self._client = httpx.AsyncClient(
                http2=http2,
                verify=self._verify,
                timeout=httpx.Timeout(30.0, read=None),
                follow_redirects=False,
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.flush()

    def flush(self) -> list[str]:
        """Write the folder now from everything recorded (also done after each exchange)."""
        with self._lock:
            self._dirty = False
            return self.writer.write(list(self.recorded))

    async def _save_soon(self) -> None:
        """Rewrite the folder off the event loop; exchanges that finish meanwhile wait for
        the next pass instead of starting one each."""
        self._dirty = True
        if self._writing is not None and not self._writing.done():
            return

        async def loop() -> None:
            while self._dirty:
                try:
                    await asyncio.to_thread(self.flush)
                except Exception:
                    log.exception("could not write the recording")
                    return

        self._writing = asyncio.ensure_future(loop())

    # -- forwarding ------------------------------------------------------------------

    def _refusal(self, scope: Scope) -> bytes | None:
        for key, value in scope["headers"]:
            if key == b"host":
                name = _host_name(value.decode("latin-1"))
                if name not in self.hosts:
                    return b'{"detail":"Unknown host"}'
            elif (key == b"sec-fetch-site" and value.strip().lower() == b"cross-site") or (
                key == b"origin" and _origin_name(value.decode("latin-1")) not in self.hosts
            ):
                return b'{"detail":"Cross-site requests are not recorded"}'
        return None

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope)
        if refusal is not None:
            await _answer(send, 403, refusal)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _answer(send, 413, b'{"detail":"Request body too large"}')
                return
            if not message.get("more_body", False):
                break
        path = scope.get("raw_path") or scope["path"].encode()
        if isinstance(path, bytes):
            path = path.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1") not in HOP_BY_HOP and k not in (b"host", b"content-length")
        ]
        # Identity, so a stream arrives event by event and the recording can read it.
        headers = [(k, v) for k, v in headers if k != "accept-encoding"]
        headers.append(("accept-encoding", "identity"))
        recorded = Recorded(
            scope["method"],
            unquote(path.split("?", 1)[0]),
            query,
            headers,
            bytes(body) if len(body) <= KEPT_REQUEST_BYTES else None,
        )
        url = self.upstream.copy_with(
            raw_path=(self.upstream.raw_path.rstrip(b"/") + path.encode("latin-1"))
            + (b"?" + query.encode("latin-1") if query else b"")
        )
        client = self.client()
        request = client.build_request(scope["method"], url, headers=headers, content=bytes(body))
        started = time.perf_counter()
        exchange = asyncio.ensure_future(self._exchange(client, request, recorded, started, send))
        watch = asyncio.ensure_future(_hung_up(receive))
        try:
            # Waiting for the upstream's head or its next chunk ends when the client leaves.
            await asyncio.wait((exchange, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (exchange, watch):
                task.cancel()
            await asyncio.gather(exchange, watch, return_exceptions=True)
        if recorded.status:
            self._keep(recorded)  # a stream cut short by its client, kept as far as it went
            await self._save_soon()

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        recorded: Recorded,
        started: float,
        send: Send,
    ) -> None:
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as error:
            detail = json.dumps({"detail": f"upstream unreachable: {type(error).__name__}"})
            await _answer(send, 502, detail.encode())
            return
        try:
            await self._pump(response, recorded, started, send)
        finally:
            await response.aclose()

    def _keep(self, recorded: Recorded) -> None:
        size = len(recorded.body) + len(recorded.request_body or b"")
        if recorded.kept or len(self.recorded) >= self.max_exchanges:
            return
        if self._kept_bytes + size > MAX_RECORDED_BYTES:
            return  # passed through, not recorded: the recording is full
        recorded.kept = True
        self._kept_bytes += size
        self.recorded.append(recorded)

    async def _pump(
        self, response: httpx.Response, recorded: Recorded, started: float, send: Send
    ) -> None:
        recorded.status = response.status_code
        recorded.http_version = response.http_version
        out: list[tuple[bytes, bytes]] = []
        for name, value in response.headers.multi_items():
            lowered = name.lower()
            if lowered in HOP_BY_HOP:
                continue
            recorded.response_headers.append((lowered, value))
            out.append((lowered.encode("latin-1"), value.encode("latin-1")))
        stream = recorded.media == "text/event-stream"
        reader = SSEReader() if stream else None
        if stream:
            recorded.events = []
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        last = started
        first: float | None = None
        whole = True
        try:
            async for chunk in response.aiter_raw():
                now = time.perf_counter()
                if first is None:
                    first = now
                if len(recorded.body) + len(chunk) > KEPT_ANSWER_BYTES:
                    recorded.too_long = True
                elif not recorded.too_long:
                    recorded.body += chunk
                if reader is not None and recorded.events is not None:
                    for kind, data in reader.feed(chunk):
                        event = RecordedEvent((now - last) * 1000, kind or None, data)
                        recorded.events.append(event)
                        last = now
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError:
            whole = False  # the upstream dropped the connection: so does the proxy, below
        end = time.perf_counter()
        if whole and reader is not None and recorded.events is not None:
            for kind, data in reader.close():
                recorded.events.append(RecordedEvent((end - last) * 1000, kind or None, data))
        recorded.wait_ms = ((first or end) - started) * 1000
        recorded.receive_ms = (end - (first or end)) * 1000
        recorded.complete = whole
        # Kept before the answer ends: a server stopped right after it must not lose it.
        self._keep(recorded)
        if whole:
            await send({"type": "http.response.body", "body": b""})
        # else: returning with the body unfinished makes the server drop the connection


async def _hung_up(receive: Receive) -> None:
    message: Message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _origin_name(origin: str) -> str | None:
    """The host name of an `Origin` header (None for `null` or one that is no URL)."""
    try:
        return urlsplit(origin.strip()).hostname
    except ValueError:
        return None


def _host_name(host: str) -> str:
    """The name in a `Host` header, without its port or IPv6 brackets, lowercase."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() and ":" not in name else host


def recorder(upstream: str, out: str | Path, config: Any = None, *, seed: int = 0) -> Any:
    """A `MockGPT` whose requests (all but the admin API's) go through a recording proxy to
    `upstream`, for the pytest fixture's record mode; `stop()` writes the folder."""

    class Recorder(MockGPT):
        def __init__(self) -> None:
            super().__init__(config)
            self.proxy = RecordingProxy(upstream, out, seed=seed)

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith(ADMIN_PREFIX):
                await self.admin(scope, receive, send)
                return
            await self.proxy(scope, receive, send)

        def stop(self) -> None:
            super().stop()
            self.proxy.flush()

    return Recorder()
