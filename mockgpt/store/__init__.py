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

from mockgpt.store.conversations import ConversationNotFound, ConversationStore
from mockgpt.store.messages import (
    CLIENT_CREATED_ROOT,
    SNIPPET_LENGTH,
    STOP_TOKEN,
    UNTITLED,
    Message,
    first_turn,
    iso_time,
    new_message,
    sender,
)
from mockgpt.store.tree import Conversation, Node

__all__ = [
    "CLIENT_CREATED_ROOT",
    "SNIPPET_LENGTH",
    "STOP_TOKEN",
    "UNTITLED",
    "Conversation",
    "ConversationNotFound",
    "ConversationStore",
    "Message",
    "Node",
    "first_turn",
    "iso_time",
    "new_message",
    "sender",
]
