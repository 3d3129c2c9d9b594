from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgpt.delta import (
    DeltaDecoder,
    DeltaEncoder,
    DeltaError,
    apply_op,
    decode_sse,
    diff,
    format_pointer,
    parse_pointer,
    resolve_pointer,
)

# JSON pointers --------------------------------------------------------------------------


def test_pointer_unescapes_tilde_and_slash() -> None:
    assert parse_pointer("") == []
    assert parse_pointer("/") == [""]
    assert parse_pointer("/a~1b/c~0d/~01") == ["a/b", "c~d", "~1"]
    assert format_pointer(["a/b", "c~d", "~1", 0]) == "/a~1b/c~0d/~01/0"


@given(st.lists(st.text(max_size=5), max_size=5))
def test_pointer_round_trips(segments: list[str]) -> None:
    assert parse_pointer(format_pointer(segments)) == segments


def test_resolve_pointer_indexes_lists_and_escaped_keys() -> None:
    root = {"message": {"content": {"parts": ["zero", "one"]}}, "a/b": {"~": 7}}
    assert resolve_pointer(root, "") is root
    assert resolve_pointer(root, "/message/content/parts/1") == "one"
    assert resolve_pointer(root, "/a~1b/~0") == 7


@pytest.mark.parametrize(
    "path",
    ["message", "/missing", "/list/2", "/list/-", "/list/01", "/list/x", "/list/0/deeper"],
)
def test_resolve_pointer_refuses_bad_paths(path: str) -> None:
    with pytest.raises(DeltaError, match="path"):
        resolve_pointer({"list": [1, 2]}, path)


# apply_op -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "op", "expected"),
    [
        # add: set a key, insert into a list (at an index or at the end with "-")
        ({"a": 1}, {"p": "/b", "o": "add", "v": 2}, {"a": 1, "b": 2}),
        ({"l": [1, 3]}, {"p": "/l/1", "o": "add", "v": 2}, {"l": [1, 2, 3]}),
        ({"l": [1]}, {"p": "/l/1", "o": "add", "v": 2}, {"l": [1, 2]}),
        ({"l": [1]}, {"p": "/l/-", "o": "add", "v": 2}, {"l": [1, 2]}),
        ({"old": True}, {"p": "", "o": "add", "v": {"new": 1}}, {"new": 1}),
        # remove: delete a key, pop a list item
        ({"a": 1, "b": 2}, {"p": "/a", "o": "remove"}, {"b": 2}),
        ({"l": [1, 2, 3]}, {"p": "/l/0", "o": "remove"}, {"l": [2, 3]}),
        # replace: set
        ({"s": "in_progress"}, {"p": "/s", "o": "replace", "v": "done"}, {"s": "done"}),
        ({"l": [1, 2]}, {"p": "/l/1", "o": "replace", "v": None}, {"l": [1, None]}),
        ({"x": 1}, {"p": "", "o": "replace", "v": [1]}, [1]),
        # append: concatenate strings, merge dicts, extend or grow lists
        ({"p": ["Hel"]}, {"p": "/p/0", "o": "append", "v": "lo 👋"}, {"p": ["Hello 👋"]}),
        ({"t": "a"}, {"p": "/t", "o": "append", "v": ""}, {"t": "a"}),
        (
            {"m": {"a": 1}},
            {"p": "/m", "o": "append", "v": {"b": 2, "a": 3}},
            {"m": {"a": 3, "b": 2}},
        ),
        ({"l": [1]}, {"p": "/l", "o": "append", "v": [2, 3]}, {"l": [1, 2, 3]}),
        ({"l": [1]}, {"p": "/l", "o": "append", "v": {"k": 2}}, {"l": [1, {"k": 2}]}),
        ("ab", {"p": "", "o": "append", "v": "c"}, "abc"),
        # truncate: cut strings and lists to a length
        ({"t": "Hello"}, {"p": "/t", "o": "truncate", "v": 2}, {"t": "He"}),
        ({"l": [1, 2, 3]}, {"p": "/l", "o": "truncate", "v": 1}, {"l": [1]}),
        ({"t": "ab"}, {"p": "/t", "o": "truncate", "v": 0}, {"t": ""}),
        # keys holding ~ and / are reached through their escaped form
        ({"a/b": {"~": "x"}}, {"p": "/a~1b/~0", "o": "append", "v": "y"}, {"a/b": {"~": "xy"}}),
    ],
)
def test_apply_op(root: Any, op: dict[str, Any], expected: Any) -> None:
    assert apply_op(root, op) == expected


