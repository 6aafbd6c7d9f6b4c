"""The spend forecast: monthly bands on a series with known noise, the stored run over billing lines, AWS's
GetCostForecast beside it (botocore Stubber and the sandbox's answer), and GET /api/v1/forecasts/spend."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.stub import Stubber

from capacity.models import SpendForecast
from capacity.services.spend_forecast import monthly_forecast, spend_forecasts_refresh
from tests.factories import TeamFactory
from tests.finops.cost_lines import PAYER, export_lines

TODAY = date(2026, 3, 20)  # the history ends on the 19th: March is actual to date plus 12 forecast days
MONTHS = ["2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01", "2026-08-01", "2026-09-01"]
BANDS = ("lower_95", "lower_80", "mean", "upper_80", "upper_95")


def test_it_covers_simulated_months_at_about_the_stated_levels():
    """Daily spend of 1,000 with a weekly cycle and independent noise (sd 100): over six histories, the months that
    follow land inside the 80% and 95% bands about that often."""
    inside = {80: 0, 95: 0}
    months = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        days = pd.date_range("2025-11-18", periods=365 + 200, freq="D")
        spend = 1000 + 100 * np.sin(2 * np.pi * np.arange(len(days)) / 7) + rng.normal(0, 100, len(days))
        full = pd.Series(spend, index=days)
        result = monthly_forecast(full.iloc[:365])
        actual = full.groupby(full.index.to_period("M")).sum()
        for month, row in result.frame.iterrows():
            if month + pd.offsets.MonthEnd(0) > days[-1]:
                continue
            months += 1
            for level in inside:
                inside[level] += row[f"lower_{level}"] <= actual[month.to_period("M")] <= row[f"upper_{level}"]
        assert result.scores["band_method"] == "backtest"
    assert months >= 30
    assert 0.65 <= inside[80] / months <= 0.97
    assert inside[95] / months >= 0.85


def test_it_adds_the_daily_bands_when_the_history_is_too_short_to_backtest():
    days = pd.date_range("2026-01-01", periods=60, freq="D")
    result = monthly_forecast(pd.Series(100.0 + np.arange(60) % 7, index=days), horizon_months=3)
    assert result.scores["band_method"] == "daily_sum"
    assert "backtest origin" in result.fallback
    assert (result.frame["lower_95"] <= result.frame["upper_95"]).all()


@pytest.fixture
def billing(db):
    """240 days of effective cost: team vision (two tag values), team-less nlp, and untagged spend."""
    TeamFactory(name="Vision", slug="vision", tag_values=["vision", "vision-gpu"])
    rng = np.random.default_rng(7)
    lines = []
    for offset in range(240):
        day = TODAY - timedelta(days=240 - offset)
        weekday = 0.7 if day.weekday() >= 5 else 1.0
        lines += [
            {"day": day, "cost": f"{200 * weekday + rng.normal(0, 10):.6f}", "tags": {"team": "vision"}},
            {"day": day, "cost": f"{50 + rng.normal(0, 5):.6f}", "tags": {"team": "vision-gpu"}},
            {"day": day, "cost": f"{100 + 0.2 * offset + rng.normal(0, 8):.6f}", "tags": {"team": "nlp"}},
            {"day": day, "cost": f"{30 + rng.normal(0, 3):.6f}"},
        ]
    export_lines(lines)
    march = [Decimal(line["cost"]) for line in lines if line["day"] >= date(2026, 3, 1)]
    return {"march_to_date": sum(march, Decimal(0))}


def aws_answer(level: int) -> dict:
    spread = Decimal(level) * 10
    entries = []
    for start, end, mean in [("2026-03-20", "2026-04-01", 4500)] + [
        (MONTHS[n], MONTHS[n + 1] if n + 1 < len(MONTHS) else "2026-10-01", 12000) for n in range(1, len(MONTHS))
    ]:
        entries.append(
            {
                "TimePeriod": {"Start": start, "End": end},
                "MeanValue": str(mean),
                "PredictionIntervalLowerBound": str(mean - spread),
                "PredictionIntervalUpperBound": str(mean + spread),
            }
        )
    return {"Total": {"Amount": "76500", "Unit": "USD"}, "ForecastResultsByTime": entries}


def stubbed(answers: list) -> tuple:
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for level, answer in answers:
        expected = {
            "TimePeriod": {"Start": "2026-03-20", "End": "2026-10-01"},
            "Metric": "NET_AMORTIZED_COST",
            "Granularity": "MONTHLY",
            "PredictionIntervalLevel": level,
        }
        if isinstance(answer, str):
            stubber.add_client_error("get_cost_forecast", service_error_code=answer, expected_params=expected)
        else:
            stubber.add_response("get_cost_forecast", answer, expected)
    stubber.activate()
    return client, stubber


def by_key(rows: list[SpendForecast]) -> dict[str, SpendForecast]:
    return {row.key: row for row in rows}


def test_it_forecasts_each_team_and_the_total_by_month_beside_aws(billing, settings):
    from tests.factories import CloudAccountFactory

    CloudAccountFactory(account_id=PAYER, name="payer")
    client, stubber = stubbed([(80, aws_answer(80)), (95, aws_answer(95))])
    rows = by_key(spend_forecasts_refresh(today=TODAY, client_factory=lambda account: client))
    stubber.assert_no_pending_responses()

    assert set(rows) == {"", "vision", "nlp", "__unallocated__"}  # vision's two tag values are one team
    for row in rows.values():
        assert [point["month"] for point in row.points] == MONTHS
        assert row.history_end == TODAY and row.currency == "USD" and row.horizon_months == 6
        for point in row.points:
            figures = [Decimal(point[name]) for name in BANDS]
            assert figures == sorted(figures), (row.key, point)
            assert all(value == value.quantize(Decimal("0.01")) for value in figures)
        assert row.points[0]["actual_to_date"] is not None and row.points[1]["actual_to_date"] is None
        assert row.scores["band_method"] == "backtest"
    total = rows[""]
    assert Decimal(total.points[0]["actual_to_date"]) == billing["march_to_date"].quantize(Decimal("0.01"))
    assert Decimal(total.points[0]["lower_95"]) >= Decimal(total.points[0]["actual_to_date"])
    for index in range(len(MONTHS)):
        teams = sum(Decimal(rows[key].points[index]["mean"]) for key in ("vision", "nlp", "__unallocated__"))
        assert abs(teams - Decimal(total.points[index]["mean"])) <= Decimal("0.05") * Decimal(
            total.points[index]["mean"]
        )
    march = Decimal(total.points[0]["actual_to_date"])
    aws = total.aws_forecast
    assert aws["account"] == PAYER and aws["metric"] == "NET_AMORTIZED_COST"
    assert [point["month"] for point in aws["forecast"]] == MONTHS
    # AWS forecasts March from the 20th: our actual to date is added to compare whole months.
    assert aws["forecast"][0] == {
        "month": "2026-03-01",
        "mean": f"{march + 4500:.2f}",
        "lower_80": f"{march + 3700:.2f}",
        "upper_80": f"{march + 5300:.2f}",
        "lower_95": f"{march + 3550:.2f}",
        "upper_95": f"{march + 5450:.2f}",
    }
    assert aws["forecast"][1]["mean"] == "12000.00"
    assert all(rows[key].aws_forecast is None for key in ("vision", "nlp", "__unallocated__"))


def test_it_keeps_our_forecast_and_records_why_when_aws_has_no_forecast(billing):
    from tests.factories import CloudAccountFactory

    CloudAccountFactory(account_id=PAYER, name="payer")
    client, stubber = stubbed([(80, "DataUnavailableException")])
    rows = by_key(spend_forecasts_refresh(today=TODAY, client_factory=lambda account: client))
    total = rows[""]
    assert total.aws_forecast is None
    assert total.scores["aws_forecast_unavailable"].startswith("DataUnavailableException")
    assert [point["month"] for point in total.points] == MONTHS


def test_it_shows_the_sandboxs_getcostforecast_answer_beside_ours(billing, settings, monkeypatch):
    from tests.factories import CloudAccountFactory

    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", TODAY.isoformat())
    CloudAccountFactory(account_id=PAYER, name="payer")
    total = by_key(spend_forecasts_refresh(today=TODAY))[""]
    aws = total.aws_forecast
    assert aws is not None, total.scores.get("aws_forecast_unavailable")
    assert [point["month"] for point in aws["forecast"]] == MONTHS
    for point in aws["forecast"]:
        figures = [Decimal(point[name]) for name in BANDS]
        assert figures == sorted(figures) and figures[2] > 0


def test_it_says_why_there_is_no_aws_forecast_without_a_management_account(billing):
    total = by_key(spend_forecasts_refresh(today=TODAY))[""]
    assert total.aws_forecast is None
    assert "No management account" in total.scores["aws_forecast_unavailable"]


# The API over stored rows (what the nightly run writes).

GENERATED = datetime(2026, 3, 20, 2, 10, tzinfo=UTC)


def stored(key: str = "", currency: str = "USD", *, aws: bool = False, generated_at: datetime = GENERATED):
    points = [
        {
            "month": month,
            "mean": f"{1000 + n}.00",
            "lower_80": f"{900 + n}.00",
            "upper_80": f"{1100 + n}.00",
            "lower_95": f"{800 + n}.00",
            "upper_95": f"{1200 + n}.00",
            "actual_to_date": "600.00" if n == 0 else None,
        }
        for n, month in enumerate(MONTHS)
    ]
    aws_forecast = None
    if aws:
        aws_forecast = {
            "account": PAYER, "metric": "NET_AMORTIZED_COST", "start": "2026-03-20", "end": "2026-10-01",
            "currency": "USD", "current_month_note": "...",
            "forecast": [{k: v for k, v in point.items() if k != "actual_to_date"} for point in points],
        }  # fmt: skip
    return SpendForecast.objects.create(
        key=key, currency=currency, generated_at=generated_at, history_start=date(2025, 3, 20),
        history_end=TODAY, horizon_months=6, model="theta", scores={"band_method": "backtest"}, points=points,
        aws_forecast=aws_forecast,
    )  # fmt: skip


def test_it_answers_the_total_with_aws_beside_it(viewer_api):
    stored(generated_at=GENERATED - timedelta(days=1))  # an older run is not read
    stored(aws=True)
    stored("vision")
    response = viewer_api.get("/api/v1/forecasts/spend")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["generated_at"] == "2026-03-20T02:10:00+00:00"
    assert body["currency"] == "USD" and body["horizon"] == 3 and body["aggregate"] is None
    assert body["message"] is None
    (item,) = body["items"]
    assert item["key"] == {}
    assert [point["month"] for point in item["forecast"]] == MONTHS[:4]
    assert item["forecast"][0] == {
        "month": "2026-03-01", "mean": "1000.00", "lower_80": "900.00", "upper_80": "1100.00",
        "lower_95": "800.00", "upper_95": "1200.00", "actual_to_date": "600.00",
    }  # fmt: skip
    assert [point["month"] for point in item["aws_forecast"]["forecast"]] == MONTHS[:4]


def test_it_answers_per_team_for_six_months(viewer_api):
    stored(aws=True)
    stored("nlp")
    stored("vision")
    body = viewer_api.get("/api/v1/forecasts/spend", {"aggregate": "team", "horizon": "6"}).json()
    assert [item["key"] for item in body["items"]] == [{"team": "nlp"}, {"team": "vision"}]
    assert all(len(item["forecast"]) == 7 and item["aws_forecast"] is None for item in body["items"])


def test_it_answers_csv(viewer_api):
    stored(aws=True)
    response = viewer_api.get("/api/v1/forecasts/spend", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["month"] for row in rows] == MONTHS[:4]
    assert rows[0]["key"] == "total" and rows[0]["mean"] == "1000.00" and rows[0]["actual_to_date"] == "600.00"
    assert rows[1]["aws_mean"] == "1001.00" and rows[1]["actual_to_date"] == ""


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"aggregate": "service"}, "aggregate"),
        ({"horizon": "4"}, "horizon"),
        ({"horizon": "three"}, "horizon"),
        ({"currency": "dollars"}, "currency"),
        ({"window": "30d"}, "window"),
    ],
)
def test_it_rejects_a_bad_parameter_naming_it(viewer_api, params, name):
    stored()
    response = viewer_api.get("/api/v1/forecasts/spend", params)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]


def test_it_needs_a_currency_when_the_run_holds_several(viewer_api):
    stored("", "USD")
    stored("", "EUR")
    response = viewer_api.get("/api/v1/forecasts/spend")
    assert response.status_code == 400
    assert "EUR, USD" in response.json()["errors"]["currency"][0]
    body = viewer_api.get("/api/v1/forecasts/spend", {"currency": "eur"}).json()
    assert body["currency"] == "EUR" and len(body["items"]) == 1


def test_it_says_so_before_the_first_run(viewer_api):
    body = viewer_api.get("/api/v1/forecasts/spend").json()
    assert body["items"] == [] and body["generated_at"] is None
    assert "No spend forecast has been computed yet" in body["message"]


def test_it_refuses_the_anonymous(api_client, db):
    assert api_client.get("/api/v1/forecasts/spend").status_code in (401, 403)


def test_it_refuses_a_user_without_a_role(api_client, nobody):
    api_client.force_authenticate(nobody)
    assert api_client.get("/api/v1/forecasts/spend").status_code == 403


def test_it_documents_a_named_response_in_the_schema(admin_user, api_client):
    api_client.force_authenticate(admin_user)
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/api/v1/forecasts/spend/"]["get"]
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/SpendForecast"
    item = schema["components"]["schemas"]["SpendForecastItem"]
    assert {"key", "forecast", "aws_forecast"} <= set(item["properties"])
    assert {"aggregate", "horizon", "currency", "format"} <= {
        parameter["name"] for parameter in operation["parameters"]
    }
