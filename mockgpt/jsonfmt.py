"""JSON the way the real service writes it.

The ChatGPT backend serialises with Python's defaults: `", "` and `": "`
separators and every non-ASCII character escaped as `\\uXXXX` (surrogate
pairs for astral characters). Clients that compare bytes notice the
difference, so every body mockgpt writes goes through here.
"""

from __future__ import annotations

import json
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False)


def dumps(value: Any) -> str:
    """Serialise `value` exactly like `json.dumps(value)`."""
    return _ENCODER.encode(value)


def dumpb(value: Any) -> bytes:
    """Serialise `value` to ASCII bytes (always ASCII: non-ASCII is escaped)."""
    return _ENCODER.encode(value).encode("ascii")
