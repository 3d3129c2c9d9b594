"""The conversation routes: one service over the store, the scripts and the turns.

Every conversation route goes through `ConversationService`, so a stream, the
conversation detail, the list, `stream_status` and a resume all read the same
state: what was streamed is what is stored.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockgpt import errors
from mockgpt.auth import Authority, Refusal
from mockgpt.clock import Clock
from mockgpt.conversation import Turn, TurnPlanner, replay_turn, text_of, tool_messages
from mockgpt.jsonfmt import dumpb
from mockgpt.replies import generate_title
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

if TYPE_CHECKING:
    from mockgpt.app import Call

MESSAGE_SCHEMA = "parts/message.json"
#: How many finished turns keep their events for resumes (older ones replay from the store).
MAX_TURNS = 64
CONVERSATION_NOT_FOUND = errors.detail(
    {"message": "Conversation not found", "code": "conversation_not_found"}
)


class IdFactory:
    """Seeded UUIDs: the n-th id of a seed is always the same."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}\x1fids")

    def __call__(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


class ConversationService:
    """State and behaviour of the conversation routes of one app."""

    def __init__(self, *, seed: int, clock: Clock, new_id: Callable[[], str]) -> None:
        self.seed = seed
        self.clock = clock
        self.new_id = new_id
        self.store = ConversationStore(now=clock.now, new_id=new_id)
        self.book = ScriptBook()
        self.planner = TurnPlanner(seed, clock, new_id)
        self.turns: dict[str, Turn] = {}
        self.authority: Authority | None = None

    # -- a turn ------------------------------------------------------------------

    def _gate(self, call: Call, body: dict[str, Any], model: str) -> Refusal | bool:
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

    async def converse(self, call: Call) -> Any:
        body: dict[str, Any] = call.json
        action = body.get("action", "next")
        model = body.get("model") or "auto"
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        conversation_id = body.get("conversation_id")
        conversation: Conversation | None = None
        if conversation_id:
            conversation = self.store.get(conversation_id)
            if conversation is None:
                return json_response(404, CONVERSATION_NOT_FOUND)
            running = self.turns.get(conversation.id)
            if running is not None and running.live:
                return json_response(409, errors.ONLY_ONE_MESSAGE)
        prompt = _prompt(messages)
        script = self.book.pick(prompt, model)
        if script is not None and script.http_error is not None:
            refusal = script.http_error
            return Prepared(
                refusal.status,
                dumpb(dict(refusal.body)),
                "application/json",
                list(refusal.headers.items()),
            )
        gate = self._gate(call, body, model)
        if isinstance(gate, Refusal):
            return json_response(gate.status, gate.body, list(gate.headers.items()))
        first_turn = conversation is None
        if conversation is None:
            conversation = self.store.create(self.new_id(), model_slug=model)
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
        now = self.clock.now()
        assistant_id = self.new_id()
        probe = self.planner.assistant_message(
            message_id=assistant_id, parent_id=anchor, model=slug, message_type=message_type
        )
        tools = tool_messages(script, probe, self.new_id, now)
        for tool in tools:
            conversation.add_message(tool, anchor)
            anchor = tool["id"]
        assistant = self.planner.assistant_message(
            message_id=assistant_id, parent_id=anchor, model=slug, message_type=message_type
        )
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
        if first_turn:
            conversation.title = turn.title or generate_title(self.seed, prompt or turn.text)
        self._keep(conversation.id, turn)
        return turn.stream(self.clock, on_end=self._ended)

    def _keep(self, conversation_id: str, turn: Turn) -> None:
        """Remember the latest turn of each conversation, for resumes and stream_status.

        Only the most recent `MAX_TURNS` finished turns keep their events (a resume
        of an older one replays the stored answer), so a server that runs all day
        does not grow without bound.
        """
        self.turns.pop(conversation_id, None)
        self.turns[conversation_id] = turn
        while len(self.turns) > MAX_TURNS:
            # A stalled stream stays live; it must not keep every later turn alive too.
            oldest = next((key for key, kept in self.turns.items() if not kept.live), None)
            if oldest is None:
                break
            del self.turns[oldest]

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
            text=text_of(message),
            create_time=self.clock.now(),
        )

    def _follow(self, turn: Turn) -> None:
        """Bring the stored answer up to what the turn's stream has delivered so far.

        The stream only counts what it sent (`Steps.sent`); the store catches up
        when it is read, so the hot loop of a stream never calls back into it.
        """
        conversation = self.store.get(turn.conversation_id)
        node = conversation.mapping.get(turn.assistant_id) if conversation else None
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

    def _ended(self, turn: Turn, completed: bool) -> None:
        """The stream is over (finished, faulted or left): the turn finishes server-side.

        Like the real service, generation does not depend on the client staying:
        the full answer is stored, and a resume can fetch the events the client missed.
        A scripted in-stream failure leaves the partial answer as it was streamed.
        """
        turn.live = False
        fault = turn.fault
        broken = fault is not None and fault.kind in (
            "error_envelope",
            "moderation_block",
            "malformed_frame",
        )
        if broken:
            self._follow(turn)
            return
        conversation = self.store.get(turn.conversation_id)
        if conversation is not None and turn.assistant_id in conversation.mapping:
            conversation.mapping[turn.assistant_id].message = copy.deepcopy(turn.final)
            self.store.touch(conversation)

    # -- the other conversation routes -------------------------------------------

    async def resume(self, call: Call) -> Any:
        body = call.json
        conversation = self.store.get(body["conversation_id"])
        if conversation is None:
            return json_response(404, CONVERSATION_NOT_FOUND)
        turn = self.turns.get(conversation.id) or replay_turn(conversation, self.clock.now())
        offset = max(0, int(body.get("offset") or 0))
        # A resume repeats the opening events (`delta_encoding`), then the rest from `offset`.
        start = min(max(offset, turn.steps.opening), len(turn.steps))
        return turn.stream(self.clock, start=start)

    def detail(self, conversation_id: str) -> Prepared:
        conversation = self.store.get(conversation_id)
        if conversation is None:
            return json_response(404, CONVERSATION_NOT_FOUND)
        return json_response(200, self.store.detail(self.sync(conversation)))

    def stream_status(self, conversation_id: str) -> Prepared:
        turn = self.turns.get(conversation_id)
        live = turn is not None and turn.live
        return json_response(
            200,
            {
                "status": "IS_STREAMING" if live else "COMPLETE",
                "streaming": live,
                "model": turn.model_slug if turn is not None else None,
                "started_at": iso_time(turn.started_at) if turn is not None and live else None,
            },
        )

    def conversation_or_404(self, conversation_id: str) -> Conversation | Prepared:
        conversation = self.store.get(conversation_id)
        return json_response(404, CONVERSATION_NOT_FOUND) if conversation is None else conversation


#: What a logged-out client is told once it passes the soft limit of free messages.
_SOFT_LIMIT_BANNER = {
    "type": "no_auth_rate_limit",
    "limit_type": "soft",
    "message": "You've reached the limit of free messages. Log in to keep chatting.",
}


def _prompt(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if sender(message).get("role", "user") == "user":
            return text_of(message)
    return ""


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
    built = new_message(id=ident, role="user", text=text_of(message), create_time=created)
    return built == message
