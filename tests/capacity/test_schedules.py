"""The off-hours grammar (capacity/schedules.py): parsing, errors, transitions, and both daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from capacity.schedules import ScheduleError, parse_schedule

BERLIN = "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_is_off_in_the_evening_and_on_in_the_morning_in_local_time():
    schedule = parse_schedule(BERLIN)
    # June: Berlin is UTC+2, so 19:00 local is 17:00 UTC and 07:00 local is 05:00 UTC.
    assert schedule.state_at(utc(2025, 6, 16, 16, 59)) == "on"
    assert schedule.state_at(utc(2025, 6, 16, 17, 0)) == "off"
    assert schedule.state_at(utc(2025, 6, 17, 4, 59)) == "off"
    assert schedule.state_at(utc(2025, 6, 17, 5, 0)) == "on"


def test_it_stays_off_over_the_weekend():
    schedule = parse_schedule(BERLIN)
    friday_evening = utc(2025, 6, 20, 17)
    assert schedule.last_transition(utc(2025, 6, 22, 12)).at == friday_evening
    assert schedule.next_transition(utc(2025, 6, 22, 12)).at == utc(2025, 6, 23, 5)
    assert schedule.state_at(utc(2025, 6, 21, 12)) == "off"


def test_it_reads_lists_of_specs_and_day_lists():
    schedule = parse_schedule("off=[(M-F,21),(U,18)];on=(MWF,7:30)")
    assert schedule.zone.key == "UTC"
    sunday_off = schedule.last_transition(utc(2025, 6, 15, 20))
    assert (sunday_off.at, sunday_off.state) == (utc(2025, 6, 15, 18), "off")
    assert schedule.next_transition(utc(2025, 6, 17, 22)).at == utc(2025, 6, 18, 7, 30)  # Tuesday has no on
    assert [t.state for t in schedule.transitions_between(utc(2025, 6, 16), utc(2025, 6, 17))] == ["on", "off"]


def test_it_accepts_a_range_that_wraps_around_the_week():
    schedule = parse_schedule("off=(F-M,20);on=(F-M,8)")
    days = {t.at.weekday() for t in schedule.transitions_between(utc(2025, 6, 16), utc(2025, 6, 23))}
    assert days == {0, 4, 5, 6}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("on=(M-F,7)", "no off="),
        ("off=(X-F,19)", "'X' in 'off=(X-F,19)' is not a day"),
        ("off=(M-F,25)", "is not a time of day"),
        ("off=(M-F,7pm)", "is not a time"),
        ("off=(M-F,19);tz=Europe/Atlantis", "'Europe/Atlantis' in 'off=(M-F,19);tz=Europe/Atlantis' is not an IANA"),
        ("off=M-F 19", "is not a list of (days,time) specs"),
        ("off=[(M-F,19)", "does not close it"),
        ("off=(M,7);on=(M-F,7)", "turns off and on at the same time"),
        ("off=(M,7);off=(T,7)", "gives off= twice"),
        ("stop=(M,7)", "is not off=..., on=... or tz=..."),
    ],
)
def test_it_refuses_a_bad_schedule_with_a_clear_message(text, message):
    with pytest.raises(ScheduleError, match=None) as caught:
        parse_schedule(text)
    assert message in str(caught.value)


def test_it_refuses_a_naive_moment():
    with pytest.raises(ValueError, match="no time zone"):
        parse_schedule(BERLIN).state_at(datetime(2025, 6, 16, 12))


# --- Daylight saving ----------------------------------------------------------------------------------------


def test_it_keeps_local_hours_across_the_spring_change_in_berlin():
    schedule = parse_schedule("off=(*,19);on=(*,7);tz=Europe/Berlin")
    # Sunday 30 March 2025 02:00 CET -> 03:00 CEST. Saturday evening is CET (18:00 UTC), Sunday's is CEST (17:00 UTC).
    transitions = schedule.transitions_between(utc(2025, 3, 29, 12), utc(2025, 3, 31, 12))
    assert [(t.at, t.state) for t in transitions] == [
        (utc(2025, 3, 29, 18), "off"),
        (utc(2025, 3, 30, 5), "on"),  # 07:00 CEST
        (utc(2025, 3, 30, 17), "off"),
        (utc(2025, 3, 31, 5), "on"),
    ]


def test_it_keeps_local_hours_across_the_autumn_change_in_berlin():
    schedule = parse_schedule("off=(*,19);on=(*,7);tz=Europe/Berlin")
    # Sunday 26 October 2025 03:00 CEST -> 02:00 CET: Sunday's morning is CET (06:00 UTC).
    transitions = schedule.transitions_between(utc(2025, 10, 25, 12), utc(2025, 10, 26, 20))
    assert [(t.at, t.state) for t in transitions] == [
        (utc(2025, 10, 25, 17), "off"),
        (utc(2025, 10, 26, 6), "on"),
        (utc(2025, 10, 26, 18), "off"),
    ]


def test_it_starts_a_skipped_local_time_at_the_first_valid_instant():
    schedule = parse_schedule("off=(U,2:30);on=(U,9);tz=Europe/Berlin")
    # 02:30 does not exist on 30 March 2025: the off happens when the clock jumps, 03:00 CEST = 01:00 UTC.
    assert schedule.next_transition(utc(2025, 3, 29, 12)).at == utc(2025, 3, 30, 1)
    assert schedule.state_at(utc(2025, 3, 30, 0, 59)) == "on"
    assert schedule.state_at(utc(2025, 3, 30, 1)) == "off"


def test_it_takes_the_first_occurrence_of_a_repeated_local_time():
    schedule = parse_schedule("off=(U,2:30);on=(U,9);tz=Europe/Berlin")
    # 02:30 happens twice on 26 October 2025: first in CEST (00:30 UTC), then in CET (01:30 UTC).
    assert schedule.next_transition(utc(2025, 10, 25, 12)).at == utc(2025, 10, 26, 0, 30)
    assert schedule.next_transition(utc(2025, 10, 26, 0, 30)).at == utc(2025, 10, 26, 8)


def test_it_keeps_local_hours_across_both_changes_in_new_york():
    schedule = parse_schedule("off=(M-F,18);on=(M-F,8);tz=America/New_York")
    # 2025: clocks spring forward on Sunday 9 March and fall back on Sunday 2 November.
    assert schedule.last_transition(utc(2025, 3, 8, 12)).at == utc(2025, 3, 7, 23)  # Friday 18:00 EST
    assert schedule.next_transition(utc(2025, 3, 8, 12)).at == utc(2025, 3, 10, 12)  # Monday 08:00 EDT
    assert schedule.last_transition(utc(2025, 11, 1, 12)).at == utc(2025, 10, 31, 22)  # Friday 18:00 EDT
    assert schedule.next_transition(utc(2025, 11, 1, 12)).at == utc(2025, 11, 3, 13)  # Monday 08:00 EST


def test_it_gives_every_listed_day_one_transition_per_spec_for_a_whole_year():
    schedule = parse_schedule("off=(*,2:30);on=(*,12);tz=Europe/Berlin")
    start = utc(2025, 1, 1)
    transitions = schedule.transitions_between(start, start + timedelta(days=365))
    assert len(transitions) == 730
    assert all(a.state != b.state for a, b in zip(transitions, transitions[1:], strict=False))


def test_a_snoozed_off_action_outlives_its_period_only_past_the_next_on():
    from capacity.services.policies.running import period_ends_within

    # Two offs in a row (Friday 19:00, Sunday 18:00) before Monday's on: snoozing Friday's off over the weekend
    # does not end its period; snoozing it past Monday 07:00 does.
    schedule = parse_schedule("off=[(F,19),(U,18)];on=(M,7);tz=Europe/Berlin")
    friday = datetime(2025, 6, 20, 17, 30, tzinfo=UTC)  # 19:30 in Berlin
    assert not period_ends_within(schedule=schedule, kind="stop", start=friday, end=friday + timedelta(days=2))
    assert period_ends_within(schedule=schedule, kind="stop", start=friday, end=friday + timedelta(days=3))
    # A start (on) action's period ends at the next off (Friday 19:00 in Berlin).
    monday = datetime(2025, 6, 23, 5, 30, tzinfo=UTC)
    assert not period_ends_within(schedule=schedule, kind="start", start=monday, end=monday + timedelta(days=3))
    assert period_ends_within(schedule=schedule, kind="start", start=monday, end=monday + timedelta(days=5))
