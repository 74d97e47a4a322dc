"""The web behind ``web_search`` and ``web_fetch``: a test-supplied index of pages, and the rules the
API applies to it (domain filters, what may be fetched, sealed result contents).

Sources (README "Web search and web fetch"): the web search and web fetch tool pages
(https://platform.claude.com/docs/en/agents-and-tools/tool-use/web-search-tool,
.../web-fetch-tool) and the SDK's types (``web_search_tool_20260318_param.py``,
``web_fetch_tool_20260318_param.py``, ``web_search_result_block.py``, ``web_fetch_block.py``,
``citations_web_search_result_location.py``, the two error-code literals).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import invalid_request

WEB_SEARCH_TYPES = ("web_search_20250305", "web_search_20260209", "web_search_20260318")
WEB_FETCH_TYPES = ("web_fetch_20250910", "web_fetch_20260209", "web_fetch_20260309", "web_fetch_20260318")
# The tool page: "If no results match, or fewer than that, Claude sees fewer"; 5 is what a search
# typically returned in recorded examples (UNCERTAIN: the number is not documented).
RESULTS_PER_SEARCH = 5
CITED_TEXT_CHARS = 150  # "up to 150 characters" of cited text per citation (web search tool page)
# Opaque result contents are sealed with a per-process key: a client that edits them (or invents
# them) is caught when they come back, as the real API can only decrypt what it produced.
_KEY = os.urandom(32)


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    text: str
    page_age: str | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


class FakeWeb:
    """What the emulated search engine knows: ``emu.web.add(url, title, text)``."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}

    def add(self, url: str, title: str, text: str, page_age: str | None = None) -> Page:
        page = Page(url, title, text, page_age)
        self.pages[url] = page
        return page

    def search(self, query: str, rules: DomainRules, limit: int = RESULTS_PER_SEARCH) -> list[Page]:
        """Pages that contain every word of the query (title or text, any case), best first (more
        occurrences), after the domain filters; the filters are applied before the limit, so a
        blocked site never takes the place of an allowed one."""
        words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1]
        scored: list[tuple[int, Page]] = []
        for page in self.pages.values():
            haystack = f"{page.title}\n{page.text}".lower()
            if words and all(w in haystack for w in words) and rules.permits(page.url):
                scored.append((sum(haystack.count(w) for w in words), page))
        scored.sort(key=lambda item: -item[0])
        return [page for _, page in scored[:limit]]


# --- domain filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainRules:
    """A web tool's ``allowed_domains`` / ``blocked_domains``. The tool pages: domains are given
    without the scheme, a domain covers its subdomains (``example.com`` covers
    ``docs.example.com``), a subdomain covers only itself, and a path (``example.com/blog``) covers
    what is under it; one list or the other, not both."""

    allowed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()

    def permits(self, url: str) -> bool:
        if self.allowed and not any(_covers(entry, url) for entry in self.allowed):
            return False
        return not any(_covers(entry, url) for entry in self.blocked)


