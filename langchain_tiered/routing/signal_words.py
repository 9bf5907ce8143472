"""The built-in English and German word groups of :data:`DEFAULT_SIGNALS` (data, no logic).

How the weights were chosen: RouteLLM's GSM8K/MMLU labels, the arena-hard judge labels and
130 English and German chat prompts written for this package (``data/chat_*.jsonl``), all
measured with :func:`~langchain_tiered.routing.evaluate_router` (``benchmarks/routing_quality.py``).
The rules the lists follow, so they carry over to prompts we never saw:

* task words fire on the *task*, not the topic: verbs and phrases ("design a", "justify your",
  "^list"), never bare nouns ("plan", "design", "strategies", ``List[int]``);
* math, reasoning and code are what a cheap model gets wrong most (MT-Bench, RouteLLM): they
  weigh most; lookups, translation, classification, extraction, role play and short creative
  writing are what it does as well: they pull the score down;
* several words of one group add with diminishing returns; length does the rest.
"""

from __future__ import annotations

from langchain_tiered.routing.signals import SignalGroup, SignalSet

__all__ = ["DEFAULT_SIGNALS"]

_MATH = SignalGroup(
    weight=0.8,
    repeat_weight=0.0,  # word problems repeat math words; more of them is not harder
    task="analysis",
    terms=(
        "calculat", "compute", "solve", "equation", "how much", "how many", "how far",
        "how long will", "how long does", "what time", "probabilit", "percent", "%",
        "integral", "derivative", "differentiate", "sum of", "average", "ratio", "fraction",
        "remainder", "divisible", "prime$", "primes$", "factorial", "interest", "km/h", "mph",
        "per hour", "expected value", "triangle", "circle", "radius", "area of", "volume of",
        "perimeter", "polynomial", "matrix", "logarithm", "square root", "digits",
        "arithmetic", "algebra", "geometry", "statistic", "estimate", "maximize", "minimize",
        "smallest", "largest", "such that", "at least", "at most", "add up to", "how old is",
        # German: the stems cover the inflections (berechne, berechnen, Wahrscheinlichkeiten).
        "berechne", "rechne", "löse", "gleichung", "wie viel", "wie weit", "wie lange",
        "wie groß", "wahrscheinlichkeit", "prozent", "ableitung", "integral", "summe",
        "durchschnitt", "verhältnis", "teilbar", "primzahl", "zinseszins", "zinsen", "dreieck",
        "kreis", "fläche", "volumen", "umfang", "extremstelle", "nullstelle", "wurzel",
        "logarithmus", "möglichkeiten", "schätze", "statistik", "mathemati", "kleinste",
        "größte", "mindestens", "höchstens", "sodass", "so dass",
    ),
)  # fmt: skip

_REASONING = SignalGroup(
    weight=0.8,
    repeat_weight=0.05,
    task="analysis",
    terms=(
        "riddle", "puzzle", "logic", "deduce", "deduct", "infer", "does it follow",
        "follows that", "think carefully", "think it through", "reasoning", "syllogism",
        "paradox", "fallacy", "taller than", "shorter than", "older than", "younger than",
        "heavier than", "faster than", "if all", "if every", "if it", "suppose", "assume",
        "premise", "conclusion", "valid", "contradict", "hypothetical", "morally", "scenario",
        "dilemma", "brothers", "sisters", "siblings", "seats", "sits", "arrangement",
        "which of the following", "justify your", "justify each", "justify every",
        "explain your reasoning", "true or false", "which is heavier", "how do you",
        "how can you", "what is the minimum", "trick question",
        "rätsel", "logik", "logisch", "folgt daraus", "schlussfolger", "schließe", "begründe$",
        "begründen", "begründet", "denke * nach", "älter als", "jünger als", "größer als",
        "kleiner als", "schwerer als", "schneller als", "angenommen", "wenn alle", "wenn jeder",
        "wenn gestern", "prämisse", "geschwister", "brüder", "schwestern", "anordnung",
        "reihenfolge", "widerspruch", "moralisch", "dilemma", "szenario", "wie findest du",
        "wie schafft", "wie kann man", "fangfrage",
    ),
)  # fmt: skip

