"""The parts of one app that handlers use, and the `Call` a handler receives.

`Parts` names what a handler may reach (the store, the renderer, `/v1`, ...)
as a protocol, so handlers depend on these parts and not on the ASGI app that
routes to them; `MockApp` provides them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from starlette.datastructures import Headers
from starlette.types import Scope

from mockgpt.catalogue import Route

if TYPE_CHECKING:  # named for types only: loading this module loads no service
    from mockgpt.auth import Authority
    from mockgpt.celsius import Celsius
    from mockgpt.clock import Clock
    from mockgpt.config import Config
    from mockgpt.files import FileStore
    from mockgpt.platform import Platform
    from mockgpt.render import Renderer
    from mockgpt.responses_api.service import ResponsesAPI
    from mockgpt.service import ConversationService


class Parts(Protocol):
    """What a handler may use of the app that routed its request."""

    config: Config
    renderer: Renderer
    clock: Clock
    authority: Authority
    conversations: ConversationService
    files: FileStore
    platform: Platform
    celsius: Celsius

    @property
    def responses_api(self) -> ResponsesAPI: ...


@dataclass(slots=True)
class Call:
    """One request, as a handler sees it."""

    app: Parts
    route: Route
    scope: Scope
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    json: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


#: What a route kind does with a call: a response, or a stream.
Handler = Callable[[Call], Awaitable[Any]]
