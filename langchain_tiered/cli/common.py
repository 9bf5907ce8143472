"""Shared pieces of the command line: the usage error, the console and JSONL prompt files.

Only click is imported at module level (the CLI cannot run without it); rich is imported when a
console is first made, so ``langchain-tiered --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "CliError",
    "PromptFile",
    "PromptItem",
    "excerpt",
    "make_console",
    "read_prompts",
    "read_text",
]

_WIDE = 150  # columns used when stdout is not a terminal (pipes, CliRunner): tables stay legible
_ROLES = frozenset({"system", "user", "human", "assistant", "ai"})


class CliError(click.ClickException):
    """Bad input (missing file, malformed config, unknown tier): one line on stderr, exit 2.

    Exit code 2 is what click itself uses for usage errors, so scripts can tell "you called it
    wrong" (2) from "it ran and failed" (1).
    """

    exit_code = 2


def make_console(*, stderr: bool = False) -> Console:
    """A rich console on the *current* ``sys.stdout``/``sys.stderr`` (CliRunner swaps them)."""
    from rich.console import Console  # noqa: PLC0415 - keep `--help` light

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _WIDE
    return Console(file=stream, width=width, soft_wrap=False, highlight=False)


def excerpt(text: str, limit: int = 48) -> str:
    """One line of at most ``limit`` characters, with an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class PromptItem:
    """One usable line of a prompt file.

    Attributes:
        line: 1-based line number in the file.
        id: The line's ``id`` (default: ``"line-<n>"``, for display only).
        input: A string, or a list of ``(role, content)`` pairs.
        text: The last user text, for tables.
        metadata: Extra call metadata (``budget_key``, ``tier``).
        max_tokens: The line's own output cap, if any.
        explicit_id: Whether the line gave its own ``id``; lines without one are matched on
            resume by their content, never by their line number.
    """

    line: int
    id: str
    input: str | list[tuple[str, str]]
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    max_tokens: int | None = None
    explicit_id: bool = False


@dataclass(frozen=True)
class PromptFile:
    """The usable items of a prompt file and the lines that were skipped (never dropped silently).

    Attributes:
        path: The file read.
        items: Usable items, in file order.
        skipped: ``(line number, reason)`` of every malformed line.
    """

    path: Path
    items: list[PromptItem]
    skipped: list[tuple[int, str]]


def read_text(path: Path, what: str) -> str:
    """A UTF-8 text file's content.

    Args:
        path: The file.
        what: What the file is, for the message (``"config"``, ``"prompt file"``).

    Raises:
        CliError: Missing, unreadable (a directory, no permission) or not UTF-8.
    """
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        msg = (
            f"{what} {path} is not UTF-8 text (byte 0x{bad} at offset {exc.start}); "
            "save it as UTF-8"
        )
        raise CliError(msg) from None
    except OSError as exc:
        msg = f"cannot read {what} {path}: {exc.strerror or exc}"
        raise CliError(msg) from None


def read_prompts(path: Path) -> PromptFile:
    """Read a JSONL prompt file, reporting each malformed line on stderr and skipping it.

    A line is a JSON string (the prompt) or an object with ``prompt`` (a string) or
    ``messages`` (a list of ``{"role", "content"}``), and optionally ``id``, ``tier``,
    ``budget_key``, ``metadata`` and ``max_tokens``. Blank lines and lines starting with ``#``
    are ignored.

    Raises:
        CliError: The file is missing, unreadable or not UTF-8, or holds no usable line at all.
    """
    lines = read_text(path, "prompt file").splitlines()
    items: list[PromptItem] = []
    skipped: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            items.append(_parse_line(number, raw))
        except ValueError as exc:
            skipped.append((number, str(exc)))
            click.echo(f"{path.name}:{number}: skipped: {exc}", err=True)
    if not items:
        msg = f"{path}: no usable prompt lines ({len(skipped)} malformed)"
        raise CliError(msg)
    return PromptFile(path, items, skipped)


def _parse_line(number: int, raw: str) -> PromptItem:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON ({exc.msg} at column {exc.colno})"
        raise ValueError(msg) from None
    if isinstance(data, str):
        data = {"prompt": data}
    if not isinstance(data, Mapping):
        msg = f"expected a JSON string or object, got {type(data).__name__}"
        raise ValueError(msg)
    prompt_input, text = _prompt_of(data)
    metadata = dict(data.get("metadata") or {})
    for key in ("tier", "budget_key"):
        if isinstance(data.get(key), str):
            metadata[key] = data[key]
    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 0):
        msg = f"max_tokens must be a positive integer, got {max_tokens!r}"
        raise ValueError(msg)
    item_id = data.get("id")
    if item_id is None:
        return PromptItem(number, f"line-{number}", prompt_input, text, metadata, max_tokens)
    return PromptItem(number, str(item_id), prompt_input, text, metadata, max_tokens, True)


def _prompt_of(data: Mapping[str, Any]) -> tuple[str | list[tuple[str, str]], str]:
    prompt = data.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt, prompt
    messages = data.get("messages")
    if isinstance(messages, list) and messages:
        pairs = [_pair(m) for m in messages]
        users = [c for r, c in pairs if r in ("user", "human")]
        return pairs, users[-1] if users else pairs[-1][1]
    msg = "needs a non-empty 'prompt' string or a 'messages' list"
    raise ValueError(msg)


def _pair(message: Any) -> tuple[str, str]:
    if (
        isinstance(message, Mapping)
        and message.get("role") in _ROLES
        and isinstance(message.get("content"), str)
    ):
        return str(message["role"]), str(message["content"])
    msg = "each message needs a role (system/user/assistant) and a string content"
    raise ValueError(msg)
