"""The conversation store: the conversations one app has seen, as message trees.

The ChatGPT web backend keeps each conversation as a tree keyed by node id (a
root without a message, a hidden system message, then user and assistant
messages; a regenerated answer is a second child of the same user message).
The mock keeps the same tree so that `GET /backend-api/conversation/{id}`,
the history list and `PATCH` answer with what earlier requests stored.

One `ConversationStore` hangs off one app and holds no module-level state, so
two apps in one process share nothing. It never reads the wall clock or draws
random ids itself: the app passes its clock (`now`) and its seeded id factory
(`new_id`), so one seed and one clock give the same bytes on every run.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mockgpt.files import store_attachments
from mockgpt.message_text import content_text

Message = dict[str, Any]

#: The first-turn `parent_message_id` the 2025-12 web client sends instead of a real node id.
CLIENT_CREATED_ROOT = "client-created-root"
#: The title ChatGPT shows until a title is generated; the schemas do not allow a null title.
UNTITLED = "New chat"
#: The stop token the real backend reports in `finish_details` for a normal end of answer.
STOP_TOKEN = 200002
#: Longest list-item snippet, in characters.
SNIPPET_LENGTH = 100
_ORDERS = ("updated", "created")
_REGIONS = ("IAD", "SJC", "DFW", "ORD", "LHR", "FRA", "AMS", "CDG", "SIN", "NRT")


def first_turn(
    prompt: str, *, message_id: str = "aaa5e6f7-0a1b-4c2d-8e3f-405162738495", v1: bool = False
) -> dict[str, Any]:
    """The body a web client sends to start a conversation with `prompt`
    (asking for the `v1` delta encoding when `v1`)."""
    body: dict[str, Any] = {
        "action": "next",
        "model": "auto",
        "messages": [
            {
                "id": message_id,
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": [prompt]},
            }
        ],
        "parent_message_id": CLIENT_CREATED_ROOT,
    }
    if v1:
        body["supported_encodings"] = ["v1"]
    return body


def new_message(
    *,
    id: str,
    role: str,
    text: str | None = None,
    content: dict[str, Any] | None = None,
    create_time: float | None,
    status: str = "finished_successfully",
    end_turn: bool | None = None,
    weight: float = 1.0,
    metadata: dict[str, Any] | None = None,
    recipient: str = "all",
    channel: str | None = None,
    author_name: str | None = None,
) -> Message:
    """A message object with every key of `parts/message.json`, in the wire's key order.

    Every producer of messages (stream, mapping, samples) goes through here so the
    key order and defaults cannot drift apart. Give `text` for a plain text message
    or `content` for any other content type; with neither the parts are `[""]`, the
    way an answer starts before its first token.
    """
    if text is not None and content is not None:
        raise ValueError("give text or content, not both")
    if content is None:
        made = {"content_type": "text", "parts": ["" if text is None else text]}
    else:
        made = copy.deepcopy(content)  # the caller's dict stays the caller's
    return {
        "id": id,
        "author": {"role": role, "name": author_name, "metadata": {}},
        "create_time": create_time,
        "update_time": None,
        "content": made,
        "status": status,
        "end_turn": end_turn,
        "weight": weight,
        "metadata": copy.deepcopy(metadata) if metadata is not None else {},
        "recipient": recipient,
        "channel": channel,
    }


def _system_message(message_id: str) -> Message:
    return new_message(
        id=message_id,
        role="system",
        text="",
        create_time=None,
        end_turn=True,
        weight=0.0,
        metadata={"is_visually_hidden_from_conversation": True},
    )


def sender(sent: Message) -> dict[str, Any]:
    """The author of a client-sent message: `author`, or the older bare `role` field."""
    author = sent.get("author")
    if isinstance(author, dict):
        return author
    return {"role": sent.get("role", "user")}


def _full_message(sent: Message, *, create_time: float, new_id: Callable[[], str]) -> Message:
    """A client-sent message (`{id, author{role}, content, metadata}`) as the mapping shows it.

    Clients send only a few keys; the mapping must hold whole message objects, so
    the missing ones get the values the real backend fills in for user messages.
    """
    author = sender(sent)
    message = new_message(
        id=str(sent.get("id") or new_id()),
        role=str(author.get("role", "user")),
        content=sent.get("content") or {"content_type": "text", "parts": [""]},
        create_time=sent.get("create_time", create_time),
        status=str(sent.get("status", "finished_successfully")),
        end_turn=sent.get("end_turn"),
        weight=float(sent.get("weight", 1.0)),
        metadata=sent.get("metadata") or {},
        recipient=str(sent.get("recipient", "all")),
        channel=sent.get("channel"),
        author_name=author.get("name"),
    )
    if isinstance(author.get("metadata"), dict):
        message["author"]["metadata"] = copy.deepcopy(author["metadata"])
    if "update_time" in sent:
        message["update_time"] = sent["update_time"]
    store_attachments(message)
    return message


def iso_time(epoch: float) -> str:
    """`1767132761.767145` → `"2025-12-30T22:12:41.767145Z"`, the list's time format."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _visible_text(message: Message | None) -> str | None:
    """The text a reader sees for a message, or None for hidden, tool and non-text messages."""
    if message is None:
        return None
    if message.get("metadata", {}).get("is_visually_hidden_from_conversation"):
        return None
    if message.get("author", {}).get("role") not in ("user", "assistant"):
        return None
    if message.get("recipient", "all") != "all":
        return None
    content = message.get("content") or {}
    if content.get("content_type") not in ("text", "multimodal_text"):
        return None
    text = " ".join((content_text(content, separator=" ") or "").split())
    return text or None


