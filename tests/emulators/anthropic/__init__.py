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
    dev_model,
    echo_model,
)
from .server import AnthropicEmulator

__all__ = [
    "AnthropicEmulator",
    "Bash",
    "ByText",
    "CallTool",
    "Container",
    "Cut",
    "Delay",
    "Edit",
    "ExpiryMode",
    "Latency",
    "ModelFn",
    "ModelRequest",
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
    "dev_model",
    "echo_model",
    "prewarm",
    "shutdown",
]
