"""Maintenance windows: a team setting such as `Sun 02:00-04:00 Europe/Berlin`, parsed into a MaintenanceWindow.

Grammar (case-insensitive day names, single spaces or more between the three parts):

    window := days " " HH:MM "-" HH:MM " " zone
    days   := item ("," item)*          e.g. Sun | Sat,Sun | Mon-Fri | Mon-Fri,Sun | Fri-Mon | Daily
    item   := day | day "-" day         a range may wrap around the week (Fri-Mon = Fri, Sat, Sun, Mon)
    day    := Mon | Tue | Wed | Thu | Fri | Sat | Sun
    zone   := an IANA time zone name (Europe/Berlin, UTC, America/New_York), read through zoneinfo

Decisions:
- The days name the day the window *starts* on, in the zone's local calendar. An end at or before the
  start crosses midnight: `Sat 23:00-01:00 UTC` runs from Saturday 23:00 to Sunday 01:00. `24:00` is
  accepted as an end (midnight). A start equal to the end is refused (an empty or 24-hour window is
  more likely a typo than a wish).
- Wall-clock times, DST-correct: a window opens when the local clock first shows its start and closes
  when the local clock shows its end. On the spring change a start inside the skipped hour opens the
  window at the change (in Europe/Berlin `Sun 02:00-04:00` on the last Sunday of March lasts one real
  hour); on the autumn change an ambiguous time means its first occurrence (the same window lasts three
  real hours). All comparisons are made in UTC, never between local wall times.
- Moments must be timezone-aware; a naive datetime is a ValueError rather than a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class MaintenanceWindow:
    days: frozenset[int]  # 0 = Monday, as date.weekday()
    start: time
    end: time  # time(0) with `crosses_midnight` for an end of 24:00
    zone: ZoneInfo
    text: str

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        """(open, close) in UTC of the window that starts on local `day` (whether or not `day` is listed)."""
        opens = datetime.combine(day, self.start, tzinfo=self.zone)
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        closes = datetime.combine(end_day, self.end, tzinfo=self.zone)
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` (aware) falls in a window: open <= moment < close."""
        moment = _aware(moment).astimezone(UTC)
        local_day = moment.astimezone(self.zone).date()
        for day in (local_day - timedelta(days=1), local_day):
            if day.weekday() in self.days:
                opens, closes = self._bounds(day)
                if opens <= moment < closes:
                    return True
        return False

    def next_start(self, after: datetime) -> datetime:
        """The first time (UTC) a window opens strictly after `after` (aware)."""
        after = _aware(after).astimezone(UTC)
        local_day = after.astimezone(self.zone).date()
        for offset in range(-1, 9):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                opens, _closes = self._bounds(day)
                if opens > after:
                    return opens
        raise AssertionError("a window with at least one day opens within 8 days")  # pragma: no cover

    def current_or_next_start(self, moment: datetime) -> datetime:
        """When the window open at `moment` opened, or the next one's start when none is open."""
        moment = _aware(moment).astimezone(UTC)
        local_day = moment.astimezone(self.zone).date()
        for day in (local_day - timedelta(days=1), local_day):
            if day.weekday() in self.days:
                opens, closes = self._bounds(day)
                if opens <= moment < closes:
                    return opens
        return self.next_start(moment)

    def __str__(self) -> str:
        return self.text


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime (UTC).")
    return moment


_LONG = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(name: str, text: str) -> int:
    lowered = name.lower()
    if lowered in DAYS:
        return DAYS.index(lowered)
    if lowered in _LONG:
        return _LONG.index(lowered)
    raise ValueError(
        f"'{name}' in '{text}' is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun (ranges like Mon-Fri, "
        "lists like Sat,Sun)."
    )


def _days(value: str, text: str) -> frozenset[int]:
    if value.lower() in ("daily", "every", "*"):
        return frozenset(range(7))
    days: set[int] = set()
    for item in value.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"'{text}' has an empty day in its day list '{value}'.")
        if "-" in item:
            first, _, last = item.partition("-")
            start, stop = _day(first.strip(), text), _day(last.strip(), text)
            day = start
            while True:
                days.add(day)
                if day == stop:
                    break
                day = (day + 1) % 7
        else:
            days.add(_day(item, text))
    return frozenset(days)


def _time(value: str, text: str, *, is_end: bool) -> time:
    match = _TIME.match(value)
    if not match:
        raise ValueError(f"'{value}' in '{text}' is not a time: use HH:MM (24-hour), e.g. 02:00-04:00.")
    hour, minute = int(match.group(1)), int(match.group(2))
    if is_end and (hour, minute) == (24, 0):
        return time(0)
    if hour > 23 or minute > 59:
        raise ValueError(f"'{value}' in '{text}' is not a time of day (00:00 to 23:59; 24:00 only as an end).")
    return time(hour, minute)


def parse_window(text: str) -> MaintenanceWindow:
    """`Sun 02:00-04:00 Europe/Berlin` -> MaintenanceWindow; a ValueError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("A maintenance window is empty: write e.g. 'Sun 02:00-04:00 Europe/Berlin'.")
    parts = text.split()
    if len(parts) != 3:
        raise ValueError(
            f"'{text}' is not a maintenance window: write days, HH:MM-HH:MM and a time zone, "
            "e.g. 'Sun 02:00-04:00 Europe/Berlin' or 'Mon-Fri 22:00-02:00 UTC'."
        )
    days_text, times_text, zone_text = parts
    days = _days(days_text, text)
    if times_text.count("-") != 1:
        raise ValueError(f"'{times_text}' in '{text}' is not a time range: use HH:MM-HH:MM, e.g. 02:00-04:00.")
    start_text, end_text = times_text.split("-")
    start, end = _time(start_text, text, is_end=False), _time(end_text, text, is_end=True)
    if start == end and end_text != "24:00":
        raise ValueError(f"'{times_text}' in '{text}' starts and ends at the same time.")
    try:
        zone = ZoneInfo(zone_text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"'{zone_text}' in '{text}' is not an IANA time zone (e.g. Europe/Berlin, UTC, America/New_York)."
        ) from None
    return MaintenanceWindow(days=days, start=start, end=end, zone=zone, text=" ".join(parts))
