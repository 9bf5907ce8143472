"""The public surface: exported names are pinned, and importing the package stays cheap."""

from __future__ import annotations

import re
import subprocess
import sys

import langchain_tiered

EXPECTED = [
    "AllTiersFailedError",
    "BatchOutputError",
    "BatchResult",
    "BatchWriteError",
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
    "InMemoryThreadStore",
    "InvalidRequestError",
    "Judge",
    "LearnedRouter",
    "LedgerError",
    "LedgerReadOnlyError",
    "LogprobConfidence",
    "Matches",
    "ModelPrice",
    "NoTierFitsError",
    "NotALedgerError",
    "NotEmpty",
    "NotRefusal",
    "NotTruncated",
    "OutcomeUnknownError",
    "PostgresLedger",
    "Predicate",
    "PriceBook",
    "PricingError",
    "RateLimitExceededError",
    "RedisLedger",
    "RedisState",
    "RedisThreadStore",
    "RetryPolicy",
    "RouteDecision",
    "RouteRequest",
    "RouterError",
    "RouterReport",
    "RoutingExample",
    "Rule",
    "RuleRouter",
    "RunBudgetExceededError",
    "SQLiteLedger",
    "SharedStateUnavailableError",
    "SignalGroup",
    "StreamError",
    "ThreadStore",
    "Tier",
    "TieredBudgetMiddleware",
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


def test_the_error_tree_in_errors_py_is_true_and_complete() -> None:
    """Every error class in the package is drawn in errors.py's tree under its real base."""
    import inspect
    import pkgutil
    from importlib import import_module

    from langchain_tiered import errors

    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.search(r"(?:── )?([A-Z]\w*(?:Error|Exception))\b", line)
        if found is None or ("──" not in line and "LangChainException" not in line):
            continue
        depth = found.start(1)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[found.group(1)] = stack[-1][1]
        stack.append((depth, found.group(1)))
    core = import_module("langchain_core.exceptions")

    def resolve(name: str) -> type:
        # Ours are importable from the package itself; the roots are LangChain's.
        found: type = (
            getattr(core, name) if hasattr(core, name) else getattr(langchain_tiered, name)
        )
        return found

    for child, parent in parents.items():
        assert issubclass(resolve(child), resolve(parent)), (child, parent)
    # ... and no public error class of the package is missing from the tree.
    drawn = set(parents)
    for info in pkgutil.walk_packages(langchain_tiered.__path__, "langchain_tiered."):
        # The emulator and the command line (click's own errors) are not library API.
        if any(part in info.name for part in (".testing", ".cli", "__main__")):
            continue
        module = import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            public = not name.startswith("_") and cls.__module__ == module.__name__
            if public and issubclass(cls, Exception) and name.endswith("Error"):
                assert name in drawn, f"{info.name}.{name} is not in errors.py's tree"
