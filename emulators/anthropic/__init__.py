"""Anthropic API emulator: Messages (JSON + SSE), Files, Models and code-execution containers.

See README.md in this folder for usage and the LIMITS list.
"""

from .caching import PromptUsage
from .containers import Container, ExpiryMode
from .files_api import StoredFile
from .pacing import Latency
from .records import RequestRecord
from .sandbox import prewarm, shutdown
from .script import (
    Bash,
    ByText,
    CallTool,
    Cite,
    Cut,
    Delay,
    Edit,
    ModelFn,
    ModelRequest,
    PauseTurn,
    Python,
    Say,
    Script,
    ScriptError,
    Step,
    StepContext,
    StepOutput,
    Stop,
    WebFetch,
    WebSearch,
    dev_model,
    echo_model,
)
from .server import AnthropicEmulator
from .web import FakeWeb, Page

__all__ = [
    "AnthropicEmulator",
    "Bash",
    "ByText",
    "CallTool",
    "Cite",
    "Container",
    "Cut",
    "Delay",
    "Edit",
    "ExpiryMode",
    "FakeWeb",
    "Latency",
    "ModelFn",
    "ModelRequest",
    "Page",
    "PauseTurn",
    "PromptUsage",
    "Python",
    "RequestRecord",
    "Say",
    "Script",
    "ScriptError",
    "Step",
    "StepContext",
    "StepOutput",
    "Stop",
    "StoredFile",
    "WebFetch",
    "WebSearch",
    "dev_model",
    "echo_model",
    "prewarm",
    "shutdown",
]