def test_apply_op_keeps_dict_order_when_merging() -> None:
    root = {"m": {"citations": []}}
    apply_op(root, {"p": "/m", "o": "append", "v": {"finish_details": {}, "is_complete": True}})
    assert list(root["m"]) == ["citations", "finish_details", "is_complete"]


def test_patch_applies_sub_ops_in_order() -> None:
    root = {"l": [], "s": "a"}
    patch = {
        "p": "",
        "o": "patch",
        "v": [
            {"p": "/l", "o": "append", "v": ["x"]},
            {"p": "/l/0", "o": "append", "v": "y"},  # sees the item the first sub-op added
            {"p": "/s", "o": "replace", "v": "b"},
        ],
    }
    assert apply_op(root, patch) == {"l": ["xy"], "s": "b"}


def test_patch_sub_ops_get_no_carry_forward() -> None:
    patch = {
        "p": "",
        "o": "patch",
        "v": [{"p": "/t", "o": "append", "v": "a"}, {"v": "b"}],
    }
    with pytest.raises(DeltaError, match="sub-op"):
        apply_op({"t": ""}, patch)


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"p": "/t", "o": "prepend", "v": "x"}, "unknown op 'prepend'"),
        ({"p": "/nope/t", "o": "append", "v": "x"}, "no key 'nope'"),
        ({"p": "t", "o": "replace", "v": "x"}, "bad path 't'"),
        ({"p": "/l/5", "o": "add", "v": 1}, "out of range"),
        ({"p": "/l/9", "o": "remove"}, "out of range"),
        ({"p": "/l/first", "o": "replace", "v": 1}, "not a list index"),
        ({"p": "/t/0", "o": "replace", "v": 1}, "cannot step into str"),
        ({"p": "/missing", "o": "remove"}, "no key 'missing'"),
        ({"p": "", "o": "remove"}, "cannot remove the root"),
        ({"p": "/t", "o": "append", "v": 5}, "cannot append int to str"),
        ({"p": "/n", "o": "append", "v": 5}, "cannot append int to NoneType"),
        ({"p": "/t", "o": "truncate", "v": -1}, "length >= 0"),
        ({"p": "/d", "o": "truncate", "v": 0}, "cannot truncate dict"),
        ({"p": "", "o": "patch", "v": "x"}, "list of ops"),
        ({"o": "append", "v": "x"}, "needs 'p' and 'o'"),
    ],
)
def test_apply_op_refuses(op: dict[str, Any], message: str) -> None:
    root = {"t": "text", "l": [1, 2], "n": None, "d": {}}
    with pytest.raises(DeltaError, match=message):
        apply_op(root, op)


def test_delta_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown op"):
        apply_op({}, {"p": "", "o": "move"})


# Decoding -------------------------------------------------------------------------------

