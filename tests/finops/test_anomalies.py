from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.anomalies import anomalies_detect, baseline
from finops.models import Alert, CostAnomaly, CostAnomalyIncident, CostRecord
from finops.services.alerts import alerts_sync
from finops.services.anomalies import anomaly_alert_specs, cost_anomalies_detect, cost_anomaly_feedback
from tests.factories import TeamFactory
from tests.finops.cost_lines import export_lines

START = date(2026, 1, 5)  # a Monday
WEEKLY = [Decimal(120), Decimal(135), Decimal(130), Decimal(128), Decimal(110), Decimal(20), Decimal(15)]


def series(
    days: int, *, level=WEEKLY, spikes: dict[int, Decimal] | None = None, value="Amazon SageMaker"
) -> pd.DataFrame:
    rows = []
    for offset in range(days):
        day = START + timedelta(days=offset)
        cost = level[day.weekday()] + (spikes or {}).get(offset, Decimal(0))
        rows.append(("service", value, day, cost))
    return pd.DataFrame(rows, columns=["dimension", "value", "day", "cost"])


def every_day(frame: pd.DataFrame) -> list[date]:
    return sorted(set(frame["day"]))


def test_it_finds_a_planted_spike_in_a_weekly_pattern():
    frame = series(70, spikes={68: Decimal(400)})  # day 68 is a Saturday: 20 → 420
    found = anomalies_detect(frame, days=every_day(frame), threshold=4, minimum_impact=Decimal(50))
    assert len(found) == 1
    [anomaly] = found.to_dict("records")
    assert anomaly["day"] == START + timedelta(days=68)
    assert (anomaly["expected"], anomaly["actual"], anomaly["impact"]) == (Decimal(20), Decimal(420), Decimal(400))
    assert anomaly["score"] >= 4


def test_it_raises_nothing_on_the_weekly_pattern_alone():
    frame = series(120)
    assert anomalies_detect(frame, days=every_day(frame), threshold=4, minimum_impact=Decimal(50)).empty
    # A weekday-blind baseline would call every Monday after a weekend a spike; ours compares Mondays with Mondays.
    scored = baseline(frame, days=every_day(frame))
    assert scored["score"].abs().max() == 0


def test_it_needs_both_the_score_and_the_minimum_impact():
    small = series(70, level=[Decimal(10)] * 7, spikes={66: Decimal(40)})  # score 40 / 1 but only 40 USD
    assert anomalies_detect(small, days=every_day(small), threshold=4, minimum_impact=Decimal(50)).empty
    noisy_weeks = {offset: Decimal(60) for offset in range(0, 63, 7)}  # every Monday +60: a pattern
    frame = series(70, spikes=noisy_weeks)
    assert anomalies_detect(frame, days=every_day(frame), threshold=4, minimum_impact=Decimal(50)).empty


@settings(max_examples=40, deadline=None)
@given(
    level=st.lists(st.integers(min_value=0, max_value=5000), min_size=7, max_size=7),
    noise=st.lists(st.integers(min_value=-2, max_value=2), min_size=84, max_size=84),
    spike_day=st.integers(min_value=56, max_value=83),
    spike=st.integers(min_value=200, max_value=100_000),
)
def test_it_separates_spikes_from_weekly_patterns_with_noise(level, noise, spike_day, spike):
    # Noise of up to ±2% of each weekday's level never reaches the 5%-of-median floor; the spike is at least
    # 200 USD and at least 5 floors above the level.
    weekly = [Decimal(value) for value in level]
    rows = []
    for offset in range(84):
        day = START + timedelta(days=offset)
        base = weekly[day.weekday()]
        rows.append(("service", "EC2", day, base + base * noise[offset] / 100))
    frame = pd.DataFrame(rows, columns=["dimension", "value", "day", "cost"])
    assert anomalies_detect(frame, days=every_day(frame), threshold=4, minimum_impact=Decimal(50)).empty

    planted = max(Decimal(spike), weekly[(START + timedelta(days=spike_day)).weekday()])
    frame.loc[spike_day, "cost"] = frame.loc[spike_day, "cost"] + planted
    found = anomalies_detect(frame, days=every_day(frame), threshold=4, minimum_impact=Decimal(50))
    assert list(found["day"]) == [START + timedelta(days=spike_day)]


