"""files.getUploadURLExternal, files.completeUploadExternal, files.info, files.delete (§4.1, §4.3).

The SDK's `files_upload_v2` makes three requests: get an upload URL per file (query params on a POST with
an empty body), POST the raw bytes to that URL without auth, then complete all files in one call. The
completion posts ONE message by the bot carrying every file of the call, in the thread if `thread_ts`
was given, with `initial_comment` as its text; with no channel the file is shared nowhere and stays
private to the uploader. Sharing is asynchronous on Slack, so the completion answer has empty
`shares`; `files.info` shows them afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api_base import ApiCall, ApiError, MethodSpec, channel_by_ref, require_member, require_writable
from .blocks import validate_blocks
from .constants import MAX_ALT_TXT, MAX_FILE_NAME_BYTES, MAX_SNIPPET_BYTES
from .files import classify, guess_mimetype
from .messaging import new_bot_message, publish_bot_message, resolve_thread_ts
from .models import JSON, Channel, FileRecord, FileShare
from .payloads import file_json
from .side_effects import message_effects

if TYPE_CHECKING:
    from .core import Core


async def get_upload_url(core: Core, call: ApiCall) -> JSON:
    params = call.params
    filename = params.require("filename", "invalid_arguments")
    if len(filename.encode()) > MAX_FILE_NAME_BYTES:
        raise ApiError("invalid_arguments")  # undocumented limit: see README "Files"
    length = params.number("length", 0, "invalid_arguments")
    if length < 1:
        raise ApiError("missing_argument")  # api-ref: "typically only occurs when length is 0"
    snippet_type = params.text("snippet_type")
    if snippet_type is not None and length > MAX_SNIPPET_BYTES:
        raise ApiError("snippet_too_large")
    alt_txt = params.text("alt_txt")
    if alt_txt is not None and len(alt_txt) > MAX_ALT_TXT:
        raise ApiError("alt_txt_too_large")
    file_id = core.ids.slack_id("F")
    mimetype = guess_mimetype(filename)
    filetype, pretty = classify(filename, mimetype)
    record = FileRecord(
        id=file_id,
        name=filename,
        title=filename,
        user=call.principal,
        path=core.files.path_for(file_id),
        created=int(core.now()),
        mimetype=mimetype,
        filetype=filetype,
        pretty_type=pretty,
        alt_txt=alt_txt,
        snippet_type=snippet_type,
        public_secret=core.ids.hex(10),
    )
    core.ws.files[file_id] = record
    ticket = core.ids.secret(40)
    core.files.tickets[ticket] = file_id
    return {"ok": True, "upload_url": f"{core.base_url}upload/v1/{ticket}", "file_id": file_id}


def _requested_files(core: Core, call: ApiCall) -> list[tuple[FileRecord, str | None]]:
    value: Any = call.params.structured("files", "invalid_arguments")
    if not isinstance(value, list) or not value:
        raise ApiError("invalid_arguments")
    out: list[tuple[FileRecord, str | None]] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ApiError("invalid_arguments")
        record = core.ws.files.get(item["id"])
        if record is None or not record.uploaded or record.completed:
            raise ApiError("file_not_found")
        if record.user != call.principal:
            raise ApiError("access_denied")
        title = item.get("title")
        if isinstance(title, str) and len(title.encode()) > MAX_FILE_NAME_BYTES:
            raise ApiError("invalid_arguments")
        out.append((record, title if isinstance(title, str) and title else None))
    return out


def _target_channels(core: Core, call: ApiCall) -> list[Channel]:
    refs: list[str] = []
    if (one := call.params.text("channel_id")) is not None:
        refs.append(one)
    refs += [c for c in (call.params.text("channels") or "").split(",") if c]
    channels: list[Channel] = []
    for ref in dict.fromkeys(refs):
        channel = channel_by_ref(core, call, ref)
        require_writable(channel)
        require_member(core, call, channel)
        channels.append(channel)
    return channels


async def complete_upload(core: Core, call: ApiCall) -> JSON:
    requested = _requested_files(core, call)
    channels = _target_channels(core, call)
    thread_ts = call.params.text("thread_ts")
    if thread_ts is not None and len(channels) != 1:
        raise ApiError("invalid_channel")  # a thread upload names exactly one channel
    root_ts = resolve_thread_ts(core, channels[0], thread_ts) if thread_ts is not None else None
    comment = call.params.text("initial_comment")
    blocks: Any = None if comment else call.params.structured("blocks", "invalid_blocks")
    if blocks is not None and validate_blocks(blocks) is not None:
        raise ApiError("invalid_blocks")
    records: list[FileRecord] = []
    for record, title in requested:
        if title:
            record.title = title
        await core.files.analyze(record)
        if record.snippet_type and record.mode != "snippet" and record.size <= MAX_SNIPPET_BYTES:
            record.mode = "snippet"
        record.completed = True
        record.ready_at = core.now() + core.settings.file_processing_s
        records.append(record)
    answer = {"ok": True, "files": [file_json(core, r, "upload") for r in records]}
    for channel in channels:
        message = new_bot_message(
            core,
            channel,
            author=call.principal,
            text=comment or "",
            blocks=blocks,
            thread_ts=root_ts,
            file_ids=[r.id for r in records],
            subtype="file_share",
        )
        message.upload = True
        for record in records:
            record.shares.append(FileShare(channel.id, message.ts, root_ts, call.principal))
        await publish_bot_message(core, message)
        message_effects(core, message)
    core.notify()
    return answer


async def info(core: Core, call: ApiCall) -> JSON:
    file_id = call.params.require("file", "file_not_found")
    record = core.ws.files.get(file_id)
    if record is not None and record.deleted:
        raise ApiError("file_deleted")
    if record is None or not record.completed or not core.ws.file_visible_to(record, call.principal):
        raise ApiError("file_not_found")
    return {
        "ok": True,
        "file": file_json(core, record, "info"),
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


async def delete(core: Core, call: ApiCall) -> JSON:
    """files.delete: `file_deleted` the second time, `file_not_found` for a file the caller cannot
    see, `cant_delete_file` for someone else's (an app deletes the files it uploaded)."""
    file_id = call.params.require("file", "file_not_found")
    record = core.ws.files.get(file_id)
    if record is not None and record.deleted:
        raise ApiError("file_deleted")
    if record is None or not core.ws.file_visible_to(record, call.principal):
        raise ApiError("file_not_found")
    if record.user != call.principal:
        raise ApiError("cant_delete_file")
    record.deleted = True
    core.notify()
    return {"ok": True}


METHODS: dict[str, MethodSpec] = {
    "files.getUploadURLExternal": MethodSpec(get_upload_url, ("files:write",), channel_param=None),
    "files.completeUploadExternal": MethodSpec(complete_upload, ("files:write",), channel_param="channel_id"),
    "files.info": MethodSpec(info, ("files:read",), channel_param=None),
    "files.delete": MethodSpec(delete, ("files:write",), channel_param=None),
}
