"""The Unit economics page on the sandbox: billing imported for today, fleet inventoried, invocations collected."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, Decimal

import boto3
import pytest
from moto import mock_aws

from dashboards.templatetags.costplane import unit_price
from finops.services.billing_import import billing_export_import
from sandbox.server import seed_exports
from tests.dashboards.test_capacity_page import SANDBOX_CLOCK, sandbox_fleet_collect, table_rows

pytestmark = [pytest.mark.django_db, pytest.mark.clock(SANDBOX_CLOCK)]
MODEL_VERSIONS = "tag:model,tag:model_version"


def sandbox_billing_import(today) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        seed_exports(s3, size="small", today=today)
        billing_export_import(location="s3://costplane-sandbox-exports/exports/costplane-focus/")


@pytest.fixture
def sandbox_loaded(db, settings):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    now = sandbox_fleet_collect()
    sandbox_billing_import(now.date())
    return now


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def cents(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def exact_cells(html: str, table_id: str) -> list[list[str | None]]:
    """The table's body rows as the exact value (data-exact) of each money cell, or None where a cell has none."""
    table = html[html.index(f'id="{table_id}"') :]
    body = table[table.index("<tbody") : table.index("</tbody>")]
    return [
        [(match.group(1) if (match := re.search(r'data-exact="([^"]*)"', cell)) else None) for cell in cells]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
        )
    ]


def api_items(client, params: dict) -> dict[str, dict]:
    body = client.get("/api/v1/unit-costs/", params).json()
    return body, {" ".join(value or "" for value in item["key"].values()): item for item in body["items"]}


def test_it_shows_cost_per_thousand_predictions_equal_to_the_unit_costs_api(sandbox_loaded, viewer_client):
    response = viewer_client.get("/unit-economics/")
    assert response.status_code == 200
    html = response.content.decode()
    body, items = api_items(viewer_client, {"window": "30d", "aggregate": MODEL_VERSIONS})
    rows = table_rows(html, "unit-cost-table")
    values = exact_cells(html, "unit-cost-table")
    assert len(rows) == len(body["items"]) > 0
    served = [item for item in body["items"] if item["cost_per_1000_predictions"] is not None]
    assert served, "the busy endpoints' models have a cost per 1,000 predictions"
    checked = 0
    for row, exact in zip(rows, values, strict=True):
        label, cost, metered_cost, predictions, per_thousand, training = row
        key = re.sub(r"\(untagged [^)]*\)", "", label).strip()
        item = items.get(key) or next(item for name, item in items.items() if name.strip() == key)
        assert cents(exact[1]) == cents(item["cost"]) and cost == f"${cents(item['cost']):,}"
        assert Decimal(exact[2]) == Decimal(item["cost_with_predictions"])
        assert metered_cost == f"${cents(item['cost_with_predictions']):,}"
        assert cents(exact[5]) == cents(item["training_cost"])
        if item["predictions"] is None:
            assert predictions in ("unknown", "—") and per_thousand == "—"
            assert predictions == "unknown" or Decimal(item["cost"]) == 0
        else:
            assert predictions == f"{Decimal(item['predictions']):,.0f}"
        if item["cost_per_1000_predictions"] is not None:
            assert cents(exact[4]) == cents(item["cost_per_1000_predictions"])
            assert Decimal(exact[4]) == Decimal(item["cost_per_1000_predictions"])
            checked += 1
    assert checked == len(served)
    total = re.search(r'id="unit-serving-total"[^>]*>([^<]*)<', html).group(1)
    assert total == f"${cents(body['total']):,}"
    assert html.count('class="plotly-graph-div"') == 2, "the bar chart and the daily chart"
    daily = viewer_client.get("/api/v1/unit-costs/", {"window": "30d", "aggregate": MODEL_VERSIONS, "step": "day"})
    counted_since = min(item["period"] for item in daily.json()["items"] if item["predictions"] is not None)
    note = re.search(r'id="unit-partial-predictions">(.*?)</p>', html, re.S).group(1)
    assert note.startswith(f"Invocations data starts on {counted_since}, after the window starts")
    api_link = re.search(r'href="([^"]+)" id="api-link"', html).group(1).replace("&amp;", "&")
    assert api_link == "/api/v1/unit-costs?window=30d&aggregate=tag%3Amodel%2Ctag%3Amodel_version"
    csv_link = re.search(r'href="([^"]+)" id="download-csv"', html).group(1).replace("&amp;", "&")
    csv = viewer_client.get(csv_link)
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")


def test_it_shows_unknown_predictions_for_endpoints_without_invocations_data(sandbox_loaded, viewer_client):
    html = viewer_client.get("/unit-economics/", {"window": "7d", "group": "resource"}).content.decode()
    _, items = api_items(viewer_client, {"window": "7d", "aggregate": "resource"})
    unknown = {
        name.rsplit("/", 1)[-1]: item
        for name, item in items.items()
        if ":endpoint/" in name and item["predictions"] is None and Decimal(item["cost"]) > 0
    }
    assert unknown, "the sandbox has an endpoint without Invocations datapoints"
    rows = {row[0]: row for row in table_rows(html, "unit-cost-table")}
    for name in unknown:
        assert rows[name][2:5] == ["$0.00", "unknown", "—"], "no data is unknown, never 0, and no day's cost counts"
    known = {name.rsplit("/", 1)[-1]: item for name, item in items.items() if item["predictions"] is not None}
    for name, item in known.items():
        assert rows[name][3] == f"{Decimal(item['predictions']):,.0f}"
    assert "window=7d&amp;aggregate=resource" in html


