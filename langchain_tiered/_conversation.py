"""Which messages a call resends unchanged: checked once per call, read by router and counter.

An agent loop resends the same message objects plus new ones every turn. The router's running
text length (``RouteRequest.text_length``) and the token memo (``TokenCounter``) both reuse
their work for that unchanged prefix. The chat model compares the prefix once per call
(``follow``) and hands the resulting ``Conversation`` to both; either falls back to its own
check when the record it kept is not the one this call's conversation follows.

Two depths of check:

- identity (``verify=False``): the same message objects in the same places, one C-level tuple
  comparison (~2 ns a message). Used when nothing the call pays for rests on exact counts.
- content (``verify=True``): also that no resent message had its ``content`` reassigned in
  place, read from each message's kept ``__dict__`` (~20 ns a message). Used when a budget, a
  ``max_cost_per_call`` or a token rate limit weighs the count, and by ``verified`` before a
  count is acted on otherwise (a tier skipped for its context window, a dry run).

Imports nothing of ours.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

__all__ = ["EMPTY", "Conversation", "follow", "prefix_length", "verified"]

_CONTENT = operator.attrgetter("content")  # a declared field: plain __dict__ access
_CONTENT_ITEM = operator.itemgetter("content")


class _Live:
    """Reads ``content`` through the message where its ``__dict__`` may be replaced."""

    __slots__ = ("message",)

    def __init__(self, message: BaseMessage) -> None:
        self.message = message

    def __getitem__(self, key: str) -> Any:
        return getattr(self.message, key)


def _fields(message: BaseMessage) -> Any:
    """Where ``message.content`` is read from on later calls, taken once per message.

    A message's attributes live in its ``__dict__``, which an assignment
    (``message.content = ...``) updates in place; reading ``content`` from that dict costs
    about a third of an attribute read, which goes through pydantic's ``__getattr__`` hook.
    Models that validate assignment get a new ``__dict__`` on each assignment, so they are
    read through the message itself.
    """
    cls = type(message)
    direct = _DIRECT.get(cls)
    if direct is None:
        config = getattr(cls, "model_config", None) or {}
        direct = _DIRECT[cls] = not config.get("validate_assignment")
    fields = message.__dict__ if direct else None
    return fields if fields.__class__ is dict and "content" in fields else _Live(message)


_DIRECT: dict[type, bool] = {}  # message class -> its __dict__ stays the same object


class Conversation:
    """One call's messages and their contents, and how much of the previous call it resends.

    Attributes:
        messages: The call's messages.
        contents: Each message's content when the call was made (an in-place reassignment
            of a sent message's content is noticed by the next call).
        fields: Each message's ``__dict__`` (or a reader standing in for it), from which the
            next call reads the contents it compares.
        previous: The conversation this one was compared with (``None`` once superseded,
            so the chain never grows: a consumer that kept an older record checks itself).
        reused: How many leading messages are the previous conversation's, unchanged.
        verified: Whether ``reused`` was checked against the messages' current contents
            (``follow(..., verify=False)`` compares identity only).
    """

    __slots__ = ("contents", "fields", "messages", "previous", "reused", "verified")

    def __init__(
        self,
        messages: tuple[BaseMessage, ...],
        contents: tuple[Any, ...],
        previous: Conversation | None,
        reused: int,
        fields: tuple[Any, ...] = (),
    ) -> None:
        self.messages = messages
        self.contents = contents
        self.previous = previous
        self.reused = reused
        self.fields = fields
        self.verified = True


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


def _kept_prefix(sent: tuple[BaseMessage, ...], previous: Conversation, *, verify: bool) -> int:
    """How many leading ``sent`` messages are ``previous``'s, read from the kept ``fields``.

    Without ``verify`` only identity is compared: a resent message whose ``content`` was
    reassigned in place keeps its old record until a verified call notices it.
    """
    old_messages, old_contents, old_fields = previous.messages, previous.contents, previous.fields
    size = min(len(sent), len(old_messages))
    if not size or sent[0] is not old_messages[0]:  # a new conversation (or a string prompt)
        return 0
    if len(old_fields) != len(old_messages):  # a record built without fields
        return prefix_length(sent, old_messages, old_contents)
    if sent[:size] == old_messages[:size]:  # same objects (identity short-circuits in C)
        reused = size
    else:
        reused = _leading_run(operator.is_, sent[:size], old_messages)
    if not verify:
        return reused
    now = tuple(map(_CONTENT_ITEM, old_fields[:reused]))
    if now == old_contents[:reused]:
        return reused
    return _leading_run(operator.eq, now, old_contents)


def follow(
    previous: Conversation, messages: Sequence[BaseMessage], *, verify: bool = True
) -> Conversation:
    """The conversation of a call sending ``messages`` after ``previous``.

    Args:
        previous: The last call's conversation.
        messages: This call's messages.
        verify: Also check that no resent message had its ``content`` reassigned (one read
            per message). Without it the record of a resent message is trusted on identity
            alone, and the conversation says so (``verified`` is false): callers whose
            decision rests on exact counts verify it first (``verified``).
    """
    sent = tuple(messages)
    reused = _kept_prefix(sent, previous, verify=verify)
    new = sent[reused:]
    contents, fields = previous.contents[:reused], previous.fields[:reused]  # no copy if whole
    if new:
        contents += tuple(map(_CONTENT, new))
        fields += tuple(map(_fields, new))
    previous.previous = None  # keep one step only: older records are never compared with
    conversation = Conversation(sent, contents, previous, reused, fields)
    if not verify and reused:
        conversation.verified = False
    return conversation


def verified(conversation: Conversation) -> Conversation:
    """``conversation`` itself if verified, else the same call's messages checked in full.

    The result follows the same previous record when it is still kept (so the token memo
    and the router reuse what is unchanged), else none: everything is counted anew.
    """
    if conversation.verified:
        return conversation
    previous = conversation.previous
    if previous is None:  # superseded by a concurrent call: compare with nothing
        previous = Conversation((), (), None, 0)
    checked = follow(previous, conversation.messages)
    if checked.reused == conversation.reused:  # nothing was reassigned: the first is right
        conversation.verified = True
        return conversation
    return checked
