"""Where the shared labelled routing data lives (``../shared/routing-data`` next to the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "routing-data"


def shared_data() -> Path:
    """The shared routing data folder, or skip the test saying where it is expected."""
    if not (SHARED / "gsm8k" / "gsm8k_responses.csv").exists():
        pytest.skip(
            f"shared routing data not found at {SHARED} (CI lays ../shared beside the repo)"
        )
    return SHARED