def _covers(entry: str, url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    domain, _, path = entry.lower().partition("/")
    if host != domain and not host.endswith("." + domain):
        return False
    return not path or (parts.path or "/").lstrip("/").startswith(path)


def tool_rules(tool: dict[str, Any], loc: str) -> DomainRules:
    """Check a web tool definition's domain lists; the rules it sets. Both lists non-empty is a 400
    (SDK docstrings: "Cannot be used alongside `blocked_domains`"; the wording is the emulator's)."""
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("allowed_domains", "blocked_domains"):
        value = tool.get(name)
        if value is None:
            lists[name] = ()
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid_request(f"{loc}.{name}: Input should be a valid list of strings")
        for i, entry in enumerate(value):
            if "://" in entry or not entry.strip():
                # "Domains should not include the HTTP/HTTPS scheme" (web search tool page).
                raise invalid_request(
                    f"{loc}.{name}.{i}: domains must not include a scheme (use `example.com`, not "
                    "`https://example.com`)"
                )
        lists[name] = tuple(value)
    if lists["allowed_domains"] and lists["blocked_domains"]:
        raise invalid_request(f"{loc}: allowed_domains and blocked_domains cannot be used together")
    return DomainRules(lists["allowed_domains"], lists["blocked_domains"])


# --- sealed contents -------------------------------------------------------------------------------


def seal(url: str, kind: str) -> str:
    """An opaque token standing for `url`: what `encrypted_content` / `encrypted_index` carry."""
    payload = f"{kind}\n{url}".encode()
    mac = hmac.new(_KEY, payload, hashlib.sha256).digest()[:16]
    return base64.b64encode(mac + payload).decode()


def unseal(token: Any, kind: str) -> str | None:
    """The url a token was made for, or None when it was not produced here (edited, invented)."""
    if not isinstance(token, str):
        return None
    try:
        raw = base64.b64decode(token, validate=True)
    except ValueError:
        return None
    mac, payload = raw[:16], raw[16:]
    if not hmac.compare_digest(mac, hmac.new(_KEY, payload, hashlib.sha256).digest()[:16]):
        return None
    found_kind, _, url = payload.decode(errors="replace").partition("\n")
    return url if found_kind == kind else None


def check_sealed(messages: Sequence[dict[str, Any]]) -> None:
    """Web results and citations sent back as history must be what the API produced: the docs ask
    for the `encrypted_content` / `encrypted_index` fields to be passed back unchanged (web search
    tool page, "multi-turn conversations"). A changed one is a 400 (wording the emulator's)."""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        for j, block in enumerate(message["content"]):
            for loc, token, kind in _tokens(block):
                if unseal(token, kind) is None:
                    raise invalid_request(
                        f"messages.{i}.content.{j}.{loc}: could not be decrypted; pass web search results "
                        "and citations back exactly as they were received"
                    )


def _tokens(block: dict[str, Any]) -> Iterable[tuple[str, Any, str]]:
    if block.get("type") == "web_search_tool_result" and isinstance(block.get("content"), list):
        for k, result in enumerate(block["content"]):
            if isinstance(result, dict):
                yield f"content.{k}.encrypted_content", result.get("encrypted_content"), "content"
    if block.get("type") == "text":
        for k, citation in enumerate(block.get("citations") or []):
            if isinstance(citation, dict) and citation.get("type") == "web_search_result_location":
                yield f"citations.{k}.encrypted_index", citation.get("encrypted_index"), "index"


# --- the blocks ------------------------------------------------------------------------------------

DIRECT = {"type": "direct"}


def search_result_block(tool_use_id: str, pages: Sequence[Page] | None, error: str | None) -> dict[str, Any]:
    content: Any
    if error is not None:
        content = {"type": "web_search_tool_result_error", "error_code": error}
    else:
        content = [
            {
                "type": "web_search_result",
                "url": p.url,
                "title": p.title,
                "encrypted_content": seal(p.url, "content"),
                "page_age": p.page_age,
            }
            for p in pages or ()
        ]
    # Web tool results carry `caller` (reference §3.1: recorded traffic and the SDK).
    return {
        "type": "web_search_tool_result",
        "tool_use_id": tool_use_id,
        "caller": DIRECT,
        "content": content,
    }


def fetch_result_block(
    tool_use_id: str, page: Page | None, error: str | None, retrieved_at: str
) -> dict[str, Any]:
    content: dict[str, Any]
    if error is not None or page is None:
        content = {"type": "web_fetch_tool_result_error", "error_code": error or "url_not_accessible"}
    else:
        content = {
            "type": "web_fetch_result",
            "url": page.url,
            "retrieved_at": retrieved_at,
            "content": {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": page.text},
                "title": page.title,
                "citations": None,
            },
        }
    return {"type": "web_fetch_tool_result", "tool_use_id": tool_use_id, "caller": DIRECT, "content": content}


def citation(page: Page) -> dict[str, Any]:
    return {
        "type": "web_search_result_location",
        "url": page.url,
        "title": page.title,
        "encrypted_index": seal(page.url, "index"),
        "cited_text": page.text[:CITED_TEXT_CHARS],
    }


def urls_in(messages: Sequence[dict[str, Any]]) -> set[str]:
    """URLs web fetch may fetch: those in the conversation (user text, earlier search and fetch
    results). "Claude can only fetch URLs that have previously appeared in the conversation context"
    (web fetch tool page); otherwise the result is the `url_not_in_prior_context` error (SDK)."""
    found: set[Any] = set()
    for message in messages:
        for block in message["content"]:
            kind = block.get("type")
            if kind == "text" and message["role"] == "user":
                found |= set(re.findall(r"https?://[^\s<>()\"']+", block.get("text", "")))
            elif kind == "web_search_tool_result" and isinstance(block.get("content"), list):
                found |= {r.get("url") for r in block["content"] if isinstance(r, dict)}
            elif kind == "web_fetch_tool_result" and isinstance(block.get("content"), dict):
                found.add(block["content"].get("url"))
    return {u.rstrip(".,;") for u in found if isinstance(u, str)}


def web_tool(tools: Sequence[dict[str, Any]], types: Sequence[str]) -> dict[str, Any] | None:
    return next((t for t in tools if t.get("type") in types), None)
