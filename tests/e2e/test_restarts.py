"""A deploy (SIGTERM, then a new process on the same database) never drops a running turn: the question
is answered once, going on from what was saved, and nobody is asked to send it again."""

from __future__ import annotations

from emulators.anthropic import AnthropicEmulator, Delay, ModelRequest, PauseTurn, Say, Script, Step
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_text, container_of, got, sent, wait_finished, wait_for_text
from tests.harness import free_port

RESTARTING = "The bot is restarting"
SEND_AGAIN = "Send your message again"


def continues_after_restart(request: ModelRequest) -> list[Step]:
    """The model: a long answer that pauses after its first part. Sent back the paused response (which
    is how a turn goes on after a pause, and after a restart), it writes the rest: a fresh generation,
    as the real API's would be, since the paused one died with the connection that was cut."""
    if request.body["messages"][-1]["role"] == "assistant":
        return [Say("Part two, written after the restart.")]
    return [Say("Part one."), PauseTurn(), Delay(60), Say("Part two, never reached.")]


async def test_a_turn_cut_off_by_a_deploy_is_answered_after_the_restart(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = continues_after_restart
    bot = await start_bot(shutdown_grace_seconds="1", stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "write me a long answer", mention_bot=True)
    await wait_for_text(slack, "general", root, "Part one.")
    await slack.wait_for(lambda: len(claude.requests) == 2, what="the second part being asked for")
    assert await bot.stop() == 0  # the grace runs out mid-response: the turn is suspended there
    text = bot_text(slack, "general", root)
    assert RESTARTING in text and "Part two" not in text

    await start_bot(shutdown_grace_seconds="1", stream_update_seconds="0.2")
    text = await wait_for_text(slack, "general", root, "Part two, written after the restart.")
    text = await wait_finished(
        slack, "general", root, count=2
    )  # the suspended message, then the answer's end
    assert text.count("Part one.") == 1 and text.count("Part two, written after the restart.") == 1
    assert SEND_AGAIN not in text and "interrupted" not in text
    # It went on from what was saved: the paused response sent back, in the same sandbox.
    resumed = sent(claude.requests[-1])
    assert resumed["messages"][-1]["role"] == "assistant"
    assert "Part one." in str(resumed["messages"][-1]["content"])
    assert container_of(resumed) == got(claude.requests[0])["container"]["id"]
    assert sum("write me a long answer" in str(m["content"]) for m in resumed["messages"]) == 1


async def test_a_deploy_lets_a_turn_finish_its_response_then_goes_on_after_the_restart(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [[Say("Part one."), Delay(2), Say(" The rest of part one."), PauseTurn(), Say("Part two.")]]
    )
    bot = await start_bot(stream_update_seconds="0.2")  # the default grace: 8 s
    root = await slack.post_message("ana", "general", "write me a long answer", mention_bot=True)
    await wait_for_text(slack, "general", root, "Part one.")
    assert await bot.stop() == 0
    # The response under way was received whole and shown; no new request was started for it.
    assert len(claude.requests) == 1
    text = bot_text(slack, "general", root)
    assert "The rest of part one." in text and RESTARTING in text and "Part two." not in text

    await start_bot(stream_update_seconds="0.2")
    text = await wait_for_text(slack, "general", root, "Part two.")
    assert text.count("Part one.") == 1 and SEND_AGAIN not in text
    assert claude.requests[-1].continuation  # the paused response went back unchanged, as after any pause


async def test_a_rolling_deploy_hands_a_turn_to_the_other_replica_once_it_is_suspended(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    # The grace (10 s) is longer than the lease (3 s): the replica going down keeps its leases until its
    # turn is suspended, so the other one resumes the turn instead of taking it over as crashed.
    claude.model = Script(
        [[Say("Part one."), Delay(6), Say(" End of part one."), PauseTurn(), Say("Part two.")]]
    )
    settings = {"database_url": pg_url, "lease_seconds": "3", "stream_update_seconds": "0.2"}
    old_port, new_port = free_port(), free_port()
    old = await start_bot(socket_mode=False, port=str(old_port), shutdown_grace_seconds="10", **settings)
    new = await start_bot(socket_mode=False, port=str(new_port), **settings)
    slack.deliver_http(f"http://127.0.0.1:{old_port}/slack/events")  # the balancer still sends to the old one
    root = await slack.post_message("ana", "general", "write me a long answer", mention_bot=True)
    await wait_for_text(slack, "general", root, "Part one.")
    slack.deliver_http(f"http://127.0.0.1:{new_port}/slack/events")
    assert await old.stop() == 0

    def settled() -> str:
        text = bot_text(slack, "general", root)
        return text if "Part two." in text or SEND_AGAIN in text else ""

    text = await slack.wait_for(settled, timeout=20, what="the answer going on, or a request to ask again")
    assert SEND_AGAIN not in text and "interrupted" not in text
    assert text.count("Part one.") == 1 and text.count("End of part one.") == 1 and "Part two." in text
    await new.wait_for_line(r"turn \w+ in .* resumed after a restart")
    assert not any("took over turn" in line for line in new.lines)
