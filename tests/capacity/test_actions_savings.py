"""Realised savings of a done action, from the billing export: a week before the change against a week after."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from capacity.models import Action
from capacity.services.actions.savings import action_realised_savings, actions_realised_savings_measure
from finops.models import CostRecord, ExportDailyTotal
from tests.capacity.test_actions import INSTANCE, INSTANCE_ARN, planned
from tests.factories import CloudAccountFactory, TeamFactory

pytestmark = pytest.mark.django_db

CHANGED = datetime(2025, 6, 15, 0, 40, tzinfo=UTC)
ACCOUNT_ID = INSTANCE_ARN.split(":")[4]


@pytest.fixture
def done():
    account = CloudAccountFactory(account_id=ACCOUNT_ID, name="ml-research")
    action = planned(account, TeamFactory())
    Action.objects.filter(pk=action.pk).update(state=Action.State.DONE, executed_at=CHANGED)
    action.refresh_from_db()
    return action


def bill(day: date, cost: str | None, *, resource_id: str = INSTANCE, source: str = "cur2") -> None:
    """The account's export total for `day`, and the instance's line when `cost` is given."""
    period = day.replace(day=1)
    ExportDailyTotal.objects.get_or_create(
        source=source,
        billing_account_id="481516234200",
        billing_period_start=period,
        sub_account_id=ACCOUNT_ID,
        day=day,
        defaults={"billed_cost": Decimal(cost or 0), "effective_cost": Decimal(cost or 0)},
    )
    if cost is None:
        return
    start = datetime.combine(day, time.min, tzinfo=UTC)
    CostRecord.objects.create(
        source=source,
        line_key=hashlib.sha1(f"{resource_id}-{day}-{source}".encode()).hexdigest(),
        billing_account_id="481516234200",
        sub_account_id=ACCOUNT_ID,
        billing_period_start=period,
        billing_period_end=(period + timedelta(days=32)).replace(day=1),
        charge_period_start=start,
        charge_period_end=start + timedelta(days=1),
        charge_category="usage",
        service_name="Amazon Elastic Compute Cloud",
        region_id="us-east-1",
        resource_id=resource_id,
        billed_cost=Decimal(cost),
        effective_cost=Decimal(cost),
    )


def week(first: date, cost: str | None) -> None:
    for offset in range(7):
        bill(first + timedelta(days=offset), cost)


def test_it_compares_a_week_before_with_a_week_after_scaled_to_a_month(done):
    week(date(2025, 6, 8), "100")  # 8-14 June
    bill(date(2025, 6, 15), "70")  # the change day itself is not counted
    week(date(2025, 6, 16), "40")  # 16-22 June

    savings = action_realised_savings(action=done, now=datetime(2025, 6, 24, tzinfo=UTC))

    assert savings == Decimal("1825.00")  # 60 a day * 730 / 24
    done.refresh_from_db()
    assert done.realised_monthly_savings == Decimal("1825.00") and done.monthly_savings == Decimal("9000")


def test_lines_named_by_arn_count_and_one_format_per_day(done):
    week(date(2025, 6, 8), "100")
    week(date(2025, 6, 16), "40")
    bill(date(2025, 6, 9), "100", source="focus", resource_id=INSTANCE_ARN)  # FOCUS preferred for that day
    savings = action_realised_savings(action=done, now=datetime(2025, 6, 24, tzinfo=UTC), store=False)
    assert savings == Decimal("1825.00")


def test_no_savings_until_every_day_is_billed(done):
    week(date(2025, 6, 8), "100")
    for offset in range(6):
        bill(date(2025, 6, 16) + timedelta(days=offset), "40")

    assert action_realised_savings(action=done, now=datetime(2025, 6, 30, tzinfo=UTC)) is None  # 22 June missing
    assert action_realised_savings(action=done, now=datetime(2025, 6, 22, tzinfo=UTC)) is None  # week not over
    done.refresh_from_db()
    assert done.realised_monthly_savings is None


def test_days_without_lines_for_the_resource_count_as_zero_when_the_export_covers_them(done):
    week(date(2025, 6, 8), "100")
    week(date(2025, 6, 16), None)  # billed days, no line for the instance: it cost nothing
    assert action_realised_savings(action=done, now=datetime(2025, 6, 24, tzinfo=UTC)) == Decimal("3041.67")


def test_only_done_actions_are_measured_and_the_sweep_stores_them(done):
    week(date(2025, 6, 8), "100")
    week(date(2025, 6, 16), "40")
    Action.objects.filter(pk=done.pk).update(state=Action.State.ROLLED_BACK)
    done.refresh_from_db()
    assert action_realised_savings(action=done, now=datetime(2025, 6, 24, tzinfo=UTC)) is None

    Action.objects.filter(pk=done.pk).update(state=Action.State.DONE)
    assert actions_realised_savings_measure(now=datetime(2025, 6, 24, tzinfo=UTC)) == 1
    assert actions_realised_savings_measure(now=datetime(2025, 6, 24, tzinfo=UTC)) == 0  # measured once
    done.refresh_from_db()
    assert done.realised_monthly_savings == Decimal("1825.00")
