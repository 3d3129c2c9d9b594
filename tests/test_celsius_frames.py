"""The celsius WebSocket's server frames, byte for byte where captures show them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.testclient import TestClient
from support import make_config
from test_conversation import AUTH, parse, turn_body

from mockgpt import MockGPT

#: The key order of a server `message` in the 2026 captures.
MESSAGE_KEYS = ["type", "topic_id", "payload", "offset"]


def _kind(message: dict[str, Any]) -> str:
    """`stream-item`, `heartbeat` or `done` on a turn topic; the payload's type elsewhere."""
    inner = message["payload"]
    if inner["type"] == "conversation-turn-stream":
        return str(inner["payload"]["type"])
    return str(inner["type"])


def test_every_message_on_every_topic_has_the_captured_key_order() -> None:
    mock = MockGPT(make_config(0, sample_conversations=0))
    mock.reply(text="One two three four five.", handoff=True)
    with TestClient(mock) as client:
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        parts = urlsplit(url)
        with client.websocket_connect(f"{parts.path}?{parts.query}") as socket:
            command = {"type": "subscribe", "topic_id": "conversations", "offset": "0"}
            socket.send_text(json.dumps([{"id": 1, "command": command}]))
            socket.receive_text()
            raw = client.post("/backend-api/conversation", json=turn_body(v1=True), headers=AUTH)
            handoff = json.loads(parse(raw.content)[-2][1])
            topic = handoff["options"][1]["topic_id"]
            command = {"type": "subscribe", "topic_id": topic, "offset": "0"}
            socket.send_text(json.dumps([{"id": 2, "command": command}]))
            messages: list[dict[str, Any]] = []
            kinds: set[str] = set()
            for _ in range(100):  # frames, far more than this turn makes
                if {"done", "conversation-turn-complete"} <= kinds:
                    break
                for item in json.loads(socket.receive_text()):
                    found = item["reply"].get("catchups", []) if "reply" in item else [item]
                    messages += found
                    kinds |= {_kind(message) for message in found}
    assert {"stream-item", "done", "conversation-turn-complete"} <= kinds
    assert [list(message) for message in messages] == [MESSAGE_KEYS] * len(messages)
