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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from mockgpt.framing import SSEReader
from mockgpt.har import Exchange, RouteIndex, Sanitiser, script_from_stream
from mockgpt.jsonfmt import dumpb

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
#: Answer headers a recording keeps: what a client reads besides the body.
KEPT_HEADERS = ("content-type", "retry-after", "openai-model", "openai-processing-ms")
_KEPT_PREFIXES = ("x-ratelimit-",)
#: Request bodies longer than this are forwarded but not written (uploads).
KEPT_REQUEST_BYTES = 1024 * 1024
#: Answers longer than this are passed through but not written.
KEPT_ANSWER_BYTES = 16 * 1024 * 1024
#: Exchanges one recording keeps; later ones are passed through only.
MAX_EXCHANGES = 2000
#: Bytes of bodies one recording keeps in memory; later exchanges are passed through only.
MAX_RECORDED_BYTES = 512 * 1024 * 1024
#: Request bodies the proxy takes at most (past it: 413, as the mock answers).
MAX_BODY_BYTES = 64 * 1024 * 1024
RECORDING = "recording"


@dataclass(slots=True)
class RecordedEvent:
    """One server-sent event and the milliseconds since the one before (or the request)."""

    gap_ms: float
    name: str | None
    data: str


@dataclass(slots=True)
class Recorded:
    """One exchange as the proxy saw it, before sanitising."""

    method: str
    path: str
    query: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status: int = 0
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    events: list[RecordedEvent] | None = None
    #: Milliseconds from sending the request to the first byte, and from there to the last.
    wait_ms: float = 0.0
    receive_ms: float = 0.0
    complete: bool = False
    too_long: bool = False
    kept: bool = False
    #: The protocol the upstream answered in (`HTTP/1.1`, `HTTP/2`); not written.
    http_version: str = ""

    @property
    def media(self) -> str:
        for name, value in self.response_headers:
            if name == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return ""

    def text(self) -> str | None:
        if self.too_long:
            return None
        try:
            return bytes(self.body).decode("utf-8")
        except UnicodeDecodeError:
            return None

    def exchange(self, index: int) -> Exchange:
        """The exchange as the HAR tools know it, for the sanitiser and the drift check."""
        request_text = None
        if self.request_body is not None:
            with contextlib.suppress(UnicodeDecodeError):
                request_text = self.request_body.decode("utf-8")
        request_mime = next(
            (
                v.split(";", 1)[0].strip().lower()
                for k, v in self.request_headers
                if k == "content-type"
            ),
            "",
        )
        return Exchange(
            index=index,
            method=self.method,
            url=self.path + (f"?{self.query}" if self.query else ""),
            path=self.path,
            query=tuple(parse_qsl(self.query, keep_blank_values=True)),
            request_headers=tuple(self.request_headers),
            request_cookies=(),
            request_mime=request_mime,
            request_text=request_text,
            status=self.status,
            response_headers=tuple(self.response_headers),
            response_cookies=(),
            response_mime=self.media,
            response_text=self.text(),
            wait_ms=self.wait_ms,
            receive_ms=self.receive_ms,
        )


def _trusting(cafile: str) -> ssl.SSLContext:
    """A TLS context that trusts `cafile` (a ValueError, at start, when it cannot be read)."""
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"cannot read the CA file {cafile}: {error}") from None


def _kept_header(name: str) -> bool:
    return name in KEPT_HEADERS or name.startswith(_KEPT_PREFIXES)


def _pretty(value: Any) -> bytes:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace")


