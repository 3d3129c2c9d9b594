"""One conversation: a tree of message nodes keyed by node id, as the web backend keeps it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mockgpt.store.messages import SNIPPET_LENGTH, Message, visible_text


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

    def snippet(self) -> str | None:
        """The last text a reader sees on the current branch, shortened for the sidebar."""
        for node in reversed(self.path_to(self.current_node)):
            text = visible_text(node.message)
            if text is not None:
                return text[:SNIPPET_LENGTH]
        return None
