"""``kill -9`` mid-batch: nothing in flight is billed twice, nothing finished is lost (issue 10).

A child process runs a batch whose calls block after the first eight answers; the test kills it
with SIGKILL while four calls are in flight, then resumes in this process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from langchain_tiered.batch import OutcomeUnknownError, run_batch

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL"),
]

ROOT = Path(__file__).resolve().parents[2]
INPUTS = [f"p{i}" for i in range(20)]
CHILD = r"""
import sys, threading
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_tiered.batch import run_batch

lock, calls, never = threading.Lock(), [0], threading.Event()

def call(text):
    with lock:  # one whole line per call, numbered in call order
        calls[0] += 1
        n = calls[0]
        sys.stdout.write(f"{n} {text}\n")
        sys.stdout.flush()
    if n > 8:
        never.wait()  # in flight until the process is killed
    return AIMessage(content="echo: " + text)

run_batch(RunnableLambda(call), [f"p{i}" for i in range(20)], output=sys.argv[1],
          max_concurrency=4)
"""


def _kill_with_four_in_flight(out: Path) -> set[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, proc.kill)  # a hung child must not hang the suite
    watchdog.start()
    try:
        assert proc.stdout is not None
        calls = dict(proc.stdout.readline().split() for _ in range(12))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        watchdog.cancel()
    assert proc.returncode == -signal.SIGKILL
    return {text for n, text in calls.items() if int(n) > 8}


def test_kill_9_mid_batch_reports_in_flight_items_and_resends_only_on_request(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    blocked = _kill_with_four_in_flight(out)
    answered: Counter[str] = Counter()

    def call(text: str) -> AIMessage:
        answered[text] += 1
        return AIMessage(content=f"echo: {text}")

    model = RunnableLambda(call)
    result = run_batch(model, INPUTS, output=out, max_concurrency=4)
    in_flight = {str(d.input) for d in result.dead_letters}
    assert in_flight == blocked
    assert result.stats.resumed == 8  # every answer written before the kill was kept
    assert result.stats.unknown == 4  # the four calls in flight were not sent again
    assert all(isinstance(d.error, OutcomeUnknownError) for d in result.dead_letters)
    assert sum(answered.values()) == 8
    assert not in_flight & set(answered)

    again = run_batch(model, INPUTS, output=out, max_concurrency=4, resend_unknown=True)
    assert again.stats.successes == 20
    kept = {str(r.input) for r in result.results if r.skipped_resumed and r.ok}
    assert set(answered) == set(INPUTS) - kept  # each input paid for exactly once overall
    assert all(count == 1 for count in answered.values())
    assert [r.output.content for r in again.results if r.output] == [f"echo: {p}" for p in INPUTS]
