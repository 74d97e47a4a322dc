"""Idle containers are checkpointed and restored: files stay, the interpreter's memory does not."""

from __future__ import annotations

from typing import Any

from emulators.anthropic import AnthropicEmulator, Python, Say, Script
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client, ptc_tool

TOOLS: list[Any] = [CODE_EXECUTION, ptc_tool("lookup")]
CHECK = "print('df' in globals(), open('kept.txt').read())"


async def test_a_restored_container_keeps_files_and_loses_python_memory(emu: AnthropicEmulator) -> None:
    emu.model = Script(
        [
            [Python("df = 1\nopen('kept.txt', 'w').write('on disk')"), Say("set")],
            [Python(CHECK), Say("checked")],
            [Python(CHECK), Say("checked")],
        ]
    )
    c = client(emu)

    async def turn(container: str | None) -> Any:
        extra: dict[str, Any] = {"container": container} if container else {}
        return await c.beta.messages.create(
            model=MODEL, max_tokens=500, tools=TOOLS, messages=[{"role": "user", "content": "go"}], **extra
        )

    first = await turn(None)
    cid = first.container.id
    emu.advance_clock(299)  # under five minutes idle: nothing happens
    assert stdout(await turn(cid)) == "True on disk"
    emu.advance_clock(301)
    again = await turn(cid)
    assert stdout(again) == "False on disk"
    assert again.container.id == cid and emu.containers[cid].restores == 1


def stdout(reply: Any) -> str:
    return str(
        next(b for b in reply.content if b.type == "code_execution_tool_result").content.stdout
    ).strip()