_CODE = SignalGroup(
    weight=0.7,
    repeat_weight=0.12,
    task="code",
    terms=(
        "write * function", "write * code", "write * script", "write * program",
        "write * class", "write * query", "write * regex", "write * unit test", "implement",
        "refactor", "debug", "fix * bug", "code review", "unit test", "python", "javascript",
        "typescript", "java$", "c++", "c#", "rust$", "golang", "go program", "sql", "bash",
        "shell script", "regex", "react", "docker", "kubernetes", "api$", "apis$", "endpoint",
        "algorithm", "function", "method", "compile", "exception", "stack trace",
        "traceback", "bug", "crash", "segfault", "recursion", "complexity", "o(n", "big-o",
        "git$", "html", "css$", "snippet", "program", "script", "code", "coding", "goroutine",
        "useeffect", "promise", "async", "thread", "database", "query",
        "schreib * funktion", "schreib * code", "schreib * skript", "schreib * programm",
        "schreib * klasse", "schreib * abfrage", "schreib * test", "programmier", "refaktor",
        "implementier", "funktion", "skript", "abfrage", "datenbank", "container",
    ),
)  # fmt: skip

_COMPLEX = SignalGroup(
    weight=0.45,
    repeat_weight=0.12,
    task="analysis",
    terms=(
        # English: analysis, evaluation, multi-step work, proof, planning as verbs.
        "analy", "evaluat", "assess", "step by step", "step-by-step", "multi-step", "multistep",
        "multi-stage", "prove$", "proves$", "proof", "design a", "design an", "plan a",
        "plan an", "plan the", "develop a strategy", "devise", "trade-off", "tradeoff",
        "trade off", "critique", "critically", "in depth", "in-depth", "thorough",
        "pros and cons", "weigh", "optimi", "derive", "root cause", "investigat", "diagnos",
        "discuss",
        # German: verbs and adjectives, not the nouns (Bewertung, Strategie, Konzept).
        "analysier", "bewerte$", "bewerten", "mehrstufig", "schritt für schritt",
        "schrittweise", "entwickle * strategie", "beweise$", "beweisen", "entwirf",
        "entwerf", "abwäg", "vor- und nachteil", "kritisch", "untersuch", "herleit",
        "leite * her", "optimier", "ausführlich", "detailliert", "tiefgehend", "gründlich",
        "beurteil", "einschätz", "diskutier", "erörter",
    ),
)  # fmt: skip

_EXPLAIN = SignalGroup(
    weight=0.55,
    repeat_weight=0.1,
    max_repeats=2,
    task="explain",
    terms=(
        "explain", "compare", "comparison", "difference", "why", "how does", "how do",
        "how is", "how can", "describe", "what happens", "advantages", "disadvantages",
        "erklär", "vergleich", "unterschied", "unterscheid", "warum", "wieso", "weshalb",
        "wie funktioniert", "wie funktionieren", "beschreib", "was passiert", "vorteil",
        "nachteil", "inwiefern",
    ),
)  # fmt: skip

_SUMMARIZE = SignalGroup(
    weight=0.15,
    repeat_weight=0.05,
    max_repeats=1,
    task="summarize",
    terms=(
        "summar", "tldr", "condense", "recap", "key points", "main points", "overview",
        "zusammenfass", "fasse * zusammen",
        # Separable verb: "Fasse den folgenden Text kurz zusammen" puts the particle far away.
        "fasse$", "fassen sie", "kernpunkt", "kernaussage", "das wichtigste",
        "überblick",
    ),
)  # fmt: skip

