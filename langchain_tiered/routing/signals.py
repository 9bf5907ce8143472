"""Signals of :class:`~langchain_tiered.routing.ComplexityRouter`: word groups and weights as data.

Each :class:`SignalGroup` is a tuple of terms plus the score it adds when one of them occurs in
the user's request. Terms are matched case-insensitively at the *start* of a word and may run on,
so a stem such as ``"analysier"`` matches "analysiere", "analysierst" and "Analysierung". Two
markers refine a term:

* a trailing ``$`` demands that the word ends there (``"plan$"`` matches "plan", not "planet");
* a standalone ``*`` stands for the rest of the preceding word plus up to two more words
  (``"schreib * funktion"`` matches "Schreibe eine Python-Funktion" and "Schreiben Sie eine
  Funktion");
* a leading ``^`` demands that the term opens a sentence, i.e. is used as an imperative
  (``"^list"`` matches "List the capitals", not ``List[int]`` in a type hint nor "a shopping
  list").

Groups that name a ``task`` also tell the router what kind of answer to expect, which sets the
output-token cap. The built-in English and German groups live in ``signal_words.py``
(:data:`DEFAULT_SIGNALS`).

:class:`SignalMatcher` is the compiled form the router caches: one trie-shaped regex for all
groups plus the structural signals (code blocks, multi-part questions, tools, length).
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = ["Contribution", "SignalGroup", "SignalMatcher", "SignalSet", "matcher_for"]


@dataclass(frozen=True)
class SignalGroup:
    """A family of terms that moves the complexity score in one direction.

    The first distinct term found adds ``weight``; each further distinct term adds
    ``repeat_weight``, up to ``max_repeats`` times, so piling on synonyms has diminishing returns.
    """

    terms: tuple[str, ...]
    """Lower-case stems or phrases; see the module docstring for the ``$`` and ``*`` markers."""
    weight: float
    """Score added by the first matching term (negative for cheap tasks)."""
    repeat_weight: float = 0.0
    """Score added by each further distinct term."""
    max_repeats: int = 3
    """How many further terms may add ``repeat_weight``."""
    task: str | None = None
    """Task kind this group indicates (a key of ``task_output_caps``), or ``None``."""

    def __post_init__(self) -> None:
        # Lower-case once here so matching can lower-case only the request.
        object.__setattr__(self, "terms", tuple(t.strip().lower() for t in self.terms if t.strip()))
        if self.max_repeats < 0:
            msg = f"max_repeats must be >= 0, got {self.max_repeats}"
            raise ValueError(msg)

    def contribution(self, hits: int) -> float:
        """Score added when ``hits`` distinct terms of this group matched."""
        if hits <= 0:
            return 0.0
        return self.weight + self.repeat_weight * min(hits - 1, self.max_repeats)


@dataclass(frozen=True, repr=False)
class SignalSet:
    """All signals the complexity router scores: word groups plus structural weights.

    Replace weights with :func:`dataclasses.replace`; change word lists with :meth:`extend`,
    :meth:`replace_terms`, :meth:`with_group` and :meth:`without`. Every method returns a new set.
    """

    groups: Mapping[str, SignalGroup]
    """Word groups by name; the name appears in reasons and in ``RouteDecision.signals``."""
    code_block: float = 0.45
    """Added when the request contains a fenced (```) or indented code block."""
    multi_part: float = 0.12
    """Added per question part beyond the first (numbered lines or several ``?``)."""
    multi_part_cap: float = 0.36
    """Upper bound for the multi-part contribution."""
    formula: float = 0.0
    """Added when the request holds arithmetic: ``20%``, ``$40``, ``2x + 3y = 12``, ``x^2``.
    Off by default: it lowered APGR on GSM8K (0.57 -> 0.54) and MMLU; turn it on to send short
    arithmetic up when your traffic is mostly chat."""
    numbers: float = 0.0
    """Added per number in the request beyond the first (quantities to combine). Off by
    default: on GSM8K it ranked worse than length alone."""
    numbers_cap: float = 0.2
    """Upper bound for the numbers contribution."""
    tools: float = 0.3
    """Added when tools are bound: tool use needs a model that follows schemas reliably."""
    structured_output: float = 0.1
    """Added when structured output is requested."""
    length_per_doubling: float = 0.4
    """Added (or, below ``length_base_tokens``, taken away) per doubling of the prompt length."""
    length_base_tokens: int = 32
    """Prompt length (tokens) at which length adds nothing."""
    length_cap: float = 1.0
    """Upper bound the length contribution approaches (smoothly) for long prompts."""
    length_floor: float = 0.25
    """Most that length takes away from short prompts: a terse request may still be hard."""
    center: float = 0.5
    """Raw sum that maps to score 0.5; ``score = (1 + tanh(slope * (raw - center))) / 2``."""
    slope: float = 1.2
    """How sharply the raw sum separates into scores (continuous: few prompts tie)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))

    def __repr__(self) -> str:
        # Hundreds of terms would drown any log line that shows a router.
        sizes = ", ".join(f"{name}: {len(g.terms)} terms" for name, g in self.groups.items())
        return f"SignalSet({{{sizes}}})"

    def extend(self, **terms: Iterable[str]) -> SignalSet:
        """Return a copy with ``terms`` appended to the named existing groups.

        Example: ``DEFAULT_SIGNALS.extend(complex=["durchleuchte"])``.
        """
        self._check_known(terms)
        return self._with_terms({k: (*self.groups[k].terms, *v) for k, v in terms.items()})

    def replace_terms(self, **terms: Iterable[str]) -> SignalSet:
        """Return a copy whose named groups use exactly ``terms`` (weights unchanged)."""
        self._check_known(terms)
        return self._with_terms({k: tuple(v) for k, v in terms.items()})

    def with_group(self, name: str, group: SignalGroup) -> SignalSet:
        """Return a copy with group ``name`` added or replaced."""
        return dataclasses.replace(self, groups={**self.groups, name: group})

    def without(self, *names: str) -> SignalSet:
        """Return a copy without the named groups."""
        self._check_known(dict.fromkeys(names))
        return dataclasses.replace(
            self, groups={k: g for k, g in self.groups.items() if k not in names}
        )

    def _with_terms(self, terms: Mapping[str, tuple[str, ...]]) -> SignalSet:
        groups = {
            name: dataclasses.replace(group, terms=terms.get(name, group.terms))
            for name, group in self.groups.items()
        }
        return dataclasses.replace(self, groups=groups)

    def _check_known(self, names: Iterable[str]) -> None:
        unknown = sorted(set(names) - set(self.groups))
        if unknown:
            msg = (
                f"unknown signal group(s) {unknown}; known groups: {sorted(self.groups)}. "
                "Add a new group with SignalSet.with_group()."
            )
            raise ValueError(msg)


# A "*" swallows the rest of the word before it plus up to two more words; bounded so a
# wildcard term can never scan far or backtrack badly.
_GAP = r"\w*(?:\W+\w+){0,2}\W+"
_NUMBERED_LINE = re.compile(r"^[ \t]*\d{1,2}[.)][ \t]", re.MULTILINE)
_INDENTED_CODE = re.compile(r"^(?: {4}|\t)\S.*\n(?: {4}|\t)\S", re.MULTILINE)
_FORMULA = re.compile(r"\d\s*(?:[%^=*/+\u00d7\u00f7]|-\s*\d)|[$€£]\s?\d|\w\s*[=^]\s*\w|\d!")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*")
# Not ":" -- a type hint ("xs: List[int]") follows one far more often than a task does.
_SENTENCE_END = frozenset(".!?\n")
_POLITE = ("please", "bitte", "kannst du", "können sie", "could you", "can you")


def _opens_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence (optionally after "please"/"bitte")."""
    before = text[:start].rstrip(" \t\"'*-(,")
    for word in _POLITE:
        if before.endswith(word):
            before = before[: -len(word)].rstrip(" \t\"'*-(,")
            break
    return not before or before[-1] in _SENTENCE_END


def _atoms(term: str) -> list[str]:
    """Split a term into regex atoms: escaped characters, whitespace runs, gaps, end marks."""
    exact = term.endswith("$")
    atoms: list[str] = []
    for i, word in enumerate((term[:-1] if exact else term).lstrip("^").split()):
        if word == "*":
            atoms.append(_GAP)
            continue
        if i and atoms[-1] != _GAP:
            atoms.append(r"\s+")
        atoms.extend(map(re.escape, word))
    if exact:
        atoms.append(r"(?!\w)")
    return atoms


_END = ""  # trie key marking "a term ends here"; no atom is empty


def _trie_regex(node: dict[str, Any]) -> str:
    """Render a trie of atoms as a regex; term ``i`` ends in an empty group named ``t<i>``."""
    alternatives = [atom + _trie_regex(child) for atom, child in node.items() if atom != _END]
    if _END in node:
        # Last, so a longer term sharing this prefix is tried first.
        alternatives.append(f"(?P<t{node[_END]}>)")
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


def _compile_trie(terms: Sequence[str]) -> tuple[re.Pattern[str], tuple[int, ...]]:
    """Compile ``terms`` into one trie-shaped regex.

    Returns the pattern and, per capturing group (``match.lastindex - 1``), the index of the
    term that group marks.

    In a flat alternation every one of ~250 terms is tried at each word start; in a trie the
    terms share prefixes, so one branch per letter is tried (measured: about 10% faster than
    a flat alternation here; the per-position cost of the regex engine dominates).
    """
    root: dict[str, Any] = {}
    for index, term in enumerate(terms):
        node = root
        for atom in _atoms(term):
            node = node.setdefault(atom, {})
        node.setdefault(_END, index)  # a duplicate term keeps its first owner
    if not root:
        return re.compile(r"(?!x)x"), ()
    pattern = re.compile(rf"(?<!\w){_trie_regex(root)}")
    # Groups are numbered by position in the pattern, not by term order: read the names back.
    by_group = sorted((number, int(name[1:])) for name, number in pattern.groupindex.items())
    return pattern, tuple(term for _, term in by_group)


class Contribution(NamedTuple):
    """One signal's share of the score (a tuple: created several times per call, cheaply)."""

    name: str
    """Machine name: a group name, ``code_block``, ``multi_part``, ``tools``, ... or ``length``."""
    value: float
    """Signed amount added to the raw score."""
    label: str
    """Human-readable form for the reason, e.g. ``complex[analysier, bewert] (+0.70)``."""


class SignalMatcher:
    """A :class:`SignalSet` compiled for fast, repeated scoring.

    All groups' terms form ONE trie-shaped regex, so a single pass over the text finds every
    group (a pattern per group would rescan the text nine times). Each term ends in its own empty
    capturing group, so ``match.lastindex`` names the term, and through a table its group,
    without re-testing.
    """

    def __init__(self, signals: SignalSet) -> None:
        self.signals = signals
        owners: dict[str, str] = {}
        for name, group in signals.groups.items():
            for term in group.terms:
                owners.setdefault(term, name)  # a term listed twice counts for its first group
        # Longest first, so where two terms match at one position the longer one wins.
        terms = sorted(owners, key=len, reverse=True)
        self._pattern, term_of_group = _compile_trie(terms)
        # Display forms are precomputed: the reason shows "list", not the markers of "^list$".
        self._table = tuple(
            (owners[terms[i]], terms[i].strip("^$"), terms[i].startswith("^"))
            for i in term_of_group
        )
        # The last text scored and what it alone gives (hits, word and text-structure parts):
        # an agent loop resends the same last human turn on every tool round.
        self._last: tuple[str, Mapping[str, list[str]], tuple[Contribution, ...]] | None = None

    def text_signals(self, text: str) -> tuple[Mapping[str, list[str]], tuple[Contribution, ...]]:
        """``find(text)`` and the contributions that depend on the text alone, in order.

        The words' parts, then code blocks, multi-part questions, formulas and numbers;
        remembered for the last text (one tuple, replaced whole: safe across threads).
        """
        last = self._last
        if last is not None and last[0] == text:
            return last[1], last[2]
        hits = self.find(text)
        parts = (*self.words(hits), *self._text_structure(text))
        self._last = (text, hits, parts)
        return hits, parts

    def find(self, text: str) -> dict[str, list[str]]:
        """Distinct matched terms per group name, in order of appearance; ``text`` lower-case."""
        hits: dict[str, list[str]] = {}
        table = self._table
        for match in self._pattern.finditer(text):
            group, term, anchored = table[match.lastindex - 1]  # type: ignore[operator]
            if anchored and not _opens_sentence(text, match.start()):
                continue
            terms = hits.setdefault(group, [])
            if term not in terms:
                terms.append(term)
        return hits

    def words(self, hits: Mapping[str, list[str]]) -> list[Contribution]:
        """Contributions of the word groups in ``hits``."""
        out = []
        groups = self.signals.groups
        for name, terms in hits.items():
            value = groups[name].contribution(len(terms))
            out.append(Contribution(name, value, f"{name}[{', '.join(terms)}] ({value:+.2f})"))
        return out

    def structure(
        self, text: str, *, n_tools: int, structured_output: bool, tokens: float
    ) -> list[Contribution]:
        """Contributions of code blocks, multi-part questions, numbers, tools and length."""
        return self._text_structure(text) + self.request_structure(
            n_tools=n_tools, structured_output=structured_output, tokens=tokens
        )

    def _text_structure(self, text: str) -> list[Contribution]:
        s = self.signals
        out: list[Contribution] = []
        if "```" in text or _INDENTED_CODE.search(text):
            out.append(
                Contribution("code_block", s.code_block, f"code_block ({s.code_block:+.2f})")
            )
        n_parts = max(len(_NUMBERED_LINE.findall(text)), text.count("?"))
        if n_parts >= 2:  # noqa: PLR2004 -- one question is not "multi-part"
            value = min(s.multi_part_cap, s.multi_part * (n_parts - 1))
            out.append(Contribution("multi_part", value, f"multi_part[{n_parts}] ({value:+.2f})"))
        if s.formula and _FORMULA.search(text):
            out.append(Contribution("formula", s.formula, f"formula ({s.formula:+.2f})"))
        n_numbers = len(_NUMBER.findall(text)) if s.numbers else 0
        if n_numbers >= 2:  # noqa: PLR2004 -- one number is not a calculation
            value = min(s.numbers_cap, s.numbers * (n_numbers - 1))
            out.append(Contribution("numbers", value, f"numbers[{n_numbers}] ({value:+.2f})"))
        return out

    def request_structure(
        self, *, n_tools: int, structured_output: bool, tokens: float
    ) -> list[Contribution]:
        """Contributions of tools, structured output and length (not of the text itself)."""
        s = self.signals
        out: list[Contribution] = []
        if n_tools:
            out.append(Contribution("tools", s.tools, f"tools[{n_tools}] ({s.tools:+.2f})"))
        if structured_output:
            value = s.structured_output
            out.append(
                Contribution("structured_output", value, f"structured_output ({value:+.2f})")
            )
        out.append(self.length(tokens))
        return out

    def length(self, tokens: float) -> Contribution:
        """Length on a log scale, signed around ``length_base_tokens``.

        A 4x longer prompt is harder, but not 4x harder; a one-liner is easier than average.
        Continuous in the token estimate, so prompts with the same signals rarely tie.
        """
        s = self.signals
        linear = s.length_per_doubling * math.log2(max(tokens, 1.0) / s.length_base_tokens)
        # Saturate smoothly (tanh) instead of clipping, so very short or very long prompts
        # still differ a little: a clip would make them tie.
        bound = s.length_cap if linear > 0 else s.length_floor
        value = bound * math.tanh(linear / bound) if bound > 0 else 0.0
        return Contribution("length", value, f"length {tokens:.0f} tok ({value:+.2f})")

    def task(self, hits: Mapping[str, list[str]]) -> str | None:
        """Task kind of the strongest (largest absolute contribution) task-bearing group.

        Ties go to the group matched first in the text.
        """
        best: tuple[float, str] | None = None
        groups = self.signals.groups
        for name in hits:
            group = groups[name]
            strength = abs(group.contribution(len(hits[name])))
            if group.task is not None and (best is None or strength > best[0]):
                best = (strength, group.task)
        return best[1] if best else None


# Compiling a signal set takes tens of milliseconds; routers built per request (or copied by
# calibrate) must not pay it each time. Keyed by identity -- a SignalSet holds mappings and is
# not hashable -- with the set itself kept in the value so its id cannot be reused.
_MATCHERS: dict[int, tuple[SignalSet, SignalMatcher]] = {}
_MATCHERS_MAX = 32
_MATCHERS_LOCK = threading.Lock()


def matcher_for(signals: SignalSet) -> SignalMatcher:
    """The compiled matcher of ``signals``, built once per signal set object."""
    entry = _MATCHERS.get(id(signals))
    if entry is not None and entry[0] is signals:
        return entry[1]
    matcher = SignalMatcher(signals)
    with _MATCHERS_LOCK:
        if len(_MATCHERS) >= _MATCHERS_MAX:
            _MATCHERS.pop(next(iter(_MATCHERS)))  # oldest first: dicts keep insertion order
        _MATCHERS[id(signals)] = (signals, matcher)
    return matcher
