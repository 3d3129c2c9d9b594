"""Routes 2025-26 web and Codex clients call besides the turn: the ones whose answer
depends on the request or the store (the rest are plain fixtures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockgpt.responses import Prepared, json_response

if TYPE_CHECKING:
    from mockgpt.state import Call, Handler


def _number(query: dict[str, list[str]], name: str, default: int) -> int:
    # the catalogue's query schema has already refused what is not a whole number
    values = query.get(name)
    return int(values[-1]) if values else default


async def prompt_library(call: Call) -> Prepared:
    """The starter prompts, one page at `offset`/`limit` as the client asks."""
    document = call.app.renderer.document(call.route.documented.fixture or "")
    items = document["items"]
    offset = _number(call.query, "offset", 0)
    limit = _number(call.query, "limit", 4)
    document.update(items=items[offset : offset + limit], total=len(items))
    document.update(limit=limit, offset=offset)
    return json_response(200, document)


async def conversations_batch(call: Call) -> Prepared:
    """Several conversations at once, in the order asked; ids the store lacks are left out."""
    service = call.app.conversations
    body: dict[str, Any] = call.json if isinstance(call.json, dict) else {}
    found = []
    for conversation_id in body.get("conversation_ids", []):
        conversation = service.store.get(str(conversation_id))
        if conversation is not None:
            found.append(service.store.detail(service.sync(conversation)))
    return json_response(200, found)


async def gizmo_conversations(call: Call) -> Prepared:
    """The conversations held in one GPT or project, newest first: the stored ones made
    in it, then the ones the fixture world has there (as `GET /gizmos/{id}` shows them)."""
    gizmo_id = call.params["gizmo_id"]
    store = call.app.conversations.store
    call.app.conversations.sync_live()
    document = call.app.renderer.document(call.route.documented.fixture or "")
    stored = [store.item(c) for c in store.visible() if c.gizmo_id == gizmo_id]
    seen = {item["id"] for item in stored}
    world = [
        item
        for item in document["items"]
        if item.get("gizmo_id") == gizmo_id and item["id"] not in seen
    ]
    document["items"] = stored + world
    return json_response(200, document)


MORE_HANDLERS: dict[str, Handler] = {
    "prompt_library": prompt_library,
    "conversations_batch": conversations_batch,
    "gizmo_conversations": gizmo_conversations,
}