class RecordingWriter:
    """Writes a folder from the exchanges recorded so far, all sanitised with one `Sanitiser`."""

    def __init__(self, out: str | Path, *, seed: int = 0) -> None:
        self.root = Path(out)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.seed = seed
        self._written: set[str] = set()
        self._clear_previous()

    def _clear_previous(self) -> None:
        """A new recording replaces an older one in the same folder, file by file."""
        manifest = self.root / RECORDING / "files.json"
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            listed = []
        for relative in [*listed, f"{RECORDING}/files.json"] if isinstance(listed, list) else []:
            if isinstance(relative, str):
                target = (self.root / relative).resolve()
                if target.is_relative_to(self.root) and target.is_file():
                    target.unlink()

    def write(self, recorded: list[Recorded]) -> list[str]:
        """Rewrite the folder from `recorded`; the paths written, relative to the folder."""
        from mockgpt.catalogue import load_catalogue
        from mockgpt.scripts import Script, ScriptError

        sanitiser = Sanitiser(self.seed)
        exchanges = [item.exchange(index) for index, item in enumerate(recorded)]
        for item, exchange in zip(recorded, exchanges, strict=True):
            sanitiser.learn_exchange(exchange)
            for event in item.events or ():
                for value in _json_values(event.data):
                    sanitiser.learn_json(value)
                sanitiser.learn_text(event.data)
        files: dict[str, bytes] = {}
        index = RouteIndex(load_catalogue())
        scripts: list[dict[str, Any]] = []
        for number, (item, exchange) in enumerate(zip(recorded, exchanges, strict=True), 1):
            route = index.match(item.method, item.path)
            document = _exchange_document(item, sanitiser)
            if route is not None:
                document["route"] = route.key
            files[f"{RECORDING}/{number:03d}.json"] = _pretty(document)
            if route is None or not 200 <= item.status < 300:
                continue
            if item.events is not None:
                if route.kind == "conversation_resume":
                    continue
                script = script_from_stream(
                    "".join(_sse(event) for event in item.events),
                    wait_ms=item.wait_ms,
                    receive_ms=item.receive_ms,
                    openai=route.platform,
                )
                if script is None:
                    continue
                try:
                    clean = Script.from_dict(_clean_script(script, sanitiser)).to_dict()
                except ScriptError:
                    continue
                scripts.append(clean)
                files[f"scripts/turn-{len(scripts):03d}.json"] = _pretty(clean)
                continue
            try:
                spec = route.response(item.status)
            except KeyError:
                continue
            text = exchange.response_text
            if spec.fixture is None or spec.fixture in files or text is None or not spec.is_json:
                continue
            try:
                files[spec.fixture] = _pretty(sanitiser.json(json.loads(text)))
            except (ValueError, RecursionError):
                continue
        if scripts:
            files["scripts/turns.json"] = _pretty(scripts)
        for relative, data in files.items():
            self._put(relative, data)
        for stale in self._written - files.keys():
            with contextlib.suppress(OSError):
                self._inside(stale).unlink()
        self._written = set(files)
        self._put(f"{RECORDING}/files.json", _pretty(sorted(files)))
        return sorted(files)

    def _inside(self, relative: str) -> Path:
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            raise ValueError(f"refusing to write {relative!r} outside {self.root}")
        return target

    def _put(self, relative: str, data: bytes) -> None:
        target = self._inside(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._inside(relative)  # again, now that the folders exist
        temporary = target.with_name(target.name + ".part")
        temporary.write_bytes(data)
        temporary.replace(target)


def _json_values(text: str) -> list[Any]:
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):
        return []


def _sse(event: RecordedEvent) -> str:
    head = f"event: {event.name}\n" if event.name else ""
    lines = "".join(f"data: {line}\n" for line in event.data.split("\n"))
    return f"{head}{lines}\n"


def _clean_script(script: dict[str, Any], sanitiser: Sanitiser) -> dict[str, Any]:
    """The script with secrets replaced; chunks stay only if they still join to its text."""
    chunks = script.pop("chunks", None)
    clean: dict[str, Any] = sanitiser.json(script)
    text = clean.get("text")
    if isinstance(chunks, list) and isinstance(text, str):
        pieces = [sanitiser.text(piece) for piece in chunks]
        if "".join(pieces) == text and all(pieces):
            clean["chunks"] = pieces
    return clean


def _exchange_document(item: Recorded, sanitiser: Sanitiser) -> dict[str, Any]:
    """One exchange as `recording/NNN.json` holds it, every string sanitised."""
    request_text = None
    if item.request_body is not None:
        with contextlib.suppress(UnicodeDecodeError):
            request_text = item.request_body.decode("utf-8")
    document: dict[str, Any] = {
        "method": item.method,
        "path": sanitiser.text(item.path),
        "query": sanitiser.text(item.query),
        "request": _clean_body(request_text, sanitiser),
        "status": item.status,
        "headers": {
            name: sanitiser.text(value)
            for name, value in item.response_headers
            if _kept_header(name)
        },
        "complete": item.complete,
    }
    if item.events is not None:
        document["events"] = [
            {
                "gap_ms": round(event.gap_ms, 3),
                **({"event": event.name} if event.name else {}),
                "data": _clean_body(event.data, sanitiser),
            }
            for event in item.events
        ]
    else:
        document["body"] = _clean_body(item.text(), sanitiser)
    return document


def _clean_body(text: str | None, sanitiser: Sanitiser) -> str | None:
    """A body sanitised as JSON where it is JSON (keys name what to replace whole), else as text;
    written back in its own compact form, not re-indented."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return sanitiser.text(text)
    return dumpb(sanitiser.json(value)).decode("utf-8")


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

    async def settled(self) -> None:
        """Wait until everything recorded so far is written."""
        while self._writing is not None and not self._writing.done():
            await asyncio.shield(self._writing)

    # -- forwarding ------------------------------------------------------------------

    def _refusal(self, scope: Scope) -> bytes | None:
        for key, value in scope["headers"]:
            if key == b"host":
                name = _host_name(value.decode("latin-1"))
                if name not in self.hosts:
                    return b'{"detail":"Unknown host"}'
            elif key == b"sec-fetch-site" and value.strip().lower() == b"cross-site":
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
    from mockgpt.controller import ADMIN_PREFIX, MockGPT

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
