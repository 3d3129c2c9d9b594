"""Behaviour kinds: what a route does once routing and checks have passed.

`HANDLERS` maps each catalogue `kind` to one coroutine; the app refuses to
start when a catalogue kind has no handler.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockgpt import tokens
from mockgpt.auth import bearer_token
from mockgpt.catalogue import Route
from mockgpt.file_routes import FILE_HANDLERS
from mockgpt.message_text import message_text
from mockgpt.more_routes import MORE_HANDLERS
from mockgpt.replies import generate_title, suggestions
from mockgpt.responses import Prepared, json_response
from mockgpt.responses_api.handlers import HANDLERS as RESPONSES_HANDLERS

if TYPE_CHECKING:
    from mockgpt.state import Call, Handler, Parts


# -- auth ----------------------------------------------------------------------


def _unauthorized(app: Parts, route: Route, body: dict[str, Any], token: str | None) -> Prepared:
    if route.platform:
        return app.platform.unauthorized(token)
    return json_response(401, body)


def auth_failure(app: Parts, route: Route, headers: Headers) -> Prepared | None:
    """The 401 answer when the request lacks what the route's auth rule needs, else None.

    Under the `lenient` policy any bearer value passes; under `strict` only a
    live token the mock signed. Anonymous routes also take an `OAI-Device-Id`.
    """
    rule = route.auth
    if rule in ("none", "account"):
        return None
    token = bearer_token(headers)
    if token is None and rule == "device" and headers.get("oai-device-id", "").strip():
        return None
    refusal = app.authority.bearer_refusal(token)
    return None if refusal is None else _unauthorized(app, route, refusal.document, token)


# -- kinds -----------------------------------------------------------------------


async def fixture(call: Call) -> Prepared:
    return call.app.renderer.prepared(call.route)


async def account_settings(call: Call) -> Prepared:
    """200 only with a good token and a `ChatGPT-Account-Id` naming the path's account."""
    account = call.headers.get("chatgpt-account-id", "")
    token_ok = call.app.authority.bearer_refusal(bearer_token(call.headers)) is None
    allowed = token_ok and account == call.params["account_uuid"]
    return call.app.renderer.prepared(call.route, 200 if allowed else 401)


async def accounts_check(call: Call) -> Prepared:
    """The user's accounts: the fixture's personal one, and in workspace mode also the
    workspace account (listed first, as a team user's switcher has it)."""
    authority = call.app.authority
    if authority.account != "workspace":
        return call.app.renderer.prepared(call.route)
    document = _document(call)
    workspace = authority.workspace_id
    document["accounts"][workspace] = _workspace_entry(document["accounts"]["default"], workspace)
    document["account_ordering"] = [workspace, *document["account_ordering"]]
    call.app.renderer.check(call.route.documented.schema, document)
    return json_response(200, document)


def _workspace_entry(personal: dict[str, Any], workspace: str) -> dict[str, Any]:
    """A team workspace entry for the user of the personal one."""
    entry = copy.deepcopy(personal)
    user = entry["account"]["account_user_id"].split("__", 1)[0]
    entry["account"].update(
        account_user_role="account-owner",
        account_user_id=f"{user}__{workspace}",
        account_id=workspace,
        name="Mock Workspace",
        structure="workspace",
        plan_type="team",
        is_deactivated=False,
    )
    entry["entitlement"].update(has_active_subscription=True, subscription_plan="chatgptteamplan")
    return entry


def _document(call: Call) -> Any:
    return call.app.renderer.document(call.route.documented.fixture or "")


async def session(call: Call) -> Prepared:
    """The session with a freshly signed access token (or logged out, or expired)."""
    return json_response(200, call.app.authority.session(_document(call)))


async def sentinel_requirements(call: Call) -> Prepared:
    return json_response(200, call.app.authority.grant(_document(call)))


async def sentinel_prepare(call: Call) -> Prepared:
    return json_response(200, call.app.authority.prepare(_document(call)))


async def sentinel_finalize(call: Call) -> Prepared:
    answer = call.app.authority.finalize(_document(call), call.json or {})
    if isinstance(answer, Prepared):
        return answer
    return json_response(200, answer)


async def conversation_init(call: Call) -> Prepared:
    document = _document(call)
    document["limits_progress"] = call.app.authority.limits_progress()
    return json_response(200, document)


async def conversation_limit(call: Call) -> Prepared:
    cap = call.app.authority.message_cap()
    document = _document(call)
    document.update(
        {
            "limit": cap.limit,
            "remaining": cap.remaining,
            "reset_interval_minutes": cap.reset_interval_minutes,
        }
    )
    return json_response(200, document)


async def conversation_stream(call: Call) -> Any:
    return await call.app.conversations.converse(call)


