"""The cascade's values: :class:`Verdict`, :class:`CascadeRequest`, :class:`Cascade`, its error.

A validator is any callable ``(CascadeRequest, AIMessage) -> Verdict``. A validator that needs
another model (the judge) may instead provide ``check(request, message)``: a generator that
yields :class:`Ask` values and receives each answer, so the cascade can run those calls through
the tiered engine (pre-flighted, reserved, settled, counted) in sync and async code alike.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from langchain_tiered.errors import TieredError

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, BaseMessage

__all__ = [
    "Ask",
    "Cascade",
    "CascadeRejectedError",
    "CascadeRequest",
    "CascadeStep",
    "Validator",
    "Verdict",
]


@dataclass(frozen=True)
class Verdict:
    """A validator's judgement of one answer.

    Attributes:
        accepted: Whether the answer passes.
        reason: Why (shown in ``response_metadata["tiered"]["steps"]``).
        score: An optional number behind the decision (judge grade, mean logprob).
    """

    accepted: bool
    reason: str = ""
    score: float | None = None

    @classmethod
    def accept(cls, reason: str = "ok", score: float | None = None) -> Verdict:
        """An accepting verdict."""
        return cls(True, reason, score)

    @classmethod
    def reject(cls, reason: str, score: float | None = None) -> Verdict:
        """A rejecting verdict; ``reason`` says what was wrong."""
        return cls(False, reason, score)


@dataclass(frozen=True)
class CascadeRequest:
    """What a validator may look at besides the answer: the call as the cascade received it.

    Attributes:
        messages: The prompt.
        openai_tools: The bound tools in OpenAI format (``with_structured_output``'s
            schema is the first one).
        structured_output: Whether the call came from ``with_structured_output``.
        response_format: The call's ``response_format`` kwarg, if any (JSON mode / schema).
        tier: The tier that produced the answer under review.
        step: The step number, 0 for the first answer.
        metadata: The caller's config metadata.
    """

    messages: tuple[BaseMessage, ...]
    openai_tools: tuple[dict[str, Any], ...] = ()
    structured_output: bool = False
    response_format: Any = None
    tier: str = ""
    step: int = 0
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def question(self) -> str:
        """Text of the last human message (what a judge grades the answer against)."""
        for message in reversed(self.messages):
            if message.type == "human":
                return message.text
        return ""


@dataclass(frozen=True)
class Ask:
    """A request from a validator for another tier's answer (the judge's grading call).

    Attributes:
        tier: The tier to ask (``None``: the cheapest).
        messages: The prompt for that tier.
        max_tokens: Output cap for the call (keeps its pre-flight worst case small).
    """

    tier: str | None
    messages: tuple[BaseMessage, ...]
    max_tokens: int | None = None


Validator = Callable[[CascadeRequest, "AIMessage"], Verdict]
"""A plain callable judging one answer."""

Check = Generator[Ask, "AIMessage", Verdict]
"""What a validator's optional ``check`` method returns."""


class CascadeStep(TypedDict):
    """One answer of a cascade, in ``response_metadata["tiered"]["steps"]``."""

    tier: str
    """The tier that answered."""
    model_name: str | None
    """That tier's model."""
    cost_usd: float
    """What the step cost: the answer plus any judge calls grading it."""
    answer_cost_usd: float
    """The answer's own cost."""
    judge_cost_usd: float
    """The cost of the grading calls (``Judge``) on this answer."""
    estimated_cost_usd: float
    """The answer's pre-flight worst case (reserved, then settled)."""
    verdict: Literal["accept", "reject", "unchecked"]
    """The validators' decision (``unchecked``: the last step with ``validate_last=False``,
    or a stream that was cut off)."""
    reason: str
    """Why: the rejecting validator's reason, or the accepting ones' joined."""
    validator: str | None
    """The class name of the validator that rejected, if any."""
    score: float | None
    """The deciding validator's number (judge grade / 10, mean logprob), if any."""


class CascadeRejectedError(TieredError):
    """Every step of a cascade was rejected and ``Cascade(on_rejected="raise")`` is set.

    Attributes:
        steps: The steps taken, as in ``response_metadata["tiered"]["steps"]``.
        message: The last answer (its costs are settled; it was paid for).
    """

    def __init__(self, text: str, *, steps: Sequence[Mapping[str, Any]], message: Any) -> None:
        super().__init__(text)
        self.steps = list(steps)
        self.message = message


@dataclass(frozen=True)
class Cascade:
    """Answer on a cheap tier first; escalate to a more capable tier when a validator rejects.

    Money: ``max_cost_per_call`` of the model caps the *whole cascade*. Each step is its own
    engine call, pre-flighted against what is left of that cap after the settled cost of the
    earlier steps (and judge calls), reserved in the budgets and settled before the next step
    starts, so the total never exceeds the cap or a budget. A step the remaining money cannot
    cover ends the cascade with the best answer so far.

    Args:
        validators: Callables ``(CascadeRequest, AIMessage) -> Verdict``, run in order; the
            first rejection decides.
        start: ``"routed"`` starts on the tier the router (or a ``tier=`` override) picks;
            ``"cheapest"`` on the last tier.
        max_steps: Most answers to pay for (default: up to the top tier).
        on_rejected: When the last step is rejected too: ``"return"`` its answer marked
            ``cascade_accepted=False``, or ``"raise"`` :class:`CascadeRejectedError`.
        validate_last: Whether to run the validators on the last possible step (only to mark
            it; it cannot escalate). Off saves a judge call per fully escalated request.

    Example:
        ```python
        model = TieredChatModel(
            tiers=[strong, cheap],
            cascade=Cascade(validators=[NotEmpty(), NotTruncated(), ValidToolCalls()]),
        )
        ```
    """

    validators: Sequence[Validator] = ()
    start: Literal["routed", "cheapest"] = "routed"
    max_steps: int | None = None
    on_rejected: Literal["return", "raise"] = "return"
    validate_last: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "validators", tuple(self.validators))
        if self.start not in ("routed", "cheapest"):
            msg = f"Cascade start={self.start!r}; use 'routed' or 'cheapest'"
            raise ValueError(msg)
        if self.on_rejected not in ("return", "raise"):
            msg = f"Cascade on_rejected={self.on_rejected!r}; use 'return' or 'raise'"
            raise ValueError(msg)
        if self.max_steps is not None and self.max_steps < 1:
            msg = f"Cascade max_steps={self.max_steps}; use at least 1 (or None for no limit)"
            raise ValueError(msg)
        for v in self.validators:
            if not callable(v) and not callable(getattr(v, "check", None)):
                msg = f"validator {v!r} is not callable (request, message) -> Verdict"
                raise TypeError(msg)
