"""The :class:`Tier` value object: one chat model plus what the tiered model needs to know of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_tiered.pricing import ModelPrice

__all__ = ["Tier", "model_name_of", "validate_tier_names"]

# Attribute names under which LangChain chat models keep their model identifier.
_MODEL_NAME_ATTRS = ("model_name", "model", "model_id", "deployment_name", "azure_deployment")


def model_name_of(model: BaseChatModel) -> str | None:
    """Best-effort model identifier of a chat model (``gpt-4.1``, ``claude-sonnet-4-5`` ...)."""
    for attr in _MODEL_NAME_ATTRS:
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


class Tier(BaseModel):
    """One tier of a :class:`~langchain_tiered.TieredChatModel`: a chat model and its limits.

    Tiers are immutable. List them from most capable (and expensive) to cheapest.

    Example:
        ```python
        Tier(name="budget", model=ChatOpenAI(model="deepseek-chat", base_url=...),
             price=ModelPrice(input_per_mtok=0.28, output_per_mtok=0.42))
        ```
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    name: str = Field(min_length=1)
    """Unique name used in routing decisions, overrides and reports."""
    model: BaseChatModel
    """Any LangChain chat model."""
    price: ModelPrice | None = None
    """A :class:`~langchain_tiered.ModelPrice` (or a mapping of its fields) overriding the
    price book for this tier."""
    context_window: int | None = Field(default=None, gt=0)
    """Maximum input tokens; else the model's profile, else the price book."""
    max_output_tokens: int | None = Field(default=None, gt=0)
    """Output cap used for the worst-case estimate when neither call nor model sets one."""
    requests_per_minute: float | None = Field(default=None, gt=0)
    """Local request rate limit for this tier."""
    tokens_per_minute: float | None = Field(default=None, gt=0)
    """Local token rate limit for this tier (weighted by the pre-flight estimate)."""
    deployments: tuple[Any, ...] | None = None
    """Several deployments of this tier's one model (two keys, regions, Azure + OpenAI):
    shorthand for ``model=Deployments(deployments=[...])``, see :mod:`langchain_tiered.deployments`.
    A deployment failing over to its sibling is not a tier fallback."""
    fallbacks: tuple[str, ...] | None = None
    """Tier names to try, in order, when this tier fails; ``None`` for the default order."""

    @model_validator(mode="before")
    @classmethod
    def _deployments_model(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("deployments") is None:
            return data
        if data.get("model") is not None:
            msg = "give a Tier either model= or deployments=, not both"
            raise ValueError(msg)
        from langchain_tiered.deployments import Deployments  # noqa: PLC0415 - lazy

        data = dict(data)
        data["deployments"] = tuple(data["deployments"])
        data["model"] = Deployments(deployments=list(data["deployments"]))
        return data

    @property
    def model_name(self) -> str | None:
        """The tier model's identifier, if it exposes one."""
        return model_name_of(self.model)

    def __repr__(self) -> str:
        # Never include the model's repr: it may hold client objects (not secrets, since
        # LangChain uses SecretStr, but long and noisy).
        return f"Tier(name={self.name!r}, model={type(self.model).__name__}({self.model_name!r}))"


def validate_tier_names(tiers: Sequence[Tier]) -> tuple[str, ...]:
    """Check a tier list and return its names.

    Raises:
        ValueError: No tiers, duplicate names, or fallbacks naming unknown tiers.
    """
    if not tiers:
        msg = "TieredChatModel needs at least one tier: tiers=[Tier(name=..., model=...), ...]"
        raise ValueError(msg)
    names = tuple(t.name for t in tiers)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        msg = f"tier names must be unique; duplicated: {', '.join(duplicates)}"
        raise ValueError(msg)
    for tier in tiers:
        unknown = [n for n in tier.fallbacks or () if n not in names]
        if unknown:
            msg = (
                f"tier {tier.name!r} lists unknown fallback tiers {unknown}; "
                f"valid names: {', '.join(names)}"
            )
            raise ValueError(msg)
    return names
