"""Quickstart: one TieredChatModel, three prompts, three tiers.

Offline by default: the three tiers are ``ChatOpenAI`` clients talking to the package's local
OpenAI-compatible emulator. With ``OPENAI_API_KEY`` set, the same code talks to OpenAI.

    .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from langchain_openai import ChatOpenAI

from langchain_tiered import Tier, TieredChatModel
from langchain_tiered.testing import OpenAICompatibleEmulator

PROMPTS = [
    "Liste die Hauptstädte Europas auf",
    "Erkläre den Unterschied zwischen REST und GraphQL in 3 Sätzen",
    "Analysiere und bewerte mehrstufig die Strategie unseres Unternehmens für den "
    "Markteintritt in Asien, begründe jede Annahme",
]
MODELS = {"critical": "gpt-4.1", "standard": "gpt-4.1-mini", "budget": "gpt-4.1-nano"}


@contextlib.contextmanager
def endpoint() -> Iterator[dict[str, str]]:
    """ChatOpenAI settings: the real API when a key is set, else a local emulator."""
    if os.environ.get("OPENAI_API_KEY"):
        yield {}  # ChatOpenAI reads the key from the environment itself
        return
    with OpenAICompatibleEmulator() as emu:
        yield {"base_url": emu.base_url, "api_key": "sk-emulator"}


def main() -> None:
    with endpoint() as settings:
        model = TieredChatModel(
            tiers=[
                Tier(name=name, model=ChatOpenAI(model=model_name, max_retries=0, **settings))
                for name, model_name in MODELS.items()
            ],
            max_cost_per_call=0.05,  # USD, worst case, checked before anything is sent
        )
        for prompt in PROMPTS:
            meta = model.invoke(prompt).response_metadata["tiered"]
            print(f"{prompt[:60]!r}")
            print(
                f"  tier={meta['tier']} model={meta['model_name']} "
                f"cost=${meta['cost_usd']:.6f} (worst case ${meta['estimated_cost_usd']:.6f})"
            )
            print(f"  reason: {meta['reason']}")


if __name__ == "__main__":
    main()
