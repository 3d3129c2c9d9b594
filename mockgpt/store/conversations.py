"""The bounded store of every conversation one app has seen, and its JSON views."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

from mockgpt.errors import MockGPTError
from mockgpt.store.messages import (
    STOP_TOKEN,
    UNTITLED,
    Message,
    full_message,
    hidden_system_message,
    iso_time,
    new_message,
)
from mockgpt.store.tree import Conversation, Node

_ORDERS = ("updated", "created")
_REGIONS = ("IAD", "SJC", "DFW", "ORD", "LHR", "FRA", "AMS", "CDG", "SIN", "NRT")


class ConversationNotFound(MockGPTError, LookupError):
    """No visible conversation has this id; the web backend answers 404."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation {conversation_id!r}")
        self.conversation_id = conversation_id


class ConversationStore:
    """Every conversation of one app, hidden (deleted) ones included until `clear()`.

    Deleting in ChatGPT is `PATCH {"is_visible": false}`; the conversation then
    answers 404 and leaves the list; the store keeps it, hidden, until `clear()`.
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

    @property
    def kept(self) -> int:
        """How many conversations the store holds, deleted ones not yet forgotten too
        (what `max_conversations` counts; `len()` counts only the visible ones)."""
        return len(self._conversations)

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

    def require(self, conversation_id: str) -> Conversation:
        """The visible conversation with this id; `ConversationNotFound` if there is none."""
        conversation = self.get(conversation_id)
        if conversation is None:
            raise ConversationNotFound(conversation_id)
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
        system = system_message
        if system is None:
            system = hidden_system_message(self._new_id())
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
                message = full_message(sent, create_time=at, new_id=self._new_id)
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
