"""The celsius WebSocket: the user's realtime channel, where handed-off turns go on.

`GET /backend-api/celsius/ws/user` hands out `ws(s)://<host>/ws/user/<user>?verify=<unix>-<hmac>`;
the socket is accepted there, on `/p<N>/ws/user/<user>` and on
`/backend-api/celsius/ws/user/socket`, once `verify` checks out (401 before the
upgrade otherwise). Both directions send JSON arrays of items (a bare object is
taken as one item, `[]` is a keep-alive). Commands: `connect`, `subscribe`,
`unsubscribe`, `presence`. A turn topic (`conversation-turn-<turn_exchange_id>`)
answers its subscribe with `recovered: true`, the items after `offset` as
`catchups` and `last_offset`, then sends each new item live, heartbeats while
the turn makes none, and `done` after `[DONE]`. The `conversations` topic
hears `conversation-turn-complete` and `conversation-update` when turns end.

Each socket's outgoing frames go through a bounded queue, its subscriptions
are bounded, and everything it waits on ends when its client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from mockgpt import errors, tokens
from mockgpt.auth import Authority, bearer_token
from mockgpt.clock import Clock
from mockgpt.jsonparse import JsonLimits, parse_json
from mockgpt.request import Request
from mockgpt.responses import Prepared, json_response
from mockgpt.turn_topic import LOW_TTL_TOPIC, TURN_TOPIC, TurnItems, offset_index

if TYPE_CHECKING:
    from mockgpt.service import ConversationService
    from mockgpt.web_turn import Turn

#: Seconds a `verify` token stays good after it is handed out.
VERIFY_SECONDS = 3600
#: Wall seconds without an item before a live turn topic gets a heartbeat.
HEARTBEAT_SECONDS = 5.0
#: Sockets one app keeps open at once (more are refused before the upgrade).
MAX_SOCKETS = 64
#: Topics one socket may subscribe to.
MAX_SUBSCRIPTIONS = 32
#: Frames waiting to go out on one socket; a client that reads slower is closed (1013).
QUEUE_FRAMES = 256
#: The longest text frame a client may send.
MAX_FRAME_CHARS = 64 * 1024
#: Items in one client frame.
MAX_ITEMS = 64

_USER_PATH = re.compile(r"(?:/p\d{1,4})?/ws/user/(?P<user>[^/]{1,200})")
SOCKET_PATH = "/backend-api/celsius/ws/user/socket"
_BAD_VERIFY = errors.detail("Invalid or expired verify token")
_FOREIGN = errors.detail(
    "The WebSocket answers pages of its own origin only (Host or Origin names another site)."
)
_BUSY = errors.detail("Too many open WebSockets")


def socket_path(path: str) -> str | None:
    """The user id a WebSocket path names (`""` for the socket path), None if not ours."""
    if path == SOCKET_PATH:
        return ""
    found = _USER_PATH.fullmatch(path)
    return None if found is None else found.group("user")


class Celsius:
    """The WebSockets of one app: the URL they are told, and the open sockets."""

    def __init__(
        self,
        *,
        seed: int,
        clock: Clock,
        authority: Authority,
        conversations: ConversationService,
        json_limits: JsonLimits,
    ) -> None:
        self.clock = clock
        self.authority = authority
        self.conversations = conversations
        self.json_limits = json_limits
        self.user_id = authority.user_id
        self._key = hmac.new(tokens.signing_key(seed), b"celsius", "sha256").digest()
        #: Open sockets, oldest first (a dict keeps the order, so listings are stable).
        self.sockets: dict[Socket, None] = {}
        conversations.on_turn_end = self.turn_ended

    # -- the URL and its verify token ------------------------------------------------

    def verify_token(self, moment: float) -> str:
        stamp = int(moment)
        mac = hmac.new(self._key, f"{stamp}:{self.user_id}".encode(), hashlib.sha256)
        return f"{stamp}-{mac.hexdigest()}"

    def verified(self, token: str) -> bool:
        """Whether `token` is one this app signed less than `VERIFY_SECONDS` ago."""
        stamp, dash, _ = token.partition("-")
        if not dash or not stamp.isdigit() or len(stamp) > 12:
            return False
        age = self.clock.now() - int(stamp)
        if not -60 <= age <= VERIFY_SECONDS:
            return False
        expected = self.verify_token(int(stamp)).encode()
        return hmac.compare_digest(token.encode("utf-8", "replace"), expected)

    def url(self, call: Request) -> Prepared:
        """`{"websocket_url": ...}` on the host and scheme the request came by."""
        scope = call.scope
        scheme = "wss" if scope.get("scheme") == "https" else "ws"
        host = call.headers.get("host") or _server_host(scope)
        token = self.verify_token(self.clock.now())
        return json_response(
            200, {"websocket_url": f"{scheme}://{host}/ws/user/{self.user_id}?verify={token}"}
        )

    # -- accepting a socket ------------------------------------------------------------

    def refusal(self, websocket: WebSocket, user: str) -> Prepared | None:
        """The HTTP answer that refuses this upgrade, or None to accept it."""
        headers = websocket.headers
        host = headers.get("host")
        if host is not None and not _own_host(websocket.scope, host):
            return json_response(403, _FOREIGN)
        origin = headers.get("origin")
        if origin is not None and host is not None:
            scheme = "https" if websocket.scope.get("scheme") == "wss" else "http"
            if origin.strip().lower() != f"{scheme}://{host.strip().lower()}":
                return json_response(403, _FOREIGN)
        token = websocket.query_params.get("verify", "")
        if user and user != self.user_id:
            return json_response(401, _BAD_VERIFY)
        if not self.verified(token) and (user or not self._bearer_ok(websocket)):
            return json_response(401, _BAD_VERIFY)
        if len(self.sockets) >= MAX_SOCKETS:
            return json_response(503, _BUSY)
        return None

    def _bearer_ok(self, websocket: WebSocket) -> bool:
        """The socket path also takes the session's bearer token, as `/backend-api` does."""
        token = bearer_token(websocket.headers)
        return token is not None and self.authority.bearer_refusal(token) is None

    async def serve(self, scope: Any, receive: Any, send: Any) -> None:
        websocket = WebSocket(scope, receive, send)
        user = socket_path(scope["path"])
        refused = (
            json_response(404, errors.NOT_FOUND) if user is None else self.refusal(websocket, user)
        )
        if refused is not None:
            await _deny(scope, send, refused)
            return
        socket = Socket(self, websocket)
        self.sockets[socket] = None
        try:
            await socket.run()
        finally:
            self.sockets.pop(socket, None)

    # -- the conversations topic ---------------------------------------------------------

    def turn_ended(self, turn: Turn) -> None:
        """Tell the `conversations` subscribers that a turn is over, its async status, and
        the title the turn gave its conversation, if it gave one (see `Turn.given_title`)
        and no rename has replaced it since."""
        conversation = self.conversations.store.get(turn.conversation_id)
        status = conversation.async_status if conversation is not None else None
        title = turn.new_title
        if conversation is None or conversation.title != title:
            title = None
        payloads: list[dict[str, Any]] = [
            {
                "type": "conversation-turn-complete",
                "payload": {"conversation_id": turn.conversation_id},
            }
        ]
        if status is not None:
            payloads.append(
                {
                    "type": "conversation-update",
                    "payload": {
                        "conversation_id": turn.conversation_id,
                        "update_type": "set-conversation-async-status",
                        "update_content": {"conversation_async_status": status},
                    },
                }
            )
        if title is not None:
            payloads.append(
                {
                    "type": "conversation-update",
                    "payload": {
                        "conversation_id": turn.conversation_id,
                        "update_type": "title-update",
                        "update_content": {"title": title},
                    },
                }
            )
        for socket in list(self.sockets):
            socket.publish("conversations", payloads)

    def state(self) -> list[dict[str, Any]]:
        """What the admin API shows of the open sockets."""
        return [socket.state() for socket in self.sockets]


