"""Fidelity of code execution: containers, the real sandbox, files in and out, expiry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anthropic
import pytest

from emulators.anthropic import (
    AnthropicEmulator,
    Bash,
    Edit,
    ModelRequest,
    Python,
    Say,
    Script,
    StepContext,
    dev_model,
    prewarm,
)
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client, ptc_tool, wait_for

TOOLS: list[Any] = [CODE_EXECUTION, ptc_tool("lookup")]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


async def test_csv_in_png_out(emu: AnthropicEmulator) -> None:
    """The product's core loop: a CSV attached with container_upload is read with pandas from
    $INPUT_DIR, and a matplotlib chart saved to $OUTPUT_DIR comes back as a downloadable file."""
    c = client(emu)
    csv = b"month,revenue\njan,100\nfeb,150\nmar,90\n"
    uploaded = await c.files.upload(file=("sales.csv", csv, "text/csv"))
    assert uploaded.downloadable is False and uploaded.mime_type == "text/csv"
    seen: list[ModelRequest] = []

    def model(req: ModelRequest) -> list[Any]:
        seen.append(req)
        return [
            Say("Plotting."),
            Python(
                "import os, pandas as pd, matplotlib.pyplot as plt\n"
                "df = pd.read_csv(os.path.join(os.environ['INPUT_DIR'], 'sales.csv'))\n"
                "df.plot(x='month', y='revenue', kind='bar')\n"
                "plt.savefig(os.path.join(os.environ['OUTPUT_DIR'], 'growth.png'))\n"
                "print(int(df.revenue.sum()))"
            ),
            Say(lambda ctx: f"Total {ctx.outputs[-1].stdout.strip()}, chart attached."),
        ]

    emu.model = model
    reply: Any = await c.beta.messages.create(
        model=MODEL,
        max_tokens=800,
        tools=TOOLS,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "plot my sales"},
                    {"type": "container_upload", "file_id": uploaded.id},
                ],
            }
        ],
    )
    assert seen[0].input_files == ("sales.csv",) and seen[0].last_user_text == "plot my sales"
    result = reply.content[2]
    assert result.type == "code_execution_tool_result"
    assert result.content.type == "code_execution_result"
    assert result.content.stdout == "340\n" and result.content.return_code == 0
    outputs = result.content.content
    assert [o.type for o in outputs] == ["code_execution_output"]
    meta = await c.files.retrieve_metadata(outputs[0].file_id)
    assert meta.filename == "growth.png" and meta.mime_type == "image/png" and meta.downloadable is True
    png = await (await c.files.download(outputs[0].file_id)).read()
    assert png.startswith(PNG_MAGIC) and len(png) == meta.size_bytes > 1000
    assert reply.content[-1].text == "Total 340, chart attached."


async def test_bash_returns_top_level_output_files_only(emu: AnthropicEmulator) -> None:
    emu.model = Script(
        [
            [
                Bash(
                    'echo report > "$OUTPUT_DIR/report.txt"; mkdir "$OUTPUT_DIR/sub"; echo x > "$OUTPUT_DIR/sub/no.txt"'
                )
            ]
        ]
    )
    reply: Any = await client(emu).beta.messages.create(
        model=MODEL, max_tokens=500, tools=TOOLS, messages=ask("go")
    )
    result = reply.content[1].content
    assert result.type == "bash_code_execution_result" and result.return_code == 0
    assert [o.type for o in result.content] == ["bash_code_execution_output"]
    assert emu.files[result.content[0].file_id].filename == "report.txt"
    data = await (await client(emu).files.download(result.content[0].file_id)).read()
    assert data == b"report\n"


async def test_repl_state_persists_across_requests(emu: AnthropicEmulator) -> None:
    c = client(emu)
    emu.model = Script(
        [[Python("import math\nx = 41")], [Python("print(x + 1, math.pi > 3)")], [Python("print(x)")]]
    )
    first: Any = await c.beta.messages.create(model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("set x"))
    assert first.container is not None
    second: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("use x"), container=first.container.id
    )
    assert second.content[1].content.stdout == "42 True\n"
    elsewhere: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("new box")
    )
    assert elsewhere.container is not None and elsewhere.container.id != first.container.id
    err = elsewhere.content[1].content
    assert err.return_code == 1 and "NameError: name 'x' is not defined" in err.stderr


async def test_repl_state_needs_programmatic_tools(emu: AnthropicEmulator) -> None:
    """Reference §4: without PTC tools in the request only files persist, not Python globals."""
    c = client(emu)
    emu.model = Script([[Python("y = 1")], [Python("print(y)")]])
    first: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=200, tools=[CODE_EXECUTION], messages=ask("a")
    )
    assert first.container is not None
    second: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=200, tools=[CODE_EXECUTION], messages=ask("b"), container=first.container.id
    )
    assert "NameError" in second.content[1].content.stderr


async def test_exceptions_and_cell_time_limit(emu: AnthropicEmulator) -> None:
    emu.cell_timeout_s = 0.5
    emu.model = Script(
        [
            [
                Python("z = 5\n1 / 0"),
                Python("while True:\n    pass"),
                Python("import asyncio\nawait asyncio.sleep(5)"),
                Python("print(z)"),
            ]
        ]
    )
    reply: Any = await client(emu).beta.messages.create(
        model=MODEL, max_tokens=900, tools=TOOLS, messages=ask("go")
    )
    div, spin, sleep, after = (reply.content[i].content for i in (1, 3, 5, 7))
    assert div.return_code == 1 and "ZeroDivisionError: division by zero" in div.stderr
    assert '/cell.py", line 2' in div.stderr
    for timed_out in (spin, sleep):
        assert timed_out.return_code != 0 and "timed out" in timed_out.stderr
    assert after.stdout == "5\n"  # the interpreter survived the time-outs


async def test_bash_time_limit_is_an_error_object(emu: AnthropicEmulator) -> None:
    emu.bash_timeout_s = 0.3
    emu.model = Script([[Bash("sleep 5"), Bash("echo fine; exit 3")]])
    started = time.monotonic()
    reply: Any = await client(emu).beta.messages.create(
        model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("go")
    )
    assert time.monotonic() - started < 5  # cut off at the limit: the sleep itself takes 5 s
    timed_out = reply.content[1].content
    assert timed_out.type == "bash_code_execution_tool_result_error"
    assert timed_out.error_code == "execution_time_exceeded"
    failed = reply.content[3].content
    assert (failed.stdout, failed.return_code) == ("fine\n", 3)


async def test_text_editor_sub_tool(emu: AnthropicEmulator) -> None:
    emu.model = Script(
        [
            [
                Edit("create", "notes/report.md", file_text="# Report\nstatus: draft\n"),
                Edit("str_replace", "notes/report.md", old_str="draft", new_str="final"),
                Edit("view", "notes/report.md"),
                Edit("view", "missing.txt"),
                Edit("create", "notes/report.md", file_text="v2\n"),
                Bash("cat notes/report.md"),
            ]
        ]
    )
    reply: Any = await client(emu).beta.messages.create(
        model=MODEL, max_tokens=900, tools=TOOLS, messages=ask("edit")
    )
    created, replaced, viewed, missing, updated, cat = (reply.content[i].content for i in range(1, 12, 2))
    assert created.type == "text_editor_code_execution_create_result" and created.is_file_update is False
    assert replaced.lines == ["-status: draft", "+status: final"]
    assert (replaced.old_start, replaced.old_lines, replaced.new_start, replaced.new_lines) == (2, 1, 2, 1)
    assert viewed.content == "# Report\nstatus: final\n" and viewed.num_lines == viewed.total_lines == 2
    assert missing.type == "text_editor_code_execution_tool_result_error"
    assert missing.error_code == "file_not_found" and "missing.txt" in (missing.error_message or "")
    assert updated.is_file_update is True and cat.stdout == "v2\n"


@pytest.mark.parametrize(
    ("mode", "error_cls", "status"),
    [
        ("400", anthropic.BadRequestError, 400),
        ("404", anthropic.NotFoundError, 404),
        ("500", anthropic.InternalServerError, 500),
    ],
)
async def test_container_expiry_modes(
    emu: AnthropicEmulator, mode: Any, error_cls: type[Exception], status: int
) -> None:
    emu.container_expiry_error = mode
    emu.model = lambda req: [Python("v = 1")]
    c = client(emu)
    first: Any = await c.beta.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=ask("a"))
    assert first.container is not None
    cid = first.container.id
    repl = emu.containers[cid].repl
    assert repl is not None
    was_alive = repl.alive
    emu.expire_container(cid)
    assert was_alive and not repl.alive
    with pytest.raises(error_cls) as exc:
        await c.beta.messages.create(
            model=MODEL, max_tokens=100, tools=TOOLS, messages=ask("b"), container=cid
        )
    assert isinstance(exc.value, anthropic.APIStatusError) and exc.value.status_code == status
    retry: Any = await c.beta.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=ask("c"))
    assert retry.container is not None and retry.container.id != cid


async def test_rolling_expiry_and_unknown_ids(emu: AnthropicEmulator) -> None:
    emu.container_expiry_error = "404"
    c = client(emu)
    first: Any = await c.beta.messages.create(model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("a"))
    assert first.container is not None
    cid = first.container.id
    emu.containers[cid].expires_at = time.time() + 5  # about to expire: a request moves it
    again: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("b"), container=cid
    )
    assert again.container is not None and again.container.expires_at.timestamp() > time.time() + 3000
    emu.containers[cid].expires_at = time.time() - 1  # lapsed
    with pytest.raises(anthropic.NotFoundError):
        await c.beta.messages.create(
            model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("c"), container=cid
        )
    with pytest.raises(anthropic.NotFoundError):
        await c.beta.messages.create(
            model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("d"), container="container_011Cunknown"
        )


async def test_sandbox_is_lazy_and_fast(emu: AnthropicEmulator) -> None:
    await prewarm()
    c = client(emu)
    for _ in range(10):
        await c.beta.messages.create(model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("no code"))
    assert len(emu.containers) == 10
    assert all(not box.started and box.repl is None for box in emu.containers.values())
    emu.model = lambda req: [Python("print('up')")]
    for _ in range(5):
        reply: Any = await c.beta.messages.create(
            model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("code")
        )
        assert reply.content[1].content.stdout == "up\n"
    assert len(emu.container_start_times) == 5
    assert max(emu.container_start_times) < 0.5


async def test_dev_model_runs_fenced_python(emu: AnthropicEmulator) -> None:
    emu.model = dev_model
    text = "please run\n```python\nimport pandas as pd\nprint(pd.Series([1, 2, 3]).sum())\n```"
    reply: Any = await client(emu).beta.messages.create(
        model=MODEL, max_tokens=900, tools=TOOLS, messages=ask(text)
    )
    assert reply.content[2].content.stdout == "6\n"
    assert "exit code 0" in reply.content[-1].text and "6" in reply.content[-1].text


async def test_script_errors_are_500s(emu: AnthropicEmulator) -> None:
    emu.model = Script([[Python("print(1)")]])  # no code execution tool in the request
    with pytest.raises(anthropic.InternalServerError) as exc:
        await client(emu).beta.messages.create(model=MODEL, max_tokens=50, messages=ask("x"))
    assert "code execution tool" in str(exc.value.api_message)
    emu.model = Script([])
    with pytest.raises(anthropic.InternalServerError) as exc:
        await client(emu).beta.messages.create(model=MODEL, max_tokens=50, messages=ask("x"))
    assert "script exhausted" in str(exc.value.api_message)


async def test_step_context_sees_outputs(emu: AnthropicEmulator) -> None:
    def summary(ctx: StepContext) -> str:
        return f"{len(ctx.outputs)} steps, last rc {ctx.outputs[-1].return_code}"

    emu.model = Script([[Bash("true"), Bash("false"), Say(summary)]])
    reply: Any = await client(emu).beta.messages.create(
        model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("x")
    )
    assert reply.content[-1].text == "2 steps, last rc 1"


def _live_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies left to a non-reaping init
    do not count)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


async def test_stop_kills_sandbox_processes() -> None:
    async with AnthropicEmulator() as emu:
        emu.model = Script(
            [[Python("import subprocess\np = subprocess.Popen(['sleep', '30'])\nprint(p.pid)")]]
        )
        reply: Any = await client(emu).beta.messages.create(
            model=MODEL, max_tokens=100, tools=TOOLS, messages=ask("x")
        )
        (box,) = emu.containers.values()
        assert box.repl is not None
        pid = box.repl.pid
        child = int(reply.content[1].content.stdout)
        assert {pid, child} <= set(_live_members(pid))
    await wait_for(lambda: not _live_members(pid), timeout=5)
