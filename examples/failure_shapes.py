"""Test your chain against the failures real providers send, offline.

Claude (through ``ChatAnthropic``) is the capable tier, an OpenAI-compatible model the cheap
one. The emulator serves both wires and injects, in turn, the failure shapes that break naive
fallback code: Anthropic's overload inside an already open stream (HTTP 200, then
``event: error``), OpenRouter's ``finish_reason: "error"`` chunk, an exhausted quota, a burst
of 429s without ``Retry-After``, and a stream cut after the first words. For each, the script
prints what the tiered model did: which tier answered and every attempt.

    .venv/bin/python examples/failure_shapes.py
"""

from __future__ import annotations

from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI

from langchain_tiered import RouteDecision, Tier, TieredChatModel
from langchain_tiered.fallbacks import RetryPolicy, classify_error
from langchain_tiered.routing import RouteRequest
from langchain_tiered.testing import FakeClock, Fault, OpenAICompatibleEmulator

CLAUDE, GPT = "claude-sonnet-4-6", "gpt-4.1-mini"
ASK = "Name three rivers of Europe"


def claude_first(request: RouteRequest) -> RouteDecision:
    return RouteDecision(tier="claude", reason="example: Claude first")


def make_model(emu: OpenAICompatibleEmulator, router: Any = claude_first) -> TieredChatModel:
    claude = ChatAnthropic(
        model=CLAUDE, base_url=emu.root_url, api_key="sk-ant-emulator", max_retries=0
    )
    gpt = ChatOpenAI(
        model=GPT, base_url=emu.base_url, api_key="sk-emulator", max_retries=0, stream_usage=True
    )
    return TieredChatModel(
        tiers=[Tier(name="claude", model=claude), Tier(name="gpt", model=gpt)],
        router=router,
        retry=RetryPolicy(max_attempts=2, base_delay=0.5, jitter=False),
        clock=FakeClock(),  # back-off waits take no real time in this demo
    )


def show(title: str, emu: OpenAICompatibleEmulator, model: TieredChatModel) -> None:
    text, meta = "", dict[str, Any]()
    try:
        for chunk in model.stream(ASK):
            text += str(chunk.content)
            meta = chunk.response_metadata.get("tiered", meta)
    except Exception as exc:
        info = classify_error(exc)
        print(f"{title}\n  propagated {info.cause.value} after {text!r} (no splicing)\n")
        return
    tries = ", ".join(
        f"{a['tier']}:{a['kind']}" + (f"/{a['status']}" if a["status"] else "")
        for a in meta["attempts"]
    )
    print(f"{title}\n  answer from {meta['tier']!r}: {text!r}\n  attempts: {tries}")
    print(f"  requests: {[(r.model, r.outcome) for r in emu.requests]}\n")


def main() -> None:
    with OpenAICompatibleEmulator() as emu:
        scenarios = [
            (
                "Anthropic overload inside an open stream",
                Fault("overloaded_in_stream", model=CLAUDE),
            ),
            ("Anthropic 529 overloaded", Fault("overloaded", model=CLAUDE)),
            ("Exhausted quota (no retry, fall back)", Fault("insufficient_quota", model=CLAUDE)),
            (
                "429 without Retry-After (brief back-off)",
                Fault("rate_limit", model=CLAUDE, send_retry_after=False, times=1),
            ),
            (
                "Stream cut after the first words",
                Fault("stream_break", model=CLAUDE, break_after_chunks=4),
            ),
        ]
        for title, fault in scenarios:
            emu.reset()
            emu.add_fault(fault)
            show(title, emu, make_model(emu))
        emu.reset()
        emu.add_fault(Fault("finish_error_in_stream", model=GPT))
        gpt_first = make_model(emu, lambda r: RouteDecision(tier="gpt", reason="example"))
        show("OpenRouter-style finish_reason 'error' mid-stream", emu, gpt_first)


if __name__ == "__main__":
    main()