# --- The service: stored anomalies, contributors, feedback, alert specs ---------------------------------------

TODAY = date(2026, 3, 30)  # a Monday


def daily_lines(first: date, last: date, *, spike_day: date | None = None) -> list[dict]:
    lines = []
    day = first
    while day <= last:
        weekend = day.weekday() >= 5
        lines += [
            {
                "day": day,
                "cost": "30" if weekend else "200",
                "usage_type": "Train:ml.p4d",
                "resource": "job-a",
                "tags": {"team": "vision"},
            },
            {"day": day, "cost": "15", "usage_type": "Host:ml.g5", "resource": "endpoint-b", "tags": {"team": "nlp"}},
            {"day": day, "cost": "4000", "usage_type": "Tax", "category": "tax"} if day.day == 1 else None,
        ]
        if day == spike_day:
            lines += [
                {
                    "day": day,
                    "cost": "700",
                    "usage_type": "Train:ml.p5",
                    "resource": "job-runaway",
                    "tags": {"team": "vision"},
                },
                {
                    "day": day,
                    "cost": "90",
                    "usage_type": "Train:ml.p4d",
                    "resource": "job-a",
                    "tags": {"team": "vision"},
                },
            ]
        day += timedelta(days=1)
    return [line for line in lines if line]


@pytest.fixture
def spiky(db):
    TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    TeamFactory(name="NLP", slug="nlp", tag_values=["nlp"])
    export_lines(daily_lines(date(2026, 1, 1), TODAY - timedelta(days=1), spike_day=date(2026, 3, 28)))


def test_it_stores_anomalies_per_dimension_with_their_contributors(spiky):
    stored = cost_anomalies_detect(today=TODAY)
    found = {(anomaly.dimension, anomaly.value, anomaly.day) for anomaly in stored}
    spike = date(2026, 3, 28)  # a Saturday: 30 + 15 usually, 820 + 15 that day; tax on the 1st is not usage
    assert found == {
        ("service", "Amazon SageMaker", spike),
        ("account", "222222222222", spike),
        ("team", "vision", spike),
    }
    team = CostAnomaly.objects.get(dimension="team")
    assert (team.expected, team.actual, team.impact) == (Decimal(30), Decimal(820), Decimal(790))
    assert [item["usage_type"] for item in team.contributors["usage_types"]] == ["Train:ml.p5", "Train:ml.p4d"]
    runaway = "700.00000000000000000000"
    assert team.contributors["resources"][0] == {
        "resource": "job-runaway", "actual": runaway, "expected": "0", "change": runaway,
    }  # fmt: skip
    # One spike seen three ways (the same resources): one incident, led by its largest anomaly.
    assert len({anomaly.incident_id for anomaly in stored}) == 1
    incident = CostAnomalyIncident.objects.get()
    assert (incident.day, incident.impact, incident.lead.impact) == (spike, Decimal(790), Decimal(790))
    # Running again over the same days updates, never duplicates, and keeps the incident.
    cost_anomalies_detect(today=TODAY)
    assert CostAnomaly.objects.count() == 3
    assert list(CostAnomalyIncident.objects.values_list("pk", flat=True)) == [incident.pk]
    assert set(CostAnomaly.objects.values_list("incident", flat=True)) == {incident.pk}


