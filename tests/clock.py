"""The suite's clock: pinned for one test with `@pytest.mark.clock(INSTANT)`, or for a whole run with
COSTPLANE_TEST_CLOCK, so that no test passes at some hours and fails at others.

Why it exists: the sandbox runs its weekday machines from 07:00 to 19:00 UTC, relative report windows end at the
start of today, budgets run by the calendar month and maintenance windows cross DST changes. A test that reads the
wall clock sees a different world at 16:00 on a Thursday than at 03:00 on a Sunday. A test that needs a particular
moment says so with the marker; `COSTPLANE_TEST_CLOCK=2026-10-25T03:00:00Z pytest ...` runs every other test at
that instant, to show that none of them depends on the hour (each test starts at the instant; the clock ticks on).

The clock is time-machine's, so it lives in this process only. Child processes (Celery workers, the sandbox's moto
server) get the same instant through `python_command`, which starts them under the clock when one is pinned.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

CLOCK_VARIABLE = "COSTPLANE_TEST_CLOCK"

# How many pinned clocks are active in this process (the run's, a test's): child processes follow them.
_pinned: list[time_machine.travel] = []


def instant_parse(text: str) -> datetime:
    """An ISO 8601 instant (`2026-10-25T03:00:00Z`, `2026-10-25T04:00:00+01:00`); a naive one is UTC."""
    instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def run_clock() -> datetime | None:
    """The instant COSTPLANE_TEST_CLOCK names for this run, or None to use the wall clock."""
    text = os.environ.get(CLOCK_VARIABLE, "")
    return instant_parse(text) if text.strip() else None


def pinned() -> bool:
    return bool(_pinned)


def python_command(module: str, *args: str) -> list[str]:
    """`python -m module args...` (or `python -c CODE` for module "-c"), started under this process's clock when a
    clock is pinned (see tests/clocked.py)."""
    if not pinned():
        return [sys.executable, *(["-c"] if module == "-c" else ["-m", module]), *args]
    return [sys.executable, "-m", "tests.clocked", module, *args]


def python_env(env: dict[str, str]) -> dict[str, str]:
    """The environment for `python_command`: the current (pinned) instant, so the child starts where we are now."""
    if not pinned():
        return env
    return {**env, CLOCK_VARIABLE: datetime.now(UTC).isoformat()}


def _travel(instant: datetime) -> time_machine.travel:
    traveller = time_machine.travel(instant, tick=True)
    traveller.start()
    _pinned.append(traveller)
    return traveller


def _return(traveller: time_machine.travel) -> None:
    _pinned.remove(traveller)
    traveller.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clock(instant): run the test with the process clock at this ISO 8601 instant (it ticks on)"
    )
    instant = run_clock()
    if instant is not None:
        # From the start, so that collection, module constants and session fixtures see the same instant too.
        config.stash[_run_traveller] = _travel(instant)


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_run_traveller, None)
    if traveller is not None:
        _return(traveller)


def pytest_report_header(config: pytest.Config) -> str | None:
    instant = run_clock()
    return f"clock: {CLOCK_VARIABLE}={instant.isoformat()} (each test starts there)" if instant else None


_run_traveller = pytest.StashKey[time_machine.travel]()


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest) -> Iterator[datetime | None]:
    """The instant this test started at when the clock is pinned (by its `clock` marker, else by the run), else None."""
    marker = request.node.get_closest_marker("clock")
    instant = instant_parse(marker.args[0]) if marker else run_clock()
    if instant is None:
        yield None
        return
    traveller = _travel(instant)
    try:
        yield instant
    finally:
        _return(traveller)
