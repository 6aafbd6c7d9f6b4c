"""The instants where clocks go wrong, for the suite's clock and the functions that read a clock.

Each test runs at each instant (weekday night and afternoon, a Sunday, the European and US DST changes, the first
and last day of a month, New Year, a leap day), with the process clock pinned there by tests/clock.py. Together
with the pinned tests (`@pytest.mark.clock`) this shows `make test` does not depend on when it runs; the rest of the
suite can be run at any of these instants too: `COSTPLANE_TEST_CLOCK=2026-10-25T01:30:00Z pytest tests/...`.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from capacity.maintenance import parse_window
from capacity.schedules import parse_schedule
from finops.budgets import period_bounds
from finops.reports import WINDOWS_RELATIVE, window_parse
from sandbox.catalogue import Resource
from sandbox.machines import running_at
from tests.clock import instant_parse, python_command, python_env
from tests.dashboards.test_capacity_page import SANDBOX_CLOCK
from tests.integration_support import ROOT

INSTANTS = {
    "weekday night": "2026-12-02T03:00:00Z",
    "weekday afternoon": "2026-12-03T16:00:00Z",  # when the capacity page test failed: every machine running
    "Sunday noon": "2026-11-29T12:00:00Z",
    "Europe, spring DST change": "2026-03-29T01:30:00Z",  # 02:00 CET became 03:00 CEST at 01:00 UTC
    "Europe, autumn DST change": "2026-10-25T01:30:00Z",  # 03:00 CEST became 02:00 CET at 01:00 UTC
    "US, spring DST change": "2026-03-08T07:30:00Z",  # 02:00 EST became 03:00 EDT at 07:00 UTC
    "US, autumn DST change": "2026-11-01T06:30:00Z",  # 02:00 EDT became 01:00 EST at 06:00 UTC
    "first day of a month": "2026-12-01T00:30:00Z",
    "last day of a month": "2026-11-30T23:30:00Z",
    "New Year": "2027-01-01T00:30:00Z",
    "leap day": "2028-02-29T12:00:00Z",
}


def at_each_instant(test):
    return pytest.mark.parametrize(
        "instant",
        [pytest.param(instant_parse(text), marks=pytest.mark.clock(text), id=name) for name, text in INSTANTS.items()],
    )(test)


def weekday_machine() -> Resource:
    return Resource(
        id="i-0", name="dev", kind="ec2_instance", account_id="111111111111", region="us-east-1",
        instance_type="g5.xlarge", count=1, tags={}, hourly_price=Decimal("1.006"), start=date(2020, 1, 1), stop=None,
        schedule="weekdays",
    )  # fmt: skip


@at_each_instant
def test_the_process_clock_reads_the_pinned_instant(instant):
    assert timedelta(0) <= timezone.now() - instant < timedelta(minutes=1)
    assert timezone.localdate() == date.today() == instant.date(), "Django keeps the process in UTC"


@at_each_instant
def test_a_child_process_started_for_the_test_reads_the_same_instant(instant):
    code = "from datetime import UTC, datetime; print(datetime.now(UTC).isoformat())"
    result = subprocess.run(
        python_command("-c", code), cwd=ROOT, env=python_env({"PATH": "/usr/bin:/bin"}), capture_output=True,
        text=True, timeout=60, check=True,
    )  # fmt: skip
    assert timedelta(0) <= datetime.fromisoformat(result.stdout.strip()) - instant < timedelta(minutes=1)


@at_each_instant
def test_relative_report_windows_end_at_the_start_of_today_or_of_this_month(instant):
    today = timezone.now().date()
    for name in set(WINDOWS_RELATIVE) - {"lastmonth"}:
        start, end = window_parse(name, today=today)
        assert end == today and start <= end, name
    assert window_parse("mtd", today=today)[0] == today.replace(day=1)
    start, end = window_parse("lastmonth", today=today)
    assert start.day == 1 and end == today.replace(day=1) and (end - start).days in (28, 29, 30, 31)


@at_each_instant
def test_a_budget_period_holds_the_day_it_is_asked_for(instant):
    today = timezone.now().date()
    for period in ("month", "quarter"):
        start, end = period_bounds(period, today)
        assert start <= today < end and start.day == end.day == 1, period


@at_each_instant
def test_the_sandbox_runs_weekday_machines_in_office_hours_only(instant):
    now = timezone.now()
    assert running_at(weekday_machine(), now) == (now.weekday() < 5 and 7 <= now.hour < 19)


def test_the_pinned_sandbox_clock_has_the_weekday_machines_stopped():
    """What the Capacity page tests rely on: at SANDBOX_CLOCK some GPU machines are stopped."""
    assert not running_at(weekday_machine(), instant_parse(SANDBOX_CLOCK))


@at_each_instant
@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
def test_an_off_hours_schedule_brackets_now_between_its_transitions(instant, zone):
    schedule = parse_schedule(f"off=(M-F,19);on=(M-F,7);tz={zone}")
    now = timezone.now()
    last, following = schedule.last_transition(now), schedule.next_transition(now)
    assert last.at <= now < following.at and schedule.state_at(now) == last.state
    assert following.at - last.at <= timedelta(hours=61), "Friday 19:00 to Monday 07:00 (60 h, 61 over a DST change)"
    assert {last.at.astimezone(schedule.zone).hour, following.at.astimezone(schedule.zone).hour} == {7, 19}


@at_each_instant
@pytest.mark.parametrize("text", ["Sun 02:00-04:00 Europe/Berlin", "Daily 01:30-02:30 America/New_York"])
def test_a_maintenance_window_opens_next_after_now(instant, text):
    window = parse_window(text)
    now = timezone.now()
    opens = window.next_start(now)
    assert now < opens <= now + timedelta(days=8) and opens.tzinfo == UTC
    assert window.contains(opens) and not window.contains(opens - timedelta(seconds=1))