async def conversation_prepare(call: Call) -> Prepared:
    """The pre-flight answer with a fresh conduit token: a signed JWT that lives 60 seconds."""
    document = call.app.renderer.document(call.route.documented.fixture or "")
    now = int(call.app.clock.now())
    claims = {
        "conduit_uuid": call.app.conversations.new_id().replace("-", ""),
        "conduit_location": "10.0.0.1:8304",
        "cluster": "mockgpt-1",
        "iat": now,
        "exp": now + 60,
    }
    document["conduit_token"] = tokens.encode_jwt(claims, tokens.signing_key(call.app.config.seed))
    return json_response(200, document)


async def conversation_resume(call: Call) -> Any:
    return await call.app.conversations.resume(call)


async def conversation_detail(call: Call) -> Prepared:
    return call.app.conversations.detail(call.params["conversation_id"])


async def conversation_scoped(call: Call) -> Prepared:
    """A fixture answer about one conversation: 404 when the conversation is unknown."""
    call.app.conversations.conversation(call.params["conversation_id"])
    return call.app.renderer.prepared(call.route)


async def stop_conversation(call: Call) -> Prepared:
    return call.app.conversations.stop(str(call.json["conversation_id"]))


async def async_status_reset(call: Call) -> Prepared:
    found = call.app.conversations.conversation(call.params["conversation_id"])
    status = call.json.get("status")
    found.async_status = status if isinstance(status, int | str) else None
    return json_response(200, {"success": True})


async def stream_status(call: Call) -> Prepared:
    found = call.app.conversations.conversation(call.params["conversation_id"])
    return call.app.conversations.stream_status(found.id)


def _flag(query: dict[str, list[str]], name: str) -> bool | None:
    values = query.get(name)
    return None if not values else values[-1].lower() in ("1", "true", "on", "yes", "y", "t")


async def conversation_list(call: Call) -> Prepared:
    query = call.query
    call.app.conversations.sync_live()
    page = call.app.conversations.store.page(
        offset=int(query.get("offset", ["0"])[-1]),
        limit=int(query.get("limit", ["28"])[-1]),
        order=query.get("order", ["updated"])[-1],
        is_archived=_flag(query, "is_archived"),
        is_starred=_flag(query, "is_starred"),
    )
    return json_response(200, page)


async def conversation_patch(call: Call) -> Prepared:
    changed = call.app.conversations.store.patch(call.params["conversation_id"], call.json or {})
    if not changed:
        return call.app.renderer.prepared(call.route, 404)
    return call.app.renderer.prepared(call.route)


async def conversation_patch_all(call: Call) -> Prepared:
    if isinstance(call.json, dict) and call.json.get("is_visible") is False:
        call.app.conversations.store.hide_all()
    return call.app.renderer.prepared(call.route)


async def conversation_title(call: Call) -> Prepared:
    service = call.app.conversations
    found = service.conversation(call.params["conversation_id"])
    node = found.mapping.get(str((call.json or {}).get("message_id")))
    source = message_text(node.message) if node is not None and node.message else found.title or ""
    found.title = generate_title(service.seed, source)
    return json_response(200, {"title": found.title})


async def autocompletions(call: Call) -> Prepared:
    body = call.json if isinstance(call.json, dict) else {}
    count = body.get("num_suggestions", 3)
    count = count if isinstance(count, int) and 0 <= count <= 20 else 3
    seed = call.app.conversations.seed
    context = str(body.get("conversation_id", "")) + str(body.get("message_id", ""))
    completions = suggestions(seed, context, count)
    return json_response(200, {"completions": completions})


async def chat_completions(call: Call) -> Any:
    return await call.app.platform.complete(call)


async def celsius_ws_user(call: Call) -> Prepared:
    return call.app.celsius.url(call)


async def models_list(call: Call) -> Prepared:
    return call.app.platform.list_models()


async def model_get(call: Call) -> Prepared:
    return call.app.platform.get_model(call.params["model"])


HANDLERS: dict[str, Handler] = {
    "fixture": fixture,
    "accounts_check": accounts_check,
    "empty": fixture,
    "asset": fixture,
    "telemetry": fixture,
    "account_settings": account_settings,
    "session": session,
    "sentinel_requirements": sentinel_requirements,
    "sentinel_prepare": sentinel_prepare,
    "sentinel_finalize": sentinel_finalize,
    "conversation_init": conversation_init,
    "conversation_limit": conversation_limit,
    "conversation_stream": conversation_stream,
    "conversation_prepare": conversation_prepare,
    "conversation_resume": conversation_resume,
    "conversation_detail": conversation_detail,
    "conversation_scoped": conversation_scoped,
    "conversation_list": conversation_list,
    "conversation_patch": conversation_patch,
    "conversation_patch_all": conversation_patch_all,
    "conversation_title": conversation_title,
    "stream_status": stream_status,
    "stop_conversation": stop_conversation,
    "async_status_reset": async_status_reset,
    "autocompletions": autocompletions,
    "chat_completions": chat_completions,
    "models_list": models_list,
    "celsius_ws_user": celsius_ws_user,
    "model_get": model_get,
    **RESPONSES_HANDLERS,
    **FILE_HANDLERS,
    **MORE_HANDLERS,
}
