from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from mockgpt._resources import fixture_path
from mockgpt.schemas import schema_errors
from mockgpt.store import (
    CLIENT_CREATED_ROOT,
    Conversation,
    ConversationStore,
    iso_time,
    new_message,
)

START = 1_767_132_761.767145


class FakeClock:
    """A clock that moves one second (and a little) on every reading."""

    def __init__(self, start: float = START) -> None:
        self.readings: list[float] = [start]

    def __call__(self) -> float:
        value = round(self.readings[-1] + 1.000001, 6)
        self.readings.append(value)
        return value


def id_factory(seed: int = 7) -> Callable[[], str]:
    rng = random.Random(seed)
    return lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_store(seed: int = 7) -> ConversationStore:
    return ConversationStore(now=FakeClock(), new_id=id_factory(seed))


def sample_texts(rng: random.Random) -> tuple[str, str, str]:
    n = rng.randrange(1000)
    return f"Topic {n}", f"Tell me about topic {n}.", f"Topic {n} is interesting."


def user_message(text: str, message_id: str | None = None) -> dict[str, Any]:
    """What the web client sends in `messages`."""
    return {
        "id": message_id or str(uuid.uuid4()),
        "author": {"role": "user"},
        "content": {"content_type": "text", "parts": [text]},
        "metadata": {},
    }


def answer(store_ids: Callable[[], str], parent: str, text: str) -> dict[str, Any]:
    return new_message(
        id=store_ids(),
        role="assistant",
        text=text,
        create_time=START,
        end_turn=True,
        metadata={
            "parent_id": parent,
            "finish_details": {"type": "stop", "stop_tokens": [200002]},
        },
    )


def converse(store: ConversationStore, ids: Callable[[], str]) -> Conversation:
    """A conversation with two exchanges and a regenerated second answer."""
    conversation = store.create(title="Chat")
    first = store.append_turn(conversation, [user_message("hi", ids())], CLIENT_CREATED_ROOT)
    reply = conversation.add_message(answer(ids, first[0].id, "hello"), first[0].id)
    second = store.append_turn(conversation, [user_message("more", ids())], reply.id)
    conversation.add_message(answer(ids, second[0].id, "one"), second[0].id)
    variant = conversation.add_message(answer(ids, second[0].id, "two"), second[0].id)
    store.set_current(conversation, variant.id)
    store.touch(conversation)
    return conversation


def assert_links(conversation: Conversation) -> None:
    roots = [node for node in conversation.mapping.values() if node.parent is None]
    assert len(roots) == 1
    assert roots[0].message is None
    for node_id, node in conversation.mapping.items():
        assert node.id == node_id
        if node.message is not None:
            assert node.message["id"] == node_id
        if node.parent is not None:
            assert node_id in conversation.mapping[node.parent].children
        for child in node.children:
            assert conversation.mapping[child].parent == node_id
        assert len(set(node.children)) == len(node.children)


# -- shapes ---------------------------------------------------------------------


def test_new_message_follows_the_fixture_key_order() -> None:
    fixture = json.loads(fixture_path("conversation/detail.json").read_text())
    wire = next(iter(fixture["mapping"].values()))
    wire = fixture["mapping"][wire["children"][0]]["message"]
    made = new_message(id=str(uuid.uuid4()), role="system", create_time=None)
    assert list(made) == list(wire)
    assert list(made["author"]) == list(wire["author"])
    assert made["content"] == {"content_type": "text", "parts": [""]}
    assert schema_errors("parts/message.json", made) == []
    with pytest.raises(ValueError, match="not both"):
        new_message(id="x", role="user", text="a", content={}, create_time=None)


