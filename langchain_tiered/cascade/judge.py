"""The judge: another tier grades an answer against the question with a short rubric.

Inside a cascade the grading call runs through the tiered engine (tier forced, pre-flighted
against what is left of the cascade's cap, reserved, settled), and its cost is part of the
step's cost. Outside a cascade, pass ``model=`` and the judge calls that model directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_tiered.cascade.base import Ask, CascadeRequest, Check, Verdict

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, BaseMessage

__all__ = ["Judge", "detect_language"]

_PROMPTS = {
    "en": (
        "You are a strict grader. Rate how well the ANSWER responds to the QUESTION, "
        "following the rubric. Reply with one integer from 0 (wrong or useless) to 10 "
        "(fully correct and complete) and nothing else.",
        "Is the answer correct, complete and responsive? Check every claim and calculation.",
        "Rubric: {rubric}\n\nQUESTION:\n{question}\n\nANSWER:\n{answer}\n\nScore (0-10):",
    ),
    "de": (
        "Du bist ein strenger Prüfer. Bewerte, wie gut die ANTWORT die FRAGE beantwortet, "
        "nach dem Bewertungsschema. Antworte mit einer ganzen Zahl von 0 (falsch oder "
        "unbrauchbar) bis 10 (vollständig richtig) und sonst nichts.",
        "Ist die Antwort richtig, vollständig und auf die Frage bezogen? Prüfe jede Aussage "
        "und jede Rechnung.",
        "Bewertungsschema: {rubric}\n\nFRAGE:\n{question}\n\nANTWORT:\n{answer}\n\n"
        "Bewertung (0-10):",
    ),
}
# Function words: enough to tell a German question from an English one, no model needed.
_GERMAN = frozenset(
    [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ich",
        "du",
        "sie",
        "wir",
        "ein",
        "eine",
        "einen",
        "mit",
        "für",
        "auf",
        "zu",
        "von",
        "den",
        "dem",
        "wie",
        "was",
        "warum",
        "welche",
        "bitte",
        "über",
        "auch",
        "oder",
        "aber",
        "wenn",
        "sind",
        "wird",
    ]
)
_ENGLISH = frozenset(
    [
        "the",
        "and",
        "is",
        "not",
        "you",
        "we",
        "a",
        "an",
        "with",
        "for",
        "on",
        "to",
        "of",
        "how",
        "what",
        "why",
        "which",
        "please",
        "about",
        "also",
        "or",
        "but",
        "if",
        "are",
        "will",
    ]
)
_GRADE = re.compile(r"-?\d+(?:[.,]\d+)?")
_MAX_GRADE = 10.0


def detect_language(text: str) -> Literal["en", "de"]:
    """``"de"`` when German function words (or umlauts) outweigh English ones, else ``"en"``."""
    words = re.findall(r"[a-zäöüß]+", text.lower())
    german = sum(w in _GERMAN for w in words) + 2 * sum(c in "äöüß" for c in text.lower())
    english = sum(w in _ENGLISH for w in words)
    return "de" if german > english else "en"


@dataclass(frozen=True)
class Judge:
    """A tier grades the answer from 0 to 10; ``grade / 10 >= threshold`` accepts.

    Args:
        tier: The grading tier inside a cascade (default: the cheapest tier).
        threshold: Lowest accepted grade as a fraction of 10 (``0.7`` = 7/10).
        rubric: What to check; default: correct, complete, responsive (in the prompt's
            language). Keep it short: it is paid for on every graded answer.
        language: ``"en"``, ``"de"`` or ``"auto"`` (from the question).
        max_tokens: Output cap of the grading call (one number needs very few tokens).
        model: A chat model to call directly when the judge is used outside a cascade.
    """

    tier: str | None = None
    threshold: float = 0.7
    rubric: str | None = None
    language: Literal["auto", "en", "de"] = "auto"
    max_tokens: int = 8
    model: Any = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            msg = f"Judge threshold={self.threshold}; use a fraction between 0 and 1"
            raise ValueError(msg)

    def prompt(self, request: CascadeRequest, message: AIMessage) -> tuple[BaseMessage, ...]:
        """The grading prompt for ``message`` (system instruction + question and answer)."""
        from langchain_core.messages import HumanMessage, SystemMessage  # noqa: PLC0415

        question = request.question()
        lang = detect_language(question) if self.language == "auto" else self.language
        system, rubric, template = _PROMPTS[lang]
        body = template.format(
            rubric=self.rubric or rubric, question=question, answer=_shown(message)
        )
        return (SystemMessage(system), HumanMessage(body))

    def check(self, request: CascadeRequest, message: AIMessage) -> Check:
        """Ask the grading tier, then judge its grade (the cascade performs the ``Ask``)."""
        reply = yield Ask(self.tier, self.prompt(request, message), self.max_tokens)
        return self.verdict(reply.text)

    def verdict(self, grading: str) -> Verdict:
        """Turn the grader's reply into a verdict; no grade in it rejects."""
        found = _GRADE.search(grading)
        if found is None:
            return Verdict.reject(f"judge gave no grade ({grading[:40]!r})")
        grade = min(max(float(found.group().replace(",", ".")), 0.0), _MAX_GRADE)
        score = grade / _MAX_GRADE
        text = f"judge grade {grade:g}/10 (threshold {self.threshold * _MAX_GRADE:g})"
        return Verdict(score >= self.threshold, text, score)

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Grade with ``model`` directly (outside a cascade, which uses :meth:`check`)."""
        if self.model is None:
            msg = "Judge used outside a cascade needs model=<a chat model> to grade with"
            raise ValueError(msg)
        gen = self.check(request, message)
        ask = next(gen)
        reply = self.model.invoke(list(ask.messages), max_tokens=ask.max_tokens)
        try:
            gen.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        msg = "Judge.check asked more than once"  # pragma: no cover - one Ask by design
        raise RuntimeError(msg)


def _shown(message: AIMessage) -> str:
    """The answer as the grader sees it: its text, or its tool calls when it has no text."""
    if message.text.strip() or not message.tool_calls:
        return message.text
    return "\n".join(f"tool call {c['name']}({c['args']})" for c in message.tool_calls)
