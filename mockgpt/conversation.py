"""The web conversation turn: what a turn of the ChatGPT web backend says, and its stream.

`TurnPlanner.plan` describes a turn as turn events (`mockgpt.wire.turn`): the
resume token, the echoed system, user and tool messages, the answer as it
grows, its markers, the final message, the typed frames, the title and the
limits. The request's `supported_encodings` picks the encoding (`legacy`
snapshots or `v1` deltas) and `mockgpt.wire.stream` sends it. The events are
made lazily as the stream goes, and kept (`Steps`), so a resume is a slice of
the same list and what is stored is exactly what was streamed.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from mockgpt import tokens
from mockgpt.clock import Clock
from mockgpt.message_text import content_text, message_text
from mockgpt.prelude import (
    call_events,
    call_message,
    finish_thoughts,
    plan_thoughts,
    reasoning_wanted,
    recap_message,
    reply_message,
    thinking_seconds,
    thought_events,
    thoughts_message,
)
from mockgpt.replies import generate_reply, generate_title, is_pro_model, unscripted_pacing
from mockgpt.scripts import Pacing, Script, iter_chunks
from mockgpt.store import STOP_TOKEN, Conversation, iso_time, new_message
from mockgpt.web_turn import Turn
from mockgpt.wire.encodings import encoding
from mockgpt.wire.stream import STREAM_HEADERS, Step, Steps, framing_for
from mockgpt.wire.turn import (
    Begin,
    Done,
    Limits,
    Marker,
    Meta,
    Pace,
    Text,
    Title,
    TurnEvent,
)

# -- planning ----------------------------------------------------------------------


class TurnPlanner:
    """Builds turns for one app: ids from the seed, times from the clock."""

    def __init__(self, seed: int, clock: Clock, new_id: Callable[[], str]) -> None:
        self.seed = seed
        self.clock = clock
        self.new_id = new_id
        self.pace: Literal["real", "instant"] = "instant"
        #: The version nibble of new conversation ids: the 2026 service's ids say 8,
        #: but clients still in use (the `chatgpt` npm package) refuse all but v4.
        self.id_version: Literal[4, 8] = 4
        #: The last resume token made, by conversation and second: a turn's stream and
        #: its `X-Conduit-Token` header carry the same one, signed once.
        self._token: tuple[str, int, str] | None = None

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
            channel="final",
        )

    def turn_ids(self, cid: str, answer_id: str) -> dict[str, str]:
        """The ids a turn's messages and frames share: request, exchange and trace."""
        rng = self._rng("turn-ids", cid, answer_id)
        request, exchange, trace = (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(3)
        )
        return {"request_id": request, "turn_exchange_id": exchange, "turn_trace_id": trace}

    def conversation_id(self) -> str:
        """A new conversation's id, time-ordered as the real ones are.

        The first 32 bits are the Unix seconds of the app clock, the version
        nibble is `id_version` and the variant bits RFC 4122's; the rest is seeded.
        """
        seconds = int(self.clock.now()) & 0xFFFFFFFF
        rest = uuid.UUID(self.new_id()).hex
        variant = (int(rest[16], 16) & 0x3) | 0x8
        version = self.id_version
        return str(
            uuid.UUID(f"{seconds:08x}{rest[8:12]}{version:x}{rest[13:16]}{variant:x}{rest[17:]}")
        )

    def _pacing(self, script: Script | None, model: str, cid: str) -> Pacing:
        if script is not None:
            return script.pacing
        return unscripted_pacing(self.pace, self.seed, model, cid)

    def _thought_pace(self, script: Script | None, model: str, cid: str, tid: str) -> Pace:
        return Pace(self._pacing(script, model, cid), self._rng("thoughts", cid, tid))

    def _server_metadata(
        self,
        conversation: Conversation,
        echoes: list[dict[str, Any]],
        assistant: dict[str, Any],
        ids: dict[str, str],
    ) -> None:
        """What the server adds to the user's message and the answer, in the store too."""
        model = assistant["metadata"]["model_slug"]
        user = next((m for m in reversed(echoes) if m["author"]["role"] == "user"), None)
        if user is not None:
            added = {
                "request_id": ids["request_id"],
                "message_source": None,
                "timestamp_": "absolute",
                "turn_exchange_id": ids["turn_exchange_id"],
                "resolved_model_slug": model,
            }
            for key, value in added.items():
                user["metadata"].setdefault(key, value)
        added = {
            "resolved_model_slug": model,
            "request_id": ids["request_id"],
            "turn_exchange_id": ids["turn_exchange_id"],
        }
        assistant["metadata"].update(added)
        node = conversation.mapping.get(assistant["id"])
        if node is not None and node.message is not None and node.message is not assistant:
            node.message["metadata"].update(added)

    def prelude(
        self,
        script: Script | None,
        assistant: dict[str, Any],
        *,
        prompt: str,
        conversation_id: str,
    ) -> list[dict[str, Any]]:
        """The messages before the answer, in their final form and order.

        A reasoning turn: thoughts, the scripted tool steps (call, reply), the
        recap; any other turn: the tool steps only. The answer's parent is the last.
        """
        model = assistant["metadata"]["model_slug"]
        parent = assistant["metadata"]["parent_id"]
        now = self.clock.now()
        reasoning = reasoning_wanted(model, script.reasoning if script is not None else None)
        channel = script.reasoning_channel if script is not None else "analysis"
        messages: list[dict[str, Any]] = []
        thoughts = None
        if reasoning:
            answer = _script_text(script) if script is not None else None
            if answer is None and (script is None or script.content is None):
                answer = generate_reply(self.seed, prompt, model)
            start = thoughts_message(
                message_id=self.new_id(), parent_id=parent, model=model, now=now, channel=channel
            )
            thoughts = finish_thoughts(start, plan_thoughts(answer or ""))
            messages.append(thoughts)
            parent = thoughts["id"]
            pace = self._thought_pace(script, model, conversation_id, thoughts["id"])
            seconds = thinking_seconds(thought_events(thoughts, pace, markers=False))
            now += seconds  # what follows the thoughts is made once they are streamed
        for tool in script.tool_messages if script is not None else ():
            call = call_message(
                message_id=self.new_id(),
                parent_id=parent,
                model=model,
                now=now,
                recipient=tool.recipient,
                call=tool.text,
                reasoning=reasoning,
            )
            reply = reply_message(
                message_id=self.new_id(),
                parent_id=call["id"],
                model=model,
                now=now,
                tool=tool.author_name,
                result=tool.result,
            )
            messages += [call, reply]
            parent = reply["id"]
        if thoughts is not None:
            recap = recap_message(
                message_id=self.new_id(),
                parent_id=parent,
                model=model,
                now=now,
                seconds=seconds,
                channel=channel,
            )
            messages.append(recap)
        ids = self.turn_ids(conversation_id, assistant["id"])
        for message in messages:
            message["metadata"]["request_id"] = ids["request_id"]
            message["metadata"]["turn_exchange_id"] = ids["turn_exchange_id"]
        return messages

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
        ids = self.turn_ids(cid, assistant["id"])
        self._server_metadata(conversation, echoes, assistant, ids)
        text = _script_text(script) if script is not None else None
        if text is None and (script is None or script.content is None):
            text = generate_reply(self.seed, prompt, model)
        finish = script.finish if script is not None else "stop"
        final = _finished(assistant, script, text, finish)
        frames = dict(script.frames) if script is not None else {}
        title = None
        if first_turn and frames.get("title_generation", True):
            title = (script.title if script and script.title else None) or generate_title(
                self.seed, prompt or text or ""
            )
        pace = Pace(self._pacing(script, model, cid), self._rng("pacing", cid, assistant["id"]))
        if script is not None and (script.text is not None or script.chunks is not None):
            chunks = script.iter_chunked()
        else:
            chunks = iter_chunks(text) if text else iter(())
        events = self._events(
            cid=cid,
            echoes=echoes,
            tools=tools,
            assistant=assistant,
            final=final,
            chunks=chunks,
            pace=pace,
            frames=frames,
            title=title,
            limits=limits,
            banner=banner,
            now=self.clock.now(),
            first_turn=first_turn,
            script=script,
            ids=ids,
            handoff=wants_handoff(script, model, v1=v1),
        )
        name = "v1" if v1 else "legacy"
        encoder = encoding(name, conversation_id=cid, message_id=assistant["id"])
        handoff = wants_handoff(script, model, v1=v1)
        realism = script.realism if script is not None else None
        return Turn(
            conversation_id=cid,
            assistant_id=assistant["id"],
            model_slug=model,
            started_at=self.clock.now(),
            steps=Steps(encoder, events, framing_for(encoder, realism)),
            final=final,
            encoding=name,
            fault=script.fault if script is not None else None,
            pings=realism.pings if realism is not None else 0,
            title=title,
            text=message_text(final),
            exchange_id=ids["turn_exchange_id"],
            handoff=handoff,
        )

    def _events(
        self,
        *,
        cid: str,
        echoes: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        assistant: dict[str, Any],
        final: dict[str, Any],
        chunks: Iterator[str],
        pace: Pace,
        frames: dict[str, bool],
        title: str | None,
        limits: list[dict[str, Any]] | None,
        banner: dict[str, Any] | None,
        now: float,
        first_turn: bool = False,
        script: Script | None = None,
        ids: dict[str, str] | None = None,
        handoff: bool = False,
    ) -> Iterator[TurnEvent]:
        """The turn, event by event, in the order the web backend sends it."""
        aid = assistant["id"]
        if frames.get("resume_conversation_token", True):
            yield Meta("resume_conversation_token", self._resume_token(cid, now))
        user = next((m for m in reversed(echoes) if m["author"]["role"] == "user"), None)
        if user is not None and frames.get("input_message", True):
            yield Meta("input_message", {"input_message": user})
        for message in echoes:
            yield Begin(message, echo=True)
        markers = frames.get("message_marker", True)
        model = assistant["metadata"]["model_slug"]
        reasoned = False
        for message in tools:
            if message["content"]["content_type"] == "thoughts":
                reasoned = True
                thought_pace = self._thought_pace(script, model, cid, message["id"])
                yield from thought_events(message, thought_pace, markers=markers)
            elif message["author"]["role"] == "assistant" and message["recipient"] != "all":
                call_pace = Pace(self._pacing(script, model, cid), self._rng("call", message["id"]))
                yield from call_events(message, call_pace)
            else:
                yield Begin(message, echo=True)
        yield Begin(assistant, channel=assistant.get("channel"))
        if reasoned and markers:
            # After reasoning the answer is announced before its text; clients split on this.
            yield Marker("user_visible_token", "first", aid)
            yield Marker("final_channel_token", "first", aid)
        held, first, paced = None, not reasoned, pace.active
        # The last piece of text arrives with the final message, not as a delta of its own:
        # each piece is sent once the next one is known.
        for chunk in chunks:
            if held is not None:
                yield Text(held, delay=pace.next(held)) if paced else held
                if first and markers:
                    yield Marker("user_visible_token", "first", aid)
                first = False
            held = chunk
        yield Done(
            final, "stop" if final["end_turn"] else "max_tokens", delay=pace.next(held or "")
        )
        if markers:
            yield Marker("last_token", "last", aid)
        if frames.get("server_ste_metadata", True):
            metadata = self._ste_metadata(
                cid, assistant, first_turn, ids or self.turn_ids(cid, aid), [*echoes, *tools]
            )
            if handoff:
                metadata["resume_with_websockets"] = True
            yield Meta("server_ste_metadata", {"metadata": metadata})
        if frames.get("message_stream_complete", True):
            yield Meta("message_stream_complete", {})
        if title is not None:
            yield Title(title)
        if frames.get("conversation_detail_metadata", True):
            yield Limits(limits, banner)
        if frames.get("conversation_async_status", False):
            status = {"message_id": aid, "async_status": 2, "update_time": iso_time(now)}
            yield Meta("conversation_async_status", status)
        if frames.get("moderation", False):
            yield Meta("moderation", {"blocked": False})

    def resume_token(self, cid: str, moment: float) -> str:
        """The token a resume of this turn presents (also sent as `X-Conduit-Token`)."""
        return str(self._resume_token(cid, moment)["token"])

    def _resume_token(self, cid: str, moment: float) -> dict[str, Any]:
        now = int(moment)
        made = self._token
        if made is not None and made[0] == cid and made[1] == now:
            return {"kind": "topic", "token": made[2]}
        claims = {
            "conduit_uuid": uuid.UUID(int=self._rng("conduit", cid).getrandbits(128)).hex,
            "conduit_location": "10.0.0.1:8304",
            "cluster": "mockgpt-1",
            "iat": now,
            "exp": now + 3600,
            "turn_topic_id": f"conversation-turn-{cid}",
        }
        token = tokens.encode_jwt(claims, tokens.signing_key(self.seed))
        self._token = (cid, now, token)
        return {"kind": "topic", "token": token}

    def _ste_metadata(
        self,
        cid: str,
        assistant: dict[str, Any],
        first_turn: bool,
        ids: dict[str, str],
        before: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The turn's server metadata, with the keys of the 2026 service in its order."""
        rng = self._rng("ste", cid, assistant["id"])
        model = assistant["metadata"]["model_slug"]
        hidden = next((m["id"] for m in before if m["author"]["role"] == "system"), None)
        calls = [
            m for m in before if m["author"]["role"] == "assistant" and m["recipient"] != "all"
        ]
        reasoning = any(m["content"]["content_type"] == "thoughts" for m in before)
        metadata: dict[str, Any] = {
            "conduit_prewarmed": False,
            "plan_type": tokens.PLAN_TYPE,
            "plan_type_bucket": tokens.PLAN_TYPE,
            "user_agent": "web_desktop",
            "service": None,
            "tool_name": calls[0]["recipient"] if calls else None,
            "tool_invoked": bool(calls),
            "fast_convo": True,
            "warmup_state": rng.choice(["warm", "rewarm", "cold"]),
            "is_first_turn": first_turn,
            "cluster_region": rng.choice(["westus3", "eastus2", "centralus"]),
            "model_slug": model,
            "region": None,
            "is_multimodal": False,
            "did_auto_switch_to_reasoning": False,
            "auto_switcher_race_winner": None,
            "is_autoswitcher_enabled": False,
            "is_search": None,
            "did_prompt_contain_image": False,
            "search_tool_call_count": None,
            "search_tool_query_types": None,
            "message_id": hidden or assistant["id"],
            "request_id": ids["request_id"],
            "turn_exchange_id": ids["turn_exchange_id"],
            "turn_trace_id": ids["turn_trace_id"],
            "otrace_id": str(rng.getrandbits(127)),
            "a32e6ebcb": 1,
            "resume_with_websockets": False,
            "low_turn_topic_ttl": False,
            "streaming_async_status": False,
            "replace_stream_status": True,
            "temporal_conversation_turn": False,
            "turn_use_case": "text",
            "turn_mode": "default",
        }
        if reasoning:
            metadata["resolved_model_slug"] = model
            metadata["requested_model_experience"] = "thinking"
            metadata["product_experience"] = "chat"
            metadata["thinking_effort"] = "standard"
        return metadata


def wants_handoff(script: Script | None, model: str, *, v1: bool) -> bool:
    """Whether a turn hands its stream off to the WebSocket or a resume.

    A script's `handoff` decides; without one, turns of Pro models do when the
    client reads `v1` (the 2026 web client), as their long answers do on the real
    service. Older clients, which know no handoff, get the whole stream.
    """
    asked = script.handoff if script is not None else None
    if asked is not None:
        return asked
    return v1 and is_pro_model(model)


def _script_text(script: Script) -> str | None:
    if script.content is not None:
        return content_text(script.content) or None
    return script.text


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


def replay_turn(conversation: Conversation, now: float) -> Turn:
    """A finished turn rebuilt from the store, for a conversation streamed before
    this app started (the sample conversations): one `v1` add of the current message."""
    node = conversation.mapping[conversation.current_node]
    message = node.message or {}
    encoder = encoding("v1", conversation_id=conversation.id, message_id=node.id)
    return Turn(
        conversation_id=conversation.id,
        assistant_id=node.id,
        model_slug=str((message.get("metadata") or {}).get("model_slug") or "auto"),
        started_at=now,
        steps=Steps(encoder, iter([Begin(message, echo=True)]), framing_for(encoder, None)),
        final=message,
        encoding="v1",
        live=False,
    )


__all__ = [
    "STREAM_HEADERS",
    "Step",
    "Turn",
    "TurnPlanner",
    "replay_turn",
]