def test_new_conversation_has_root_and_hidden_system_node() -> None:
    store = make_store()
    conversation = store.create()
    nodes = list(conversation.mapping.values())
    assert len(nodes) == 2
    root, system = nodes
    assert (root.message, root.parent, root.children) == (None, None, [system.id])
    assert system.parent == root.id
    assert system.message is not None
    assert system.message["author"]["role"] == "system"
    assert system.message["content"]["parts"] == [""]
    assert system.message["weight"] == 0.0
    assert system.message["end_turn"] is True
    assert system.message["metadata"] == {"is_visually_hidden_from_conversation": True}
    assert conversation.current_node == system.id
    assert conversation.create_time == conversation.update_time
    assert len({conversation.id, root.id, system.id}) == 3


def test_detail_matches_schema_and_fixture_keys() -> None:
    store = make_store()
    ids = id_factory(99)
    body = store.detail(converse(store, ids))
    assert schema_errors("conversation/detail.json", body) == []
    fixture = json.loads(fixture_path("conversation/detail.json").read_text())
    assert list(body) == list(fixture)
    for node in body["mapping"].values():
        assert list(node) == ["id", "message", "parent", "children"]
        if node["message"] is not None:
            assert schema_errors("parts/message.json", node["message"]) == []


def test_untitled_conversation_still_matches_schema() -> None:
    store = make_store()
    conversation = store.create()
    assert store.detail(conversation)["title"] == "New chat"
    assert schema_errors("conversation/detail.json", store.detail(conversation)) == []
    assert schema_errors("parts/conversation_item.json", store.item(conversation)) == []


def test_item_matches_schema_fixture_keys_and_iso_times() -> None:
    store = make_store()
    ids = id_factory(99)
    conversation = converse(store, ids)
    conversation.create_time = 1762179761.767145
    item = store.item(conversation)
    assert schema_errors("parts/conversation_item.json", item) == []
    fixture = json.loads(fixture_path("conversation/list.json").read_text())
    assert list(item) == list(fixture["items"][0])
    assert item["create_time"] == "2025-11-03T14:22:41.767145Z"
    assert item["mapping"] is None
    assert item["current_node"] is None
    assert item["snippet"] == "two"


def test_iso_time_keeps_microseconds() -> None:
    assert iso_time(1767132761.0) == "2025-12-30T22:12:41.000000Z"


def test_page_matches_list_schema() -> None:
    store = make_store()
    store.seed_samples(5, rng=random.Random(1), texts=sample_texts)
    body = store.page()
    assert schema_errors("conversation/list.json", body) == []
    fixture = json.loads(fixture_path("conversation/list.json").read_text())
    assert list(body) == list(fixture)
    assert body["total"] == 5


# -- tree -----------------------------------------------------------------------


def test_tree_links_after_turns_and_a_variant() -> None:
    store = make_store()
    ids = id_factory(99)
    conversation = converse(store, ids)
    assert_links(conversation)
    users = [
        node
        for node in conversation.mapping.values()
        if node.message is not None and node.message["author"]["role"] == "user"
    ]
    assert len(users) == 2
    assert len(users[1].children) == 2
    path = conversation.path_to(conversation.current_node)
    assert path[0].message is None
    assert [node.message["content"]["parts"][0] for node in path[2:] if node.message] == [
        "hi",
        "hello",
        "more",
        "two",
    ]
    assert [node.message["author"]["role"] for node in path[2:] if node.message] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]


def test_add_message_rejects_unknown_parent_and_duplicate_id() -> None:
    store = make_store()
    conversation = store.create()
    message = new_message(id=str(uuid.uuid4()), role="user", text="x", create_time=START)
    with pytest.raises(KeyError):
        conversation.add_message(message, "no-such-node")
    conversation.add_message(message, conversation.current_node)
    with pytest.raises(ValueError, match="already"):
        conversation.add_message(message, conversation.current_node)


def test_add_message_copies_the_message() -> None:
    store = make_store()
    conversation = store.create()
    message = new_message(id=str(uuid.uuid4()), role="user", text="x", create_time=START)
    node = conversation.add_message(message, conversation.current_node)
    message["content"]["parts"][0] = "changed"
    assert node.message is not None
    assert node.message["content"]["parts"] == ["x"]


