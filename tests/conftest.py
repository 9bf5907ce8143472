"""Shared test configuration: vcrpy settings for cassette replay."""

from __future__ import annotations

import os
from typing import Any

import pytest

_SECRET_HEADERS = ["authorization", "api-key", "x-api-key", "openai-organization", "cookie"]
# Response headers that identify an account or session when recording a real provider.
_SECRET_RESPONSE_HEADERS = {"openai-organization", "openai-project", "set-cookie", "cookie"}


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers") or {}
    for name in list(headers):
        if name.lower() in _SECRET_RESPONSE_HEADERS:
            headers[name] = ["REDACTED"]
    return response


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    """Cassettes replay only under CI (record mode ``none``); locally new ones may be recorded."""
    return {
        "filter_headers": [(h, "REDACTED") for h in _SECRET_HEADERS],
        "record_mode": "none" if os.environ.get("CI") else os.environ.get("VCR_RECORD", "none"),
        "match_on": ["method", "scheme", "path", "body"],
        "decode_compressed_response": True,
        "before_record_response": _scrub_response,
    }


@pytest.fixture(scope="session")
def vcr_cassette_dir() -> str:
    """All cassettes live in the top-level ``cassettes/`` directory."""
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "cassettes")
