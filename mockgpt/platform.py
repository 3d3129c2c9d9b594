"""The OpenAI platform API: `/v1/chat/completions` and `/v1/models`.

Answers are shaped the way the official SDKs parse them: `chat.completion`
objects, `chat.completion.chunk` streams ending in `data: [DONE]`, errors as
`{"error": {"message", "type", "param", "code"}}`, an `x-request-id` on every
answer. The same scripts that answer web turns answer here (`ScriptBook`), so a
test scripts once and drives either API.

Token counts are an approximation with no tokenizer to download: a run of
letters, up to three digits, or any other non-space character counts as one
token (close to what the real tokenizers give for English; each CJK character
counts as one). Each message adds 3 tokens of framing and each prompt 3 more.
"""

from __future__ import annotations

import json
import random
import re
from typing import TYPE_CHECKING, Any

from mockgpt.errors import openai_error
from mockgpt.jsonfmt import dumpb, dumps
from mockgpt.jsongen import instance
from mockgpt.replies import generate_reply
from mockgpt.responses import Prepared
from mockgpt.scripts import Script

if TYPE_CHECKING:
    from mockgpt.auth import Authority
    from mockgpt.clock import Clock
    from mockgpt.config import Config
    from mockgpt.render import Renderer
    from mockgpt.request import Request
    from mockgpt.service import ConversationService
    from mockgpt.wire import EventStream

DEFAULT_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-5",
    "gpt-5-mini",
    "o3",
    "o4-mini",
    "gpt-3.5-turbo",
)
FINGERPRINT = "fp_mockgpt01"
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]")


def count_tokens(text: str) -> int:
    """The documented approximation of a tokenizer's count."""
    return len(_TOKEN.findall(text))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 3
    for message in messages:
        total += 3 + count_tokens(_content_text(message.get("content")))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += count_tokens(
                str(function.get("name", "")) + str(function.get("arguments", ""))
            )
    return total


def _cut(text: str, limit: int) -> str:
    """The longest prefix of `text` with at most `limit` tokens."""
    if count_tokens(text) <= limit:
        return text
    end = 0
    for index, match in enumerate(_TOKEN.finditer(text)):
        if index == limit:
            break
        end = match.end()
    return text[:end]