class Socket:
    """One open WebSocket: its commands in, its frames out through a bounded queue."""

    def __init__(self, hub: Celsius, websocket: WebSocket) -> None:
        self.hub = hub
        self.websocket = websocket
        self.outbox: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(QUEUE_FRAMES)
        #: Subscribed topics, with the task that follows each turn topic.
        self.topics: dict[str, asyncio.Task[None] | None] = {}
        self.presence = "background"
        self._seq = 0
        #: Set when the client reads slower than its frames come: the socket closes (1013).
        self.overrun = False

    def state(self) -> dict[str, Any]:
        return {
            "user": self.hub.user_id,
            "topics": sorted(self.topics),
            "presence": self.presence,
            "queued": self.outbox.qsize(),
        }

    async def run(self) -> None:
        await self.websocket.accept()
        writer = asyncio.ensure_future(self._write())
        try:
            await self._read(writer)
        finally:
            tasks: list[asyncio.Future[None]] = [writer]
            tasks += [task for task in self.topics.values() if task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled():
                    task.exception()  # a send to a client that left: nothing to report

    async def _write(self) -> None:
        websocket = self.websocket
        while True:
            frame = await self.outbox.get()
            if frame is None or self.overrun:
                return
            await websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def _read(self, writer: asyncio.Future[None]) -> None:
        websocket = self.websocket
        receive = asyncio.ensure_future(websocket.receive())
        try:
            while True:
                waiting: set[asyncio.Future[Any]] = {receive, writer}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if writer.done():
                    # The writer stopped: the client is gone, or it reads too slowly.
                    await self._close(1013 if self.overrun else 1000)
                    return
                message = receive.result()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    await self._close(1003)  # binary frames are not part of the protocol
                    return
                if len(text) > MAX_FRAME_CHARS:
                    await self._close(1009)
                    return
                try:
                    value = parse_json(text, self.hub.json_limits)
                except (ValueError, RecursionError):
                    await self._close(1007)
                    return
                replies = self._commands(value)
                if replies and not self._put(replies):
                    self.overrun = True
                    await self._close(1013)
                    return
                receive = asyncio.ensure_future(websocket.receive())
        except WebSocketDisconnect:
            return
        finally:
            receive.cancel()

    async def _close(self, code: int) -> None:
        with contextlib.suppress(RuntimeError, OSError):  # already closed
            await self.websocket.close(code)

    def _put(self, frame: list[dict[str, Any]]) -> bool:
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    # -- commands ------------------------------------------------------------------

    def _commands(self, value: Any) -> list[dict[str, Any]]:
        items = value if isinstance(value, list) else [value]
        replies: list[dict[str, Any]] = []
        for item in items[:MAX_ITEMS]:
            if not isinstance(item, dict):
                continue
            ident = item.get("id")
            command = item.get("command")
            if isinstance(command, str):
                # The 2025 flat shape: {"command": "connect", "presence": {...}}.
                command = {**item, "type": command}
                ident = None
            if not isinstance(command, dict):
                continue
            reply = self._command(command)
            if reply is None:
                continue
            if ident is None:
                replies.append(reply)
            else:
                replies.append({"id": ident, "type": "reply", "reply": reply})
        return replies

    def _command(self, command: dict[str, Any]) -> dict[str, Any] | None:
        kind = command.get("type")
        if kind == "connect":
            self._presence(command.get("presence"))
            return {"type": "connect", "subscriptions": {topic: {} for topic in self.topics}}
        if kind == "presence":
            self._presence(command.get("presence"))
            return {"type": "presence"}
        topic = command.get("topic_id")
        if kind in ("subscribe", "unsubscribe") and (
            not isinstance(topic, str) or not topic or len(topic) > 1024
        ):
            return {"type": kind, "topic_id": topic, "error": "invalid_topic"}
        if kind == "subscribe":
            assert isinstance(topic, str)
            return self._subscribe(topic, command.get("offset"))
        if kind == "unsubscribe":
            assert isinstance(topic, str)
            task = self.topics.pop(topic, None)
            if task is not None:
                task.cancel()
            return {"type": "unsubscribe", "topic_id": topic}
        return {"type": kind if isinstance(kind, str) else None, "error": "unknown_command"}

    def _presence(self, presence: Any) -> None:
        if isinstance(presence, dict) and presence.get("state") in ("background", "foreground"):
            self.presence = presence["state"]

    def _subscribe(self, topic: str, offset: Any) -> dict[str, Any]:
        if topic not in self.topics and len(self.topics) >= MAX_SUBSCRIPTIONS:
            return {"type": "subscribe", "topic_id": topic, "error": "too_many_subscriptions"}
        old = self.topics.pop(topic, None)
        if old is not None:
            old.cancel()
        turn = self._turn(topic)
        if turn is None:
            # Nothing kept to recover, but the reply has the same fields as a turn topic's.
            self.topics[topic] = None
            return {
                "type": "subscribe",
                "topic_id": topic,
                "last_offset": "0",
                "recovered": False,
                "catchups": [],
            }
        service = self.hub.conversations
        items = TurnItems(turn, lambda: service._ending(turn))
        start = offset_index(offset) + 1
        available = items.available()
        catchups = [items.message(index) for index in range(start, available)]
        over = items.over()
        if over and start <= available:
            catchups.append(items.done(available))
        last = available - 1
        reply: dict[str, Any] = {
            "type": "subscribe",
            "topic_id": topic,
            "last_offset": items.offset(last) if last >= 0 else "0",
            "recovered": True,
            "catchups": catchups,
        }
        self.topics[topic] = (
            None if over else asyncio.ensure_future(self._follow(items, max(start, available)))
        )
        return reply

    def _turn(self, topic: str) -> Turn | None:
        """The kept turn a topic names (by its exchange id, or by its conversation id)."""
        for prefix in (TURN_TOPIC, LOW_TTL_TOPIC):
            if topic.startswith(prefix):
                key = topic[len(prefix) :]
                break
        else:
            return None
        turns = self.hub.conversations.turns
        found = turns.get(key)
        if found is not None:
            return found
        return next((turn for turn in turns.values() if turn.exchange_id == key), None)

    async def _follow(self, items: TurnItems, index: int) -> None:
        """Send a live turn's items as they are made, heartbeats meanwhile, then `done`."""
        steps = items.turn.steps
        clock = self.hub.clock
        while True:
            over = items.over()
            available = items.available()
            while index < available:
                await self.outbox.put([items.message(index)])
                index += 1
            if over:
                await self.outbox.put([items.done(index)])
                return
            changed = asyncio.ensure_future(steps.changed().wait())
            try:
                await asyncio.wait({changed}, timeout=HEARTBEAT_SECONDS)
            finally:
                changed.cancel()
            if not changed.done() or changed.cancelled():
                now_ms = int(clock.now() * 1000)
                await self.outbox.put([items.heartbeat(now_ms, index - 1)])

    def publish(self, topic: str, payloads: list[dict[str, Any]]) -> None:
        """Send messages on a plain topic, if this socket subscribed to it."""
        if topic not in self.topics:
            return
        frame = []
        for payload in payloads:
            self._seq += 1
            offset = f"{int(self.hub.clock.now() * 1000)}-{self._seq}"
            frame.append(
                {"type": "message", "topic_id": topic, "payload": payload, "offset": offset}
            )
        if not self._put(frame):
            # Too slow a reader: the writer stops at its next frame and the socket closes.
            self.overrun = True


def _server_host(scope: Any) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _own_host(scope: Any, host: str) -> bool:
    """Whether `Host` names this machine: localhost, an address (no DNS name can be
    rebound to one), or the name served on."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    else:
        bare, colon, port = name.rpartition(":")
        if colon and port.isdigit() and ":" not in bare:
            name = bare
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    server = scope.get("server")
    return server is not None and name == str(server[0]).strip("[]").lower()


async def _deny(scope: Any, send: Any, answer: Prepared) -> None:
    """Refuse an upgrade with an HTTP answer, where the server can send one (else 1008)."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "websocket.http.response.start",
            "status": answer.status,
            "headers": answer.headers,
        }
    )
    await send({"type": "websocket.http.response.body", "body": answer.body})


__all__ = ["Celsius", "Socket", "socket_path"]
