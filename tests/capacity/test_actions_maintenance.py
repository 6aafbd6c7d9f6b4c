"""Maintenance-window grammar (capacity/maintenance.py): parsing, membership, next start, both DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from capacity.maintenance import parse_window
from capacity.models import TeamSettings
from tests.factories import TeamFactory

BERLIN_SUNDAY = "Sun 02:00-04:00 Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_parse_days_lists_ranges_and_wrapping_ranges():
    assert parse_window("Mon-Fri 22:00-02:00 UTC").days == {0, 1, 2, 3, 4}
    assert parse_window("Sat,Sun 02:00-04:00 UTC").days == {5, 6}
    assert parse_window("fri-mon 02:00-04:00 UTC").days == {4, 5, 6, 0}
    assert parse_window("Mon-Wed,Sun 02:00-04:00 UTC").days == {0, 1, 2, 6}
    assert parse_window("Sunday 02:00-04:00 UTC").days == {6}
    assert parse_window("Daily 02:00-04:00 UTC").days == set(range(7))
    window = parse_window("  Sun   02:00-04:00   Europe/Berlin ")
    assert str(window) == BERLIN_SUNDAY and window.zone.key == "Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("Sun 02:00-04:00", "days, HH:MM-HH:MM and a time zone"),
        ("Funday 02:00-04:00 UTC", "'Funday' in 'Funday 02:00-04:00 UTC' is not a day"),
        ("Mon-Xyz 02:00-04:00 UTC", "'Xyz'"),
        ("Sat,,Sun 02:00-04:00 UTC", "empty day"),
        ("Sun 2-4 UTC", "'2' in 'Sun 2-4 UTC' is not a time"),
        ("Sun 02:00 UTC", "not a time range"),
        ("Sun 25:00-04:00 UTC", "not a time of day"),
        ("Sun 02:60-04:00 UTC", "not a time of day"),
        ("Sun 24:00-04:00 UTC", "not a time of day"),
        ("Sun 02:00-02:00 UTC", "starts and ends at the same time"),
        ("Sun 02:00-04:00 Mars/Olympus_Mons", "'Mars/Olympus_Mons' in"),
        ("Sun 02:00-04:00 ../etc/passwd", "not an IANA time zone"),
    ],
)
def test_bad_windows_say_what_is_wrong(text, message):
    with pytest.raises(ValueError) as raised:
        parse_window(text)
    assert message in str(raised.value)


def test_naive_moments_are_refused():
    with pytest.raises(ValueError, match="no time zone"):
        parse_window(BERLIN_SUNDAY).contains(datetime(2025, 6, 15, 1))


def test_summer_and_winter_sundays_in_berlin():
    window = parse_window(BERLIN_SUNDAY)
    # Summer (CEST, UTC+2): 00:00-02:00 UTC.
    assert not window.contains(utc(2025, 6, 14, 23, 59))
    assert window.contains(utc(2025, 6, 15, 0, 0))
    assert window.contains(utc(2025, 6, 15, 1, 59))
    assert not window.contains(utc(2025, 6, 15, 2, 0))
    assert not window.contains(utc(2025, 6, 16, 0, 30))  # a Monday
    # Winter (CET, UTC+1): 01:00-03:00 UTC.
    assert not window.contains(utc(2025, 1, 12, 0, 30))
    assert window.contains(utc(2025, 1, 12, 1, 0))
    assert not window.contains(utc(2025, 1, 12, 3, 0))
    assert window.next_start(utc(2025, 1, 8, 12)) == utc(2025, 1, 12, 1)
    assert window.next_start(utc(2025, 6, 16, 10)) == utc(2025, 6, 22, 0)


def test_spring_change_opens_at_the_change_and_lasts_one_hour():
    """30 March 2025: 02:00 CET becomes 03:00 CEST (01:00 UTC); the clock never shows 02:00-02:59."""
    window = parse_window(BERLIN_SUNDAY)
    assert window.next_start(utc(2025, 3, 29, 12)) == utc(2025, 3, 30, 1)
    assert not window.contains(utc(2025, 3, 30, 0, 59))  # 01:59 CET
    assert window.contains(utc(2025, 3, 30, 1, 0))  # 03:00 CEST
    assert window.contains(utc(2025, 3, 30, 1, 59))  # 03:59 CEST
    assert not window.contains(utc(2025, 3, 30, 2, 0))  # 04:00 CEST
    assert window.next_start(utc(2025, 3, 30, 1)) == utc(2025, 4, 6, 0)  # a week later, in summer time


def test_autumn_change_opens_at_the_first_two_oclock_and_lasts_three_hours():
    """26 October 2025: 03:00 CEST becomes 02:00 CET (01:00 UTC); the clock shows 02:00-02:59 twice."""
    window = parse_window(BERLIN_SUNDAY)
    assert window.next_start(utc(2025, 10, 25, 12)) == utc(2025, 10, 26, 0)
    assert not window.contains(utc(2025, 10, 25, 23, 59))  # 01:59 CEST
    assert window.contains(utc(2025, 10, 26, 0, 0))  # the first 02:00 (CEST)
    assert window.contains(utc(2025, 10, 26, 1, 30))  # the second 02:30 (CET)
    assert window.contains(utc(2025, 10, 26, 2, 59))  # 03:59 CET
    assert not window.contains(utc(2025, 10, 26, 3, 0))  # 04:00 CET
    assert window.next_start(utc(2025, 10, 26, 0)) == utc(2025, 11, 2, 1)  # a week later, in winter time


def test_windows_crossing_midnight_belong_to_their_start_day():
    window = parse_window("Sat 23:00-01:00 UTC")
    assert window.crosses_midnight
    assert window.contains(utc(2025, 6, 14, 23, 30))  # Saturday
    assert window.contains(utc(2025, 6, 15, 0, 30))  # Sunday morning, still Saturday's window
    assert not window.contains(utc(2025, 6, 15, 1, 0))
    assert not window.contains(utc(2025, 6, 13, 23, 30))  # Friday
    assert not window.contains(utc(2025, 6, 14, 0, 30))  # Saturday morning: Friday's night is not listed
    assert window.next_start(utc(2025, 6, 14, 23, 30)) == utc(2025, 6, 21, 23)
    assert window.current_or_next_start(utc(2025, 6, 15, 0, 30)) == utc(2025, 6, 14, 23)
    until_midnight = parse_window("Fri 22:00-24:00 America/New_York")
    assert until_midnight.contains(utc(2025, 6, 14, 3, 59))  # Fri 23:59 EDT
    assert not until_midnight.contains(utc(2025, 6, 14, 4, 0))


@pytest.mark.django_db
def test_team_settings_validate_the_window():
    team = TeamFactory()
    TeamSettings(team=team, maintenance_window=BERLIN_SUNDAY).full_clean()
    TeamSettings(team=team, maintenance_window="").full_clean()
    with pytest.raises(ValidationError, match="is not a day"):
        TeamSettings(team=team, maintenance_window="Someday 02:00-04:00 UTC").full_clean()
    assert TeamSettings(team=team, maintenance_window=BERLIN_SUNDAY).window.days == {6}
    assert TeamSettings(team=team).window is None
