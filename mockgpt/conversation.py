"""The conversation engine: turns, their encodings, and the streams that carry them.

Layers, each testable alone:

- a *turn* (`plan_turn`) says what happens: the echoed system and user
  messages, the assistant message as it grows chunk by chunk, the typed frames,
  the pacing and the scripted fault;
- an *encoding* turns the turn into events: legacy full snapshots, or delta
  encoding `v1` (`mockgpt.delta`), chosen by the request's `supported_encodings`;
- *framing* (`mockgpt.framing`) writes the bytes.

Every event of a turn is planned before the first byte is sent, so a resume is
a slice of the same list, and what is stored is exactly what was streamed.
"""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Literal

from starlette.types import Message, Receive, Scope, Send

from mockgpt import tokens
from mockgpt.clock import Clock
from mockgpt.delta import DeltaEncoder
from mockgpt.framing import DONE, EMPTY, Event, Framing
from mockgpt.jsonfmt import dumps
from mockgpt.replies import generate_reply, generate_title, unscripted_pacing
from mockgpt.scripts import Fault, Script, chunk_text
from mockgpt.store import STOP_TOKEN, Conversation, iso_time, new_message

STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
]


def text_of(message: dict[str, Any]) -> str:
    """The visible text of a message (its text parts joined, or its code text)."""
    content = message.get("content")
    if not isinstance(content, dict):
        return ""
    parts = content.get("parts")
    if isinstance(parts, list):
        return "".join(part for part in parts if isinstance(part, str))
    text = content.get("text")
    return text if isinstance(text, str) else ""


@dataclass(slots=True)
class Step:
    """One planned event, the pause before it, and how much of the answer it has sent.

    `text_end` is the length of the answer's text once this event is out (None for
    events that do not grow it); `final` marks the event that completes the answer.
    The store follows these marks instead of keeping a copy of the message per step.
    """

    event: Event | None
    delay: float = 0.0
    text_end: int | None = None
    final: bool = False
    #: The event's bytes, when the planner wrote them directly (the answer's text chunks).
    wire: bytes | None = None


@dataclass(slots=True)
class Turn:
    """A planned turn: its steps (the counted events) and how the stream ends."""

    conversation_id: str
    assistant_id: str
    model_slug: str
    started_at: float
    steps: list[Step]
    final: dict[str, Any]
    encoding: str
    framing: Framing
    title: str | None = None
    text: str = ""
    text_end: int | None = None
    fault: Fault | None = None
    pings: int = 0
    sent: int = 0
    live: bool = True
    watchers: list[Callable[[Turn], None]] = field(default_factory=list)

    def wire(self, index: int) -> bytes:
        """The bytes of step `index` on this turn's framing."""
        step = self.steps[index]
        if step.wire is not None:
            return step.wire
        assert step.event is not None
        return self.framing.encode(step.event)


# -- planning ----------------------------------------------------------------------


