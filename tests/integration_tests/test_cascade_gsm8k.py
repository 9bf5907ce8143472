"""The GSM8K cascade benchmark on its first problems: the cascade escalates exactly the answers
its checks reject, and the table's numbers follow from the recorded correctness."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "routing-data" / "gsm8k"
N = 24


def benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cascade_gsm8k", ROOT / "benchmarks" / "cascade_gsm8k.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not (DATA / "gsm8k_responses.csv").exists(),
    reason=f"GSM8K routing data not found at {DATA} (CI checks out ../shared next to the repo)",
)
def test_replay_escalates_exactly_the_rejected_weak_answers() -> None:
    bench = benchmark()
    rows = bench.load(DATA, N)
    lines: list[str] = []

    results = {
        r.name: r for r in bench.main(["--data", str(DATA), "--limit", str(N)], lines.append)
    }

    def passes(text: str) -> bool:
        return (
            bool(bench._FINAL.search(text))
            and bench.arithmetic_ok(text)
            and bench.whole_final(text)
        )

    escalated = [not passes(r.weak) for r in rows]
    expected = sum(r.strong_ok if e else r.weak_ok for r, e in zip(rows, escalated, strict=True))
    for name in ("cascade: + whole number", "cascade: judge (scripted)"):
        assert results[name].strong_share == pytest.approx(sum(escalated) / N)
        assert results[name].accuracy == pytest.approx(expected / N)
    assert results["weak only"].accuracy == pytest.approx(sum(r.weak_ok for r in rows) / N)
    assert results["strong only"].accuracy == pytest.approx(sum(r.strong_ok for r in rows) / N)
    assert results["strong only"].strong_share == 1.0
    # The judge's grading calls cost extra; the same escalations otherwise.
    judge, plain = results["cascade: judge (scripted)"], results["cascade: + whole number"]
    assert judge.cost_usd is not None
    assert plain.cost_usd is not None
    assert judge.cost_usd > plain.cost_usd
    assert "| perfect verifier (upper bound) |" in lines[0]


def test_arithmetic_check_reads_both_notations() -> None:
    bench = benchmark()
    assert bench.arithmetic_ok("3 sprints x 60 = <<3*60=180>>180 meters, 180 x 3 = 540")
    assert not bench.arithmetic_ok("she pays <<4*15=50>>50 dollars")
    assert not bench.arithmetic_ok("so 12 - 5 = 8 apples")
    assert bench.whole_final("#### 1,200")
    assert not bench.whole_final("#### 27.5")
