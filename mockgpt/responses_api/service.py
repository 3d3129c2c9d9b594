"""`/v1/responses` and its stored responses, as the platform answers them.

A request is checked (the platform's 400 wording, 404 for unknown models in
strict mode, the same per-minute quota as chat completions), answered by the
same scripts as the other APIs (`ScriptBook.pick` on the latest user words),
and turned into an `Answer` that the encoding streams or `finished` renders.
Stored responses (`store` not false) are kept in a bounded store, oldest
dropped first, and serve GET, DELETE, `input_items`, `cancel` and threads
continued with `previous_response_id`.

Background responses (`background: true`) answer at once with `queued`; a
GET reads their state off the app's clock: queued for `QUEUED_SECONDS`, in
progress while the answer would take to stream, then done. Under a virtual
clock they move on when the clock is advanced.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockgpt.errors import detail, openai_error
from mockgpt.framing import Event, Framing
from mockgpt.jsonfmt import dumpb, dumps
from mockgpt.jsongen import instance
from mockgpt.platform import _cut, count_tokens
from mockgpt.replies import generate_reply, unscripted_pacing
from mockgpt.responses import Prepared, json_response
from mockgpt.responses_api import encoding
from mockgpt.responses_api.encoding import Answer, Ending, FunctionCall, Item, Message, Part
from mockgpt.responses_api.objects import (
    Ids,
    count_input,
    input_items,
    mapping,
    opening,
    prompt_of,
    reasons,
    thread_of,
    usage,
)
from mockgpt.scripts import Script, chunk_text
from mockgpt.wire import EventStream, Steps, framing_for
from mockgpt.wire.encodings.responses import BLOCKED_TEXT, failure
from mockgpt.wire.turn import Pace

if TYPE_CHECKING:
    from mockgpt.auth import Authority
    from mockgpt.clock import Clock
    from mockgpt.config import Config
    from mockgpt.platform import Platform
    from mockgpt.render import Renderer
    from mockgpt.request import Request
    from mockgpt.service import ConversationService

Payload = dict[str, Any]
#: Stored responses kept per app; the oldest go first.
STORE_LIMIT = 1000
#: How long a background response waits in the queue, in seconds of the app's clock.
QUEUED_SECONDS = 0.5
#: The shortest time a background response spends in progress.
MIN_RUN_SECONDS = 0.5
STREAM_MEDIA = "text/event-stream; charset=utf-8"
#: Faults that end a stream with an `error` event and `response.failed`.
FAILING_FAULTS = ("error_envelope", "moderation_block")
SUMMARY_CHUNK_WORDS = 3
SAMPLE_FIXTURE = "openai/response.json"
SAMPLE_ITEMS = "openai/response_item_list.json"


@dataclass
class Stored:
    """One stored response: its final object, its events for replay, its input and thread."""

    final: Payload
    events: list[tuple[str, Payload]]
    items: list[Payload]
    #: Every item of the thread up to and including this response's output.
    thread: list[Payload]
    background: bool = False
    started: float = 0.0
    duration: float = 0.0
    cancelled: Payload | None = field(default=None)

    def state(self, now: float) -> Payload:
        """The response object as a GET at `now` sees it."""
        if self.cancelled is not None:
            return self.cancelled
        if not self.background or now >= self.started + QUEUED_SECONDS + self.duration:
            return self.final
        status = "queued" if now < self.started + QUEUED_SECONDS else "in_progress"
        return {**self.events[0][1]["response"], "status": status}


class ResponsesAPI:
    """The Responses API of one app."""

    def __init__(
        self,
        *,
        config: Config,
        clock: Clock,
        authority: Authority,
        conversations: ConversationService,
        renderer: Renderer,
        platform: Platform,
    ) -> None:
        self.config = config
        self.clock = clock
        self.authority = authority
        #: Scripts are picked from `conversations.book`, which a reset may replace.
        self.conversations = conversations
        self.renderer = renderer
        self.platform = platform
        self._rng = random.Random(f"{config.seed}\x1fresponses")
        self.stored: OrderedDict[str, Stored] = OrderedDict()
        if config.sample_conversations:
            self._load_sample()

    def _load_sample(self) -> None:
        """The catalogue's example response, stored so its routes answer out of the box."""
        final = self.renderer.document(SAMPLE_FIXTURE)
        items = self.renderer.document(SAMPLE_ITEMS)["data"]
        head = {**final, "status": "queued", "output": [], "usage": None, "completed_at": None}
        events = [("response.created", encoding.frame("response.created", 0, {"response": head}))]
        thread = [*items, *final["output"]]
        self._keep(final["id"], Stored(final, events, items, thread, final["background"]))

    # -- helpers --------------------------------------------------------------------------

    def error(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> Prepared:
        return self.platform.error(status, openai_error(message, param=param, code=code), extra)

    def not_found(self, response_id: str) -> Prepared:
        return self.error(404, f"Response with id '{response_id}' not found.")

    def find(self, response_id: str) -> Stored | None:
        return self.stored.get(response_id)

    def _keep(self, response_id: str, entry: Stored) -> None:
        self.stored[response_id] = entry
        while len(self.stored) > STORE_LIMIT:
            self.stored.popitem(last=False)

    def _refusal(self, request: Payload) -> Prepared | None:
        """The 400s and 404s the platform sends before it starts answering."""
        platform = self.platform
        model = str(request["model"])
        if platform.strict_models() and not platform.known(model):
            return platform.model_not_found(model)
        limit = request.get("max_output_tokens")
        if isinstance(limit, int) and limit < 16:
            return self.error(
                400,
                "Invalid 'max_output_tokens': integer below minimum value. "
                f"Expected a value >= 16, but got {limit} instead.",
                "max_output_tokens",
                "integer_below_min_value",
            )
        if request.get("background") and request.get("store") is False:
            return self.error(
                400,
                "Background mode requires 'store' to be true.",
                "background",
                "invalid_value",
            )
        previous = request.get("previous_response_id")
        if isinstance(previous, str) and self.find(previous) is None:
            return self.error(
                400,
                f"Previous response with id '{previous}' not found.",
                "previous_response_id",
                "previous_response_not_found",
            )
        choice = request.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "function":
            names = [t.get("name") for t in request.get("tools") or [] if isinstance(t, dict)]
            if choice.get("name") not in names:
                return self.error(
                    400,
                    f"Tool choice '{choice.get('name')}' not found in 'tools' parameter.",
                    "tool_choice",
                    "invalid_value",
                )
        return None

    # -- create ---------------------------------------------------------------------------

    async def create(self, call: Request) -> Prepared | EventStream:
        request: Payload = call.json
        refused = self._refusal(request)
        if refused is not None:
            return refused
        quota_headers, limited = self.platform._quota()
        if limited is not None:
            return limited
        return self.answer(request, quota_headers)

    def answer(
        self,
        request: Payload,
        headers: dict[str, str],
        *,
        stored: bool = True,
        refuse: Callable[[Script], Prepared] | None = None,
    ) -> Prepared | EventStream:
        """Answer a checked request: scripted refusal, JSON body or stream; store it."""
        model = str(request["model"])
        previous = self.find(str(request.get("previous_response_id") or ""))
        now = self.clock.now()
        created = int(now)
        thread = (
            thread_of(previous.final["id"])
            if previous is not None
            else f"{self._rng.getrandbits(72):018x}"
        )
        ids = Ids(self._rng, thread, created)
        items = input_items(request.get("input"), ids)
        history = [*(previous.thread if previous is not None else []), *items]
        prompt = prompt_of(history)
        script = self.conversations.book.pick(prompt, model)
        if script is not None and script.http_error is not None:
            return (refuse or self.platform._scripted_refusal)(script)
        response_id = ids.make("resp")
        background = bool(request.get("background"))
        head = opening(
            request, response_id, created, status="queued" if background else "in_progress"
        )
        rng = random.Random(f"{self.config.seed}\x1f{model}\x1f{dumps(history)}")
        output, ending, output_tokens, reasoning_tokens = self._output(
            request, history, prompt, script, rng, ids
        )
        ending = Ending(
            ending.status,
            ending.reason,
            ending.error,
            created if ending.status == "completed" else None,
        )
        obfuscate = mapping(request.get("stream_options")).get("include_obfuscation", True)
        answer = Answer(
            head,
            tuple(output),
            ending,
            usage(count_input(request, history), output_tokens, reasoning_tokens),
            obfuscate=obfuscate is not False,
        )
        final = encoding.finished(answer)
        coder = encoding.encoder(answer, final)
        script_pacing = script.pacing if script is not None else None
        pace = Pace(
            script_pacing
            if script_pacing is not None
            else unscripted_pacing(self.config.pace, 0, model, response_id),
            random.Random(response_id),
        )
        realism = script.realism if script is not None else None
        steps = Steps(coder, encoding.turn(answer, pace), framing_for(coder, realism))
        len(steps)  # the whole stream is kept for replays and checked before it is sent
        events = [
            (str(event.name), event.data) for event in steps.events if isinstance(event, Event)
        ]
        for kind, payload in events:
            self.renderer.check("openai/response_stream_event.json", {**payload, "type": kind})
        entry = Stored(
            final,
            events,
            items,
            [*history, *final["output"]],
            background,
            now,
            max(MIN_RUN_SECONDS, sum(steps.delays.values())),
        )
        fault = script.fault if script is not None and request.get("stream") else None
        if fault is not None and fault.kind in FAILING_FAULTS and fault.after < len(events):
            # A stream that fails mid-way is stored failed, as the platform keeps it.
            message = fault.message if fault.kind == "error_envelope" else BLOCKED_TEXT
            tail = [(str(e.name), e.data) for e in failure(head, fault.after, message)]
            entry.events = [*events[: fault.after], *tail]
            entry.final = entry.events[-1][1]["response"]
            entry.thread = [*history, *entry.final["output"]]
        if stored and request.get("store", True) is not False:
            self._keep(response_id, entry)
        extra = self.platform.headers(headers)
        if request.get("stream"):
            return EventStream(
                steps,
                self.clock,
                fault=fault,
                pings=realism.pings if realism is not None else 0,
                headers=_stream_headers(extra),
            )
        body = head if background else final
        self.renderer.check("openai/response.json", body)
        return Prepared(200, dumpb(body), "application/json", extra)

    def _output(
        self,
        request: Payload,
        history: list[Payload],
        prompt: str,
        script: Script | None,
        rng: random.Random,
        ids: Ids,
    ) -> tuple[list[Item], Ending, int, int]:
        model = str(request["model"])
        items: list[Item] = []
        reasoning_tokens = 0
        effort = mapping(request.get("reasoning")).get("effort") or (
            "medium" if reasons(model) else None
        )
        if reasons(model) and effort != "none":
            summary_kind = mapping(request.get("reasoning")).get("summary")
            summary: tuple[tuple[str, ...], ...] = ()
            if summary_kind in ("auto", "concise", "detailed"):
                words = generate_reply(rng.getrandbits(32), prompt, model).split("\n")[0][:300]
                summary = (
                    tuple(chunk_text(f"**Thinking it through**\n\n{words}", SUMMARY_CHUNK_WORDS)),
                )
            reasoning_tokens = 12 + sum(count_tokens("".join(part)) for part in summary)
            items.append(encoding.Reasoning(ids.make("rs"), summary))
        call = self._function_call(request, history, rng, ids)
        if call is not None:
            items.append(call)
            return (
                items,
                Ending(),
                reasoning_tokens + count_tokens(call.arguments),
                reasoning_tokens,
            )
        tools = [t for t in request.get("tools") or [] if isinstance(t, dict)]
        answered = bool(history) and history[-1].get("type") == "function_call_output"
        searches = any(str(t.get("type", "")).startswith("web_search") for t in tools)
        if searches and request.get("tool_choice") != "none" and not answered:
            items.append(encoding.WebSearch(ids.make("ws"), prompt[:200] or "search"))
        text, scripted = self._text(request, prompt, script, rng)
        ending = Ending()
        limit = request.get("max_output_tokens")
        budget = limit - reasoning_tokens if isinstance(limit, int) else None
        if budget is not None and count_tokens(text) > budget:
            text, scripted = _cut(text, max(0, budget)), False
            ending = Ending("incomplete", "max_output_tokens")
        if script is not None and script.finish == "max_tokens":
            ending = Ending("incomplete", "max_output_tokens")
        chunks = tuple(script.chunked() if scripted and script is not None else chunk_text(text))
        items.append(Message(ids.make("msg"), (Part(chunks),)))
        return items, ending, reasoning_tokens + count_tokens(text), reasoning_tokens

    def _text(
        self, request: Payload, prompt: str, script: Script | None, rng: random.Random
    ) -> tuple[str, bool]:
        fmt = mapping(mapping(request.get("text")).get("format"))
        if fmt.get("type") == "json_schema":
            schema = mapping(fmt.get("schema"))
            return dumps(_sample(schema or {"type": "object"}, rng)), False
        if script is not None and script.text is not None:
            return script.text, True
        if fmt.get("type") == "json_object":
            reply = generate_reply(rng.getrandbits(32), prompt, "json")[:120]
            return dumps({"answer": reply}), False
        return generate_reply(rng.getrandbits(32), prompt, str(request["model"])), False

    def _function_call(
        self, request: Payload, history: list[Payload], rng: random.Random, ids: Ids
    ) -> FunctionCall | None:
        tools = [
            t
            for t in request.get("tools") or []
            if isinstance(t, dict) and t.get("type") == "function"
        ]
        choice = request.get("tool_choice") or "auto"
        if not tools or choice == "none":
            return None
        answered = bool(history) and history[-1].get("type") == "function_call_output"
        if isinstance(choice, dict):
            tool = next((t for t in tools if t.get("name") == choice.get("name")), None)
        elif choice == "required" or (choice == "auto" and not answered):
            tool = tools[0]
        else:
            tool = None
        if tool is None:
            return None
        parameters = tool.get("parameters")
        schema = (
            parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}
        )
        arguments = dumps(_sample(schema, rng))
        pieces = tuple(arguments[start : start + 8] for start in range(0, len(arguments), 8))
        return FunctionCall(ids.make("fc"), ids.call_id(), str(tool.get("name")), pieces or ("",))

    # -- stored responses -------------------------------------------------------------------

    def retrieve(self, call: Request) -> Prepared | EventStream:
        response_id = call.params["response_id"]
        entry = self.find(response_id)
        if entry is None:
            return self.not_found(response_id)
        extra = self.platform.headers()
        if _flag(call.query, "stream"):
            after = _int(call.query, "starting_after", -1)
            plain = (call.query.get("include_obfuscation") or [""])[-1].lower() == "false"
            coder = encoding.Responses(response=entry.events[0][1]["response"], final=entry.final)
            steps = Steps(coder, iter(()), Framing())
            # A replay sends the events as they were made, from the first one after `after`.
            steps.events = [
                Event(
                    kind,
                    {k: v for k, v in payload.items() if k != "obfuscation"} if plain else payload,
                )
                for kind, payload in entry.events
            ]
            start = min(len(steps.events), max(0, after + 1))
            return EventStream(steps, self.clock, start=start, headers=_stream_headers(extra))
        body = entry.state(self.clock.now())
        return Prepared(200, dumpb(body), "application/json", extra)

    def delete(self, call: Request) -> Prepared:
        response_id = call.params["response_id"]
        if self.stored.pop(response_id, None) is None:
            return self.not_found(response_id)
        body = {"id": response_id, "object": "response", "deleted": True}
        return Prepared(200, dumpb(body), "application/json", self.platform.headers())

    def cancel(self, call: Request) -> Prepared:
        response_id = call.params["response_id"]
        entry = self.find(response_id)
        if entry is None:
            return self.not_found(response_id)
        if not entry.background:
            return self.error(400, "Cannot cancel a synchronous response.", None, None)
        now = self.clock.now()
        state = entry.state(now)
        if state["status"] in ("queued", "in_progress"):
            entry.cancelled = state = {**state, "status": "cancelled"}
        return Prepared(200, dumpb(state), "application/json", self.platform.headers())

    def input_items(self, call: Request) -> Prepared:
        response_id = call.params["response_id"]
        entry = self.find(response_id)
        if entry is None:
            return self.not_found(response_id)
        items = list(entry.items)
        if (call.query.get("order") or ["desc"])[-1] != "asc":
            items.reverse()
        after = call.query.get("after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after[-1]) + 1 :] if after[-1] in ids else []
        limit = min(100, max(1, _int(call.query, "limit", 20)))
        page = items[:limit]
        body = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
        return Prepared(200, dumpb(body), "application/json", self.platform.headers())

    def input_tokens(self, call: Request) -> Prepared:
        request: Payload = call.json or {}
        previous = request.get("previous_response_id")
        entry = self.find(previous) if isinstance(previous, str) else None
        if isinstance(previous, str) and entry is None:
            return self.error(
                400,
                f"Previous response with id '{previous}' not found.",
                "previous_response_id",
                "previous_response_not_found",
            )
        ids = Ids(random.Random(0), "0" * 18, 0)
        history = [
            *(entry.thread if entry is not None else []),
            *input_items(request.get("input"), ids),
        ]
        body = {"object": "response.input_tokens", "input_tokens": count_input(request, history)}
        return Prepared(200, dumpb(body), "application/json", self.platform.headers())

    # -- for the admin API -------------------------------------------------------------------

    def summaries(self) -> list[Payload]:
        """Every stored response as it stands now, newest first, without its output."""
        now = self.clock.now()
        rows = []
        for response_id, entry in reversed(self.stored.items()):
            state = entry.state(now)
            rows.append(
                {
                    "id": response_id,
                    "created_at": state["created_at"],
                    "status": state["status"],
                    "model": state["model"],
                    "background": entry.background,
                    "previous_response_id": state.get("previous_response_id"),
                    "output_items": len(state["output"]),
                }
            )
        return rows

    def snapshot(self, response_id: str) -> Payload:
        """One stored response as GET would answer it, with its input items."""
        entry = self.find(response_id)
        if entry is None:
            raise KeyError(f"no response {response_id!r}")
        return {"response": entry.state(self.clock.now()), "input_items": entry.items}

    # -- the ChatGPT backend's Codex endpoint -------------------------------------------------

    async def codex(self, call: Request) -> Prepared | EventStream:
        """`/backend-api/codex/responses`: the same answers under ChatGPT's rules for Codex."""
        # a workspace login must act for its workspace account, as on /f/conversation
        refused = self.authority.account_refusal(call.headers)
        if refused is not None:
            return refused
        request = call.json if isinstance(call.json, dict) else {}
        instructions = request.get("instructions")
        if not isinstance(instructions, str) or not instructions.strip():
            return json_response(400, detail("Instructions are required"))
        if request.get("store") is not False:
            return json_response(400, detail("Store must be set to false"))
        if not isinstance(request.get("input"), list):
            return json_response(400, detail("Input must be a list"))
        if not isinstance(request.get("model"), str) or not request["model"]:
            return json_response(400, detail("Model is required"))
        # Codex always streams; the service answers every request as a stream.
        return self.answer({**request, "stream": True}, {}, stored=False, refuse=self._usage_limit)

    def _usage_limit(self, script: Script) -> Prepared:
        refusal = script.http_error
        assert refusal is not None
        if refusal.status != 429:
            return json_response(
                refusal.status,
                dict(refusal.document) or detail("Request refused."),
                refusal.extra,
            )
        now = int(self.clock.now())
        wait = int(dict(refusal.extra).get("retry-after", "3600"))
        body = {
            "error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": "plus",
                "resets_at": now + wait,
                "resets_in_seconds": wait,
            }
        }
        headers = {
            "retry-after": str(wait),
            "x-codex-primary-used-percent": "100",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": str(now + wait),
            "x-codex-primary-reset-after-seconds": str(wait),
            **dict(refusal.extra),
        }
        return json_response(429, body, headers.items())


def _stream_headers(extra: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", STREAM_MEDIA.encode())] + [
        (key.encode("latin-1"), value.encode("latin-1")) for key, value in extra
    ]


def _sample(schema: Payload, rng: random.Random) -> Any:
    """A value valid against a client's schema; an empty object for one no value can meet."""
    try:
        return instance(schema, rng)
    except (ValueError, TypeError, KeyError, RecursionError):
        return {}


def _flag(query: dict[str, list[str]], name: str) -> bool:
    values = query.get(name) or [""]
    return values[-1].lower() in ("1", "true", "yes", "on")


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    try:
        return int(values[-1]) if values else default
    except ValueError:
        return default
