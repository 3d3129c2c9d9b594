"""Uploaded files: the store behind the web client's upload flow.

The flow is `POST /backend-api/files` (a file id and an upload URL), a `PUT` of
the raw bytes to that URL, `POST /backend-api/files/{id}/uploaded`, then
`GET /backend-api/files/{id}/download` for a download URL that serves the bytes
back. The real upload URL is a signed blob-storage URL on another host; the
mock's points at itself (`/blob/{id}?se=…&sig=…`), so a client that uses the
URL as given works unmodified. The signature is what authorises the `PUT`,
as with the real blob store, so a page that never saw the URL cannot write.

The store is bounded by count and by bytes: past either, the oldest files are
forgotten first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

#: The path the upload and download URLs point at.
BLOB_PREFIX = "/blob/"
#: Azure's blob service version the web client sends and the URLs name.
BLOB_VERSION = "2020-04-08"
#: How long an upload URL stays good, in seconds (the real SAS URLs last about that).
URL_LIFETIME = 3600


def iso_moment(epoch: float) -> str:
    """`1767132761.5` → `"2025-12-30T22:12:41.500000+00:00"`, the files API's time format."""
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="microseconds")


@dataclass
class StoredFile:
    """One file the client announced, and its bytes once uploaded."""

    id: str
    name: str
    declared_size: int
    use_case: str
    created: float
    signature: str
    mime_type: str = "application/octet-stream"
    data: bytes | None = None

    @property
    def uploaded(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.declared_size

    def summary(self) -> dict[str, Any]:
        """What the admin API shows of the file (never its bytes)."""
        return {
            "id": self.id,
            "name": self.name,
            "use_case": self.use_case,
            "mime_type": self.mime_type,
            "declared_size": self.declared_size,
            "size": self.size,
            "uploaded": self.uploaded,
            "creation_time": iso_moment(self.created),
        }


class FileStore:
    """The files of one app, bounded by `max_files` and `max_bytes` (stored bytes)."""

    def __init__(self, *, seed: int, max_files: int, max_bytes: int) -> None:
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._key = hashlib.sha256(f"mockgpt blob key, seed {seed}".encode()).digest()
        self._rng = random.Random(f"{seed}\x1ffiles")
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, file_id: object) -> bool:
        return file_id in self._files

    @property
    def stored_bytes(self) -> int:
        return self._bytes

    def get(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def summaries(self) -> list[dict[str, Any]]:
        """Every file, oldest first."""
        return [found.summary() for found in self._files.values()]

    def sign(self, file_id: str) -> str:
        digest = hmac.new(self._key, file_id.encode("utf-8"), hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    def create(self, name: str, size: int, use_case: str, now: float) -> StoredFile:
        """Announce a file: a fresh `file_` id (as 2025-12+ uploads have) and its signature."""
        file_id = f"file_{self._rng.getrandbits(128):032x}"
        return self.add(StoredFile(file_id, name, size, use_case, now, self.sign(file_id)))

    def add(self, found: StoredFile) -> StoredFile:
        """Keep `found`, forgetting the oldest files past the bounds."""
        self._drop(found.id)
        self._files[found.id] = found
        self._bytes += len(found.data or b"")
        self._trim(keep=found.id)
        return found

    def put(self, file_id: str, data: bytes, mime_type: str | None) -> bool:
        """Store the bytes of an announced file; False when they alone pass the byte bound."""
        found = self._files[file_id]
        if len(data) > self.max_bytes:
            return False
        self._bytes -= len(found.data or b"")
        found.data = data
        if mime_type:
            found.mime_type = mime_type
        self._bytes += len(data)
        self._files.move_to_end(file_id)
        self._trim(keep=file_id)
        return True

    def _drop(self, file_id: str) -> None:
        gone = self._files.pop(file_id, None)
        if gone is not None:
            self._bytes -= len(gone.data or b"")

    def _trim(self, *, keep: str) -> None:
        while len(self._files) > self.max_files or self._bytes > self.max_bytes:
            oldest = next(iter(self._files))
            if oldest == keep:
                break
            self._drop(oldest)

    def valid(self, found: StoredFile, signature: str, expires: str, now: float) -> bool:
        """Whether a blob URL's `sig` and `se` still open this file."""
        if not hmac.compare_digest(signature.encode("utf-8"), found.signature.encode("utf-8")):
            return False
        try:
            moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            return False
        if moment.tzinfo is None:
            return False
        return moment.timestamp() > now

    def blob_url(self, base: str, found: StoredFile, now: float, permissions: str) -> str:
        """The signed URL of the file's blob on the mock, shaped like a blob SAS URL."""
        expires = datetime.fromtimestamp(now + URL_LIFETIME, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = {
            "se": expires,
            "sp": permissions,
            "sv": BLOB_VERSION,
            "sr": "b",
            "sig": found.signature,
        }
        return f"{base}{BLOB_PREFIX}{found.id}?{urlencode(query)}"


#: The keys the service adds to an image part's `metadata` when it stores the message.
_IMAGE_PART_METADATA = (
    "dalle",
    "gizmo",
    "generation",
    "container_pixel_height",
    "container_pixel_width",
    "emu_omit_glimpse_image",
    "emu_patches_override",
    "lpe_keep_patch_ijhw",
    "lpe_delta_encoding_channel",
    "sanitized",
    "asset_pointer_link",
    "watermarked_asset_pointer",
    "is_no_auth_placeholder",
)


def store_attachments(message: dict[str, Any]) -> None:
    """Fill in what the service adds to a user message's attachments when storing it.

    Clients send image parts with only `content_type, asset_pointer, size_bytes,
    width, height`; the stored part also has `fovea` and a `metadata` object.
    Attachment entries may name the type `mimeType` (some clients) or
    `mime_type` (the web client); the stored entry uses `mime_type`.
    """
    content = message.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, dict) and part.get("content_type") == "image_asset_pointer":
            part.setdefault("fovea", None)
            if not isinstance(part.get("metadata"), dict):
                part["metadata"] = {key: None for key in _IMAGE_PART_METADATA}
                part["metadata"]["sanitized"] = True
    metadata = message.get("metadata")
    attachments = metadata.get("attachments") if isinstance(metadata, dict) else None
    for attachment in attachments if isinstance(attachments, list) else ():
        if isinstance(attachment, dict) and "mimeType" in attachment:
            mime = attachment.pop("mimeType")
            attachment.setdefault("mime_type", mime)
