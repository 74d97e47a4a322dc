"""Company data from sandbox code (issue 16): Claude's Python queries a declared read-only source, keeps
the DataFrame in the REPL for the next turn, is refused a write, and gets a large result in pages."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.connectors.demo import build
from emulators.anthropic import AnthropicEmulator, Python, Say, Script, StepContext
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import poll_until, sent, wait_finished, wait_for_text

QUERY = """
import json, pandas as pd
page = json.loads(await sql_query({"source": "shop", "query": \"\"\"
    SELECT region_id, substr(month, 1, 4) || '-Q' || ((CAST(substr(month, 6, 2) AS INTEGER) + 2) / 3) AS quarter,
           sum(revenue) AS revenue
    FROM sales_by_region_month GROUP BY 1, 2 ORDER BY 1, 2\"\"\"}))
df = pd.DataFrame(page["rows"], columns=page["columns"])
last = df[df.quarter.isin(["2026-Q2", "2026-Q3"])].pivot(index="region_id", columns="quarter", values="revenue")
growth = (last["2026-Q3"] / last["2026-Q2"] - 1).sort_values(ascending=False)
print(growth.index[0], round(growth.iloc[0] * 100))
"""


def printed(ctx: StepContext) -> str:
    out = ctx.last_output
    return f"Result: {out.stdout.strip() if out else ''}"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    db = build(tmp_path / "demo.db")
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - name: shop\n"
        f"    url: sqlite:///{db}\n"
        "    description: The demo coffee shop's orders, customers, products and regions.\n"
        "    row_cap: 50000\n"
    )
    return path


async def test_code_queries_a_source_and_keeps_the_dataframe(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, sources: Path, tmp_path: Path
) -> None:
    claude.model = Script(
        [
            [Python(QUERY), Say(printed)],
            [Python("print(len(df), sorted(df.region_id.unique()))"), Say(printed)],
        ]
    )
    await start_bot(data_sources_file=str(sources))
    root = await slack.post_message(
        "ana", "general", "which region grew fastest last quarter?", mention_bot=True
    )
    assert "Result: N " in await wait_finished(slack, "general", root)
    system = str(sent(claude.requests[0])["system"])
    assert "`shop` (sqlite): The demo coffee shop" in system and "sqlite:///" not in system
    tools = {t["name"]: t for t in sent(claude.requests[0])["tools"]}
    assert tools["sql_query"]["allowed_callers"] == ["code_execution_20260120"]
    await slack.post_message("ana", "general", "how many rows did you get?", thread_ts=root)
    text = await wait_for_text(
        slack, "general", root, "Result: 28 "
    )  # 4 regions x 7 quarters, still in memory
    assert "['E', 'N', 'S', 'W']" in text

    def audited() -> list[tuple[str, str]]:
        with sqlite3.connect(tmp_path / "bot.db") as conn:
            return conn.execute("SELECT actor, detail FROM audit WHERE action = 'query'").fetchall()

    async def logged() -> bool:
        return bool(await asyncio.to_thread(audited))

    await poll_until(logged, timeout=10)
    ((actor, detail),) = await asyncio.to_thread(audited)
    assert actor == slack.ana and '"source":"shop"' in detail and '"rows":28' in detail


async def test_a_write_is_refused_and_a_large_result_comes_in_pages(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, sources: Path
) -> None:
    claude.model = Script(
        [
            [
                Python(
                    'print(await sql_query({"source": "shop", "query": "DELETE FROM orders"}))\n'
                    'print(await sql_query({"source": "shop", "query": "WITH x AS (SELECT 1) DELETE FROM orders"}))'
                ),
                Say(printed),
            ],
            [
                Python(
                    "import json\n"
                    'page = json.loads(await sql_query({"source": "shop", "query": "SELECT * FROM orders"}))\n'
                    'rows, pages = list(page["rows"]), 1\n'
                    'while page["next_cursor"]:\n'
                    '    page = json.loads(await sql_more({"cursor": page["next_cursor"]}))\n'
                    '    rows += page["rows"]; pages += 1\n'
                    'print(pages > 1, len(rows) == page["total_rows"], len(rows))'
                ),
                Say(printed),
            ],
        ]
    )
    await start_bot(data_sources_file=str(sources))
    root = await slack.post_message("ana", "general", "delete the orders", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert text.count("Refused:") == 2 and "read-only" in text
    await slack.post_message("ana", "general", "now fetch every order", thread_ts=root)
    assert "Result: True True " in await wait_for_text(slack, "general", root, "Result: True")
