"""The route kinds of the Responses API, embeddings and Codex (merged into `HANDLERS`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mockgpt.embeddings import create_embeddings

if TYPE_CHECKING:
    from mockgpt.state import Call


async def responses_create(call: Call) -> Any:
    return await call.app.responses_api.create(call)


async def responses_get(call: Call) -> Any:
    return call.app.responses_api.retrieve(call)


async def responses_delete(call: Call) -> Any:
    return call.app.responses_api.delete(call)


async def responses_cancel(call: Call) -> Any:
    return call.app.responses_api.cancel(call)


async def responses_input_items(call: Call) -> Any:
    return call.app.responses_api.input_items(call)


async def responses_input_tokens(call: Call) -> Any:
    return call.app.responses_api.input_tokens(call)


async def codex_responses(call: Call) -> Any:
    return await call.app.responses_api.codex(call)


HANDLERS: dict[str, Callable[[Call], Awaitable[Any]]] = {
    "responses_create": responses_create,
    "responses_get": responses_get,
    "responses_delete": responses_delete,
    "responses_cancel": responses_cancel,
    "responses_input_items": responses_input_items,
    "responses_input_tokens": responses_input_tokens,
    "codex_responses": codex_responses,
    "embeddings": create_embeddings,
}
