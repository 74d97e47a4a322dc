"""The web steps of a scripted response (``WebSearch``, ``WebFetch``, ``Cite``): what the API does
with them, per ``web.py`` and the README's "Web search and web fetch" table."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import ids
from .script import ScriptError, StepOutput
from .tokens import count_text
from .web import DomainRules, citation, fetch_result_block, search_result_block, urls_in

if TYPE_CHECKING:
    from .generation import ResponseRun


def _rules(tool: dict[str, Any]) -> DomainRules:
    return DomainRules(tuple(tool.get("allowed_domains") or ()), tuple(tool.get("blocked_domains") or ()))


def _seen(run: ResponseRun) -> set[str]:
    """URLs in the conversation so far: the request's messages and this response's blocks."""
    return urls_in([*run.parsed.messages, {"role": "assistant", "content": run.content}])


def _uses_left(tool: dict[str, Any], done: int) -> str | None:
    """`max_uses` caps a tool's uses per request (SDK tool params; docs: `max_uses_exceeded`)."""
    limit = tool.get("max_uses")
    return "max_uses_exceeded" if isinstance(limit, int) and done >= limit else None


async def search(run: ResponseRun, query: str, srv: str) -> None:
    tool = run.parsed.web_search
    assert tool is not None
    error = _uses_left(tool, run.web_searches)
    pages = None
    if error is None:
        pages = run.engine.web.search(query, _rules(tool))
        run.web_searches += 1
    await run.result_block(search_result_block(srv, pages, error))
    urls = tuple(p.url for p in pages or ())
    run.ctx.outputs.append(StepOutput("web_search", error_code=error, urls=urls))


async def fetch(run: ResponseRun, url: str, srv: str) -> None:
    tool = run.parsed.web_fetch
    assert tool is not None
    page = run.engine.web.pages.get(url)
    error = _uses_left(tool, run.web_fetches)
    if error is None and url not in _seen(run):
        error = "url_not_in_prior_context"
    if error is None and not _rules(tool).permits(url):
        error = "url_not_allowed"
    if error is None and page is None:
        error = "url_not_accessible"
    if error is None:
        run.web_fetches += 1
    await run.result_block(fetch_result_block(srv, page, error, ids.rfc3339(time.time())))
    text = page.text if page is not None and error is None else ""
    run.ctx.outputs.append(StepOutput("web_fetch", error_code=error, content=text))


async def cite(run: ResponseRun, text: str, url: str) -> None:
    if url not in _seen(run):
        raise ScriptError(f"Cite({url!r}): no search result in the conversation has that URL")
    page = run.engine.web.pages[url]
    cite = citation(page)
    tokens = count_text(text)
    index = len(run.content)
    run.content.append({"type": "text", "text": text, "citations": [cite]})
    await run.sink.block_start(index, {"type": "text", "text": ""})
    await run.sink.citation_delta(index, cite)
    await run.paced(index, text, tokens, run.sink.text_delta)
    await run.sink.block_stop(index)
    run.output_tokens += tokens
