"""Throughput of ``arun_batch(TieredChatModel)`` against plain ``ChatOpenAI.abatch``.

Both talk to the bundled OpenAI-compatible emulator (no faults) at the same concurrency, in
interleaved rounds so drift (warm-up, noisy neighbours) hits both alike. The emulator runs in
its own process by default, as a real server would: in-process it would share the client's
GIL and the ratio would mostly measure the server. Prints requests/second of each, the ratio
tiered / plain (target: >= 0.9), and the client's CPU time per request, which is steadier than
wall time on a shared machine.

    python benchmarks/batch_throughput.py [--requests 2000] [--concurrency 100] [--rounds 3]
        [--tiers 1] [--sync] [--in-process]

``--tiers 3`` routes over three emulator models instead of one; ``--sync`` also measures
``run_batch`` (worker threads) against ``ChatOpenAI.batch``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_openai import ChatOpenAI

from langchain_tiered import ModelPrice, Tier, TieredChatModel
from langchain_tiered.batch import arun_batch, run_batch
from langchain_tiered.testing import OpenAICompatibleEmulator

PRICE = ModelPrice(input_per_mtok=0.1, output_per_mtok=0.4)
NAMES = ("gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano")


def chat(emu: Any, model: str) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=emu.base_url, api_key="sk-emulator", model=model, max_retries=0, max_tokens=32
    )


def tiered(emu: Any, n_tiers: int) -> TieredChatModel:
    names = NAMES[-n_tiers:]
    return TieredChatModel(tiers=[Tier(name=m, model=chat(emu, m), price=PRICE) for m in names])


def prompts(n: int, tag: str) -> list[Any]:
    return [f"{tag} Frage {i}: nenne eine Hauptstadt" for i in range(n)]


@dataclass
class Server:
    """Where the emulator listens (a subprocess or an in-process thread)."""

    base_url: str


@contextlib.contextmanager
def emulator_process() -> Iterator[Server]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(  # our own module, fixed arguments
        [sys.executable, "-m", "langchain_tiered.testing", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the emulator process did not start")
            time.sleep(0.1)
        yield Server(f"http://127.0.0.1:{port}/v1")
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class Sample:
    rps: float
    cpu_ms: float


async def atimed(fn: Callable[[list[Any]], Awaitable[Any]], xs: list[Any]) -> Sample:
    start, cpu = time.perf_counter(), time.process_time()
    await fn(xs)
    n = len(xs)
    return Sample(n / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / n)


def timed(fn: Callable[[list[Any]], Any], xs: list[Any]) -> Sample:
    start, cpu = time.perf_counter(), time.process_time()
    fn(xs)
    n = len(xs)
    return Sample(n / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / n)


async def async_rounds(emu: Any, args: argparse.Namespace) -> None:
    plain, model = chat(emu, NAMES[-1]), tiered(emu, args.tiers)
    conc: Any = {"max_concurrency": args.concurrency}

    def theirs_fn(xs: list[Any]) -> Awaitable[Any]:
        return plain.abatch(xs, config=conc)

    def ours_fn(xs: list[Any]) -> Awaitable[Any]:
        return arun_batch(model, xs, max_concurrency=args.concurrency)

    ours: list[Sample] = []
    theirs: list[Sample] = []
    for r in range(args.rounds + 1):  # round 0 warms connections and caches, not counted
        xs = prompts(args.requests, f"r{r}")
        a = await atimed(theirs_fn, xs)
        b = await atimed(ours_fn, xs)
        if r:
            theirs.append(a)
            ours.append(b)
    report("async", ours, theirs, "arun_batch(tiered)", "ChatOpenAI.abatch")


def sync_rounds(emu: Any, args: argparse.Namespace) -> None:
    plain, model = chat(emu, NAMES[-1]), tiered(emu, args.tiers)
    conc: Any = {"max_concurrency": args.concurrency}
    ours: list[Sample] = []
    theirs: list[Sample] = []
    for r in range(args.rounds + 1):
        xs = prompts(args.requests, f"s{r}")
        a = timed(lambda batch: plain.batch(batch, config=conc), xs)
        b = timed(lambda batch: run_batch(model, batch, max_concurrency=args.concurrency), xs)
        if r:
            theirs.append(a)
            ours.append(b)
    report("sync", ours, theirs, "run_batch(tiered)", "ChatOpenAI.batch")


def report(kind: str, ours: list[Sample], theirs: list[Sample], a: str, b: str) -> None:
    pairs = list(zip(ours, theirs, strict=True))
    ratio = statistics.median(x.rps / y.rps for x, y in pairs)
    cpu = statistics.median(y.cpu_ms / x.cpu_ms for x, y in pairs)
    print(
        f"[{kind}] {a}: {statistics.median(x.rps for x in ours):.0f} req/s "
        f"({statistics.median(x.cpu_ms for x in ours):.2f} ms CPU/req)   "
        f"{b}: {statistics.median(y.rps for y in theirs):.0f} req/s "
        f"({statistics.median(y.cpu_ms for y in theirs):.2f} ms CPU/req)"
    )
    print(
        f"[{kind}] throughput ratio {ratio:.3f} (median over {len(pairs)} interleaved rounds: "
        f"{', '.join(f'{x.rps / y.rps:.2f}' for x, y in pairs)}); "
        f"CPU-efficiency ratio {cpu:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiers", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="serve from a thread")
    args = parser.parse_args()
    server = OpenAICompatibleEmulator() if args.in_process else emulator_process()
    with server as emu:
        asyncio.run(async_rounds(emu, args))
        if args.sync:
            sync_rounds(emu, args)


if __name__ == "__main__":
    main()