def test_it_lists_training_cost_per_model_version_over_thirteen_months(sandbox_loaded, viewer_client):
    page = viewer_client.get("/unit-economics/").content.decode()
    training_url = re.search(r'hx-get="([^"]+)" hx-trigger="load"', page).group(1).replace("&amp;", "&")
    html = viewer_client.get(training_url).content.decode()
    api_link = re.search(r'href="([^"]+)" id="training-api-link"', html).group(1).replace("&amp;", "&")
    assert "aggregate=tag%3Amodel%2Ctag%3Amodel_version" in api_link
    body = viewer_client.get(api_link).json()
    expected = {
        (item["key"]["tag:model"], item["key"]["tag:model_version"]): cents(item["training_cost"])
        for item in body["items"]
        if Decimal(item["training_cost"]) > 0
    }
    assert expected
    shown = {(row[0], row[1]): row[2] for row in table_rows(html, "training-cost-table")}
    assert shown == {key: f"${value:,}" for key, value in expected.items()}


def test_it_returns_the_report_fragment_to_htmx(sandbox_loaded, viewer_client):
    response = viewer_client.get("/unit-economics/", {"window": "mtd"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="unit-report">') and "<html" not in html
    assert "window=mtd" in html


def test_it_says_so_when_there_is_no_billing_data(viewer_client):
    html = viewer_client.get("/unit-economics/").content.decode()
    assert "No unit costs yet" in html
    assert 'id="unit-cost-table"' not in html


def test_it_says_so_when_the_window_has_no_serving_or_training_cost(viewer_client, tmp_path):
    from tests.finops.test_billing_import import focus_rows, write_focus

    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", focus_rows(days=3))))
    html = viewer_client.get("/unit-economics/", {"window": "lastmonth"}).content.decode()
    assert "No serving or training cost in this window" in html
    assert 'class="plotly-graph-div"' not in html


def plotted_bars(html: str, element_id: str) -> dict[str, str]:
    """The bar chart in `element_id` as {bar label: the text drawn beside it}, from the figure the page embeds."""
    chart = html[html.index(f'id="{element_id}"') :]
    start = chart.index("Plotly.newPlot(")
    arguments = chart[chart.index(",", start) + 1 :].lstrip()
    data, _ = json.JSONDecoder().raw_decode(arguments)
    return dict(zip(data[0]["y"], data[0]["text"], strict=True))


def test_it_shows_the_cost_its_cost_per_thousand_divides_and_rounds_it_as_the_chart_does(sandbox_loaded, viewer_client):
    html = viewer_client.get("/unit-economics/").content.decode()
    header = re.findall(r"<th[^>]*>(.*?)</th>", html[html.index('id="unit-cost-table"') :], re.S)[:6]
    assert [re.sub(r"<[^>]+>", "", cell).strip() for cell in header] == [
        "Model version", "Serving cost", "Serving cost of days with predictions", "Predictions",
        "Cost per 1,000 predictions", "Training cost",
    ]  # fmt: skip
    bars = plotted_bars(html, "unit-cost-chart")
    recomputed = partial = 0
    for row in table_rows(html, "unit-cost-table"):
        label, cost, metered_cost, predictions, per_thousand, _ = row
        if per_thousand == "—":
            continue
        # Recomputed from the row as shown: the cost of the days with predictions over the predictions.
        metered, count = Decimal(metered_cost.strip("$").replace(",", "")), Decimal(predictions.replace(",", ""))
        figure = metered * 1000 / count
        shown = Decimal(per_thousand.strip("$").replace(",", ""))
        assert abs(figure - shown) <= Decimal("0.005") + Decimal("0.005") * 1000 / count, (label, figure, shown)
        recomputed += 1
        if metered != Decimal(cost.strip("$").replace(",", "")):
            partial += 1
            whole = Decimal(cost.strip("$").replace(",", "")) * 1000 / count
            assert abs(whole - shown) > Decimal("0.01"), "the whole serving cost would give another figure"
        assert bars[label] == per_thousand, "the chart's label is the table's figure, rounded the same way"
    assert recomputed == len(bars) > 0
    assert partial > 0, "some endpoint-days in the window have no Invocations data, and the row says what counts"


def test_a_price_below_a_dime_keeps_four_significant_digits_without_an_exponent():
    assert unit_price(Decimal("2.0718")) == "$2.07"
    assert unit_price(Decimal("0.0123456")) == "$0.01235"
    assert unit_price(Decimal("0.000012346")) == "$0.00001235"
    assert unit_price(Decimal(0)) == "$0.00" and unit_price(None) == "—"