class TurnPlanner:
    """Builds turns for one app: ids from the seed, times from the clock."""

    def __init__(self, seed: int, clock: Clock, new_id: Callable[[], str]) -> None:
        self.seed = seed
        self.clock = clock
        self.new_id = new_id
        self.pace: Literal["real", "instant"] = "instant"

    def _rng(self, *parts: str) -> random.Random:
        return random.Random("\x1f".join((str(self.seed), *parts)))

    def assistant_message(
        self, *, message_id: str, parent_id: str, model: str, message_type: str
    ) -> dict[str, Any]:
        return new_message(
            id=message_id,
            role="assistant",
            text="",
            create_time=self.clock.now(),
            status="in_progress",
            end_turn=None,
            metadata={
                "citations": [],
                "content_references": [],
                "gizmo_id": None,
                "message_type": message_type,
                "model_slug": model,
                "default_model_slug": "auto",
                "parent_id": parent_id,
                "model_switcher_deny": [],
            },
        )

    def plan(
        self,
        *,
        conversation: Conversation,
        echoes: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        assistant: dict[str, Any],
        script: Script | None,
        prompt: str,
        v1: bool,
        first_turn: bool,
        limits: list[dict[str, Any]] | None,
        banner: dict[str, Any] | None = None,
    ) -> Turn:
        cid = conversation.id
        model = assistant["metadata"]["model_slug"]
        text = _script_text(script) if script is not None else None
        if text is None and (script is None or script.content is None):
            text = generate_reply(self.seed, prompt, model)
        chunks = _chunks(script, text)
        frames = _frames(script)
        finish = script.finish if script is not None else "stop"
        final = _finished(assistant, script, text, finish)
        title = None
        if first_turn and frames.get("title_generation", True):
            title = (script.title if script and script.title else None) or generate_title(
                self.seed, prompt or text or ""
            )
        pacing_rng = self._rng("pacing", cid, assistant["id"])
        delays = pacing_delays(
            script or Script(pacing=unscripted_pacing(self.pace, self.seed, model, cid)),
            chunks,
            pacing_rng,
        )
        envelope = _envelope_for(cid)
        realism = script.realism if script is not None else None
        framing = Framing(
            crlf=bool(realism and realism.crlf),
            padding=bool(realism and realism.padding),
            pad_block=8 if v1 else 32,
        )
        if v1:
            steps = self._v1_steps(
                framing,
                cid,
                echoes,
                tools,
                assistant,
                final,
                chunks,
                delays,
                frames,
                title,
                model,
                limits,
                banner,
            )
        else:
            steps = _legacy_steps(
                cid, [*echoes, *tools], assistant, final, chunks, delays, envelope
            )
            if frames.get("moderation", False):
                steps.append(Step(Event(None, _legacy_moderation(cid, assistant["id"]))))
        return Turn(
            conversation_id=cid,
            assistant_id=assistant["id"],
            model_slug=model,
            started_at=self.clock.now(),
            steps=steps,
            final=final,
            encoding="v1" if v1 else "legacy",
            framing=framing,
            fault=script.fault if script is not None else None,
            pings=realism.pings if realism is not None else 0,
            title=title,
            text=text_of(final),
        )

    def _v1_steps(
        self,
        framing: Framing,
        cid: str,
        echoes: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        assistant: dict[str, Any],
        final: dict[str, Any],
        chunks: list[str],
        delays: list[float],
        frames: dict[str, bool],
        title: str | None,
        model: str,
        limits: list[dict[str, Any]] | None,
        banner: dict[str, Any] | None,
    ) -> list[Step]:
        encoder = DeltaEncoder()
        steps = [Step(Event(name, data)) for name, data in encoder.start()]
        if frames.get("resume_conversation_token", True):
            steps.append(Step(Event(None, self._resume_token(cid))))
        user = next((m for m in reversed(echoes) if m["author"]["role"] == "user"), None)
        if user is not None and frames.get("input_message", True):
            steps.append(
                Step(
                    Event(
                        None,
                        {"type": "input_message", "input_message": user, "conversation_id": cid},
                    )
                )
            )
        for message in echoes:
            steps += [Step(Event(n, d)) for n, d in encoder.add(_envelope(message, cid))]
        for message in tools:
            steps += [Step(Event(n, d)) for n, d in encoder.add(_envelope(message, cid))]
        steps += [Step(Event(n, d), text_end=0) for n, d in encoder.add(_envelope(assistant, cid))]
        marker = {"type": "message_marker", "conversation_id": cid, "message_id": assistant["id"]}
        path = _text_path(assistant)
        body = chunks[:-1] if chunks else []
        if body:
            sent = len(body[0])
            for name, data in encoder.append(path, body[0]):
                steps.append(Step(_delta(name, data), delays[0], text_end=sent))
            if frames.get("message_marker", True):
                steps.append(
                    Step(Event(None, {**marker, "marker": "user_visible_token", "event": "first"}))
                )
            # The rest of the text: bare {"v": chunk} deltas, the bulk of every turn.
            encoder.extend(path, body[1:])
            plain = not framing.padding and not framing.crlf
            for index in range(1, len(body)):
                chunk = body[index]
                sent += len(chunk)
                if plain:
                    wire = f'event: delta\ndata: {{"v": {encode_basestring_ascii(chunk)}}}\n\n'
                    steps.append(Step(None, delays[index], sent, wire=wire.encode()))
                else:
                    event = _delta("delta", {"v": chunk})
                    steps.append(Step(event, delays[index], text_end=sent))
        last_delay = delays[len(body)] if len(delays) > len(body) else 0.0
        for name, data in encoder.update(_envelope(final, cid), batch=True):
            steps.append(Step(Event(name, data), last_delay, final=True))
        if frames.get("message_marker", True):
            steps.append(Step(Event(None, {**marker, "marker": "last_token", "event": "last"})))
        if frames.get("server_ste_metadata", True):
            steps.append(Step(Event(None, self._ste_metadata(cid, assistant, model))))
        if frames.get("message_stream_complete", True):
            steps.append(
                Step(Event(None, {"type": "message_stream_complete", "conversation_id": cid}))
            )
        if title is not None:
            steps.append(
                Step(
                    Event(
                        None, {"type": "title_generation", "title": title, "conversation_id": cid}
                    )
                )
            )
        if frames.get("conversation_detail_metadata", True):
            steps.append(
                Step(
                    Event(
                        None,
                        {
                            "type": "conversation_detail_metadata",
                            "banner_info": banner,
                            "blocked_features": [],
                            "model_limits": [],
                            "limits_progress": limits,
                            "default_model_slug": "auto",
                            "conversation_id": cid,
                        },
                    )
                )
            )
        if frames.get("conversation_async_status", False):
            steps.append(
                Step(
                    Event(
                        None,
                        {
                            "type": "conversation_async_status",
                            "conversation_id": cid,
                            "message_id": assistant["id"],
                            "async_status": 2,
                            "update_time": iso_time(self.clock.now()),
                        },
                    )
                )
            )
        if frames.get("moderation", False):
            steps.append(
                Step(
                    Event(
                        None,
                        {
                            "type": "moderation",
                            "moderation_response": {"blocked": False},
                            "conversation_id": cid,
                        },
                    )
                )
            )
        return steps

    def _resume_token(self, cid: str) -> dict[str, Any]:
        now = int(self.clock.now())
        claims = {
            "conduit_uuid": uuid.UUID(int=self._rng("conduit", cid).getrandbits(128)).hex,
            "conduit_location": "10.0.0.1:8304",
            "cluster": "mockgpt-1",
            "iat": now,
            "exp": now + 3600,
            "turn_topic_id": f"conversation-turn-{cid}",
        }
        token = tokens.encode_jwt(claims, tokens.signing_key(self.seed))
        return {
            "type": "resume_conversation_token",
            "kind": "topic",
            "token": token,
            "conversation_id": cid,
        }

    def _ste_metadata(self, cid: str, assistant: dict[str, Any], model: str) -> dict[str, Any]:
        rng = self._rng("ste", cid, assistant["id"])
        return {
            "type": "server_ste_metadata",
            "metadata": {
                "conduit_prewarmed": False,
                "plan_type": tokens.PLAN_TYPE,
                "plan_type_bucket": tokens.PLAN_TYPE,
                "user_agent": "web",
                "service": None,
                "tool_name": None,
                "tool_invoked": False,
                "fast_convo": True,
                "warmup_state": rng.choice(["warm", "rewarm", "cold"]),
                "is_first_turn": assistant["metadata"].get("message_type") == "next",
                "cluster_region": rng.choice(["westus3", "eastus2", "centralus"]),
                "model_slug": model,
                "region": None,
                "is_multimodal": None,
                "did_auto_switch_to_reasoning": False,
                "message_id": assistant["id"],
                "request_id": f"{rng.getrandbits(64):016x}-SJC",
                "turn_exchange_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "resume_with_websockets": False,
            },
            "conversation_id": cid,
        }