@dataclass
class Node:
    """One node of a conversation tree, as `parts/mapping_node.json` shows it.

    `message` is None only on the root. `children` lists several ids where the
    user edited a message or asked for another answer (a variant).
    """

    id: str
    message: Message | None
    parent: str | None
    children: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The node as the mapping shows it (a copy: callers may not change the store)."""
        return {
            "id": self.id,
            "message": copy.deepcopy(self.message),
            "parent": self.parent,
            "children": list(self.children),
        }


@dataclass
class Conversation:
    """One conversation: its message tree, the shown branch's leaf and its sidebar flags.

    Fields beyond the tree are the ones the detail and list bodies report; the
    ones the mock never varies (moderation results, plugin ids, scopes) are
    written as constants by the store.
    """

    id: str
    title: str | None
    create_time: float
    update_time: float
    mapping: dict[str, Node]
    current_node: str
    is_archived: bool = False
    is_starred: bool = False
    is_visible: bool = True
    default_model_slug: str = "auto"
    gizmo_id: str | None = None
    gizmo_type: str | None = None
    #: A temporary chat (`history_and_training_disabled` / `is_do_not_remember`): not listed.
    is_do_not_remember: bool = False
    pinned_time: float | None = None
    conversation_template_id: str | None = None
    workspace_id: str | None = None
    conversation_origin: str | None = None
    voice: str | None = None
    async_status: int | str | None = None
    memory_scope: str = "global_enabled"
    safe_urls: list[str] = field(default_factory=list)
    blocked_urls: list[str] = field(default_factory=list)
    disabled_tool_ids: list[str] = field(default_factory=list)
    #: Roughly how many bytes the messages clients sent into it take (for the store's limit).
    kept_bytes: int = 0

    @property
    def root(self) -> Node:
        """The message-less node every path starts from."""
        for node in self.mapping.values():
            if node.parent is None:
                return node
        raise LookupError(f"conversation {self.id} has no root node")

    @property
    def system_node(self) -> Node:
        """The hidden system message under the root, where first turns attach."""
        root = self.root
        return self.mapping[root.children[0]] if root.children else root

    def add_message(self, message: Message, parent_id: str) -> Node:
        """Store a whole message object (`parts/message.json`) as a child of `parent_id`.

        The node id is the message id, as on the wire. The message is copied, so
        later changes go through the returned node. Raises KeyError for an unknown
        parent and ValueError for an id already in the tree (it would break the links).
        """
        parent = self.mapping[parent_id]
        node_id = str(message["id"])
        if node_id in self.mapping:
            raise ValueError(f"node {node_id} is already in conversation {self.id}")
        node = Node(id=node_id, message=copy.deepcopy(message), parent=parent.id)
        self.mapping[node_id] = node
        parent.children.append(node_id)
        return node

    def path_to(self, node_id: str) -> list[Node]:
        """The nodes from the root down to `node_id`: the branch a client shows for that leaf."""
        path: list[Node] = []
        current: str | None = node_id
        while current is not None:
            node = self.mapping[current]
            path.append(node)
            current = node.parent
            if len(path) > len(self.mapping):
                raise ValueError(f"conversation {self.id} has a cycle through {node_id}")
        path.reverse()
        return path

    def last_assistant(self, before: str | None = None) -> Node | None:
        """The nearest assistant message at or above `before` (default: the current node).

        Continuing an answer, regenerating it or titling the conversation all
        start from the assistant message the client is looking at.
        """
        for node in reversed(self.path_to(before or self.current_node)):
            if node.message is not None and node.message["author"]["role"] == "assistant":
                return node
        return None

    def snippet(self) -> str | None:
        """The last text a reader sees on the current branch, shortened for the sidebar."""
        for node in reversed(self.path_to(self.current_node)):
            text = _visible_text(node.message)
            if text is not None:
                return text[:SNIPPET_LENGTH]
        return None


@dataclass(frozen=True)
class _Snapshot:
    conversations: dict[str, Conversation]


class ConversationStore:
    """Every conversation of one app, hidden (deleted) ones included until `clear()`.

    Deleting in ChatGPT is `PATCH {"is_visible": false}`; the conversation then
    answers 404 and leaves the list. The store keeps it (hidden) so that a
    `snapshot()` taken before still restores it.
    """

    def __init__(self, *, now: Callable[[], float], new_id: Callable[[], str]) -> None:
        self._now = now
        self._new_id = new_id
        self._conversations: dict[str, Conversation] = {}
        #: Past either limit, the least recently updated conversations are forgotten
        #: (deleted ones first), so that a server left running does not grow forever.
        self.max_conversations = 10_000
        self.max_bytes = 256 * 1024 * 1024
        self._bytes = 0

    def bound(self, count: int, max_bytes: int) -> None:
        """Keep at most `count` conversations holding about `max_bytes` of client messages."""
        self.max_conversations = count
        self.max_bytes = max_bytes
        self._make_room()

    @property
    def kept_bytes(self) -> int:
        """Roughly how many bytes of client messages the store holds."""
        return self._bytes

    def _make_room(self, keep: Conversation | None = None) -> None:
        """Forget conversations until both limits hold: deleted ones first, then the
        least recently updated. `keep` (the one being written) is never forgotten."""
        kept = self._conversations
        while len(kept) > self.max_conversations or (
            self._bytes > self.max_bytes and len(kept) > 1
        ):
            others = [c for c in kept.values() if c is not keep]
            if not others:
                return
            hidden = [c for c in others if not c.is_visible]
            victim = min(hidden or others, key=lambda c: c.update_time)
            del kept[victim.id]
            self._bytes -= victim.kept_bytes

    # -- lookup -----------------------------------------------------------------

    def get(self, conversation_id: str) -> Conversation | None:
        """The visible conversation with this id, or None (unknown or deleted: a 404)."""
        conversation = self._conversations.get(conversation_id)
        if conversation is None or not conversation.is_visible:
            return None
        return conversation

    def __contains__(self, conversation_id: object) -> bool:
        return isinstance(conversation_id, str) and self.get(conversation_id) is not None

    def __len__(self) -> int:
        return sum(1 for conversation in self._conversations.values() if conversation.is_visible)

    def visible(self) -> list[Conversation]:
        """Every conversation not deleted, most recently updated first."""
        found = [c for c in self._conversations.values() if c.is_visible]
        return sorted(found, key=lambda c: c.update_time, reverse=True)

    # -- writing ----------------------------------------------------------------

    def create(
        self,
        conversation_id: str | None = None,
        *,
        title: str | None = None,
        model_slug: str = "auto",
        system_message: Message | None = None,
        gizmo_id: str | None = None,
        is_do_not_remember: bool = False,
    ) -> Conversation:
        """A new conversation holding a root node and the hidden system message.

        Ids are drawn in a fixed order (conversation, root, system message) so the
        same id factory gives the same tree. Raises ValueError if the id is taken,
        hidden conversations included: the real backend never reuses ids.
        """
        return self._create(
            conversation_id,
            title=title,
            model_slug=model_slug,
            system_message=system_message,
            gizmo_id=gizmo_id,
            is_do_not_remember=is_do_not_remember,
            at=self._now(),
        )

    def _create(
        self,
        conversation_id: str | None,
        *,
        title: str | None,
        model_slug: str,
        system_message: Message | None,
        gizmo_id: str | None,
        is_do_not_remember: bool,
        at: float,
    ) -> Conversation:
        conversation_id = conversation_id or self._new_id()
        if conversation_id in self._conversations:
            raise ValueError(f"conversation {conversation_id} already exists")
        root = Node(id=self._new_id(), message=None, parent=None)
        system = system_message if system_message is not None else _system_message(self._new_id())
        conversation = Conversation(
            id=conversation_id,
            title=title,
            create_time=at,
            update_time=at,
            mapping={root.id: root},
            current_node=root.id,
            default_model_slug=model_slug,
            gizmo_id=gizmo_id,
            is_do_not_remember=is_do_not_remember,
        )
        conversation.current_node = conversation.add_message(system, root.id).id
        self._conversations[conversation_id] = conversation
        self._make_room(keep=conversation)
        return conversation

    def append_turn(
        self, conversation: Conversation, messages: list[Message], parent_id: str
    ) -> list[Node]:
        """Store the messages a client sent for one turn, each the child of the one before.

        A first turn names a parent the server never made (a client UUID or the
        literal `client-created-root`); such turns hang under the system message.
        Client messages are completed into whole message objects. A message whose
        id is already in the tree is reused, not stored twice: a regenerate
        (`action: variant`) resends the user message it answers again. The last
        message becomes the current node; update_time moves to now.
        """
        at = self._now()
        parent = parent_id if parent_id in conversation.mapping else conversation.system_node.id
        nodes: list[Node] = []
        for sent in messages:
            existing = conversation.mapping.get(str(sent.get("id")))
            if existing is not None:
                node = existing
            else:
                message = _full_message(sent, create_time=at, new_id=self._new_id)
                node = conversation.add_message(message, parent)
                size = len(json.dumps(sent, default=str))
                conversation.kept_bytes += size
                self._bytes += size
            nodes.append(node)
            parent = node.id
        if nodes:
            conversation.current_node = nodes[-1].id
        conversation.update_time = at
        self._make_room(keep=conversation)
        return nodes

    def set_current(self, conversation: Conversation, node_id: str) -> None:
        """Make `node_id` the leaf the client shows; KeyError if it is not in the tree."""
        if node_id not in conversation.mapping:
            raise KeyError(node_id)
        conversation.current_node = node_id

    def touch(self, conversation: Conversation) -> None:
        """Move update_time to now, which moves the conversation to the top of the list."""
        conversation.update_time = self._now()

    def patch(self, conversation_id: str, changes: dict[str, Any]) -> bool:
        """Apply a `PATCH /backend-api/conversation/{id}` body; False if there is no such one.

        Only title, is_archived, is_starred and is_visible (False deletes) are read;
        other keys are ignored, as the real backend does. Renaming or archiving
        does not move update_time, so the list order stays as it was.
        """
        conversation = self.get(conversation_id)
        if conversation is None:
            return False
        if "title" in changes:
            title = changes["title"]
            conversation.title = None if title is None else str(title)
        for flag in ("is_archived", "is_starred", "is_visible"):
            if flag in changes:
                setattr(conversation, flag, bool(changes[flag]))
        return True

    def hide_all(self) -> None:
        """`PATCH /backend-api/conversations {"is_visible": false}`: delete every conversation."""
        for conversation in self._conversations.values():
            conversation.is_visible = False

    def clear(self) -> None:
        """Forget every conversation, hidden ones too (a fresh app's store)."""
        self._conversations.clear()
        self._bytes = 0

    def snapshot(self) -> object:
        """An opaque deep copy of the store, for tests that reset the mock between cases."""
        return _Snapshot(copy.deepcopy(self._conversations))

    def restore(self, snapshot: object) -> None:
        """Put the store back as it was at `snapshot()`; the snapshot can be restored again."""
        if not isinstance(snapshot, _Snapshot):
            raise TypeError("restore() takes what snapshot() returned")
        self._conversations = copy.deepcopy(snapshot.conversations)
        self._bytes = sum(c.kept_bytes for c in self._conversations.values())

    # -- reading ----------------------------------------------------------------

    def load_detail(self, detail: dict[str, Any]) -> Conversation:
        """Store a conversation given as a `GET /backend-api/conversation/{id}` body.

        This is how a canonical fixture conversation becomes part of the world.
        """
        mapping = {
            node_id: Node(
                id=node["id"],
                message=copy.deepcopy(node.get("message")),
                parent=node.get("parent"),
                children=list(node.get("children", [])),
            )
            for node_id, node in detail["mapping"].items()
        }
        conversation = Conversation(
            id=detail["conversation_id"],
            title=detail.get("title"),
            create_time=float(detail["create_time"]),
            update_time=float(detail["update_time"]),
            mapping=mapping,
            current_node=detail["current_node"],
            is_archived=bool(detail.get("is_archived")),
            is_starred=bool(detail.get("is_starred")),
            default_model_slug=detail.get("default_model_slug") or "auto",
            gizmo_id=detail.get("gizmo_id"),
        )
        if conversation.id in self._conversations:
            raise ValueError(f"conversation {conversation.id} already exists")
        self._conversations[conversation.id] = conversation
        self._make_room(keep=conversation)
        return conversation

    def detail(self, conversation: Conversation) -> dict[str, Any]:
        """The `GET /backend-api/conversation/{id}` body (`conversation/detail.json`)."""
        return {
            "title": conversation.title or UNTITLED,
            "create_time": conversation.create_time,
            "update_time": conversation.update_time,
            "mapping": {node_id: node.as_json() for node_id, node in conversation.mapping.items()},
            "moderation_results": [],
            "current_node": conversation.current_node,
            "plugin_ids": None,
            "conversation_id": conversation.id,
            "conversation_template_id": conversation.conversation_template_id,
            "gizmo_id": conversation.gizmo_id,
            "gizmo_type": conversation.gizmo_type,
            "is_archived": conversation.is_archived,
            "is_starred": conversation.is_starred,
            "safe_urls": list(conversation.safe_urls),
            "default_model_slug": conversation.default_model_slug,
            "conversation_origin": conversation.conversation_origin,
            "voice": conversation.voice,
            "async_status": conversation.async_status,
            "disabled_tool_ids": list(conversation.disabled_tool_ids),
        }

    def item(self, conversation: Conversation) -> dict[str, Any]:
        """One history-list entry (`parts/conversation_item.json`): ISO times, no mapping."""
        pinned = conversation.pinned_time
        return {
            "id": conversation.id,
            "title": conversation.title or UNTITLED,
            "create_time": iso_time(conversation.create_time),
            "update_time": iso_time(conversation.update_time),
            "pinned_time": None if pinned is None else iso_time(pinned),
            "mapping": None,
            "current_node": None,
            "conversation_template_id": conversation.conversation_template_id,
            "gizmo_id": conversation.gizmo_id,
            "is_archived": conversation.is_archived,
            "is_starred": conversation.is_starred,
            "is_do_not_remember": conversation.is_do_not_remember,
            "memory_scope": conversation.memory_scope,
            "context_scopes": None,
            "context_scopes_v2": {
                "context_scopes": [
                    {"is_siloed": False, "scope_namespace": "global", "sub_scope": None}
                ]
            },
            "workspace_id": conversation.workspace_id,
            "async_status": conversation.async_status,
            "safe_urls": list(conversation.safe_urls),
            "blocked_urls": list(conversation.blocked_urls),
            "conversation_origin": conversation.conversation_origin,
            "snippet": conversation.snippet(),
            "sugar_item_id": None,
            "sugar_item_visible": False,
        }

    def page(
        self,
        *,
        offset: int = 0,
        limit: int = 28,
        order: str = "updated",
        is_archived: bool | None = None,
        is_starred: bool | None = None,
    ) -> dict[str, Any]:
        """One page of `GET /backend-api/conversations` (`conversation/list.json`).

        The web client asks `is_archived=false` or nothing for the sidebar and
        `is_archived=true` for the archive view, so archived conversations are
        listed only when `is_archived` is True. Deleted and temporary chats are
        never listed. Ties on the sort time fall back to the id, so pages never
        overlap or shuffle.
        """
        if order not in _ORDERS:
            raise ValueError(f"order must be one of {_ORDERS}, not {order!r}")
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must be zero or more")
        want_archived = is_archived is True
        chosen = [
            conversation
            for conversation in self._conversations.values()
            if conversation.is_visible
            and not conversation.is_do_not_remember
            and conversation.is_archived == want_archived
            and (is_starred is None or conversation.is_starred == is_starred)
        ]
        chosen.sort(key=lambda conversation: conversation.id)
        if order == "updated":
            chosen.sort(key=lambda conversation: conversation.update_time, reverse=True)
        else:
            chosen.sort(key=lambda conversation: conversation.create_time, reverse=True)
        return {
            "items": [self.item(conversation) for conversation in chosen[offset : offset + limit]],
            "total": len(chosen),
            "limit": limit,
            "offset": offset,
            "has_missing_conversations": False,
        }

    # -- samples ----------------------------------------------------------------

    def seed_samples(
        self,
        count: int,
        *,
        rng: random.Random,
        texts: Callable[[random.Random], tuple[str, str, str]],
        model_slug: str = "gpt-5",
        days: float = 28.0,
        now: float | None = None,
    ) -> list[Conversation]:
        """Store `count` finished one-exchange conversations from the last `days` before now.

        A fresh account with an empty sidebar does not look like the real one;
        these give the history list something to page through. Each draws its
        (title, prompt, answer) from `texts(rng)`; times are rounded to
        microseconds, as the backend reports them. Returned oldest first.
        `now` anchors them (default: the clock), so a pinned start gives the same history.
        """
        now = self._now() if now is None else now
        ages = sorted((rng.uniform(600.0, days * 86400.0) for _ in range(count)), reverse=True)
        made: list[Conversation] = []
        for age in ages:
            title, prompt, answer = texts(rng)
            start = round(now - age, 6)
            conversation = self._create(
                None,
                title=title,
                model_slug="auto",
                system_message=None,
                gizmo_id=None,
                is_do_not_remember=False,
                at=start,
            )
            request_id = f"{rng.getrandbits(64):016x}-{rng.choice(_REGIONS)}"
            user = conversation.add_message(
                new_message(
                    id=self._new_id(),
                    role="user",
                    text=prompt,
                    create_time=round(start - rng.uniform(0.001, 0.003), 6),
                    metadata={
                        "serialization_metadata": {"custom_symbol_offsets": []},
                        "request_id": request_id,
                        "message_source": None,
                        "timestamp_": "absolute",
                        "message_type": None,
                    },
                ),
                conversation.current_node,
            )
            answered = round(start + rng.uniform(0.6, 3.0), 6)
            reply = conversation.add_message(
                new_message(
                    id=self._new_id(),
                    role="assistant",
                    text=answer,
                    create_time=answered,
                    end_turn=True,
                    metadata={
                        "citations": [],
                        "content_references": [],
                        "gizmo_id": None,
                        "message_type": "next",
                        "model_slug": model_slug,
                        "default_model_slug": "auto",
                        "parent_id": user.id,
                        "model_switcher_deny": [],
                        "timestamp_": "absolute",
                        "request_id": request_id,
                        "finish_details": {"type": "stop", "stop_tokens": [STOP_TOKEN]},
                        "is_complete": True,
                    },
                ),
                user.id,
            )
            conversation.current_node = reply.id
            conversation.update_time = round(answered + rng.uniform(1.0, 5.0), 6)
            made.append(conversation)
        return made
