"""A thread's files: outputs recorded as they appear, deleted ids kept known."""

from __future__ import annotations

import time
from dataclasses import replace

from bot.store import Store, StoredFile
from tests.store.helpers import KEY


async def test_files_made_are_recorded_as_they_appear_and_deleted_ids_stay_known(store: Store) -> None:
    """Issue 12, item 5: produced files are the thread's as soon as their ids appear (whatever
    becomes of the turn); a deleted file's id stays known even after it is attached again."""
    await store.record_outputs(KEY, ["file_out", "file_out", "file_out2"])
    await store.record_outputs(KEY, ["file_out"])  # seen again (a resumed result): one row
    assert [f.anthropic_file_id for f in await store.thread_files(KEY, origin="output")] == [
        "file_out",
        "file_out2",
    ]
    # The finished turn names it when it downloads it.
    await store.record_file(
        KEY, StoredFile("output", "file_out", None, "file_out", "chart.png", "image/png", 9, "", 1.0)
    )
    outputs = {f.anthropic_file_id: f.name for f in await store.thread_files(KEY, origin="output")}
    assert outputs == {"file_out": "chart.png", "file_out2": ""}
    upload = StoredFile("upload", "F1", "F1", "file_old", "a.csv", "text/csv", 3, "abc", time.time())
    await store.record_file(KEY, upload)
    await store.mark_files_deleted(["file_old", "file_out2"])
    assert await store.deleted_files(KEY) == {"file_old": "a.csv", "file_out2": ""}
    # The same Slack file attached again: a new upload, kept; the deleted id is still known.
    await store.record_file(KEY, replace(upload, anthropic_file_id="file_new"))
    assert [f.anthropic_file_id for f in await store.thread_files(KEY)] == ["file_new"]
    assert await store.deleted_files(KEY) == {"file_old": "a.csv", "file_out2": ""}
    assert sorted(await store.reset_thread(KEY)) == ["file_new", "file_out"]
    assert set(await store.deleted_files(KEY)) == {"file_old", "file_out2", "file_new", "file_out"}


# --- the twin events of a mention: app_mention and message, in either order, either without files ---
