"""Which messages a call resends unchanged: checked once per call, read by router and counter.

An agent loop resends the same message objects plus new ones every turn. The router's running
text length (``RouteRequest.text_length``) and the token memo (``TokenCounter``) both reuse
their work for that unchanged prefix. Checking it (same objects, same contents) costs ~10 us at
400 messages, so the chat model does it once per call (``follow``) and hands the resulting
``Conversation`` to both; either falls back to its own check when the record it kept is not
the one this call's conversation follows.

Imports nothing of ours.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

__all__ = ["EMPTY", "Conversation", "follow", "prefix_length"]

_CONTENT = operator.attrgetter("content")  # a declared field: plain __dict__ access


class Conversation:
    """One call's messages and their contents, and how much of the previous call it resends.

    Attributes:
        messages: The call's messages.
        contents: Each message's content when the call was made (an in-place reassignment
            of a sent message's content is noticed by the next call).
        previous: The conversation this one was compared with (``None`` once superseded,
            so the chain never grows: a consumer that kept an older record checks itself).
        reused: How many leading messages are the previous conversation's, unchanged.
    """

    __slots__ = ("contents", "messages", "previous", "reused")

    def __init__(
        self,
        messages: tuple[BaseMessage, ...],
        contents: tuple[Any, ...],
        previous: Conversation | None,
        reused: int,
    ) -> None:
        self.messages = messages
        self.contents = contents
        self.previous = previous
        self.reused = reused


EMPTY = Conversation((), (), None, 0)


def _leading_run(same: Any, new: Sequence[Any], old: Sequence[Any]) -> int:
    matches = list(map(same, new, old))
    return matches.index(False) if False in matches else len(matches)


def prefix_length(
    messages: Sequence[BaseMessage], old_messages: tuple[Any, ...], old_contents: tuple[Any, ...]
) -> int:
    """How many leading ``messages`` are ``old_messages`` (same objects), contents unchanged.

    The whole-prefix comparison runs in C (identity short-circuits each element); only a
    mismatch walks the prefix element by element.
    """
    head = tuple(messages[: len(old_messages)])
    size = len(head)
    if head == old_messages[:size] and tuple(map(_CONTENT, head)) == old_contents[:size]:
        return size
    reused = _leading_run(operator.is_, head, old_messages)
    return _leading_run(operator.eq, tuple(map(_CONTENT, head[:reused])), old_contents)


def follow(previous: Conversation, messages: Sequence[BaseMessage]) -> Conversation:
    """The conversation of a call sending ``messages`` after ``previous``."""
    sent = tuple(messages)
    reused = prefix_length(sent, previous.messages, previous.contents)
    contents = previous.contents[:reused] + tuple(map(_CONTENT, sent[reused:]))
    previous.previous = None  # keep one step only: older records are never compared with
    return Conversation(sent, contents, previous, reused)
