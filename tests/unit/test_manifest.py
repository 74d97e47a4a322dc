"""manifest.yaml: valid for Slack (its official JSON Schema) and in step with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bot.config import Settings
from bot.slack.listeners import EVENT_TYPES
from bot.slack.scopes import EVENT_SCOPES, METHOD_SCOPES, required_scopes

ROOT = Path(__file__).parent.parent.parent
SCHEMA = ROOT / "tests" / "fixtures" / "schemas" / "slack-app-manifest.schema.1.0.0.json"
# AsyncWebClient methods are the Web API method names with dots as underscores: chat_postMessage.
SDK_CALL = re.compile(
    r"\.((?:chat|files|assistant|conversations|users|usergroups_users|reactions|auth|apps|views)_[A-Za-z_]+)\("
)


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    return data


def api_method(sdk_name: str) -> str:
    return sdk_name.replace("_", ".")


def test_manifest_is_valid_for_slack() -> None:
    jsonschema.validate(manifest(), json.loads(SCHEMA.read_text()))


def test_every_listened_event_is_subscribed_and_every_subscription_is_listened_to() -> None:
    subscribed = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    expected = {e for e in EVENT_TYPES if e != "message"} | {
        f"message.{kind}" for kind in ("channels", "groups", "im", "mpim")
    }
    assert subscribed == expected
    assert subscribed == set(EVENT_SCOPES)


def test_scopes_are_exactly_what_the_code_needs() -> None:
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == required_scopes()


def test_every_web_api_call_in_the_code_has_its_scopes_listed() -> None:
    called = {
        api_method(m) for path in (ROOT / "bot").rglob("*.py") for m in SDK_CALL.findall(path.read_text())
    }
    assert called, "the scan found no Web API calls"
    assert called <= set(METHOD_SCOPES), called - set(METHOD_SCOPES)
    # ...and the table lists nothing the code no longer calls.
    assert set(METHOD_SCOPES) <= called | {"apps.connections.open"}


def test_slash_command_and_socket_mode() -> None:
    data = manifest()
    assert [c["command"] for c in data["features"]["slash_commands"]] == [
        Settings.model_fields["slash_command"].default
    ]
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["features"]["app_home"]["messages_tab_enabled"] is True
    assert data["features"]["agent_view"]["suggested_prompts"]


def test_suggested_prompts_have_one_source_the_manifest() -> None:
    """Slack shows the manifest's agent_view prompts itself; sending them again on every open of the
    Messages tab was a second copy that could drift. (app_home_opened is subscribed for the Home tab;
    its `tab: "messages"` opens ask nothing.)"""
    called = {
        api_method(m) for path in (ROOT / "bot").rglob("*.py") for m in SDK_CALL.findall(path.read_text())
    }
    assert "assistant.threads.setSuggestedPrompts" not in called


def test_the_home_tab_is_enabled() -> None:
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True
    assert "views.publish" in METHOD_SCOPES