class Platform:
    """The `/v1` behaviour of one app."""

    def __init__(
        self,
        *,
        config: Config,
        clock: Clock,
        authority: Authority,
        conversations: ConversationService,
        renderer: Renderer,
        created: float,
    ) -> None:
        self.config = config
        self.clock = clock
        self.authority = authority
        #: Scripts are picked from `conversations.book`, which a reset may replace.
        self.conversations = conversations
        self.renderer = renderer
        self.models: tuple[str, ...] | None = config.models
        self._requests = random.Random(f"{config.seed}\x1fplatform")
        #: When the listed models were made: the seeded world's "now".
        self.created = int(created)
        #: Chat completion requests allowed per minute of the app's clock (None: unlimited).
        self.requests_per_minute: int | None = config.v1_requests_per_minute
        self._window_start = clock.now()
        self._window_count = 0

    # -- helpers ------------------------------------------------------------------

    def request_id(self) -> str:
        return f"req_{self._requests.getrandbits(128):032x}"

    def headers(self, extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
        return [("x-request-id", self.request_id()), *(extra or {}).items()]

    def _quota(self) -> tuple[dict[str, str], Prepared | None]:
        """Count a request against the per-minute quota: its headers, and a 429 past it."""
        limit = self.requests_per_minute
        if limit is None:
            return {}, None
        now = self.clock.now()
        if now - self._window_start >= 60:
            self._window_start, self._window_count = now, 0
        reset = max(0.001, 60 - (now - self._window_start))
        headers = {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(max(0, limit - self._window_count - 1)),
            "x-ratelimit-reset-requests": f"{reset:.3f}s",
        }
        if self._window_count >= limit:
            retry = max(1, int(-(-reset // 1)))
            headers.update(
                {
                    "retry-after": str(retry),
                    "retry-after-ms": str(round(reset * 1000)),
                    "x-ratelimit-remaining-requests": "0",
                }
            )
            body = openai_error(
                f"Rate limit reached for requests per min (RPM): Limit {limit}, Used {limit}, "
                f"Requested 1. Please try again in {reset:.3f}s.",
                type_="requests",
                code="rate_limit_exceeded",
            )
            return headers, self.error(429, body, headers)
        self._window_count += 1
        return headers, None

    def error(
        self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
    ) -> Prepared:
        return Prepared(status, dumpb(body), "application/json", self.headers(extra))

    def unauthorized(self, token: str | None) -> Prepared:
        """401 the way the platform words it: no key at all, or a key it does not know."""
        if token is None:
            return self.error(
                401,
                openai_error(
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                ),
            )
        shown = token if len(token) <= 8 else token[:3] + "*" * (len(token) - 7) + token[-4:]
        return self.error(
            401,
            openai_error(
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            ),
        )

    def invalid_url(self, method: str, path: str, status: int = 404) -> Prepared:
        return self.error(status, openai_error(f"Invalid URL ({method} {path})"))

    def strict_models(self) -> bool:
        return self.models is not None or self.authority.policy == "strict"

    def known(self, model: str) -> bool:
        return model in (self.models if self.models is not None else DEFAULT_MODELS)

    def model_not_found(self, model: str) -> Prepared:
        return self.error(
            404,
            openai_error(
                f"The model `{model}` does not exist or you do not have access to it.",
                param=None,
                code="model_not_found",
            ),
        )

    def model_object(self, model: str) -> dict[str, Any]:
        owner = "system" if model.startswith(("gpt-", "o")) else "openai"
        return {
            "id": model,
            "object": "model",
            "created": self.created - 86400 * 30,
            "owned_by": owner,
        }

    # -- models -------------------------------------------------------------------

    def list_models(self) -> Prepared:
        names = self.models if self.models is not None else DEFAULT_MODELS
        body = {"object": "list", "data": [self.model_object(name) for name in names]}
        return Prepared(200, dumpb(body), "application/json", self.headers())

    def get_model(self, model: str) -> Prepared:
        if self.strict_models() and not self.known(model):
            return self.model_not_found(model)
        return Prepared(200, dumpb(self.model_object(model)), "application/json", self.headers())

    # -- chat completions ---------------------------------------------------------

    def _scripted_refusal(self, script: Script) -> Prepared:
        refusal = script.http_error
        assert refusal is not None
        status, extra = refusal.status, dict(refusal.extra)
        if status == 429:
            detail = refusal.document.get("detail")
            clears_in = detail.get("clears_in") if isinstance(detail, dict) else None
            retry = str(extra.get("retry-after", clears_in or "1"))
            body = openai_error(
                f"Rate limit reached for requests. Please try again in {retry}s.",
                type_="requests",
                code="rate_limit_exceeded",
            )
            extra = {
                "retry-after": retry,
                "retry-after-ms": str(round(float(retry) * 1000)),
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{retry}s",
                **extra,
            }
            return self.error(429, body, extra)
        if status >= 500:
            body = openai_error(
                "The server had an error while processing your request. Sorry about that!",
                type_="server_error",
            )
            return self.error(status, body, extra)
        if "error" in refusal.document:
            return self.error(status, dict(refusal.document), extra)
        words = {
            401: ("invalid_api_key", "Incorrect API key provided."),
            403: ("unsupported_country_region_territory", "Request not allowed."),
            404: ("model_not_found", "Not found."),
            422: ("invalid_value", "Invalid request."),
        }
        code, message = words.get(status, ("invalid_request_error", "Request refused."))
        return self.error(status, openai_error(message, code=code), extra)

    async def complete(self, call: Request) -> Prepared | EventStream:
        request: dict[str, Any] = call.json
        model = str(request["model"])
        if self.strict_models() and not self.known(model):
            return self.model_not_found(model)
        messages = [m for m in request["messages"] if isinstance(m, dict)]
        prompt = next(
            (
                _content_text(m.get("content"))
                for m in reversed(messages)
                if m.get("role") == "user"
            ),
            "",
        )
        choice = request.get("tool_choice")
        if isinstance(choice, dict):
            named = (choice.get("function") or {}).get("name")
            tools = [
                (t.get("function") or {}).get("name")
                for t in request.get("tools") or []
                if isinstance(t, dict)
            ]
            if isinstance(named, str) and named not in tools:
                return self.error(
                    400,
                    openai_error(
                        f"Invalid value for 'tool_choice': tool '{named}' is not in 'tools'.",
                        param="tool_choice",
                        code="invalid_value",
                    ),
                )
        quota_headers, refused = self._quota()
        if refused is not None:
            return refused
        script = self.conversations.book.pick(prompt, model)
        if script is not None and script.http_error is not None:
            return self._scripted_refusal(script)
        seed = request.get("seed")
        rng = random.Random(f"{self.config.seed}\x1f{seed}\x1f{model}\x1f{json.dumps(messages)}")
        completion_id = "chatcmpl-" + "".join(self._requests.choice(ID_CHARS) for _ in range(29))
        created = int(self.clock.now())
        n = int(request.get("n") or 1)
        choices = [
            self._choice(index, request, messages, prompt, script, rng) for index in range(n)
        ]
        completion_tokens = sum(choice.pop("_tokens") for choice in choices)
        usage = {
            "prompt_tokens": prompt_tokens(messages),
            "completion_tokens": completion_tokens,
            "total_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        usage["total_tokens"] = usage["prompt_tokens"] + completion_tokens
        head = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
        }
        if request.get("stream"):
            from mockgpt.chat_stream import completion_stream  # lazy: a GET needs no stream engine

            chunk = {
                **head,
                "object": "chat.completion.chunk",
                "service_tier": "default",
                "system_fingerprint": FINGERPRINT,
            }
            return completion_stream(
                chunk,
                choices,
                usage,
                request,
                script,
                pace_setting=self.config.pace,
                renderer=self.renderer,
                clock=self.clock,
                headers=self.headers(quota_headers),
                logprobs=self._logprobs,
            )
        body = {
            **head,
            "choices": choices,
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
        self.renderer.check("openai/chat_completion.json", body)
        return Prepared(200, dumpb(body), "application/json", self.headers(quota_headers))

    def _choice(
        self,
        index: int,
        request: dict[str, Any],
        messages: list[dict[str, Any]],
        prompt: str,
        script: Script | None,
        rng: random.Random,
    ) -> dict[str, Any]:
        tool_call = self._tool_call(request, messages, rng)
        if tool_call is not None:
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "annotations": [],
                "tool_calls": [tool_call],
            }
            tokens = count_tokens(
                tool_call["function"]["name"] + tool_call["function"]["arguments"]
            )
            return {
                "index": index,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls",
                "_tokens": tokens,
            }
        text = self._text(request, prompt, script, rng, index)
        finish = "stop"
        stops = request.get("stop")
        for stop in [stops] if isinstance(stops, str) else (stops or []):
            if stop and stop in text:
                text = text[: text.index(stop)]
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        if isinstance(limit, int) and count_tokens(text) > limit:
            text = _cut(text, limit)
            finish = "length"
        if script is not None and script.finish == "max_tokens":
            finish = "length"
        message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        logprobs = None
        if request.get("logprobs"):
            logprobs = {
                "content": self._logprobs(text, int(request.get("top_logprobs") or 0), rng),
                "refusal": None,
            }
        return {
            "index": index,
            "message": message,
            "logprobs": logprobs,
            "finish_reason": finish,
            "_tokens": count_tokens(text),
        }

    def _text(
        self,
        request: dict[str, Any],
        prompt: str,
        script: Script | None,
        rng: random.Random,
        index: int,
    ) -> str:
        response_format = request.get("response_format") or {}
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
            return dumps(instance(schema, rng))
        if kind == "json_object":
            if script is not None and script.text is not None:
                return script.text
            return dumps({"answer": generate_reply(rng.getrandbits(32), prompt, "json")[:120]})
        if script is not None and script.text is not None:
            return script.text
        seed = request.get("seed")
        if seed is not None:
            # The same `seed` gives the same answer, whatever else differs in the request.
            draw = random.Random(f"{self.config.seed}\x1f{seed}\x1f{index}").getrandbits(32)
        else:
            draw = rng.getrandbits(32)
        return generate_reply(draw, prompt, str(request["model"]))

    def _tool_call(
        self, request: dict[str, Any], messages: list[dict[str, Any]], rng: random.Random
    ) -> dict[str, Any] | None:
        tools = [t for t in request.get("tools") or [] if isinstance(t, dict) and t.get("function")]
        choice = request.get("tool_choice", "auto")
        if not tools or choice == "none":
            return None
        answered = bool(messages) and messages[-1].get("role") == "tool"
        if isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
            tool = next((t for t in tools if t["function"].get("name") == name), None)
            if tool is None:
                return None
        elif choice == "required" or (choice == "auto" and not answered):
            tool = tools[0]
        else:
            return None
        function = tool["function"]
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        arguments = dumps(instance(parameters, rng))
        call_id = "call_" + "".join(rng.choice(ID_CHARS) for _ in range(24))
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": function.get("name", "function"), "arguments": arguments},
        }

    def _logprobs(self, text: str, top: int, rng: random.Random) -> list[dict[str, Any]]:
        entries = []
        for piece in _TOKEN.findall(text):
            value = -round(rng.uniform(0.0, 2.5), 6)
            entries.append(
                {
                    "token": piece,
                    "logprob": value,
                    "bytes": list(piece.encode()),
                    "top_logprobs": [
                        {
                            "token": piece if k == 0 else f"{piece}{k}",
                            "logprob": value - k,
                            "bytes": list(piece.encode()),
                        }
                        for k in range(top)
                    ],
                }
            )
        return entries
