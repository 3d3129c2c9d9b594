"""HTTP/1.1 on uvicorn's httptools protocol, with the three things mockgpt adds to it.

- A request that offers an upgrade mockgpt declines (`Connection: Upgrade`,
  `Upgrade: h2c`, as chat2api-style clients send on every request) keeps its
  body. llhttp stops at the end of such a request's head and calls the message
  complete, so stock uvicorn hands the app an empty body; here the head is
  parsed again without its `Upgrade` header and the body is read as HTTP/1.1
  says, while the app still sees every header as sent. WebSocket upgrades go
  to uvicorn's WebSocket protocol as usual.
- A head must arrive within `header_timeout` seconds of its first byte (or of
  the connection): a client that stops half-way is disconnected, not waited on.
- HTTP/2 (the preface of prior knowledge in cleartext, or ALPN `h2` over TLS)
  is handed to the `bridge` (`mockgpt.bridge`): this protocol speaks HTTP/1.1
  only.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar, Protocol

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: What a client speaking HTTP/2 with prior knowledge sends first.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class HandOver(Protocol):
    """Where HTTP/2 connections go (`mockgpt.bridge.Bridge`)."""

    def take(self, transport: asyncio.Transport, data: bytes, client: Any) -> None: ...


class Http1(HttpToolsProtocol):
    """uvicorn's httptools protocol with declined upgrades' bodies kept, a header read
    timeout, and HTTP/2 connections handed over."""

    #: What TLS offers in ALPN (uvicorn's `Config.load` reads it to make the context).
    alpn_protocols: ClassVar[list[str]] = ["h2", "http/1.1"]

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        bridge: HandOver | None = None,
        header_timeout: float = 30.0,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.bridge = bridge
        self.header_timeout = header_timeout
        self._head_began: float | None = None  # loop time of a head not yet complete
        self._watch: asyncio.TimerHandle | None = None
        self._first = b""  # the first bytes, while they may still be HTTP/2's preface
        self._fresh = True
        self._declined: list[tuple[bytes, bytes]] | None = None
        self._declined_line: tuple[bytes, str] = (b"GET", "1.1")

    # -- connection --------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.bridge is not None and self.scheme == "https":
            tls = transport.get_extra_info("ssl_object")
            if tls is not None and tls.selected_alpn_protocol() == "h2":
                self._hand_over(b"")
                return
        self._head_began = self.loop.time()
        self._watch = self.loop.call_later(self.header_timeout, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watch()
        super().connection_lost(exc)

    def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _check_head(self) -> None:
        """One timer per connection: it closes a connection whose head is overdue and
        otherwise looks again when the head now being read would be."""
        if self.transport.is_closing():
            self._watch = None
            return
        began = self._head_began
        now = self.loop.time()
        if began is not None and now - began >= self.header_timeout:
            self._watch = None
            self.transport.close()
            return
        wait = self.header_timeout if began is None else began + self.header_timeout - now
        self._watch = self.loop.call_later(wait, self._check_head)

    def handle_websocket_upgrade(self) -> None:
        self._stop_watch()  # the connection is the WebSocket protocol's from here
        super().handle_websocket_upgrade()

    def _hand_over(self, data: bytes) -> None:
        self._stop_watch()
        self.connections.discard(self)
        assert self.bridge is not None
        self.bridge.take(self.transport, data, self.client)

    # -- bytes in ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._fresh:
            data = self._first + data
            if len(data) < len(PREFACE) and PREFACE.startswith(data):
                self._first = data  # too short to tell yet
                return
            self._fresh, self._first = False, b""
            if self.bridge is not None and data.startswith(PREFACE):
                self._hand_over(data)
                return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade as upgrade:
            if self._declined is None:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                return
            self._parse_again(data[upgrade.args[0] :] if upgrade.args else b"")

    def _parse_again(self, rest: bytes) -> None:
        """The declined upgrade's head, without `Upgrade`, then what followed it, through a
        new parser (llhttp's stays paused after an upgrade)."""
        assert self._declined is not None
        method, version = self._declined_line
        head = [method, b" ", self.url, b" HTTP/", version.encode("ascii"), b"\r\n"]
        for name, value in self._declined:
            if name != b"upgrade":
                head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools before 0.6.3 lacks it
            parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.parser = parser
        self.data_received(b"".join(head) + rest)

    # -- parser callbacks --------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_began is None:
            self._head_began = self.loop.time()

    def on_headers_complete(self) -> None:
        self._head_began = None
        parser = self.parser
        if parser.should_upgrade() and not self._should_upgrade():
            self._declined = list(self.headers)
            self._declined_line = (parser.get_method(), parser.get_http_version())
            return
        declined = self._declined
        if declined is not None:
            self._declined = None
            self.headers[:] = declined  # the app sees the headers as the client sent them
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._declined is None:
            super().on_message_complete()
