"""Offline test harness: an OpenAI-compatible emulator with scripted replies and fault injection.

Point any OpenAI client at it (``ChatOpenAI(base_url=emu.base_url, api_key="sk-emulator")``)
to test chains, agents and tiered fallbacks without network access or spend.
"""

from langchain_tiered._clock import FakeClock
from langchain_tiered.testing._faults import Fault, FaultKind
from langchain_tiered.testing._records import ModelStats, RequestRecord
from langchain_tiered.testing._replies import Reply, ToolCall, tool_call_then_answer
from langchain_tiered.testing.emulator import OpenAICompatibleEmulator, serve

__all__ = [
    "FakeClock",
    "Fault",
    "FaultKind",
    "ModelStats",
    "OpenAICompatibleEmulator",
    "Reply",
    "RequestRecord",
    "ToolCall",
    "serve",
    "tool_call_then_answer",
]