def test_it_suppresses_repeats_after_feedback_until_the_cost_rises_further(spiky, viewer):
    cost_anomalies_detect(today=TODAY)
    incident = CostAnomalyIncident.objects.get()
    cost_anomaly_feedback(incident=incident, feedback="expected", user=viewer)
    # Feedback on the incident goes to every dimension that saw it.
    assert set(CostAnomaly.objects.values_list("feedback", "feedback_by")) == {("expected", viewer.pk)}
    # The same spike again the next Saturday (820): suppressed along every dimension, whose acknowledged day was 820.
    export_lines(daily_lines(TODAY, date(2026, 4, 4), spike_day=date(2026, 4, 4)))
    later = cost_anomalies_detect(today=date(2026, 4, 5))
    assert later == []
    # A much bigger one a week later is news again.
    export_lines(daily_lines(date(2026, 4, 5), date(2026, 4, 11)))
    export_lines([{"day": date(2026, 4, 11), "cost": "2000", "usage_type": "Train:ml.p5", "tags": {"team": "vision"}}])
    again = cost_anomalies_detect(today=date(2026, 4, 12))
    assert ("team", "vision", date(2026, 4, 11)) in {(a.dimension, a.value, a.day) for a in again}


def test_it_gives_alert_specs_for_unacknowledged_recent_incidents(spiky, viewer):
    cost_anomalies_detect(today=TODAY)
    now = datetime(2026, 3, 30, 6, tzinfo=UTC)
    specs = anomaly_alert_specs(now=now)
    assert len(specs) == 1
    (spec,) = specs
    assert spec.team.slug == "vision"
    assert spec.amount == Decimal(790)
    assert {(item["dimension"], item["value"]) for item in spec.details["dimensions"]} == {
        ("team", "vision"), ("service", "Amazon SageMaker"), ("account", "222222222222"),
    }  # fmt: skip
    assert "Train:ml.p5" in spec.text and "Seen along 3 dimensions" in spec.text
    assert len(alerts_sync(kind="cost_anomaly", current=specs, now=now)["opened"]) == 1
    cost_anomaly_feedback(incident=CostAnomalyIncident.objects.get(), feedback="not_anomaly", user=viewer)
    result = alerts_sync(kind="cost_anomaly", current=anomaly_alert_specs(now=now), now=now)
    assert len(result["resolved"]) == 1
    # Four days on, they have aged out of the look-back and every alert resolves.
    alerts_sync(kind="cost_anomaly", current=anomaly_alert_specs(now=now + timedelta(days=4)), now=now)
    assert not Alert.objects.filter(kind="cost_anomaly", state=Alert.State.OPEN).exists()


def test_each_billing_currency_is_its_own_series(spiky):
    """A steady EUR spend on the same service never hides (or adds to) the USD spike, and a EUR spike is a EUR
    anomaly: amounts in different currencies are never added."""
    euro_account = "333333333333"
    day, lines = date(2026, 1, 1), []
    while day < TODAY:
        cost = "8000" if day == date(2026, 3, 26) else "5000"
        lines.append({"day": day, "cost": cost, "account": euro_account, "resource": "eu-endpoint"})
        day += timedelta(days=1)
    export_lines(lines)
    CostRecord.objects.filter(sub_account_id=euro_account).update(billing_currency="EUR")
    stored = cost_anomalies_detect(today=TODAY, lookback_days=5)
    found = {(anomaly.dimension, anomaly.value, anomaly.currency, anomaly.day) for anomaly in stored}
    assert ("service", "Amazon SageMaker", "USD", date(2026, 3, 28)) in found
    assert ("service", "Amazon SageMaker", "EUR", date(2026, 3, 26)) in found
    assert ("account", euro_account, "EUR", date(2026, 3, 26)) in found
    usd = CostAnomaly.objects.get(dimension="service", currency="USD")
    assert (usd.expected, usd.actual) == (Decimal(45), Decimal(835))  # job-a and endpoint-b, as without EUR rows
    eur = CostAnomaly.objects.get(dimension="service", currency="EUR")
    assert (eur.expected, eur.actual, eur.impact) == (Decimal(5000), Decimal(8000), Decimal(3000))
    assert eur.contributors["resources"][0]["resource"] == "eu-endpoint"
