"""The conversation routes: one service over the store, the scripts and the turns.

Every conversation route goes through `ConversationService`, so a stream, the
conversation detail, the list, `stream_status` and a resume all read the same
state: what was streamed is what is stored.
"""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from mockgpt import errors
from mockgpt.auth import Authority
from mockgpt.clock import Clock
from mockgpt.message_text import message_text
from mockgpt.responses import Prepared, json_response
from mockgpt.schemas import schema_errors
from mockgpt.scripts import ScriptBook
from mockgpt.store import (
    CLIENT_CREATED_ROOT,
    Conversation,
    ConversationStore,
    iso_time,
    new_message,
    sender,
)
from mockgpt.turn_topic import topic_of

if TYPE_CHECKING:
    from mockgpt.conversation import TurnPlanner
    from mockgpt.request import Request
    from mockgpt.web_turn import Turn

MESSAGE_SCHEMA = "parts/message.json"
#: How many finished turns keep their events for resumes (older ones replay from the store).
MAX_TURNS = 64
#: How many turns may go on being made with no client reading (more finish at once).
MAX_UNREAD_TURNS = 256
#: How many forgotten turns are remembered as such (older ones replay from the store).
MAX_FORGOTTEN = 4096
CONVERSATION_NOT_FOUND = errors.detail(
    {"message": "Conversation not found", "code": "conversation_not_found"}
)
TOKENLESS_RESUME = errors.detail(
    {
        "message": "A network error occurred. Please check your connection and try again.",
        "code": "tokenless_resume_unavailable",
    }
)
STREAM_GONE = errors.detail(
    {"message": "The stream has ended; the answer is stored.", "code": "persisted_final_available"}
)
#: The `async_status` numbers of the web client's enum.
ASYNC_STREAMING = 3
ASYNC_UNREAD = 4


