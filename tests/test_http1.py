"""The HTTP/1.1 protocol's own parts, driven without a socket: what it leaves running."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState

from mockgpt import Config, create_app
from mockgpt.http1 import Http1
from mockgpt.server import server_config

UPGRADE = (
    b"GET /ws/user/u HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.protocol: Any = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 80), "peername": ("127.0.0.1", 5000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _protocol(loop: asyncio.AbstractEventLoop, header_timeout: float = 30.0) -> Http1:
    config = server_config(create_app(Config(clock="virtual")), "127.0.0.1", 0).config
    config.load()
    return Http1(
        config=config, server_state=ServerState(), app_state={}, _loop=loop,
        header_timeout=header_timeout,
    )  # fmt: skip


def test_a_websocket_upgrade_leaves_no_head_timer_behind() -> None:
    async def upgrade() -> tuple[Http1, _Transport]:
        loop = asyncio.get_running_loop()
        protocol, transport = _protocol(loop), _Transport()
        protocol.connection_made(transport)
        assert protocol._watch is not None  # the head is being waited for
        protocol.data_received(UPGRADE)
        return protocol, transport

    protocol, transport = asyncio.run(upgrade())
    assert transport.protocol is not None
    assert transport.protocol is not protocol  # handed to the WebSocket protocol
    assert protocol._watch is None


def test_a_head_that_never_completes_closes_its_connection() -> None:
    async def stall() -> _Transport:
        loop = asyncio.get_running_loop()
        protocol, transport = _protocol(loop, header_timeout=0.05), _Transport()
        protocol.connection_made(transport)
        protocol.data_received(b"GET /backend-api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(200):  # polls the loop's own timer, bounded
            if transport.closed:
                break
            await asyncio.sleep(0.01)
        return transport

    assert asyncio.run(stall()).closed