# The cheap task families share a weight but stay separate groups so the router can tell
# which output cap fits (a yes/no label needs far fewer tokens than a translation).
_TRANSLATE = SignalGroup(
    weight=-0.4,
    task="translate",
    terms=(
        "translat", "übersetz", "auf deutsch", "auf englisch", "into english", "into german",
        "ins deutsche", "ins englische",
    ),
)  # fmt: skip

_CLASSIFY = SignalGroup(
    weight=-0.35,
    task="classify",
    terms=(
        "classif", "categori", "klassifizier", "kategorisier", "yes or no", "ja oder nein",
        "wahr oder falsch", "sentiment", "positive or negative", "positiv oder negativ",
        "which category", "welche kategorie",
    ),
)  # fmt: skip

# Imperatives only ("^"): "List the capitals", not List[int] or "my reading list".
_LIST = SignalGroup(
    weight=-0.35,
    task="list",
    terms=(
        "^list", "^liste", "^enumerat", "^name$", "^nenn", "zähl * auf", "^zähle$", "aufzähl",
        "auflist", "^give me * names", "^give me * ideas", "^gib mir * namen",
    ),
)  # fmt: skip

_LOOKUP = SignalGroup(
    weight=-0.35,
    task="lookup",
    terms=(
        "what is the capital", "what's the capital", "capital of", "who wrote", "who was",
        "who is", "when was", "when did", "how old", "what does * mean", "look up",
        "definition of", "hauptstadt von", "was ist die hauptstadt", "wie heißt",
        "wie heisst", "wer ist", "wer war", "wer hat", "wann war", "wann wurde", "wie alt",
        "was bedeutet", "^what is a", "^what is an", "^was ist ein",
    ),
)  # fmt: skip

_EXTRACT = SignalGroup(
    weight=-0.3,
    task="list",
    terms=(
        "extract", "extrahier", "pull out", "find all", "finde alle", "as json", "als json",
        "to json", "in json", "identify the", "main topic", "hauptthema", "welche personen",
        "which people",
    ),
)  # fmt: skip

_CREATIVE = SignalGroup(
    weight=-0.3,
    terms=(
        "poem", "haiku", "limerick", "story", "email", "e-mail", "letter to", "birthday",
        "congratulat", "slogan", "product description", "catchy", "rewrite", "rephrase",
        "sound more", "blog post", "gedicht", "geschichte", "glückwunsch", "brief an",
        "werbetext", "formuliere", "umformulier", "reim", "slogan",
    ),
)  # fmt: skip

_ROLEPLAY = SignalGroup(
    weight=-0.4,
    terms=(
        "pretend", "act as", "^you are", "imagine you are", "^play a", "^play the",
        "role-play", "roleplay", "respond as", "answer as", "^be my", "in character",
        "tu so", "^spiel", "^sei ein", "^sei mein", "^du bist", "antworte wie", "rollenspiel",
    ),
)  # fmt: skip

_BREVITY = SignalGroup(
    weight=-0.15,
    terms=(
        "briefly", "brief$", "in * sentence", "one sentence", "in * word", "concise",
        "short answer", "keep it short", "in a nutshell", "tl;dr",
        "in * sätze", "in * satz", "in * wort", "in * wörter", "kurz$", "kurze$", "kurzen$",
        "knapp", "in kürze", "stichpunktartig", "höchstens * wörter",
    ),
)  # fmt: skip

DEFAULT_SIGNALS = SignalSet(
    groups={
        "math": _MATH,
        "reasoning": _REASONING,
        "code": _CODE,
        "complex": _COMPLEX,
        "explain": _EXPLAIN,
        "summarize": _SUMMARIZE,
        "translate": _TRANSLATE,
        "classify": _CLASSIFY,
        "list": _LIST,
        "lookup": _LOOKUP,
        "extract": _EXTRACT,
        "creative": _CREATIVE,
        "roleplay": _ROLEPLAY,
        "brevity": _BREVITY,
    }
)
"""The built-in English and German signals. Extend a copy, e.g.
``ComplexityRouter(signals=DEFAULT_SIGNALS.extend(complex=["durchleucht"]))``."""
