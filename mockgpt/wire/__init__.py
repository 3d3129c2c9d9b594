"""The stream engine: what a turn says, how each wire format encodes it, how bytes go out.

Three layers, each usable alone:

- `mockgpt.wire.turn`: the turn as events with no encoding in them;
- `mockgpt.wire.encodings`: one registry of formats (`legacy`, `v1`, `chunks`, `responses`),
  each a table from turn events to SSE events;
- `mockgpt.wire.stream`: the one stream that paces, applies realism and faults,
  frames the bytes (`mockgpt.framing`) and stops when its client leaves.

Nothing here knows about routes, handlers or the control API.
"""

from __future__ import annotations

from mockgpt.wire.encodings import ENCODINGS, Encoding, encoding, register
from mockgpt.wire.stream import STREAM_HEADERS, EventStream, Step, Steps, framing_for

__all__ = [
    "ENCODINGS",
    "STREAM_HEADERS",
    "Encoding",
    "EventStream",
    "Step",
    "Steps",
    "encoding",
    "framing_for",
    "register",
]
