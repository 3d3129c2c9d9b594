"""What a service reads of one request, without the app around it.

The services below the handlers (the conversation service, `/v1`, the
Responses API) take a `Request`; the handlers pass their `Call`, which has
these fields and the app's parts besides. Keeping the app out of this type is
what lets the services sit below the app without importing it.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.datastructures import Headers
from starlette.types import Scope

from mockgpt.catalogue import Route


class Request(Protocol):
    """One routed, checked request."""

    route: Route
    scope: Scope
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    json: Any
    extra: dict[str, Any]