# A small stream shaped like a real v1 capture: hidden trailing spaces, a ping, an echoed
# user message at c 0, the assistant at c 1 sent as a bare {"v", "c"} (p and o carried
# from the first add), bare {"v"} continuations, a final patch, a separate metadata
# append, typed frames, an empty data line and [DONE]. Ids and text are made up.
STREAM_LINES = [
    "event: delta_encoding",
    'data: "v1"',
    "",
    ": ping - 2026-01-01 09:00:00.000001+00:00",
    "",
    "event: delta",
    'data: {"p": "", "o": "add", "v": {"message": {"id": "user-0001", "author": {"role": '
    '"user", "name": null, "metadata": {}}, "content": {"content_type": "text", "parts": '
    '["Salut ?"]}, "status": "finished_successfully", "end_turn": null, "metadata": {}}, '
    '"conversation_id": "conv-0001", "error": null}, "c": 0}    ',
    "",
    "event: delta",
    'data: {"v": {"message": {"id": "asst-0001", "author": {"role": "assistant", "name": null, '
    '"metadata": {}}, "content": {"content_type": "text", "parts": [""]}, "status": '
    '"in_progress", "end_turn": null, "metadata": {"citations": [], "parent_id": "user-0001"}}, '
    '"conversation_id": "conv-0001", "error": null}, "c": 1}  ',
    "",
    'data: {"type": "message_marker", "conversation_id": "conv-0001", "message_id": '
    '"asst-0001", "marker": "user_visible_token", "event": "first"}',
    "",
    "event: delta",
    'data: {"p": "/message/content/parts/0", "o": "append", "v": "Bonjour"}   ',
    "",
    "event: delta",
    'data: {"v": ", mon ami \\ud83d\\udc4b"} ',
    "",
    ": ping - 2026-01-01 09:00:01.000001+00:00",
    "",
    "event: delta",
    'data: {"v": " \\u00e7a va"}   ',
    "",
    "event: delta",
    'data: {"p": "", "o": "patch", "v": [{"p": "/message/content/parts/0", "o": "append", '
    '"v": "?"}, {"p": "/message/status", "o": "replace", "v": "finished_successfully"}, '
    '{"p": "/message/end_turn", "o": "replace", "v": true}]}   ',
    "",
    "event: delta",
    'data: {"p": "/message/metadata", "o": "append", "v": {"finish_details": {"type": "stop", '
    '"stop_tokens": [200002]}, "is_complete": true}}      ',
    "",
    'data: {"type": "message_stream_complete", "conversation_id": "conv-0001"}',
    "",
    "data: ",
    "",
    "data: [DONE]",
    "",
    "",
]


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_decode_sse_rebuilds_a_real_shaped_stream(newline: str) -> None:
    decoder = decode_sse(newline.join(STREAM_LINES))

    assert decoder.encoding == "v1"
    assert sorted(decoder.channels) == [0, 1]
    assert decoder.latest is decoder.channels[1]
    user, assistant = decoder.messages
    assert user["id"] == "user-0001"
    assert user["content"]["parts"] == ["Salut ?"]
    assert assistant["id"] == "asst-0001"
    assert assistant["content"]["parts"] == ["Bonjour, mon ami 👋 ça va?"]
    assert assistant["status"] == "finished_successfully"
    assert assistant["end_turn"] is True
    assert assistant["metadata"] == {
        "citations": [],
        "parent_id": "user-0001",
        "finish_details": {"type": "stop", "stop_tokens": [200002]},
        "is_complete": True,
    }
    assert list(assistant["metadata"])[-2:] == ["finish_details", "is_complete"]
    assert decoder.channels[1]["conversation_id"] == "conv-0001"
    assert [frame if isinstance(frame, str) else frame["type"] for frame in decoder.frames] == [
        "message_marker",
        "message_stream_complete",
        "[DONE]",
    ]


def test_decode_sse_joins_multi_line_data_and_flushes_the_last_event() -> None:
    body = (
        'event: delta_encoding\ndata: "v1"\n\n'
        'data: {"type":\ndata:  "title_generation", "title": "Hi"}\n\n'
        "retry: 1000\nid: 7\n\n"
        "data: [DONE]"  # no blank line after the last event
    )
    decoder = decode_sse(body)
    assert decoder.frames == [{"type": "title_generation", "title": "Hi"}, "[DONE]"]
    assert decoder.channels == {}
    assert decoder.latest is None
    assert decoder.messages == []


def test_carry_forward_keeps_channel_path_and_op_but_never_the_value() -> None:
    decoder = DeltaDecoder()
    decoder.feed("delta_encoding", "v1")
    decoder.feed("delta", {"p": "", "o": "add", "v": {"t": "", "l": []}, "c": 3})
    decoder.feed("delta", {"p": "/t", "o": "append", "v": "a"})
    decoder.feed("delta", {"v": "b"})  # p, o and c carried
    decoder.feed("delta", {"p": "/l", "v": ["x"]})  # o carried, p given
    assert decoder.channels == {3: {"t": "ab", "l": ["x"]}}
    with pytest.raises(DeltaError, match="cannot append NoneType"):
        decoder.feed("delta", {"p": "/t"})  # v is not carried: "b" is not appended again


