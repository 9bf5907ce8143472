"""How the price book bills what providers bill: tiers, service tiers, cache TTLs, clocks.

Offline and instant: no model is called; usage shapes are the ones LangChain integrations
produce (langchain-openai's flex details, DeepSeek's raw usage behind ``ChatOpenAI(base_url=)``,
langchain-anthropic's 5-minute / 1-hour cache-write split).

    .venv/bin/python examples/price_structures.py
"""

from __future__ import annotations

import gzip
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from langchain_tiered import PriceBook
from langchain_tiered.pricing import cache_writes_for

book = PriceBook.default()

# A 400k-token prompt crosses gpt-5.4's 272k threshold: the whole call bills at $5 / $22.50.
gpt54 = book.price_for("gpt-5.4")
print(f"gpt-5.4, 400k prompt, 4k cap: worst case ${gpt54.worst_case(400_000, 4096):.4f}")

# The response says service_tier "flex": half price (langchain-openai prefixes the details).
flex = {"input_tokens": 8, "output_tokens": 296,
        "input_token_details": {"flex_cache_read": 0, "flex": 8},
        "output_token_details": {"flex_reasoning": 256, "flex": 40}}  # fmt: skip
print(f"gpt-5-nano on flex: ${book.price_for('gpt-5-nano').cost(flex):.7f}")

# Claude: 1-hour cache writes cost 2x input; the worst case carries that premium only when a
# message has a cache_control breakpoint with ttl "1h".
sonnet = book.price_for("anthropic/claude-sonnet-4.5")  # dotted names resolve too
writes = {"input_tokens": 25_000, "output_tokens": 1000,
          "input_token_details": {"cache_read": 20_000, "cache_creation": 0,
                                  "ephemeral_1h_input_tokens": 5000}}  # fmt: skip
hour = {"type": "ephemeral", "ttl": "1h"}
marked = [{"role": "user", "content": [{"type": "text", "text": "...", "cache_control": hour}]}]
mode = cache_writes_for("claude-sonnet-4-5", marked)
print(f"claude-sonnet-4.5, 5k 1h writes + 20k reads: ${sonnet.cost(writes):.5f} "
      f"(worst case for 25k prompt, cache_writes={mode!r}: "
      f"${sonnet.worst_case(25_000, 1000, cache_writes=mode):.5f})")  # fmt: skip

# DeepSeek through ChatOpenAI(base_url=...): the cache hits only exist in the raw usage; the
# off-peak discount applies by the clock at settlement.
usage = {"input_tokens": 10_000, "output_tokens": 500}
raw = {"token_usage": {"prompt_tokens": 10_000, "prompt_cache_hit_tokens": 9000}}
pro = book.price_for("deepseek-v4-pro")
for label, at in (("peak", datetime(2026, 11, 30, 2, tzinfo=timezone.utc)),
                  ("off-peak", datetime(2026, 11, 30, 20, tzinfo=timezone.utc))):  # fmt: skip
    print(f"deepseek-v4-pro, 9k of 10k cached, {label}: "
          f"${pro.cost(usage, response_metadata=raw, at=at):.6f}")  # fmt: skip

# LiteLLM's map: everything a ModelPrice can express is imported; the rest is summarised.
data = Path(__file__).resolve().parents[1] / "tests" / "data" / "litellm_model_prices.json.gz"
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "prices.json"
    path.write_bytes(gzip.decompress(data.read_bytes()))
    litellm = PriceBook.from_litellm(path, warn=False)
assert litellm.import_summary is not None
print(litellm.import_summary.describe(examples=2).splitlines()[0])
for line in litellm.import_summary.describe(examples=2).splitlines()[1:4]:
    print(line)
