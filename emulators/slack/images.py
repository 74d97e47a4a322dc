"""Image blocks and image elements, and the `slack_file` object that names an uploaded image.

Rules (README "Image blocks"): an image has `alt_text` (at most 2,000 characters) and either an
`image_url` (at most 3,000) or a `slack_file`, not both (docs.slack.dev/reference/block-kit/blocks/
image-block). A `slack_file` gives the file's `id` or its `url` (`url_private` or `permalink`), not
both; the file must be a png, jpg, jpeg or gif image, and the user posting the blocks must have access
to it (docs.slack.dev/reference/block-kit/composition-objects/slack-file-object). Slack processes an
API upload asynchronously, so a file is usable only `file_processing_s` after its upload was completed
(slackapi/slack-github-action#413; slackapi/java-slack-sdk#1349). Slack's answer for a bad one is
`invalid slack file [json-pointer:…/slack_file]` (slackapi/bolt-python#1251, python-slack-sdk#1797).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .api_base import ApiError
from .models import JSON, FileRecord
from .payloads import file_urls

if TYPE_CHECKING:
    from .core import Core

MAX_ALT_TEXT = 2000
MAX_IMAGE_URL = 3000
# `filetype` as Slack labels images (files.py: jpg and jpeg are both "jpg").
IMAGE_FILETYPES = frozenset({"png", "jpg", "gif"})


def images(blocks: list[JSON], pointer: str) -> Iterator[tuple[JSON, str]]:
    """Every image block and image element with its JSON pointer: image blocks, section accessories,
    context elements."""
    for i, block in enumerate(blocks):
        here = f"{pointer}/{i}"
        if block.get("type") == "image":
            yield block, here
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "image":
            yield accessory, f"{here}/accessory"
        if block.get("type") == "context":
            for j, element in enumerate(block.get("elements") or []):
                if isinstance(element, dict) and element.get("type") == "image":
                    yield element, f"{here}/elements/{j}"


def image_error(core: Core, blocks: Any, poster: str, pointer: str = "/blocks") -> str | None:
    """Slack's message for the first invalid image in `blocks` (posted by `poster`), or None."""
    if not isinstance(blocks, list):
        return None
    for image, here in images(blocks, pointer):
        alt = image.get("alt_text")
        if not isinstance(alt, str) or not alt:
            return f"missing required field: alt_text [json-pointer:{here}]"
        if len(alt) > MAX_ALT_TEXT:
            return f"must be less than {MAX_ALT_TEXT + 1} characters [json-pointer:{here}/alt_text]"
        has_url, has_file = "image_url" in image, "slack_file" in image
        if has_url == has_file:
            return f"must provide either image_url or slack_file [json-pointer:{here}]"
        if has_url:
            url = image["image_url"]
            if not isinstance(url, str) or not url or len(url) > MAX_IMAGE_URL:
                return f"invalid_url [json-pointer:{here}/image_url]"
            continue
        if not _usable(core, image["slack_file"], poster):
            return f"invalid slack file [json-pointer:{here}/slack_file]"
    return None


def require_valid_images(core: Core, blocks: Any, poster: str) -> None:
    """`invalid_blocks` with Slack's message (bolt-python#1251 shows its shape) for a bad image."""
    message = image_error(core, blocks, poster)
    if message is not None:
        raise ApiError(
            "invalid_blocks", errors=[message], response_metadata={"messages": [f"[ERROR] {message}"]}
        )


def _usable(core: Core, ref: Any, poster: str) -> bool:
    if not isinstance(ref, dict) or ("id" in ref) == ("url" in ref):
        return False  # either the URL or the ID, not both
    record = _resolve(core, ref)
    return (
        record is not None
        and record.completed
        and not record.deleted
        and core.now() >= record.ready_at
        and record.filetype in IMAGE_FILETYPES
        and core.ws.file_visible_to(record, poster)
    )


def _resolve(core: Core, ref: JSON) -> FileRecord | None:
    if "id" in ref:
        return core.ws.files.get(str(ref["id"]))
    url = str(ref["url"])
    for record in core.ws.files.values():
        private, _ = file_urls(core, record)
        permalink_tail = f"/files/{record.user}/{record.id}/"
        if url == private or permalink_tail in url:
            return record
    return None


def slack_file_record(core: Core, image: JSON) -> FileRecord | None:
    """The file an image shows (for the views of tests): None for an `image_url` or a file that is
    gone (deleted, or never usable)."""
    ref = image.get("slack_file")
    if not isinstance(ref, dict) or ("id" in ref) == ("url" in ref):
        return None
    record = _resolve(core, ref)
    return None if record is None or record.deleted else record