def test_channels_keep_separate_roots() -> None:
    decoder = DeltaDecoder()
    decoder.feed("delta_encoding", "v1")
    decoder.feed("delta", {"p": "", "o": "add", "v": {"t": "zero"}, "c": 0})
    decoder.feed("delta", {"v": {"t": "one"}, "c": 1})
    decoder.feed("delta", {"p": "/t", "o": "append", "v": "!"})
    decoder.feed("delta", {"p": "/t", "o": "append", "v": "?", "c": 0})
    assert decoder.channels == {0: {"t": "zero?"}, 1: {"t": "one!"}}
    assert decoder.latest == {"t": "zero?"}
    assert decoder.messages == []  # no root has a message


def test_feed_never_writes_into_the_callers_data() -> None:
    added = {"p": "", "o": "add", "v": {"t": "a", "l": []}, "c": 0}
    merged = {"p": "/l", "o": "append", "v": [{"k": "v"}]}
    decoder = DeltaDecoder()
    decoder.feed("delta_encoding", "v1")
    decoder.feed("delta", added)
    decoder.feed("delta", merged)
    decoder.feed("delta", {"p": "/l/0/k", "v": "w"})
    decoder.feed("delta", {"p": "/t", "v": "b"})
    assert decoder.channels[0] == {"t": "ab", "l": [{"k": "vw"}]}
    assert added["v"] == {"t": "a", "l": []}
    assert merged["v"] == [{"k": "v"}]


def test_a_marked_answer_without_an_add_grows_from_its_patches() -> None:
    decoder = DeltaDecoder()
    decoder.feed("delta_encoding", "v1")
    decoder.feed("delta", {"p": "", "o": "add", "v": {"message": {"id": "s"}}, "c": 0})
    cot = {"type": "message_marker", "message_id": "t", "marker": "cot_token"}
    decoder.feed(None, cot)
    with pytest.raises(DeltaError, match="no root yet"):  # only answer markers count
        decoder.feed("delta", {"p": "/message/content/parts/0", "o": "append", "v": "x", "c": 1})
    marker = {"type": "message_marker", "conversation_id": "cid", "message_id": "a"}
    decoder.feed(None, {**marker, "marker": "user_visible_token|final_channel_token"})
    decoder.feed("delta", {"c": 1})
    decoder.feed("delta", {"p": "/message/content/parts/0", "o": "append", "v": "Hi"})
    decoder.feed(
        "delta",
        {"p": "", "o": "patch", "v": [{"p": "/message/end_turn", "o": "replace", "v": True}]},
    )
    answer = decoder.messages[-1]
    assert (answer["id"], answer["content"]["parts"], answer["channel"]) == ("a", ["Hi"], "final")
    assert answer["end_turn"] is True
    assert decoder.channels[1]["conversation_id"] == "cid"


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([("delta", {"p": "", "o": "add", "v": {}, "c": 0})], "must start with delta_encoding"),
        ([(None, {"type": "message_marker"})], "must start with delta_encoding"),
        ([(None, "[DONE]")], "must start with delta_encoding"),
        ([("delta_encoding", "v2")], "unknown delta encoding 'v2'"),
        ([("delta_encoding", "v1"), ("delta", {"v": {}})], "no earlier delta"),
        ([("delta_encoding", "v1"), ("delta", ["not", "an", "object"])], "JSON object"),
        (
            [("delta_encoding", "v1"), ("delta", {"p": "/t", "o": "append", "v": "x", "c": 0})],
            "no root yet",
        ),
        (
            [("delta_encoding", "v1"), ("delta", {"p": "", "o": "add", "v": {}, "c": "0"})],
            "must be an integer",
        ),
    ],
)
def test_decoder_refuses(events: list[tuple[str | None, Any]], message: str) -> None:
    decoder = DeltaDecoder()
    *before, (event, data) = events
    for earlier in before:
        decoder.feed(*earlier)
    with pytest.raises(DeltaError, match=message):
        decoder.feed(event, data)


def test_decode_sse_refuses_a_stream_without_encoding_and_bad_json() -> None:
    with pytest.raises(DeltaError, match="must start with delta_encoding"):
        decode_sse('data: {"message": {}, "conversation_id": "c", "error": null}\n\n')
    with pytest.raises(DeltaError, match="not JSON"):
        decode_sse('event: delta_encoding\ndata: "v1"\n\nevent: delta\ndata: {"v": \n\n')


# Encoding -------------------------------------------------------------------------------


