"""`POST /v1/embeddings`: deterministic vectors from the seed and the input.

The same seed, model and input always give the same unit-length vector, so
tests can compare embeddings across runs. `encoding_format: "base64"` (what
both official SDKs ask for when the caller names none) sends the vector as
float32 little-endian bytes in base64; `dimensions` shortens the vector (and
re-normalises it), as the `text-embedding-3` models do.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from typing import TYPE_CHECKING, Any

from mockgpt.errors import openai_error
from mockgpt.jsonfmt import dumpb
from mockgpt.platform import count_tokens
from mockgpt.responses import Prepared

if TYPE_CHECKING:
    from mockgpt.state import Call

#: Native vector sizes; unknown models get 1536.
NATIVE_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_DIMENSIONS = 1536
MAX_INPUT_TOKENS = 8192
MAX_INPUTS = 2048


def vector(seed: int, model: str, text: str, size: int) -> list[float]:
    """A unit vector drawn from (seed, model, input): the same arguments, the same vector.

    A shortened vector (`dimensions`) is the native one cut and re-normalised,
    as the `text-embedding-3` models shorten theirs.
    """
    digest = hashlib.sha256(f"{seed}\x1f{model}\x1f{text}".encode()).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    native = max(size, NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS))
    values = [rng.gauss(0.0, 1.0) for _ in range(native)][:size]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    # Rounded through float32, as the service's vectors are.
    return list(struct.unpack(f"<{size}f", struct.pack(f"<{size}f", *(v / norm for v in values))))


def encode_base64(values: list[float]) -> str:
    """The vector as base64 of float32 little-endian bytes, as the SDKs decode it."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def _inputs(value: Any) -> list[str] | None:
    """Each input as text (token arrays become their numbers joined), or None if malformed."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(_is_token(v) for v in value):
        return [" ".join(str(int(v)) for v in value)]
    if all(isinstance(v, str) for v in value):
        return list(value)
    if all(isinstance(v, list) and v and all(_is_token(t) for t in v) for v in value):
        return [" ".join(str(int(t)) for t in v) for v in value]
    return None


def _is_token(value: Any) -> bool:
    """A token id: an integer, written `7` or `7.0` (JSON does not tell them apart)."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _tokens(text: str) -> int:
    return max(1, count_tokens(text))


def _invalid_input() -> dict[str, Any]:
    return openai_error(
        "'$.input' is invalid. Please check the API reference: "
        "https://platform.openai.com/docs/api-reference.",
    )


async def create_embeddings(call: Call) -> Prepared:
    app = call.app
    platform = app.platform
    request: dict[str, Any] = call.json
    model = str(request["model"])
    texts = _inputs(request.get("input"))
    if texts is None or "" in texts or len(texts) > MAX_INPUTS:
        return platform.error(400, _invalid_input())
    for index, text in enumerate(texts):
        if _tokens(text) > MAX_INPUT_TOKENS:
            where = f"input[{index}]" if not isinstance(request.get("input"), str) else "input"
            return platform.error(
                400,
                openai_error(
                    f"Invalid '{where}': maximum input length is {MAX_INPUT_TOKENS} tokens.",
                    param=where,
                    code="invalid_value",
                ),
            )
    size = NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    dimensions = request.get("dimensions")
    if dimensions is not None:
        if not model.startswith("text-embedding-3"):
            return platform.error(
                400, openai_error("This model does not support specifying dimensions.")
            )
        if dimensions > size:
            return platform.error(
                400,
                openai_error(
                    f"Invalid 'dimensions': integer above maximum value. Expected a value <= "
                    f"{size}, but got {dimensions} instead.",
                    param="dimensions",
                    code="integer_above_max_value",
                ),
            )
        size = dimensions
    headers, limited = platform._quota()
    if limited is not None:
        return limited
    as_base64 = request.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        values = vector(app.config.seed, model, text, size)
        embedding: Any = encode_base64(values) if as_base64 else values
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(_tokens(text) for text in texts)
    body = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    if not as_base64:
        app.renderer.check("openai/embedding_list.json", body)
    return Prepared(200, dumpb(body), "application/json", platform.headers(headers))