@pytest.mark.parametrize("parent", [CLIENT_CREATED_ROOT, "3f0e6a52-4f7e-4a57-9b0c-7c1d2e3f4a5b"])
def test_first_turn_with_unknown_parent_attaches_to_system_node(parent: str) -> None:
    store = make_store()
    conversation = store.create()
    system = conversation.current_node
    nodes = store.append_turn(conversation, [user_message("a"), user_message("b")], parent)
    assert [node.parent for node in nodes] == [system, nodes[0].id]
    assert conversation.mapping[system].children == [nodes[0].id]
    assert nodes[0].children == [nodes[1].id]
    assert conversation.current_node == nodes[1].id
    assert parent not in conversation.mapping
    assert_links(conversation)


def test_append_turn_completes_client_messages_and_moves_update_time() -> None:
    store = make_store()
    conversation = store.create()
    before = conversation.update_time
    (node,) = store.append_turn(conversation, [user_message("hi")], conversation.current_node)
    assert conversation.update_time > before
    assert node.message is not None
    assert schema_errors("parts/message.json", node.message) == []
    assert node.message["create_time"] == conversation.update_time
    assert node.message["author"] == {"role": "user", "name": None, "metadata": {}}
    assert (node.message["status"], node.message["end_turn"]) == ("finished_successfully", None)


def test_resent_message_is_reused_for_a_variant() -> None:
    store = make_store()
    conversation = store.create()
    sent = user_message("hi")
    (first,) = store.append_turn(conversation, [sent], CLIENT_CREATED_ROOT)
    count = len(conversation.mapping)
    (again,) = store.append_turn(conversation, [sent], conversation.system_node.id)
    assert again is first
    assert len(conversation.mapping) == count


def test_set_current_rejects_unknown_node() -> None:
    store = make_store()
    conversation = store.create()
    with pytest.raises(KeyError):
        store.set_current(conversation, "nope")


# -- list -----------------------------------------------------------------------