def _envelope(text: str = "") -> dict[str, Any]:
    return {
        "message": {
            "id": "asst-0002",
            "author": {"role": "assistant", "name": None, "metadata": {}},
            "create_time": 1767258000.5,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "in_progress",
            "end_turn": None,
            "weight": 1.0,
            "metadata": {
                "citations": [],
                "content_references": [],
                "message_type": "next",
                "model_slug": "gpt-4o",
                "parent_id": "user-0002",
            },
            "recipient": "all",
            "channel": None,
        },
        "conversation_id": "conv-0002",
        "error": None,
    }


# The real final batch (public 2024-26 captures), byte for byte as json.dumps writes it.
REAL_FINAL_BATCH = (
    '{"p": "", "o": "patch", "v": [{"p": "/message/content/parts/0", "o": "append", '
    '"v": ". \\ud83d\\ude80"}, {"p": "/message/status", "o": "replace", '
    '"v": "finished_successfully"}, {"p": "/message/end_turn", "o": "replace", "v": true}, '
    '{"p": "/message/metadata", "o": "append", "v": {"finish_details": {"type": "stop", '
    '"stop_tokens": [200002]}, "is_complete": true}}]}'
)


def test_encoder_streams_like_the_real_server() -> None:
    encoder = DeltaEncoder()
    snapshot = _envelope()
    assert encoder.start() == [("delta_encoding", "v1")]
    assert encoder.add(snapshot) == [("delta", {"p": "", "o": "add", "v": snapshot, "c": 0})]

    snapshot["message"]["content"]["parts"][0] = "Hel"
    first = encoder.update(snapshot)
    snapshot["message"]["content"]["parts"][0] = "Hello"
    second = encoder.update(snapshot)
    assert first == [("delta", {"p": "/message/content/parts/0", "o": "append", "v": "Hel"})]
    assert second == [("delta", {"v": "lo"})]

    final = copy.deepcopy(snapshot)
    final["message"]["content"]["parts"][0] = "Hello. 🚀"
    final["message"]["status"] = "finished_successfully"
    final["message"]["end_turn"] = True
    final["message"]["metadata"]["finish_details"] = {"type": "stop", "stop_tokens": [200002]}
    final["message"]["metadata"]["is_complete"] = True
    [(name, data)] = encoder.update(final)
    assert name == "delta"
    assert json.dumps(data) == REAL_FINAL_BATCH
    assert encoder.update(final) == []


def test_encoder_compresses_adds_like_the_real_server() -> None:
    encoder = DeltaEncoder()
    system, user, assistant = ({"message": {"id": name}} for name in ("sys", "user", "asst"))
    assert encoder.add(system) == [("delta", {"p": "", "o": "add", "v": system, "c": 0})]
    assert encoder.add(user) == [("delta", {"v": user, "c": 1})]
    assert encoder.add(assistant) == [("delta", {"v": assistant, "c": 2})]
    # A batch at the root keeps p "", so the next add only restates o.
    assert encoder.update({"message": {"id": "asst", "status": "x"}}, batch=True) == [
        ("delta", {"o": "patch", "v": [{"p": "/message", "o": "append", "v": {"status": "x"}}]})
    ]
    assert encoder.add(user) == [("delta", {"o": "add", "v": user, "c": 3})]
    encoder.update({"message": {"id": "user2"}})
    assert encoder.add(user) == [("delta", {"p": "", "o": "add", "v": user, "c": 4})]


def test_encoder_refuses_update_before_add() -> None:
    with pytest.raises(DeltaError, match="before add"):
        DeltaEncoder().update({})


def test_encoder_copes_with_a_snapshot_mutated_in_place() -> None:
    encoder = DeltaEncoder()
    snapshot = _envelope()
    events = encoder.start() + encoder.add(snapshot)
    parts = snapshot["message"]["content"]["parts"]
    for token in ["Un", ", deux", ", trois"]:
        parts[0] += token
        events += encoder.update(snapshot)
    snapshot["message"]["metadata"]["content_references"].append({"type": "webpage"})
    events += encoder.update(snapshot)
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    decoded = decode_sse(body).latest
    assert decoded == snapshot
    assert decoded is not snapshot
    # Events already handed out do not follow later mutations either.
    assert events[1][1]["v"]["message"]["content"]["parts"] == [""]


