"""Off-hours schedules: `off=(M-F,19);on=(M-F,7);tz=Europe/Berlin`, parsed into a Schedule. Pure: no Django.

Grammar (spaces ignored; keys case-insensitive):

    schedule := part (";" part)*
    part     := "off=" specs | "on=" specs | "tz=" IANA zone
    specs    := spec | "[" spec ("," spec)* "]"
    spec     := "(" days "," time ")"
    days     := item+                  e.g. M-F | S-U | MWF | M-WF | U | *   (a range may wrap: F-M)
    item     := day | day "-" day
    day      := M | T | W | H | F | S | U     (Monday ... Sunday; H is Thursday, U is Sunday; `*` = every day)
    time     := H | HH | HH:MM         24-hour local time

`off` is required; `on` is optional (without it nothing is started again: resources stay off until someone starts
them); `tz` defaults to UTC. Examples: `off=[(M-F,21),(U,18)];on=(M-F,7);tz=Europe/Berlin`.

Decisions:
- A schedule is a list of wall-clock events in its zone; the state at a moment is the state of the last event at or
  before it. All comparisons are made in UTC.
- DST, spring: a local time in the skipped hour happens at the first valid instant after the gap (in Europe/Berlin
  `02:30` on the last Sunday of March is 03:00 CEST = 01:00 UTC). Autumn: a repeated local time means its first
  occurrence (Berlin `02:30` on the last Sunday of October is 02:30 CEST = 00:30 UTC). So every listed day has
  exactly one event per spec, and a day's events keep their order.
- An off and an on at the same day and time is refused (which would win is a guess).
- Moments must be timezone-aware; a naive datetime is a ValueError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_LETTERS = "MTWHFSU"  # index = date.weekday()
OFF, ON = "off", "on"
_SPEC = re.compile(r"\(([^(),]*),([^(),]*)\)")
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
EXAMPLE = "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin"


class ScheduleError(ValueError):
    """A schedule that does not parse; the message says what is wrong and shows an example."""


@dataclass(frozen=True)
class Transition:
    at: datetime  # UTC
    state: str  # "off" | "on"


@dataclass(frozen=True)
class Event:
    days: frozenset[int]
    at: time
    state: str


@dataclass(frozen=True)
class Schedule:
    events: tuple[Event, ...]
    zone: ZoneInfo
    text: str

    def _instants(self, around: datetime, days_back: int = 8, days_ahead: int = 8) -> list[Transition]:
        local_day = around.astimezone(self.zone).date()
        found = []
        for offset in range(-days_back, days_ahead + 1):
            day = local_day + timedelta(days=offset)
            for event in self.events:
                if day.weekday() in event.days:
                    found.append(Transition(local_instant(day, event.at, self.zone), event.state))
        return sorted(found, key=lambda transition: (transition.at, transition.state == ON))

    def last_transition(self, at: datetime) -> Transition:
        """The latest transition at or before `at` (aware)."""
        at = _aware(at).astimezone(UTC)
        return [transition for transition in self._instants(at) if transition.at <= at][-1]

    def next_transition(self, at: datetime) -> Transition:
        """The first transition strictly after `at` (aware)."""
        at = _aware(at).astimezone(UTC)
        return next(transition for transition in self._instants(at) if transition.at > at)

    def state_at(self, at: datetime) -> str:
        """ "off" or "on" at `at`: the state of the last transition at or before it."""
        return self.last_transition(at).state

    def transitions_between(self, start: datetime, end: datetime) -> list[Transition]:
        """Every transition in (start, end]."""
        start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        found: list[Transition] = []
        cursor = start
        while True:
            transition = self.next_transition(cursor)
            if transition.at > end:
                return found
            found.append(transition)
            cursor = transition.at

    def __str__(self) -> str:
        return self.text


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant the local clock of `zone` shows `wall` on `day`: the first occurrence of a repeated time,
    the first valid instant after the gap for a skipped one."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # Skipped: fold=1 reads the wall time with the offset after the change, fold=0 with the one before; the change
    # lies between them. Find the first instant whose local time is at or past `wall` (minute precision is exact:
    # zones change on whole minutes).
    low, high = sorted((naive.replace(tzinfo=zone, fold=1).astimezone(UTC), first))
    minutes = int((high - low).total_seconds() // 60)
    lo, hi = 0, minutes  # invariant: local(low + hi minutes) >= wall
    while lo < hi:
        middle = (lo + hi) // 2
        if (low + timedelta(minutes=middle)).astimezone(zone).replace(tzinfo=None) >= naive:
            hi = middle
        else:
            lo = middle + 1
    return low + timedelta(minutes=lo)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime (UTC).")
    return moment


def _days(value: str, text: str) -> frozenset[int]:
    value = value.strip().upper()
    if value == "*":
        return frozenset(range(7))
    if not value:
        raise ScheduleError(f"'{text}' has a spec without days: use letters M T W H F S U, e.g. (M-F,19).")
    days: set[int] = set()
    index = 0
    while index < len(value):
        letter = value[index]
        if letter not in DAY_LETTERS:
            raise ScheduleError(
                f"'{letter}' in '{text}' is not a day: use M T W H F S U (H = Thursday, U = Sunday), "
                "ranges like M-F and lists like MWF."
            )
        start = DAY_LETTERS.index(letter)
        if index + 1 < len(value) and value[index + 1] == "-":
            if index + 2 >= len(value) or value[index + 2] not in DAY_LETTERS:
                raise ScheduleError(f"'{value}' in '{text}' has a range without an end day (write e.g. M-F).")
            stop = DAY_LETTERS.index(value[index + 2])
            day = start
            while True:
                days.add(day)
                if day == stop:
                    break
                day = (day + 1) % 7
            index += 3
        else:
            days.add(start)
            index += 1
    return frozenset(days)


def _time(value: str, text: str) -> time:
    match = _TIME.match(value.strip())
    if not match:
        raise ScheduleError(f"'{value.strip()}' in '{text}' is not a time: use an hour (19) or HH:MM (19:30).")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise ScheduleError(f"'{value.strip()}' in '{text}' is not a time of day (0 to 23:59).")
    return time(hour, minute)


def _specs(value: str, state: str, text: str) -> list[Event]:
    body = value
    if body.startswith("["):
        if not body.endswith("]"):
            raise ScheduleError(f"'{state}=' in '{text}' opens a list with [ but does not close it with ].")
        body = body[1:-1]
    found = list(_SPEC.finditer(body))
    leftover = _SPEC.sub("", body).replace(",", "")
    if not found or leftover:
        raise ScheduleError(
            f"'{state}={value}' in '{text}' is not a list of (days,time) specs: write e.g. {state}=(M-F,19) or "
            f"{state}=[(M-F,21),(U,18)]."
        )
    return [Event(_days(match.group(1), text), _time(match.group(2), text), state) for match in found]


def parse_schedule(text: str) -> Schedule:
    """`off=(M-F,19);on=(M-F,7);tz=Europe/Berlin` -> Schedule; a ScheduleError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(f"The schedule is empty: write e.g. '{EXAMPLE}'.")
    compact = re.sub(r"\s+", "", text)
    events: list[Event] = []
    zone: ZoneInfo | None = None
    seen: set[str] = set()
    for part in compact.split(";"):
        if not part:
            continue
        key, separator, value = part.partition("=")
        key = key.lower()
        if not separator or key not in (OFF, ON, "tz"):
            raise ScheduleError(f"'{part}' in '{text}' is not off=..., on=... or tz=...: write e.g. '{EXAMPLE}'.")
        if key in seen:
            raise ScheduleError(f"'{text}' gives {key}= twice; put several times in one list: {key}=[(...),(...)].")
        seen.add(key)
        if key == "tz":
            try:
                zone = ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ScheduleError(
                    f"'{value}' in '{text}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)."
                ) from None
        else:
            events += _specs(value, key, text)
    if OFF not in seen:
        raise ScheduleError(f"'{text}' has no off=...: say when resources go off, e.g. '{EXAMPLE}'.")
    for off in (event for event in events if event.state == OFF):
        for on in (event for event in events if event.state == ON):
            clash = off.days & on.days
            if clash and off.at == on.at:
                day = DAY_LETTERS[min(clash)]
                raise ScheduleError(f"'{text}' turns off and on at the same time ({day} {off.at:%H:%M}).")
    return Schedule(events=tuple(events), zone=zone or ZoneInfo("UTC"), text=text.strip())
