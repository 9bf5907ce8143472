"""Credentials never survive ``redact``: key shapes and configured secrets are masked."""

from __future__ import annotations

import pytest

from langchain_tiered._redact import REDACTED, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Incorrect API key provided: sk-LEAKCANARY123456.", "sk-LEAKCANARY123456"),
        ("key sk-proj-AbCdEf_123-456xyz rejected", "sk-proj-AbCdEf_123-456xyz"),
        ("anthropic: sk-ant-api03-ZZZZ_yyyy-1234 invalid", "sk-ant-api03-ZZZZ_yyyy-1234"),
        ("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.abc", "eyJhbGciOi.JIUzI1NiJ9.abc"),
        ("https://x/v1?api_key=s3cr3tvalue&x=1", "s3cr3tvalue"),
        ('{"api_key": "hunter2hunter2"}', "hunter2hunter2"),
        ("x-api-key: abcdef123456", "abcdef123456"),
        ("authorization=tok_live_998877", "tok_live_998877"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("authorization: Token abcdef123456", "abcdef123456"),
        ("google AIzaSyA1234567890abcdefghijklmn", "AIzaSyA1234567890abcdefghijklmn"),
    ],
)
def test_key_shapes_are_masked(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


def test_labels_are_kept_so_the_text_still_says_what_was_there() -> None:
    assert redact("Bearer abcdefghijkl") == f"Bearer {REDACTED}"
    assert redact("api_key=abcdefghijkl") == f"api_key={REDACTED}"


def test_configured_secrets_are_masked_whatever_their_shape() -> None:
    text = "server echoed my-custom-token-42 and again my-custom-token-42"
    assert redact(text, ["my-custom-token-42"]) == f"server echoed {REDACTED} and again {REDACTED}"
    # Without the secret it has no key shape and stays.
    assert redact(text) == text


def test_longest_secret_first_and_short_values_ignored() -> None:
    out = redact("abcdef-and-more abcdef", ["abcdef", "abcdef-and-more", "", "ab"])
    assert out == f"{REDACTED} {REDACTED}"
    assert redact("a ab abc", ["ab"]) == "a ab abc"


def test_ordinary_text_is_untouched() -> None:
    text = "Rate limit reached for gpt-4o; ask-me later; desk-top 429 Too Many Requests"
    assert redact(text) == text
