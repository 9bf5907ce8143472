"""The README's sample of ``python examples/quickstart.py`` is that script's real output.

The sample had drifted from the router it documents (scores, weights and lengths changed);
a new user comparing the two could not tell which was right. When routing changes what the
quickstart prints, paste the script's output into the README's Examples section.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HEADER = "$ python examples/quickstart.py\n"


def readme_sample() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text[text.index(HEADER) + len(HEADER) :]
    return body.split("\n\n", 1)[0]


def test_the_readme_shows_what_examples_quickstart_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the emulator, not the real API
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    assert capsys.readouterr().out.strip() == readme_sample()
