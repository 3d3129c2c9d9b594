"""The Responses API's objects: ids, the response object, input items, token counts.

Key order follows 2026 captures of the platform: `id, object, created_at,
status`, then the other keys alphabetically with `metadata` last. Ids are
`<prefix>_` + 50 hex: 18 hex shared by a thread (a response continued with
`previous_response_id` keeps its parent's), 8 hex of creation time, 24 random.
"""

from __future__ import annotations

import random
from typing import Any

from mockgpt.jsonfmt import dumps
from mockgpt.platform import count_tokens

Payload = dict[str, Any]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#: Models that reason before they answer (and so echo a reasoning effort).
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5", "codex")


class Ids:
    """Draws the ids of one thread: items share the response's thread prefix."""

    def __init__(self, rng: random.Random, thread: str, created: int) -> None:
        self.rng = rng
        self.thread = thread
        self.created = created

    def make(self, prefix: str) -> str:
        return (
            f"{prefix}_{self.thread}{self.created & 0xFFFFFFFF:08x}{self.rng.getrandbits(96):024x}"
        )

    def call_id(self) -> str:
        return "call_" + "".join(self.rng.choice(ALNUM) for _ in range(24))


def thread_of(response_id: str) -> str:
    """The 18 hex a response shares with the rest of its thread."""
    return response_id.split("_", 1)[-1][:18]


def reasons(model: str) -> bool:
    return model.startswith(REASONING_PREFIXES)


def _given(request: Payload, key: str, default: Any) -> Any:
    """The request's value for `key`, or the platform's default when absent or null."""
    value = request.get(key)
    return default if value is None else value


def mapping(value: Any) -> Payload:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _text_format(request: Payload) -> Payload:
    text = mapping(request.get("text"))
    fmt = mapping(text.get("format")) or {"type": "text"}
    if fmt.get("type") == "json_schema":
        fmt = {
            "type": "json_schema",
            "description": fmt.get("description"),
            "name": fmt.get("name"),
            "schema": fmt.get("schema"),
            "strict": fmt.get("strict"),
        }
    return {"format": fmt, "verbosity": text.get("verbosity", "medium")}


def _tool(tool: Any) -> Any:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    return {
        "type": "function",
        "description": tool.get("description"),
        "name": tool.get("name"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict", True),
    }


def opening(
    request: Payload, response_id: str, created: int, *, status: str = "in_progress"
) -> Payload:
    """The response object as it opens: no output, no usage, everything the request set echoed."""
    model = str(request.get("model"))
    asked = mapping(request.get("reasoning"))
    default_effort = "medium" if reasons(model) else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": bool(request.get("background")),
        "completed_at": None,
        "error": None,
        "frequency_penalty": 0.0,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "model": model,
        "output": [],
        "parallel_tool_calls": _given(request, "parallel_tool_calls", True),
        "presence_penalty": 0.0,
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": request.get("prompt_cache_key"),
        "prompt_cache_retention": request.get("prompt_cache_retention"),
        "reasoning": {
            "effort": asked.get("effort", default_effort),
            "summary": asked.get("summary"),
        },
        "safety_identifier": request.get("safety_identifier"),
        "service_tier": "auto",
        "store": request.get("store") is not False,
        "temperature": _given(request, "temperature", 1.0),
        "text": _text_format(request),
        "tool_choice": _given(request, "tool_choice", "auto"),
        "tools": [_tool(tool) for tool in request.get("tools") or []],
        "top_logprobs": request.get("top_logprobs") or 0,
        "top_p": _given(request, "top_p", 1.0),
        "truncation": request.get("truncation") or "disabled",
        "usage": None,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def usage(input_tokens: int, output_tokens: int, reasoning_tokens: int = 0) -> Payload:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


# -- input items -------------------------------------------------------------------------------


def input_items(value: Any, ids: Ids) -> list[Payload]:
    """The request's `input` as stored items, each with an id (a string is one user message)."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    items: list[Payload] = []
    for raw in value if isinstance(value, list) else []:
        if not isinstance(raw, dict):
            continue
        kind = raw.get("type", "message")
        if kind == "message" and "role" in raw:
            content = raw.get("content")
            if isinstance(content, str):
                content = [{"type": "input_text", "text": content}]
            item = {
                "id": raw.get("id") or ids.make("msg"),
                "type": "message",
                "status": "completed",
                "content": content if isinstance(content, list) else [],
                "role": raw.get("role"),
            }
        elif kind == "function_call_output":
            item = {
                "id": raw.get("id") or ids.make("fco"),
                "type": "function_call_output",
                "status": "completed",
                "call_id": raw.get("call_id"),
                "output": raw.get("output"),
            }
        else:
            # other item types are kept as sent, always with an id and a type
            rest = {key: value for key, value in raw.items() if key not in ("id", "type")}
            item = {"id": raw.get("id") or ids.make("item"), "type": kind, **rest}
        items.append(item)
    return items


def item_text(item: Payload) -> str:
    """The words of an input or output item, for prompts and token counts."""
    kind = item.get("type")
    if kind == "message":
        content = item.get("content")
        if isinstance(content, str):
            return content
        parts = content if isinstance(content, list) else []
        return " ".join(
            str(part.get("text") or part.get("refusal") or "")
            for part in parts
            if isinstance(part, dict)
        )
    if kind == "function_call":
        return f"{item.get('name', '')} {item.get('arguments', '')}"
    if kind == "function_call_output":
        output = item.get("output")
        return output if isinstance(output, str) else dumps(output)
    return ""


def prompt_of(history: list[Payload]) -> str:
    """The latest user words: what scripts match and generated answers reply to."""
    for item in reversed(history):
        if item.get("type") == "message" and item.get("role") == "user":
            return item_text(item)
    return ""


def count_input(request: Payload, history: list[Payload]) -> int:
    """Input tokens: instructions, each item with 3 of framing, tool definitions, 3 more."""
    total = 3
    instructions = request.get("instructions")
    if isinstance(instructions, str):
        total += 3 + count_tokens(instructions)
    for item in history:
        total += 3 + count_tokens(item_text(item))
    for tool in request.get("tools") or []:
        total += count_tokens(dumps(tool))
    return total
