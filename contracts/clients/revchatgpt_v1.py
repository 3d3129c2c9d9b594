"""Drives revChatGPT's V1 Chatbot against a mock: two streamed turns of one
conversation, then reads the conversation back and lists conversations, all
through the client's own calls.

Usage: .venv/bin/python revchatgpt_v1.py BASE_URL (prints one JSON report).
Run with the virtual environment `install` made, not mockgpt's.
"""

import json
import os
import sys
import tempfile
import traceback

BASE = sys.argv[1].rstrip("/")
TOKEN = "contract-token"
# Configuration only, so nothing leaves the machine: the client asks this URL for
# a cookie before its first call, fetches an arkose token unless told the server
# does it, and keeps its config under HOME.
os.environ["OPENAI_MODELS_URL"] = f"{BASE}/backend-api/models"
os.environ["SERVER_SIDE_ARKOSE"] = "1"
os.environ["HOME"] = tempfile.mkdtemp(prefix="mockgpt-revchatgpt-")

from revChatGPT.V1 import Chatbot  # noqa: E402


def main() -> int:
    result = {"client": "revChatGPT", "steps": [], "failed": None, "error": None}

    def step(name, action):
        result["failed"] = name
        value = action()
        result["steps"].append({"step": name, **value})
        result["failed"] = None
        return value

    def turn(prompt):
        answers = list(bot.ask(prompt, timeout=30))
        last = answers[-1]
        return {
            "text": last["message"],
            "progress": len(answers),
            "conversation_id": last["conversation_id"],
            "message_id": last["parent_id"],
        }

    def read_back(conversation_id):
        conversation = bot.get_msg_history(conversation_id)
        texts = []
        node = conversation["mapping"].get(conversation["current_node"])
        while node:
            message = node.get("message")
            if message and message["author"]["role"] == "assistant":
                texts.insert(0, "".join(message["content"]["parts"]))
            node = conversation["mapping"].get(node.get("parent"))
        listed = [item["id"] for item in bot.get_conversations(offset=0, limit=28)]
        return {
            "via": "client",
            "assistant_texts": texts,
            "current_node": conversation["current_node"],
            "title": conversation.get("title"),
            "listed": conversation_id in listed,
        }

    try:
        # Pointed at the mock by configuration: base_url is a constructor argument.
        bot = Chatbot(
            config={"access_token": TOKEN, "model": "auto"}, base_url=f"{BASE}/backend-api/"
        )
        first = step("first turn", lambda: turn("Hello from revChatGPT"))
        step("second turn", lambda: turn("And a second message"))
        step("read back", lambda: read_back(first["conversation_id"]))
    except Exception:
        result["error"] = traceback.format_exc(limit=4)
    print(json.dumps(result))
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
