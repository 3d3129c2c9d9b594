"""The upload flow's routes, and the attachment download of a conversation.

Each answer is the fixture's shape filled with the stored file; unknown ids get
404 `{"detail": "File not found"}`, a file whose bytes have not arrived 409 on the
steps that need them, and a blob URL whose signature or expiry
does not open the file gets 403, as blob storage answers a bad SAS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockgpt import errors
from mockgpt.files import StoredFile, iso_moment
from mockgpt.responses import Prepared, json_response

if TYPE_CHECKING:
    from mockgpt.state import Call, Handler

FILE_NOT_FOUND = errors.detail("File not found")
BAD_SIGNATURE = errors.detail(
    "Server failed to authenticate the request. Make sure the value of the Authorization"
    " header is formed correctly including the signature."
)
NOT_UPLOADED = errors.detail("File upload has not completed")
BAD_BLOB_TYPE = errors.detail("The value for one of the HTTP headers is not in the correct format.")


def base_url(call: Call) -> str:
    """`scheme://host` the client reached the mock at, for URLs it will use as given."""
    host = call.headers.get("host", "").strip()
    if not host:
        server = call.scope.get("server") or ("127.0.0.1", 80)
        name = str(server[0])
        host = f"[{name}]:{server[1]}" if ":" in name else f"{name}:{server[1]}"
    return f"{call.scope.get('scheme', 'http')}://{host}"


def _known(call: Call) -> StoredFile | Prepared:
    found = call.app.files.get(call.params["file_id"])
    return found if found is not None else json_response(404, FILE_NOT_FOUND)


def _checked(call: Call, document: dict[str, Any]) -> Prepared:
    call.app.renderer.check(call.route.documented.schema, document)
    return json_response(call.route.status, document)


def _download_document(call: Call, found: StoredFile) -> dict[str, Any]:
    now = call.app.clock.now()
    return {
        "status": "success",
        "download_url": call.app.files.blob_url(base_url(call), found, now, "r"),
        "metadata": {},
        "file_name": found.name,
        "creation_time": iso_moment(found.created),
        "file_size_bytes": found.size,
        "mime_type": found.mime_type,
    }


async def file_create(call: Call) -> Prepared:
    """A new file id and the signed URL to `PUT` its bytes to."""
    body = call.json if isinstance(call.json, dict) else {}
    now = call.app.clock.now()
    found = call.app.files.create(
        str(body.get("file_name", "")),
        int(body.get("file_size", 0)),
        str(body.get("use_case", "multimodal")),
        now,
    )
    upload_url = call.app.files.blob_url(base_url(call), found, now, "cw")
    return _checked(call, {"status": "success", "upload_url": upload_url, "file_id": found.id})


def _blob(call: Call) -> StoredFile | Prepared:
    found = call.app.files.get(call.params["file_id"])
    if found is None:
        return json_response(404, FILE_NOT_FOUND)
    signature = call.query.get("sig", [""])[-1]
    expires = call.query.get("se", [""])[-1]
    if not call.app.files.valid(found, signature, expires, call.app.clock.now()):
        return json_response(403, BAD_SIGNATURE)
    return found


async def blob_put(call: Call) -> Prepared:
    """Store the uploaded bytes (201, empty), as blob storage answers a `BlockBlob` put."""
    found = _blob(call)
    if isinstance(found, Prepared):
        return found
    blob_type = call.headers.get("x-ms-blob-type")
    if blob_type is not None and blob_type.strip() != "BlockBlob":
        return json_response(400, BAD_BLOB_TYPE)
    mime = call.headers.get("content-type", "").split(";", 1)[0].strip()
    if not call.app.files.put(found.id, call.body, mime or None):
        return json_response(413, errors.PAYLOAD_TOO_LARGE)
    return call.app.renderer.prepared(call.route)


async def blob_get(call: Call) -> Prepared:
    """The stored bytes, with the type they were uploaded as."""
    found = _blob(call)
    if isinstance(found, Prepared):
        return found
    if found.data is None:
        return json_response(404, FILE_NOT_FOUND)
    return Prepared(200, found.data, found.mime_type)


async def file_uploaded(call: Call) -> Prepared:
    """The client says the `PUT` is done: success with the file's metadata."""
    found = _known(call)
    if isinstance(found, Prepared):
        return found
    if not found.uploaded:
        return json_response(409, NOT_UPLOADED)
    document = _download_document(call, found)
    document["metadata"] = None
    return _checked(call, document)


async def file_download(call: Call) -> Prepared:
    found = _known(call)
    if isinstance(found, Prepared):
        return found
    if not found.uploaded:
        return json_response(409, NOT_UPLOADED)
    return _checked(call, _download_document(call, found))


async def file_info(call: Call) -> Prepared:
    """The file's record, as clients poll it until retrieval indexing is done."""
    found = _known(call)
    if isinstance(found, Prepared):
        return found
    ready = found.uploaded
    created = iso_moment(found.created)
    tokens = max(1, found.size // 4) if found.use_case == "my_files" and ready else None
    retrieval = None if tokens is None else {"status": "success", "file_size_tokens": tokens}
    document = {
        "id": found.id,
        "name": found.name,
        "creation_time": created,
        "state": "ready" if ready else "uploading",
        "ready_time": created if ready else None,
        "size": found.size,
        "metadata": {"retrieval": retrieval} if retrieval else {},
        "use_case": found.use_case,
        "retrieval_index_status": "success" if retrieval else None,
        "file_size_tokens": tokens,
        "variants": None,
    }
    return _checked(call, document)


async def attachment_download(call: Call) -> Prepared:
    """A conversation's attachment: 404 until its bytes are there (as for an image still
    being generated), then its download URL."""
    call.app.conversations.conversation(call.params["conversation_id"])
    found = call.app.files.get(call.params["file_id"])
    if found is None or not found.uploaded:
        return json_response(404, FILE_NOT_FOUND)
    document = _download_document(call, found)
    return _checked(call, document)


FILE_HANDLERS: dict[str, Handler] = {
    "file_create": file_create,
    "blob_put": blob_put,
    "blob_get": blob_get,
    "file_uploaded": file_uploaded,
    "file_download": file_download,
    "file_info": file_info,
    "attachment_download": attachment_download,
}
