"""What providers put in their error bodies: the codes and phrasings classification trusts.

Data only, one table per condition, so adding a provider's shape is a one-line change and
the README's "failure shapes" table can be checked against it. Codes are compared lower-case
against the ``code``/``type``/``status`` fields of an error body (top level and nested
``error``) and of the exception itself; phrases are only consulted for invalid-request
errors, because some servers send a context overflow with no machine-readable code.
"""

from __future__ import annotations

__all__ = [
    "CONTEXT_CODES",
    "CONTEXT_PHRASES",
    "INVALID_REQUEST_CODES",
    "OVERLOAD_CODES",
    "QUOTA_CODES",
    "QUOTA_PHRASES",
    "RATE_LIMIT_CODES",
    "REFUSAL_CODES",
    "REFUSAL_FINISH_REASONS",
    "SERVER_ERROR_CODES",
    "TIMEOUT_CODES",
]

CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
"""OpenAI, Azure, Groq, DeepSeek-compatible servers: the prompt does not fit."""

REFUSAL_CODES = frozenset({"content_filter", "content_policy_violation", "safety"})
"""Azure/OpenAI content filters; Google's safety block."""

QUOTA_CODES = frozenset(
    {
        "insufficient_quota",  # OpenAI 429: the account's credit is used up
        "billing_error",  # Anthropic 402
        "billing_hard_limit_reached",  # OpenAI
        "payment_required",  # OpenRouter 402
    }
)
"""The account cannot pay: waiting does not help, another provider might."""

RATE_LIMIT_CODES = frozenset(
    {
        "rate_limit_error",  # Anthropic (HTTP 429 and in-stream)
        "rate_limit_exceeded",  # OpenAI
        "resource_exhausted",  # Google (HTTP 429 / gRPC 8)
        "too_many_requests",
    }
)

OVERLOAD_CODES = frozenset(
    {
        "overloaded_error",  # Anthropic 529 and in-stream
        "overloaded",
        "unavailable",  # Google 503 / gRPC 14
        "service_unavailable",
        "server_busy",  # DeepSeek-style 503 bodies
    }
)

SERVER_ERROR_CODES = frozenset(
    {
        "api_error",  # Anthropic 500 and in-stream
        "server_error",  # OpenAI 500, also sent on a 200 stream by OpenAI-compatible servers
        "internal_error",
        "internal",  # Google 500 / gRPC 13
        "internal_server_error",
        "bad_gateway",
    }
)

TIMEOUT_CODES = frozenset({"timeout_error", "deadline_exceeded", "timeout"})
"""Anthropic 504 ``timeout_error``; Google ``DEADLINE_EXCEEDED``."""

INVALID_REQUEST_CODES = frozenset({"invalid_request_error", "invalid_argument"})

CONTEXT_PHRASES = (
    "prompt is too long",  # Anthropic, some gateways
    "context_length_exceeded",
    "maximum context length",  # OpenAI, DeepSeek, OpenRouter ("this endpoint's ..."), vLLM, Mistral
    "exceeds the context window",  # OpenAI Responses API
    "exceed context limit",  # Anthropic: input length and `max_tokens` exceed context limit
    "input tokens exceed the configured limit",  # LiteLLM proxy
    "contextwindowexceedederror",  # LiteLLM
    "longer than the maximum model length",  # vLLM: decoder prompt is longer than ...
    "is too long and exceeds limit",  # vLLM v1
    "exceeds the maximum number of tokens allowed",  # Google Gemini
)

QUOTA_PHRASES = (
    "credit balance is too low",  # Anthropic sends it as a 400 invalid_request_error
    "insufficient balance",  # DeepSeek (HTTP 402)
)
"""Wordings of an exhausted account in invalid-request errors that carry no quota code."""

REFUSAL_FINISH_REASONS = frozenset(
    {
        "content_filter",  # OpenAI, Azure, DeepSeek
        "refusal",  # Anthropic stop_reason
        "safety",  # Google finish reasons, compared lower-case
        "prohibited_content",
        "blocklist",
        "spii",
        "image_safety",
    }
)
"""Finish/stop reasons that mean the model or its filter declined."""