@pytest.mark.parametrize(
    ("old", "new", "ops"),
    [
        ({"t": "ab"}, {"t": "abc"}, [{"p": "/t", "o": "append", "v": "c"}]),
        ({"t": "abc"}, {"t": "a"}, [{"p": "/t", "o": "truncate", "v": 1}]),
        # UTF-16 and code point lengths differ past an emoji: no truncate then
        ({"t": "🚀ab"}, {"t": "🚀a"}, [{"p": "/t", "o": "replace", "v": "🚀a"}]),
        ({"t": "abc"}, {"t": "abd"}, [{"p": "/t", "o": "replace", "v": "abd"}]),
        ({"n": None}, {"n": True}, [{"p": "/n", "o": "replace", "v": True}]),
        ({"n": 1}, {"n": True}, [{"p": "/n", "o": "replace", "v": True}]),
        ({"n": 1}, {"n": 1.0}, [{"p": "/n", "o": "replace", "v": 1.0}]),
        ({"l": [1]}, {"l": [True]}, [{"p": "/l/0", "o": "replace", "v": True}]),
        (
            {"m": {"a": 1}},
            {"m": {"a": 1, "z": 2, "b": 3}},
            [{"p": "/m", "o": "append", "v": {"z": 2, "b": 3}}],
        ),
        (
            {"m": {"a": 1}},
            {"m": {"z": 2, "a": 0}},
            [{"p": "/m/z", "o": "add", "v": 2}, {"p": "/m/a", "o": "replace", "v": 0}],
        ),
        (
            {"m": {"a": 1, "b": 2}},
            {"m": {"b": 2, "c": 3}},
            [{"p": "/m/a", "o": "remove"}, {"p": "/m/c", "o": "add", "v": 3}],
        ),
        ({"l": [1]}, {"l": [1, 2, 3]}, [{"p": "/l", "o": "append", "v": [2, 3]}]),
        ({"l": [[1]]}, {"l": [[1], [2]]}, [{"p": "/l", "o": "append", "v": [[2]]}]),
        ({"l": [1, 2, 3]}, {"l": [1]}, [{"p": "/l", "o": "truncate", "v": 1}]),
        (
            {"l": ["a", "x"]},
            {"l": ["ab"]},
            [{"p": "/l/0", "o": "append", "v": "b"}, {"p": "/l", "o": "truncate", "v": 1}],
        ),
        ({"a/b": {"~": "x"}}, {"a/b": {"~": "xy"}}, [{"p": "/a~1b/~0", "o": "append", "v": "y"}]),
        ({"m": {"a": 1}}, {"m": [1]}, [{"p": "/m", "o": "replace", "v": [1]}]),
        ({"a": 1}, "text", [{"p": "", "o": "replace", "v": "text"}]),
        ({"a": [1, {"b": "c"}]}, {"a": [1, {"b": "c"}]}, []),
    ],
)
def test_diff(old: Any, new: Any, ops: list[dict[str, Any]]) -> None:
    assert diff(old, new) == ops
    rebuilt = copy.deepcopy(old)
    for op in ops:
        rebuilt = apply_op(rebuilt, op)
    assert json.dumps(rebuilt, sort_keys=True) == json.dumps(new, sort_keys=True)


def test_diff_orders_ops_by_the_new_snapshots_keys() -> None:
    old = {"z": "a", "y": 1, "x": {"k": 1}}
    new = {"x": {"k": 1, "j": 2}, "y": 2, "z": "ab"}
    assert [op["p"] for op in diff(old, new)] == ["/x", "/y", "/z"]


def test_batch_wraps_even_a_single_op() -> None:
    encoder = DeltaEncoder()
    encoder.add({"t": "a"})
    assert encoder.update({"t": "ab"}, batch=True) == [
        ("delta", {"o": "patch", "v": [{"p": "/t", "o": "append", "v": "b"}]})
    ]
    assert encoder.update({"t": "abc"}) == [("delta", {"p": "/t", "o": "append", "v": "c"})]
    assert encoder.update({"t": "abc"}, batch=True) == []


# Round trip -----------------------------------------------------------------------------

PIECES = ["a", "b", " ", ",", ".", "\n", '"', "\\", "/", "~", "é", "好的", "🚀", "👍🏽", "\u2028"]
CHUNKS = st.lists(st.sampled_from(PIECES), max_size=4).map("".join) | st.text(max_size=3)


