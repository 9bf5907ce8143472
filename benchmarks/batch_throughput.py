"""Throughput of ``arun_batch(TieredChatModel)`` against plain ``ChatOpenAI.abatch``, decomposed.

Everything talks to the bundled OpenAI-compatible emulator (no faults), which runs in its own
process as a real server would (in-process it would share the client's GIL and the ratio would
mostly measure the server). Four ways to send the same prompts run at the same concurrency:

- ``plain``: ``ChatOpenAI.abatch``, the reference;
- ``runner``: ``arun_batch(ChatOpenAI)``: the batch runner alone (its journal, items, stats);
- ``engine``: ``asyncio.gather`` of ``TieredChatModel.ainvoke`` under a semaphore: the tiered
  call alone (routing, pre-flight, settle), no batch runner;
- ``ours``: ``arun_batch(TieredChatModel)``, issue 13's row (target >= 0.97).

Each is reported as plain / it: wall-time (throughput) and client-CPU ratios, 1.0 = as fast as
``abatch``, above 1 faster. ``ours`` vs ``engine`` is what the batch runner costs on top of the
tiered call. Fairness: one warm-up round (connections, memos) is not counted; every round sends
the same fresh prompts through every variant; the variants' order rotates from round to round
(so none always runs right after the same other); each ratio is the median over rounds of the
ratio within a round, so drift of the machine between rounds cancels out.

    python benchmarks/batch_throughput.py [--requests 400] [--concurrency 1,16,64,128]
        [--rounds 5] [--tiers 1] [--sync] [--in-process]

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
from collections.abc import Awaitable, Callable, Iterator, Mapping
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
    """One variant's run of one round."""

    wall_s: float
    cpu_s: float


@dataclass
class Ratios:
    """A variant against the reference: medians over rounds of the within-round ratios."""

    wall: float
    cpu: float
    walls: list[float]  # per round, in round order
    wall_ms_per_req: float
    cpu_ms_per_req: float


AsyncVariant = Callable[[list[Any]], Awaitable[Any]]
SyncVariant = Callable[[list[Any]], Any]


async def _atimed(fn: AsyncVariant, xs: list[Any]) -> Sample:
    start, cpu = time.perf_counter(), time.process_time()
    await fn(xs)
    return Sample(time.perf_counter() - start, time.process_time() - cpu)


def _timed(fn: SyncVariant, xs: list[Any]) -> Sample:
    start, cpu = time.perf_counter(), time.process_time()
    fn(xs)
    return Sample(time.perf_counter() - start, time.process_time() - cpu)


def _rotated(names: list[str], r: int) -> list[str]:
    k = r % len(names)
    return names[k:] + names[:k]


def _ratios(samples: Mapping[str, list[Sample]], reference: str, n: int) -> dict[str, Ratios]:
    ref = samples[reference]
    out = {}
    for name, runs in samples.items():
        walls = [a.wall_s / b.wall_s for a, b in zip(ref, runs, strict=True)]
        cpus = [a.cpu_s / b.cpu_s for a, b in zip(ref, runs, strict=True)]
        out[name] = Ratios(
            statistics.median(walls),
            statistics.median(cpus),
            walls,
            statistics.median(s.wall_s for s in runs) * 1000 / n,
            statistics.median(s.cpu_s for s in runs) * 1000 / n,
        )
    return out


async def compare_async(
    variants: Mapping[str, AsyncVariant], n: int, rounds: int, reference: str = "plain"
) -> dict[str, Ratios]:
    """Run every variant on the same ``n`` prompts per round; ratios against ``reference``."""
    names = list(variants)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for r in range(rounds + 1):  # round 0 warms connections and memos, not counted
        xs = prompts(n, f"r{r}")
        for name in _rotated(names, r):
            sample = await _atimed(variants[name], xs)
            if r:
                samples[name].append(sample)
    return _ratios(samples, reference, n)


def compare_sync(
    variants: Mapping[str, SyncVariant], n: int, rounds: int, reference: str = "plain"
) -> dict[str, Ratios]:
    """The sync twin of :func:`compare_async`."""
    names = list(variants)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for r in range(rounds + 1):
        xs = prompts(n, f"s{r}")
        for name in _rotated(names, r):
            sample = _timed(variants[name], xs)
            if r:
                samples[name].append(sample)
    return _ratios(samples, reference, n)


