"""The one model-name normaliser shared by pricing and token counting.

A leaf module (standard library only) so that both ``pricing`` and ``tokens`` import it without
importing each other. Prices are keyed by the normalised name; token families are recognised
from it (a fine-tune is counted like its base model, see ``tokens.models``).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["normalize_model_name"]

# Providers written as "provider:model" (init_chat_model style). Only these are stripped: a
# colon also separates Bedrock versions ("-v1:0"), Ollama tags ("llama3:8b", "gemma:latest")
# and fine-tune ids ("ft:gpt-4o:org::id").
_COLON_PROVIDERS = frozenset(
    {
        "anthropic", "azure", "azure_ai", "azure_openai", "bedrock", "bedrock_converse",
        "cerebras", "cohere", "dashscope", "deepinfra", "deepseek", "fireworks", "fireworks_ai",
        "gemini", "google", "google_anthropic_vertex", "google_genai", "google_vertexai", "groq",
        "huggingface", "ibm", "litellm", "mistral", "mistralai", "moonshot", "nvidia", "ollama",
        "openai", "openrouter", "perplexity", "together", "together_ai", "upstage", "vertex_ai",
        "vertexai", "watsonx", "xai",
    }
)  # fmt: skip
# Bedrock ids: optional cross-region prefix, then the vendor ("us.anthropic.claude-...").
_BEDROCK_ANTHROPIC = re.compile(r"^(?:(?:us|eu|apac|au|jp|global|us-gov)\.)?anthropic\.")
# Anthropic's ids use dashes between version digits ("claude-opus-4-7"); people and routers
# such as OpenRouter write dots ("claude-opus-4.7", "anthropic/claude-3.5-sonnet").
_DIGIT_DOT = re.compile(r"(?<=\d)\.(?=\d)")


@lru_cache(maxsize=4096)  # pure; the engine asks for the same few names on every call
def normalize_model_name(name: str) -> str:
    """Reduce a model identifier to the bare, lowercase model name used as a price key.

    Strips path-style provider prefixes (``openai/``, ``azure/``, ``bedrock/us-east-1/``,
    ``models/``), ``provider:`` prefixes of known providers (``openai:gpt-4.1``) and Bedrock's
    ``[region.]anthropic.`` vendor prefix; writes Claude version dots as Anthropic's dashes
    (``claude-opus-4.7`` -> ``claude-opus-4-7``); reduces an OpenAI fine-tune id to its base
    fine-tune key (``ft:gpt-4o-mini-2024-07-18:org::id`` -> ``ft:gpt-4o-mini-2024-07-18``,
    LiteLLM's key for fine-tuned pricing: a fine-tune never inherits the base model's price).
    Snapshot suffixes are kept; ``PriceBook.lookup`` resolves them.

    Args:
        name: A model name as given to a chat model or reported by a provider.

    Returns:
        The normalized name, e.g. ``"gpt-4.1"`` for ``"OpenAI:GPT-4.1"``.
    """
    text = name.strip().lower().rsplit("/", 1)[-1]
    provider, sep, rest = text.partition(":")
    if sep and rest and provider in _COLON_PROVIDERS:
        text = rest
    if text.startswith("ft:"):
        base = text.split(":")[1]
        return f"ft:{base}" if base else text
    text = _BEDROCK_ANTHROPIC.sub("", text, count=1)
    if text.startswith("claude"):
        text = _DIGIT_DOT.sub("-", text)
    return text