def _grow_text(draw: st.DrawFn, message: dict[str, Any]) -> None:
    message["content"]["parts"][0] += draw(CHUNKS)


def _rewrite_text(draw: st.DrawFn, message: dict[str, Any]) -> None:
    text = message["content"]["parts"][0]
    cut = draw(st.integers(0, len(text)))
    message["content"]["parts"][0] = text[:cut] + draw(st.sampled_from(["", "…", "🚀"]))


def _set_status(draw: st.DrawFn, message: dict[str, Any]) -> None:
    message["status"] = draw(st.sampled_from(["in_progress", "finished_successfully"]))
    message["end_turn"] = draw(st.sampled_from([None, True, False]))


def _set_weight(draw: st.DrawFn, message: dict[str, Any]) -> None:
    message["weight"] = draw(st.sampled_from([1.0, 1, 0.0, 0, True]))


def _finish(draw: st.DrawFn, message: dict[str, Any]) -> None:
    stop = draw(st.sampled_from([[200002], [100260], []]))
    message["metadata"]["finish_details"] = {"type": "stop", "stop_tokens": stop}
    message["metadata"]["is_complete"] = True


def _odd_key(draw: st.DrawFn, message: dict[str, Any]) -> None:
    message["metadata"][draw(st.sampled_from(["a/b", "~0", "", "x~1y"]))] = draw(st.integers())


def _drop_key(draw: st.DrawFn, message: dict[str, Any]) -> None:
    if message["metadata"]:
        message["metadata"].pop(draw(st.sampled_from(sorted(message["metadata"]))))


def _references(draw: st.DrawFn, message: dict[str, Any]) -> None:
    refs = message["metadata"].setdefault("content_references", [])
    if refs and draw(st.booleans()):
        del refs[draw(st.integers(0, len(refs) - 1)) :]
    else:
        refs.extend(
            {"type": "webpage", "title": draw(CHUNKS)} for _ in range(draw(st.integers(1, 2)))
        )


MUTATIONS = [_grow_text] * 4 + [
    _rewrite_text,
    _set_status,
    _set_weight,
    _finish,
    _odd_key,
    _drop_key,
    _references,
]


@st.composite
def snapshot_runs(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    """(how to send it, snapshot) pairs: "add" opens a channel, the others update it."""
    steps: list[tuple[str, dict[str, Any]]] = []
    current = _envelope(draw(CHUNKS))
    steps.append(("add", copy.deepcopy(current)))
    for _ in range(draw(st.integers(0, 25))):
        if draw(st.integers(0, 9)) == 0:
            current = _envelope(draw(CHUNKS))
            current["message"]["id"] = f"asst-{len(steps)}"
            steps.append(("add", copy.deepcopy(current)))
            continue
        for mutate in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
            mutate(draw, current["message"])
        steps.append((draw(st.sampled_from(["update", "batch"])), copy.deepcopy(current)))
    return steps


def _sse(events: list[tuple[str, Any]], newline: str, ensure_ascii: bool) -> str:
    frames = [
        f"event: {name}{newline}data: {json.dumps(data, ensure_ascii=ensure_ascii)}   {newline}"
        for name, data in events
    ]
    return newline.join([*frames, f"data: [DONE]{newline}"]) + newline


@settings(max_examples=100, deadline=None)
@given(
    steps=snapshot_runs(),
    newline=st.sampled_from(["\n", "\r\n"]),
    ensure_ascii=st.booleans(),
)
def test_encoded_snapshots_decode_to_the_last_snapshot_of_each_channel(
    steps: list[tuple[str, dict[str, Any]]], newline: str, ensure_ascii: bool
) -> None:
    encoder = DeltaEncoder()
    events = encoder.start()
    expected: dict[int, dict[str, Any]] = {}
    for how, snapshot in steps:
        if how == "add":
            events += encoder.add(snapshot)
            expected[len(expected)] = snapshot
        else:
            events += encoder.update(snapshot, batch=how == "batch")
            expected[len(expected) - 1] = snapshot

    decoder = decode_sse(_sse(events, newline, ensure_ascii))

    # JSON text, not ==, so 1, 1.0 and true stay apart
    assert json.dumps(decoder.channels, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert decoder.frames == ["[DONE]"]
    assert sum("c" in data for name, data in events if name == "delta") == len(expected)