def gather_under_semaphore(model: Any, conc: int) -> AsyncVariant:
    """``model.ainvoke`` per prompt, at most ``conc`` at once: the call without a batch runner."""

    async def run(xs: list[Any]) -> list[Any]:
        gate = asyncio.Semaphore(conc)

        async def one(x: Any) -> Any:
            async with gate:
                return await model.ainvoke(x)

        return await asyncio.gather(*(one(x) for x in xs))

    return run


def async_variants(plain: ChatOpenAI, model: TieredChatModel, conc: int) -> dict[str, AsyncVariant]:
    """The four ways to send a batch, reference first (see the module docstring)."""
    cfg: Any = {"max_concurrency": conc}

    def reference(xs: list[Any]) -> Awaitable[Any]:
        return plain.abatch(xs, config=cfg)

    def runner(xs: list[Any]) -> Awaitable[Any]:
        return arun_batch(plain, xs, max_concurrency=conc)

    def ours(xs: list[Any]) -> Awaitable[Any]:
        return arun_batch(model, xs, max_concurrency=conc)

    return {
        "plain": reference,
        "runner": runner,
        "engine": gather_under_semaphore(model, conc),
        "ours": ours,
    }


def requests_for(conc: int, requests: int) -> int:
    """Prompts per round: enough that each worker sends many (start and tail stay small)."""
    return max(requests, 8 * conc)


async def async_table(emu: Any, args: argparse.Namespace) -> None:
    plain, model = chat(emu, NAMES[-1]), tiered(emu, args.tiers)
    print("plain / variant (1.00 = as fast as ChatOpenAI.abatch; medians of per-round ratios)")
    for conc in args.concurrency:
        n = requests_for(conc, args.requests)
        got = await compare_async(async_variants(plain, model, conc), n, args.rounds)
        ref = got["plain"]
        print(
            f"c{conc:<3d} n={n:<5d} plain {ref.wall_ms_per_req:.2f} ms wall, "
            f"{ref.cpu_ms_per_req:.2f} ms CPU per request"
        )
        for name in ("runner", "engine", "ours"):
            r = got[name]
            rounds = " ".join(f"{w:.2f}" for w in r.walls)
            print(f"      {name:7s} wall {r.wall:.3f}  CPU {r.cpu:.3f}   (rounds: {rounds})")


def sync_variants(plain: ChatOpenAI, model: TieredChatModel, conc: int) -> dict[str, SyncVariant]:
    """``ChatOpenAI.batch``, ``run_batch(ChatOpenAI)`` and ``run_batch(TieredChatModel)``."""
    cfg: Any = {"max_concurrency": conc}

    def reference(xs: list[Any]) -> Any:
        return plain.batch(xs, config=cfg)

    def runner(xs: list[Any]) -> Any:
        return run_batch(plain, xs, max_concurrency=conc)

    def ours(xs: list[Any]) -> Any:
        return run_batch(model, xs, max_concurrency=conc)

    return {"plain": reference, "runner": runner, "ours": ours}


def sync_table(emu: Any, args: argparse.Namespace) -> None:
    plain, model = chat(emu, NAMES[-1]), tiered(emu, args.tiers)
    for conc in args.concurrency:
        n = requests_for(conc, args.requests)
        got = compare_sync(sync_variants(plain, model, conc), n, args.rounds)
        print(
            f"[sync] c{conc:<3d} run_batch(plain) wall {got['runner'].wall:.3f} "
            f"CPU {got['runner'].cpu:.3f}; run_batch(tiered) wall {got['ours'].wall:.3f} "
            f"CPU {got['ours'].cpu:.3f} (vs ChatOpenAI.batch)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(c) for c in s.split(",")],
        default=[1, 16, 64, 128],
        help="comma-separated levels",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tiers", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="serve from a thread")
    args = parser.parse_args()
    server = OpenAICompatibleEmulator() if args.in_process else emulator_process()
    with server as emu:
        # One event loop for every round: the async HTTP clients belong to the loop they opened on.
        asyncio.run(async_table(emu, args))
        if args.sync:
            sync_table(emu, args)


if __name__ == "__main__":
    main()
