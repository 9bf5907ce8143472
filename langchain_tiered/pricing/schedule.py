"""Time-of-day price windows (DeepSeek's off-peak discount), as LiteLLM's map states them.

LiteLLM writes a window as ISO weekdays (1 = Monday) plus ``"HH:MM-HH:MM"`` ranges in UTC, an end
of ``00:00`` meaning midnight; ``weekday_timezone`` says in which zone the weekday is read (the
hours stay UTC). Pure data and one predicate; the clock is the caller's.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["TimeWindow"]

_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DAY_MINUTES = 24 * 60
_MAX_HOUR = 23
_MAX_MINUTE = 59


def _zone(name: str) -> tzinfo:
    # UTC needs no tz database (slim images may lack one); other zones come from zoneinfo.
    return timezone.utc if name.upper() in ("UTC", "Z", "ETC/UTC") else ZoneInfo(name)


def _intervals(text: str) -> tuple[tuple[int, int], ...]:
    match = _RANGE.fullmatch(text.strip())
    if match is None:
        msg = f"time range must look like 'HH:MM-HH:MM' (UTC); got {text!r}"
        raise ValueError(msg)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if max(h1, h2) > _MAX_HOUR or max(m1, m2) > _MAX_MINUTE:
        msg = f"time range {text!r} has an hour above 23 or a minute above 59"
        raise ValueError(msg)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end > start:
        return ((start, end),)
    # Ends at or before its start: runs past midnight ("10:00-00:00", "22:00-02:00").
    return ((start, _DAY_MINUTES), (0, end))


class TimeWindow(BaseModel):
    """Weekdays and UTC hour ranges during which a price applies.

    Attributes:
        weekdays: ISO weekdays (1 = Monday ... 7 = Sunday).
        hours_utc: ``"HH:MM-HH:MM"`` ranges in UTC; ``"00:00-00:00"`` is the whole day and an
            end at or before the start runs to midnight.
        weekday_timezone: IANA zone in which the weekday is read (``"Asia/Shanghai"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    """ISO weekdays (1 = Monday) on which the window is open."""
    hours_utc: tuple[str, ...] = ("00:00-00:00",)
    """``"HH:MM-HH:MM"`` ranges in UTC."""
    weekday_timezone: str = "UTC"
    """Zone in which the weekday is read; the hours are always UTC."""

    @field_validator("weekdays")
    @classmethod
    def _check_weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(day not in range(1, 8) for day in value):
            msg = f"weekdays must be ISO weekday numbers 1 (Monday) to 7; got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("hours_utc")
    @classmethod
    def _check_hours(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            _intervals(text)
        return value

    @field_validator("weekday_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            _zone(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"weekday_timezone {value!r} is not a known IANA time zone"
            raise ValueError(msg) from exc
        return value

    def covers(self, at: datetime) -> bool:
        """Whether the window is open at ``at`` (naive datetimes are read as UTC)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        if at.astimezone(_zone(self.weekday_timezone)).isoweekday() not in self.weekdays:
            return False
        utc = at.astimezone(timezone.utc)
        minute = utc.hour * 60 + utc.minute
        return any(
            start <= minute < end for text in self.hours_utc for start, end in _intervals(text)
        )
