"""The public surface: exported names are pinned, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import langchain_tiered

EXPECTED = [
    "AllTiersFailedError",
    "BatchResult",
    "Budget",
    "BudgetAlert",
    "BudgetExceededError",
    "BudgetKeyRequiredError",
    "Cascade",
    "CascadeRejectedError",
    "CascadeRequest",
    "ComplexityRouter",
    "Deployment",
    "Deployments",
    "InMemoryLedger",
    "InvalidRequestError",
    "Judge",
    "LearnedRouter",
    "LogprobConfidence",
    "Matches",
    "ModelPrice",
    "NoTierFitsError",
    "NotEmpty",
    "NotRefusal",
    "NotTruncated",
    "PostgresLedger",
    "Predicate",
    "PriceBook",
    "PricingError",
    "RateLimitExceededError",
    "RedisLedger",
    "RedisState",
    "RetryPolicy",
    "RouteDecision",
    "RouteRequest",
    "RouterError",
    "RouterReport",
    "RoutingExample",
    "Rule",
    "RuleRouter",
    "SQLiteLedger",
    "SharedStateUnavailableError",
    "SignalGroup",
    "Tier",
    "TieredChatModel",
    "TieredCostCallbackHandler",
    "TieredError",
    "ValidStructuredOutput",
    "ValidToolCalls",
    "Verdict",
    "arun_batch",
    "calibrate",
    "calibrate_for_cost",
    "count_tokens",
    "evaluate_router",
    "get_tiered_cost_callback",
    "read_arena_hard",
    "read_gsm8k",
    "read_jsonl",
    "read_mmlu",
    "read_routellm_csv",
    "run_batch",
]


def test_all_is_pinned_and_sorted() -> None:
    assert langchain_tiered.__all__ == EXPECTED
    assert sorted(langchain_tiered.__all__) == langchain_tiered.__all__


def test_every_exported_name_resolves() -> None:
    for name in EXPECTED:
        assert getattr(langchain_tiered, name) is not None, name


def test_import_is_light() -> None:
    code = (
        "import sys, langchain_tiered; "
        "heavy = [m for m in ('langchain_core', 'tiktoken', 'aiohttp', 'openai', 'rich', 'click',"
        " 'numpy') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_error_hierarchy() -> None:
    from langchain_core.exceptions import ContextOverflowError, LangChainException

    from langchain_tiered import NoTierFitsError, TieredError

    assert issubclass(TieredError, LangChainException)
    assert issubclass(NoTierFitsError, ContextOverflowError)
    for name in ("BudgetExceededError", "AllTiersFailedError", "PricingError", "NoTierFitsError"):
        assert issubclass(getattr(langchain_tiered, name), TieredError)