class IdFactory:
    """Seeded UUIDs: the n-th id of a seed is always the same."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}\x1fids")

    def __call__(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


class ConversationService:
    """State and behaviour of the conversation routes of one app."""

    def __init__(
        self,
        *,
        seed: int,
        clock: Clock,
        new_id: Callable[[], str],
        authority: Authority | None = None,
        pace: Literal["real", "instant"] = "instant",
        id_version: Literal[4, 8] = 4,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self._ids = new_id
        #: What fills the store before its first use (`fill_later`), if anything.
        self._fill: Callable[[ConversationStore], None] | None = None
        self._store = ConversationStore(now=clock.now, new_id=self.new_id)
        self.book = ScriptBook()
        self._planner: TurnPlanner | None = None
        self._planner_settings = (pace, id_version)
        self.turns: dict[str, Turn] = {}
        #: The turns being made with nobody reading, by conversation id.
        self.producers: dict[str, asyncio.Task[bool]] = {}
        #: Conversations whose turn's events were dropped (a resume answers 410), oldest first.
        self.forgotten: dict[str, None] = {}
        #: Turns dropped from `turns`, freed once a stream has ended (see `_keep`).
        self.released: list[Turn] = []
        self.authority = authority
        #: Told of every turn that ends (the WebSocket's `conversations` topic listens).
        self.on_turn_end: Callable[[Turn], None] | None = None

    def new_id(self) -> str:
        """The next id of the app's seeded sequence; a pending fill draws its ids first."""
        self._filled()
        return self._ids()

    @property
    def store(self) -> ConversationStore:
        """The conversations, with what `fill_later` put off loaded at the first look."""
        self._filled()
        return self._store

    def fill_later(self, fill: Callable[[ConversationStore], None]) -> None:
        """Fill the store (the sample conversations) when it or an id is first wanted:
        a server's start and the requests that never look at conversations skip the
        work, and the ids come out in the same order as if it had been done at once."""
        self._fill = fill

    def _filled(self) -> None:
        fill = self._fill
        if fill is not None:
            self._fill = None
            fill(self._store)

    @property
    def planner(self) -> TurnPlanner:
        """The turn planner, made for the first turn: the stream engine it needs is
        loaded then, not for the reads of the store that a GET does."""
        if self._planner is None:
            from mockgpt.conversation import TurnPlanner  # lazy: a GET needs no stream engine

            planner = TurnPlanner(self.seed, self.clock, self.new_id)
            planner.pace, planner.id_version = self._planner_settings
            self._planner = planner
        return self._planner

    # -- a turn ------------------------------------------------------------------

    def _gate(self, call: Request, body: dict[str, Any], model: str) -> Prepared | bool:
        """Sentinel, account header, anonymous limits and quotas, checked in that order.

        Returns the refusal, or whether the anonymous soft limit has been passed.
        Nothing is spent unless every check passes.
        """
        authority = self.authority
        if authority is None:
            return False
        refused = authority.sentinel_refusal(call.headers)
        if refused is not None:
            return refused
        if call.route.path == "/backend-api/f/conversation":
            refused = authority.account_refusal(call.headers)
            if refused is not None:
                return refused
        soft = False
        if call.route.path.startswith("/backend-anon/"):
            device = call.headers.get("oai-device-id", "") or "anonymous"
            refused, soft = authority.anonymous_turn(device)
            if refused is not None:
                return refused
        hints = [h for h in body.get("system_hints") or [] if isinstance(h, str)]
        refused = authority.spend(hints, model)
        return refused if refused is not None else soft

    async def converse(self, call: Request) -> Any:
        body: dict[str, Any] = call.json
        action = body.get("action", "next")
        model = body.get("model") or "auto"
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        conversation_id = body.get("conversation_id")
        conversation: Conversation | None = None
        if conversation_id:
            conversation = self.store.require(conversation_id)
            running = self.turns.get(conversation.id)
            if running is not None and running.live:
                return json_response(409, errors.ONLY_ONE_MESSAGE)
        prompt = _prompt(messages)
        script = self.book.pick(prompt, model)
        if script is not None and script.http_error is not None:
            return script.http_error
        gate = self._gate(call, body, model)
        if isinstance(gate, Prepared):
            return gate
        first_turn = conversation is None
        if conversation is None:
            conversation = self.store.create(self.planner.conversation_id(), model_slug=model)
            _place_in_gizmo(conversation, body.get("conversation_mode"))
        parent_id = body.get("parent_message_id") or CLIENT_CREATED_ROOT
        echoes: list[dict[str, Any]] = []
        if first_turn:
            echoes.append(conversation.system_node.message or {})
        message_type = "continue" if action == "continue" else "next"
        if action == "continue":
            anchor = parent_id if parent_id in conversation.mapping else conversation.current_node
        elif action == "variant" and messages and messages[-1].get("id") in conversation.mapping:
            anchor = messages[-1]["id"]
        else:
            nodes = self.store.append_turn(conversation, messages, parent_id)
            for node in nodes:
                node.message = self._repaired(node.message)
            echoes += [node.message for node in nodes if node.message is not None]
            anchor = nodes[-1].id if nodes else conversation.current_node
        slug = (script.model_slug if script and script.model_slug else None) or _slug(model)
        assistant_id = self.new_id()
        probe = self.planner.assistant_message(
            message_id=assistant_id, parent_id=anchor, model=slug, message_type=message_type
        )
        tools = self.planner.prelude(script, probe, prompt=prompt, conversation_id=conversation.id)
        for tool in tools:
            conversation.add_message(tool, anchor)
            anchor = tool["id"]
        assistant = self.planner.assistant_message(
            message_id=assistant_id, parent_id=anchor, model=slug, message_type=message_type
        )
        if tools:  # after a reasoning prelude, the answer is made when the thinking ends
            assistant["create_time"] = max(assistant["create_time"], tools[-1]["create_time"])
        conversation.add_message(assistant, anchor)
        self.store.set_current(conversation, assistant_id)
        self.store.touch(conversation)
        turn = self.planner.plan(
            conversation=conversation,
            echoes=echoes,
            tools=tools,
            assistant=assistant,
            script=script,
            prompt=prompt,
            v1="v1" in (body.get("supported_encodings") or []),
            first_turn=first_turn,
            limits=self.authority.limits_progress() if self.authority else None,
            banner=_SOFT_LIMIT_BANNER if gate else None,
        )
        conversation.async_status = None
        self._keep(conversation.id, turn)
        token = self.planner.resume_token(conversation.id, turn.started_at)
        if turn.handoff:
            from mockgpt.handoff import HandoffStream, handoff_headers  # lazy: as the planner

            return HandoffStream(turn, headers=handoff_headers(token), on_leave=self._left)
        return turn.stream(self.clock, on_end=self._ended, on_leave=self._left, token=token)

    def _keep(self, conversation_id: str, turn: Turn) -> None:
        """Remember the latest turn of each conversation, for resumes and stream_status.

        Only the most recent `MAX_TURNS` finished turns keep their events (a resume
        of an older one replays the stored answer), so a server that runs all day
        does not grow without bound.
        """
        self.turns.pop(conversation_id, None)
        self.forgotten.pop(conversation_id, None)
        self.turns[conversation_id] = turn
        while len(self.turns) > MAX_TURNS:
            # A stalled stream stays live; it must not keep every later turn alive too.
            oldest = next((key for key, kept in self.turns.items() if not kept.live), None)
            if oldest is None:
                break
            # Freeing a long turn's events takes a tenth of a millisecond: not before the
            # new turn's first byte, but when a stream ends (or a few turns later).
            self.released.append(self.turns.pop(oldest))
            if len(self.released) > MAX_TURNS:
                self.released.clear()
            self.forgotten[oldest] = None
            while len(self.forgotten) > MAX_FORGOTTEN:
                del self.forgotten[next(iter(self.forgotten))]

    def _repaired(self, message: dict[str, Any] | None) -> dict[str, Any] | None:
        """A client's message as the service would store it: schema-valid, text kept.

        Clients send loose shapes (missing metadata, odd parts); what the mock
        stores and echoes must still be a valid message.
        """
        if message is None or _as_the_mock_builds(message):
            return message
        if not schema_errors(MESSAGE_SCHEMA, message):
            return message
        return new_message(
            id=str(message.get("id") or self.new_id()),
            role="user",
            text=message_text(message),
            create_time=self.clock.now(),
        )

    def _follow(self, turn: Turn) -> None:
        """Bring the stored answer up to what the turn's stream has delivered so far.

        The stream only counts what it sent (`Steps.sent`); the store catches up
        when it is read, so the hot loop of a stream never calls back into it.
        """
        conversation = self.store.get(turn.conversation_id)
        if conversation is None:
            return
        self._take_title(turn, conversation)
        node = conversation.mapping.get(turn.assistant_id)
        if node is None or node.message is None:
            return
        steps = turn.steps
        if 0 <= steps.final < steps.sent:
            if not turn.final_stored:
                node.message = copy.deepcopy(turn.final)
                turn.final_stored = True
            return
        end = steps.progress()
        if end is not None:
            content = node.message["content"]
            grown = turn.text[:end]
            if "parts" in content:
                content["parts"][0] = grown
            else:
                content["text"] = grown

    @staticmethod
    def _take_title(turn: Turn, conversation: Conversation) -> None:
        """Give the conversation the title its turn has produced so far, once.

        A title set meanwhile (a rename by `PATCH`) is the user's and stays; the
        turn then has given none, and the WebSocket announces none.
        """
        if turn.new_title is not None:
            return
        title = turn.given_title()
        if title is not None and conversation.title is None:
            conversation.title = turn.new_title = title

    def sync_live(self) -> None:
        """Bring every running turn's stored answer up to date (before listing)."""
        for conversation_id, turn in self.turns.items():
            conversation = self.store.get(conversation_id) if turn.live else None
            if conversation is not None:
                self.sync(conversation)

    def sync(self, conversation: Conversation) -> Conversation:
        """Bring the stored answer of a running turn up to what has been streamed."""
        turn = self.turns.get(conversation.id)
        if turn is not None and turn.live:
            self._follow(turn)
        return conversation

    def _left(self, turn: Turn, sent: int) -> None:
        """The client went away mid-turn: the turn goes on at its pace, unread.

        Like the real service, generation does not depend on the client staying:
        `stream_status` says IS_STREAMING, the conversation's `async_status` is
        3 (streaming), and a resume follows the turn live until it is done.
        """
        self.released.clear()
        if not turn.live:
            return
        conversation = self.store.get(turn.conversation_id)
        if conversation is None or len(self.producers) >= MAX_UNREAD_TURNS:
            self._ended(turn, True)
            return
        conversation.async_status = ASYNC_STREAMING
        task = asyncio.ensure_future(turn.produce(self.clock, sent))
        self.producers[turn.conversation_id] = task
        task.add_done_callback(partial(self._produced, turn))

    def _produced(self, turn: Turn, task: asyncio.Task[bool]) -> None:
        """An unread turn is over: finished (4, an unread result), failed, or cancelled."""
        if self.producers.get(turn.conversation_id) is task:
            del self.producers[turn.conversation_id]
        if task.cancelled():
            # The server stops (or the turn was stopped): what was made is what is stored.
            if turn.live:
                self._follow(turn)
                turn.live = False
                turn.steps.wake()
            return
        completed = task.result()
        self._ended(turn, completed)
        conversation = self.store.get(turn.conversation_id)
        if conversation is not None and completed:
            conversation.async_status = ASYNC_UNREAD

    async def close(self) -> None:
        """Stop making the unread turns (the server is stopping); waits for them to end."""
        tasks = list(self.producers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _ended(self, turn: Turn, completed: bool) -> None:
        """The turn is over (whole, or cut by a scripted failure): the store gets its end.

        A whole turn stores the full answer; a scripted in-stream failure leaves
        the partial answer as it was streamed and marks the turn failed.
        """
        self.released.clear()
        if not turn.live:
            return
        turn.live = False
        turn.steps.wake()
        self._tell_end(turn)
        conversation = self.store.get(turn.conversation_id)
        if conversation is not None:
            conversation.async_status = None
        if not completed:
            turn.failed = True
            self._follow(turn)
            return
        conversation = self.store.get(turn.conversation_id)
        if conversation is not None:
            self._take_title(turn, conversation)
        if conversation is not None and turn.assistant_id in conversation.mapping:
            conversation.mapping[turn.assistant_id].message = copy.deepcopy(turn.final)
            self.store.touch(conversation)

    def _tell_end(self, turn: Turn) -> None:
        """Tell the listener of the turn's end once the caller has settled its state."""
        if self.on_turn_end is None:
            return
        try:
            asyncio.get_running_loop().call_soon(self.on_turn_end, turn)
        except RuntimeError:  # no loop (a turn ended from plain code): tell at once
            self.on_turn_end(turn)

    # -- the other conversation routes -------------------------------------------

    async def resume(self, call: Request) -> Any:
        """The turn's events from `offset`: what was made, then the live rest.

        The resume token (`x-conduit-token`, from the stream's
        `resume_conversation_token` frame) is required, as on the real service;
        a turn whose events were dropped answers 410 and the client reads the
        stored answer instead. A conversation streamed before this app started
        replays its stored answer.
        """
        body = call.json
        conversation = self.store.require(body["conversation_id"])
        token = call.headers.get("x-conduit-token", "").strip()
        if not token or token == "no-token":
            return json_response(404, TOKENLESS_RESUME)
        turn = self.turns.get(conversation.id)
        if turn is None and conversation.id in self.forgotten:
            return json_response(410, STREAM_GONE)
        if turn is None:
            # Streamed before this app started (the sample conversations): its stored answer.
            from mockgpt.conversation import replay_turn  # lazy: as the planner

            turn = replay_turn(conversation, self.clock.now())
        offset = max(0, int(body.get("offset") or 0))
        steps = turn.steps
        # A resume repeats the opening events (`delta_encoding`), then the rest from `offset`.
        if turn.live:
            start = min(max(offset, steps.opening), steps.sent)
            return turn.follow(start, lambda: self._ending(turn))
        start = min(max(offset, steps.opening), len(steps))
        return turn.stream(self.clock, start=start)

    @staticmethod
    def _ending(turn: Turn) -> list[Any]:
        """How a followed turn's stream closes: its failure, if it failed, then `[DONE]`."""
        encoding, framing = turn.steps.encoding, turn.steps.framing
        if turn.failed:
            message = turn.fault.message if turn.fault is not None else None
            return [encoding.error(message), *encoding.closing(padded=False)]
        return encoding.closing(padded=framing.padding)

    def turn_states(self) -> list[dict[str, Any]]:
        """What the admin API shows of the kept turns (see `MockGPT.turns`)."""
        return [
            {
                "conversation_id": cid,
                "message_id": turn.assistant_id,
                "model": turn.model_slug,
                "encoding": turn.encoding,
                "status": "IS_STREAMING" if turn.live else "FAILURE" if turn.failed else "COMPLETE",
                "live": turn.live,
                "unread": cid in self.producers,
                "sent": turn.steps.sent,
                "made": len(turn.steps.events),
                "started_at": iso_time(turn.started_at),
                "topic_id": topic_of(turn),
                "handoff": turn.handoff,
            }
            for cid, turn in self.turns.items()
        ]

    def stop(self, conversation_id: str) -> Prepared:
        """Stop the conversation's live turn where it is, as the stop button does.

        The stream (and every reader following it) gets the close the real
        service sends: the answer patched to `finished_partial_completion` with
        `finish_details: {"type": "interrupted"}`, `message_stream_complete`,
        `[DONE]`; the store keeps the partial answer. Idempotent: with nothing
        running the answer is `last_message_id: null`.
        """
        turn = self.turns.get(conversation_id)
        conversation = self.store.get(conversation_id)
        if turn is None or not turn.live or conversation is None:
            return json_response(200, {"status": "ok", "last_message_id": None})
        self._follow(turn)
        turn.live = False
        task = self.producers.pop(conversation_id, None)
        if task is not None:
            task.cancel()
        steps = turn.steps
        node = conversation.mapping.get(turn.assistant_id)
        tail: list[Any] = []
        complete = 0 <= steps.final < steps.sent
        if node is not None and node.message is not None and not complete:
            message = None
            if steps.progress() is not None:
                message = node.message
                message["status"] = "finished_partial_completion"
                message["metadata"].update(
                    {"finish_details": {"type": "interrupted"}, "is_complete": True}
                )
            tail = turn.stop_events(message)
        steps.cut(tail)
        self._tell_end(turn)
        conversation.async_status = None
        self.store.touch(conversation)
        return json_response(200, {"status": "ok", "last_message_id": turn.assistant_id})

    def detail(self, conversation_id: str) -> Prepared:
        """The stored conversation as the client reads it; `ConversationNotFound` if none."""
        conversation = self.store.require(conversation_id)
        return json_response(200, self.store.detail(self.sync(conversation)))

    def stream_status(self, conversation_id: str) -> Prepared:
        """IS_STREAMING while the turn is made (read or not), then COMPLETE or FAILURE.

        A conversation whose turn's events were dropped (no stream record)
        answers 404, which clients read as "unavailable"; one streamed before
        this app started is COMPLETE.
        """
        turn = self.turns.get(conversation_id)
        if conversation_id in self.forgotten:
            return json_response(404, errors.detail("Not Found"))
        if turn is None:
            # Streamed before this app started: finished long ago.
            document = {"status": "COMPLETE", "streaming": False, "model": None, "started_at": None}
            return json_response(200, document)
        live = turn.live
        status = "IS_STREAMING" if live else "FAILURE" if turn.failed else "COMPLETE"
        return json_response(
            200,
            {
                "status": status,
                "streaming": live,
                "model": turn.model_slug,
                "started_at": iso_time(turn.started_at) if live else None,
            },
        )

    def conversation(self, conversation_id: str) -> Conversation:
        """The visible conversation; `ConversationNotFound` (the app's 404) if there is none."""
        return self.store.require(conversation_id)


#: What a logged-out client is told once it passes the soft limit of free messages.
_SOFT_LIMIT_BANNER = {
    "type": "no_auth_rate_limit",
    "limit_type": "soft",
    "message": "You've reached the limit of free messages. Log in to keep chatting.",
}


def _prompt(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if sender(message).get("role", "user") == "user":
            return message_text(message)
    return ""


def _place_in_gizmo(conversation: Conversation, mode: Any) -> None:
    """A conversation begun with a GPT or in a project (`conversation_mode` of kind
    `gizmo_interaction`) belongs to it, as the fixture world's gizmo conversations do:
    its list under `/gizmos/{id}/conversations` and its detail name it."""
    if not isinstance(mode, dict) or mode.get("kind") != "gizmo_interaction":
        return
    gizmo_id = mode.get("gizmo_id")
    if isinstance(gizmo_id, str) and gizmo_id:
        conversation.gizmo_id = conversation.conversation_template_id = gizmo_id
        conversation.gizmo_type = "snorlax" if gizmo_id.startswith("g-p-") else "gpt"


def _slug(model: str) -> str:
    """The model the assistant message names: `auto` resolves to a concrete one."""
    return "gpt-5" if model in ("auto", "") else model


def _as_the_mock_builds(message: dict[str, Any]) -> bool:
    """Whether the message is exactly the plain text message the mock itself makes (and
    stores unchecked) for its id, time and text: then it needs no schema check. Most
    client messages are; the check costs a dict, where the schema walk costs ~1 ms."""
    ident, created = message.get("id"), message.get("create_time")
    if not isinstance(ident, str) or not isinstance(created, float | int):
        return False
    built = new_message(id=ident, role="user", text=message_text(message), create_time=created)
    return built == message
