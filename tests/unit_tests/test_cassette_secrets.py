"""No credential may be committed inside a cassette (recordings are public test data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"

_OPENAI_KEY = re.compile(r"sk-[A-Za-z0-9_-]{20,}")
_BEARER = re.compile(r"Bearer\s+([A-Za-z0-9._~+/=-]{16,})")
# A secret header as a YAML key (value inline or on the next "- value" line) or a JSON key.
_HEADER = re.compile(
    r"""^\s*["']?(authorization|x-api-key|api-key)["']?\s*:\s*(.*)$""", re.IGNORECASE
)
_FAKE = re.compile(r"fake|test|dummy|emulator|example|redacted|xxxx|\*\*\*", re.IGNORECASE)
_HARMLESS_VALUES = {"", "redacted", "null", "~", "[]"}


def _clean(value: str) -> str:
    return value.strip().lstrip("-").strip().strip("'\"[]").strip()


def _header_value(lines: list[str], index: int, inline: str) -> str:
    """The header's value: inline after the colon, else the next YAML list item."""
    if _clean(inline) or index + 1 >= len(lines):
        return _clean(inline)
    following = lines[index + 1].strip()
    return _clean(following) if following.startswith("-") else ""


def find_secrets(text: str) -> list[tuple[int, str]]:
    """Every suspected credential as ``(line number, reason)``."""
    lines = text.splitlines()
    found: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        number = index + 1
        found += [
            (number, f"OpenAI-style key {m.group()[:7]}...")
            for m in _OPENAI_KEY.finditer(line)
            if not _FAKE.search(m.group())
        ]
        found += [
            (number, "bearer token") for m in _BEARER.finditer(line) if not _FAKE.search(m.group(1))
        ]
        header = _HEADER.match(line)
        if header is not None:
            value = _header_value(lines, index, header.group(2))
            if value.lower() not in _HARMLESS_VALUES and not _FAKE.fullmatch(value):
                found.append(
                    (number, f"{header.group(1).lower()} header with a non-redacted value")
                )
    return found


def test_cassettes_hold_no_secrets() -> None:
    files = sorted(p for p in CASSETTES.rglob("*") if p.is_file())
    assert files, f"no cassettes found under {CASSETTES}"
    problems = [
        f"{path.relative_to(CASSETTES.parent)}:{line}: {reason}"
        for path in files
        for line, reason in find_secrets(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not problems, "secrets in cassettes:\n" + "\n".join(problems)


# The fixtures below build secrets at runtime so this file never contains one literally.
_KEY = "sk-" + "proj" + "A1b2C3d4" * 4


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f'body: \'{{"key": "{_KEY}"}}\'', "OpenAI-style key"),
        ("      authorization:\n      - Bearer " + "Zx9" * 8, "bearer token"),
        ("      Authorization:\n      - " + "opaque" * 4, "authorization header"),
        ("      x-api-key:\n      - " + "k" * 30, "x-api-key header"),
        ("      api-key: " + "a1" * 16, "api-key header"),
    ],
)
def test_scanner_finds_planted_secrets(text: str, reason: str) -> None:
    reasons = [found for _, found in find_secrets(text)]
    assert any(reason in found for found in reasons), reasons


@pytest.mark.parametrize(
    "text",
    [
        "      authorization:\n      - REDACTED",
        "      x-api-key:\n      - REDACTED\n",
        'api_key="sk-emulator"',
        "Bearer sk-emulator",
        "      api-key: []",
    ],
)
def test_scanner_accepts_redacted_and_fake_values(text: str) -> None:
    assert find_secrets(text) == []