def ids_of(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def three(store: ConversationStore) -> list[Conversation]:
    made = [store.create(title=name) for name in ("a", "b", "c")]
    # created a < b < c; updated b < c < a
    store.touch(made[1])
    store.touch(made[2])
    store.touch(made[0])
    return made


def test_page_orders_by_updated_and_created() -> None:
    store = make_store()
    a, b, c = three(store)
    assert ids_of(store.page()) == [a.id, c.id, b.id]
    assert ids_of(store.page(order="created")) == [c.id, b.id, a.id]
    with pytest.raises(ValueError, match="order"):
        store.page(order="title")


def test_page_breaks_ties_by_id() -> None:
    store = ConversationStore(now=lambda: START, new_id=id_factory(3))
    made = [store.create() for _ in range(6)]
    expected = sorted(conversation.id for conversation in made)
    assert ids_of(store.page()) == expected
    assert ids_of(store.page(order="created")) == expected


def test_page_offset_limit_and_total() -> None:
    store = make_store()
    store.seed_samples(7, rng=random.Random(5), texts=sample_texts)
    whole = ids_of(store.page(limit=100))
    assert len(whole) == 7
    first = store.page(offset=0, limit=3)
    second = store.page(offset=3, limit=3)
    third = store.page(offset=6, limit=3)
    assert ids_of(first) + ids_of(second) + ids_of(third) == whole
    assert (first["total"], first["limit"], first["offset"]) == (7, 3, 0)
    assert (third["total"], third["offset"], len(third["items"])) == (7, 6, 1)
    assert store.page(offset=10)["items"] == []


def test_page_filters() -> None:
    store = make_store()
    a, b, c = three(store)
    assert store.patch(a.id, {"is_archived": True})
    assert store.patch(b.id, {"is_starred": True})
    assert ids_of(store.page()) == [c.id, b.id]
    assert ids_of(store.page(is_archived=False)) == [c.id, b.id]
    archived = store.page(is_archived=True)
    assert (ids_of(archived), archived["total"]) == ([a.id], 1)
    starred = store.page(is_starred=True)
    assert (ids_of(starred), starred["total"]) == ([b.id], 1)
    assert ids_of(store.page(is_archived=False, is_starred=False)) == [c.id]
    temporary = store.create(is_do_not_remember=True)
    assert temporary.id not in ids_of(store.page())
    assert temporary.id in store


# -- patch, hide, snapshot --------------------------------------------------------


def test_patch_semantics() -> None:
    store = make_store()
    conversation = store.create(title="old")
    updated = conversation.update_time
    assert store.patch(conversation.id, {"title": "new", "unknown": 1}) is True
    assert conversation.title == "new"
    assert store.detail(conversation)["title"] == "new"
    assert conversation.update_time == updated
    assert store.patch(conversation.id, {"is_starred": True, "is_archived": True})
    assert (conversation.is_starred, conversation.is_archived) == (True, True)
    assert store.patch("9b2f4c1e-0000-4000-8000-000000000000", {"title": "x"}) is False


def test_patch_hide_deletes() -> None:
    store = make_store()
    kept = store.create()
    gone = store.create()
    assert len(store) == 2
    assert store.patch(gone.id, {"is_visible": False})
    assert store.get(gone.id) is None
    assert gone.id not in store
    assert kept.id in store
    assert len(store) == 1
    assert ids_of(store.page()) == [kept.id]
    assert store.page()["total"] == 1
    assert store.patch(gone.id, {"is_visible": True}) is False


def test_hide_all() -> None:
    store = make_store()
    made = [store.create() for _ in range(3)]
    store.hide_all()
    assert len(store) == 0
    assert all(store.get(conversation.id) is None for conversation in made)
    assert store.page(is_archived=True)["total"] == 0
    assert store.page()["items"] == []


def test_create_refuses_a_taken_id() -> None:
    store = make_store()
    conversation = store.create()
    store.hide_all()
    with pytest.raises(ValueError, match="exists"):
        store.create(conversation.id)


# -- samples and determinism ------------------------------------------------------


def test_seed_samples_are_finished_and_in_the_past() -> None:
    clock = FakeClock()
    store = ConversationStore(now=clock, new_id=id_factory())
    made = store.seed_samples(4, rng=random.Random(2), texts=sample_texts)
    now = clock.readings[-1]
    assert len(made) == len(store) == 4
    assert [c.create_time for c in made] == sorted(c.create_time for c in made)
    for conversation in made:
        assert now - 29 * 86400 < conversation.create_time < now
        assert conversation.create_time <= conversation.update_time
        assert schema_errors("conversation/detail.json", store.detail(conversation)) == []
        assert_links(conversation)
        reply = conversation.mapping[conversation.current_node]
        assert reply.message is not None
        assert reply.message["author"]["role"] == "assistant"
        assert reply.message["status"] == "finished_successfully"
        assert reply.message["metadata"]["finish_details"] == {
            "type": "stop",
            "stop_tokens": [200002],
        }
        assert reply.message["metadata"]["is_complete"] is True
        assert store.item(conversation)["snippet"] == reply.message["content"]["parts"][0]


def test_same_clock_and_ids_give_identical_detail() -> None:
    def build(seed: int) -> list[Any]:
        store = make_store(seed)
        store.seed_samples(3, rng=random.Random(4), texts=sample_texts)
        converse(store, id_factory(12))
        page = store.page()
        details = []
        for item in page["items"]:
            conversation = store.get(item["id"])
            assert conversation is not None
            details.append(store.detail(conversation))
        return [page, details]

    assert json.dumps(build(11)) == json.dumps(build(11))
    assert json.dumps(build(11)) != json.dumps(build(13))