def _script_text(script: Script) -> str | None:
    if script.content is not None:
        return text_of({"content": script.content}) or None
    return script.text


def _chunks(script: Script | None, text: str | None) -> list[str]:
    if script is not None and (script.text is not None or script.chunks is not None):
        return list(script.chunked())
    return chunk_text(text) if text else []


def _frames(script: Script | None) -> dict[str, bool]:
    return dict(script.frames) if script is not None else {}


def pacing_delays(script: Script | None, chunks: list[str], rng: random.Random) -> list[float]:
    """The pause before each chunk: time to first token, then tokens over the rate."""
    if script is None:
        return [0.0] * max(1, len(chunks))
    pacing = script.pacing
    delays = []
    for index, chunk in enumerate(chunks or [""]):
        delay = 0.0
        if pacing.tokens_per_second:
            tokens_in_chunk = max(1, len(chunk) // 4)
            delay = tokens_in_chunk / pacing.tokens_per_second
            if pacing.jitter:
                delay *= 1 + rng.uniform(-pacing.jitter, pacing.jitter)
        if index == 0:
            delay += pacing.ttft_ms / 1000
        delays.append(max(0.0, delay))
    return delays


_TEXT_MARK = "\u2063mockgpt-text\u2063"


def _text_path(message: dict[str, Any]) -> str:
    """Where the answer's text grows: the first part, or a code message's `text`."""
    return "/message/content/parts/0" if "parts" in message["content"] else "/message/content/text"


def _set_text(message: dict[str, Any], text: str) -> None:
    content = message["content"]
    if "parts" in content:
        content["parts"][0] = text
    else:
        content["text"] = text


def _delta(name: str, data: dict[str, Any]) -> Event:
    """A delta event; a bare `{"v": text}` is serialised directly (most events of a turn)."""
    if len(data) == 1 and isinstance(data.get("v"), str):
        return Event(name, data, encoded='{"v": ' + encode_basestring_ascii(data["v"]) + "}")
    return Event(name, data)


def _finished(
    assistant: dict[str, Any], script: Script | None, text: str | None, finish: str
) -> dict[str, Any]:
    final = copy.deepcopy(assistant)
    if script is not None and script.content is not None:
        final["content"] = copy.deepcopy(script.content)
    else:
        final["content"]["parts"][0] = text or ""
    final["status"] = "finished_successfully"
    final["end_turn"] = finish == "stop"
    details: dict[str, Any] = {"type": "stop", "stop_tokens": [STOP_TOKEN]}
    if finish == "max_tokens":
        details = {"type": "max_tokens"}
    final["metadata"]["finish_details"] = details
    final["metadata"]["is_complete"] = True
    return final


def _envelope(message: dict[str, Any], cid: str) -> dict[str, Any]:
    return {"message": message, "conversation_id": cid, "error": None}


def _envelope_for(cid: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda message: _envelope(message, cid)


def _legacy_steps(
    cid: str,
    echoes: list[dict[str, Any]],
    assistant: dict[str, Any],
    final: dict[str, Any],
    chunks: list[str],
    delays: list[float],
    envelope: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[Step]:
    steps = [Step(Event(None, envelope(message))) for message in echoes]
    # Every snapshot is the same JSON but for the text: serialise it once around a
    # marker and splice each prefix of the answer in, instead of re-encoding it all.
    probe = copy.deepcopy(assistant)
    _set_text(probe, _TEXT_MARK)
    before, after = dumps(envelope(probe)).split(dumps(_TEXT_MARK), 1)
    body = chunks[:-1] if chunks else []
    text = ""
    for index, chunk in enumerate(body):
        text += chunk
        encoded = before + encode_basestring_ascii(text) + after
        steps.append(Step(Event(None, None, encoded=encoded), delays[index], text_end=len(text)))
    last_delay = delays[len(body)] if len(delays) > len(body) else 0.0
    steps.append(Step(Event(None, envelope(final)), last_delay, final=True))
    return steps


def _legacy_moderation(cid: str, message_id: str) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "message_id": message_id,
        "is_completion": True,
        "moderation_response": {
            "flagged": False,
            "blocked": False,
            "moderation_id": f"modr-{uuid.UUID(message_id).hex[:24]}",
        },
    }


def tool_messages(
    script: Script | None, assistant: dict[str, Any], new_id: Callable[[], str], now: float
) -> list[dict[str, Any]]:
    """The assistant's calls to tools and the tools' answers, before the final reply."""
    if script is None or not script.tool_messages:
        return []
    messages = []
    for tool in script.tool_messages:
        call = new_message(
            id=new_id(),
            role="assistant",
            text=tool.text,
            create_time=now,
            status="finished_successfully",
            end_turn=False,
            recipient=tool.recipient,
            metadata={
                "model_slug": assistant["metadata"]["model_slug"],
                "parent_id": assistant["metadata"]["parent_id"],
            },
        )
        answer = new_message(
            id=new_id(),
            role="tool",
            author_name=tool.author_name,
            text="",
            create_time=now,
            status="finished_successfully",
            end_turn=None,
            metadata={},
        )
        messages += [call, answer]
    return messages


# -- streaming ---------------------------------------------------------------------


class TurnStream:
    """The ASGI response that sends a turn's events from `start`, paced on the clock.

    It stops promptly when the client goes away. A scripted fault strikes after
    its number of counted events, on the first delivery only: a resume gets the
    rest of the turn intact.
    """

    def __init__(
        self,
        turn: Turn,
        clock: Clock,
        *,
        start: int = 0,
        restart_encoding: bool = False,
        on_step: Callable[[Turn, Step], None] | None = None,
        on_end: Callable[[Turn, bool], None] | None = None,
    ) -> None:
        self.turn = turn
        self.fault = turn.fault if start == 0 else None
        self.clock = clock
        self.start = start
        self.restart_encoding = restart_encoding
        self.on_step = on_step
        self.on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        watcher = asyncio.ensure_future(watch())
        completed = False
        try:
            completed = await self._send_all(send, gone)
        except OSError:
            completed = False
        finally:
            watcher.cancel()
            if self.on_end is not None:
                self.on_end(self.turn, completed)

    async def _pause(self, seconds: float, gone: asyncio.Event) -> bool:
        """Wait on the clock; False when the client left meanwhile."""
        if seconds <= 0:
            return not gone.is_set()
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waiter = asyncio.ensure_future(gone.wait())
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        waiter.cancel()
        return not gone.is_set()

    async def _send_all(self, send: Send, gone: asyncio.Event) -> bool:
        turn, framing, fault = self.turn, self.turn.framing, self.fault
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})

        async def emit(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        if self.restart_encoding and turn.encoding == "v1":
            await emit(turn.wire(0))
        pings_left = turn.pings
        strike_at = fault.after if fault is not None else -1
        on_step = self.on_step
        steps = turn.steps
        # The hot loop of every stream: one write per event, as the real server does.
        for index in range(self.start, len(steps)):
            step = steps[index]
            if step.delay > 0 and not await self._pause(step.delay, gone):
                return False
            if index == strike_at:
                assert fault is not None
                if fault.kind != "stall":
                    return await self._strike(fault, emit, send, gone)
                if not await self._pause(fault.seconds, gone):
                    return False
            if pings_left and index > 0:
                await emit(framing.ping(self.clock.now()))
                pings_left -= 1
            wire = step.wire if step.wire is not None else turn.wire(index)
            await send({"type": "http.response.body", "body": wire, "more_body": True})
            if index >= turn.sent:
                turn.sent = index + 1
            if on_step is not None and (step.text_end is not None or step.final):
                on_step(turn, step)
            if gone.is_set():
                return False
        if fault is not None and fault.after >= len(turn.steps):
            if fault.kind != "stall":
                return await self._strike(fault, emit, send, gone)
            if not await self._pause(fault.seconds, gone):
                return False
        if turn.encoding == "legacy" and framing.padding:
            await emit(framing.encode(EMPTY))
        await send({"type": "http.response.body", "body": framing.encode(DONE)})
        return True

    async def _strike(
        self, fault: Fault, emit: Callable[[bytes], Any], send: Send, gone: asyncio.Event
    ) -> bool:
        turn, framing = self.turn, self.turn.framing
        kind = fault.kind
        if kind == "close_after":
            # Returning without finishing the body makes the server drop the connection.
            return False
        if kind == "no_done":
            await send({"type": "http.response.body", "body": b""})
            return False
        if kind == "malformed_frame":
            await emit(b'data: {"message": {"id": "' + framing.newline.encode() * 2)
            await send({"type": "http.response.body", "body": framing.encode(DONE)})
            return False
        if kind == "error_envelope":
            error = {
                "message": None,
                "conversation_id": turn.conversation_id,
                "error": fault.message or "Something went wrong while generating the response.",
            }
            if turn.encoding == "v1":
                error["error_code"] = "stream_error"
            await emit(framing.encode(Event(None, error)))
        elif kind == "moderation_block":
            if turn.encoding == "v1":
                block: dict[str, Any] = {
                    "type": "moderation",
                    "moderation_response": {"blocked": True},
                    "conversation_id": turn.conversation_id,
                }
            else:
                block = _legacy_moderation(turn.conversation_id, turn.assistant_id)
                block["moderation_response"].update({"flagged": True, "blocked": True})
            await emit(framing.encode(Event(None, block)))
        await send({"type": "http.response.body", "body": framing.encode(DONE)})
        return False


__all__ = [
    "STREAM_HEADERS",
    "Step",
    "Turn",
    "TurnPlanner",
    "TurnStream",
    "text_of",
]
