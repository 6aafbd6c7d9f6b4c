"""The Allocation page's periods (labelled by the dates they hold, cut ones marked partial), its filters (the API's,
narrowing the page as they narrow the API), and accounts shown by name beside their ids on the pages that list them."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import pytest

from finops.models import CloudAccount, CostExplorerRecord, IngestionRun
from finops.services.billing_import import billing_export_import
from tests.finops.test_billing_import import focus_rows, write_focus

ML_PROD = "222222222222"
DATA = "333333333333"
JANUARY = {"window": "custom", "start": "2026-01-01", "end": "2026-02-01"}


@pytest.fixture
def january_billing(tmp_path, db):
    """Jan 1–10, three lines a day at 1.25 (SageMaker untagged, EC2 vision, S3 vision) in account ml-prod, except
    that S3 runs in account `data` in eu-west-1; and a 4.00 Tax line on Jan 1 in ml-prod."""
    CloudAccount.objects.create(account_id="111111111111", name="payer")
    CloudAccount.objects.create(account_id=ML_PROD, name="ml-prod")
    CloudAccount.objects.create(account_id=DATA, name="")  # an account without a name shows its id alone
    rows = focus_rows(days=10)
    for row in rows:
        if row["ServiceName"] == "Amazon S3":
            row["SubAccountId"], row["RegionId"] = DATA, "eu-west-1"
    tax = {**rows[0], "ChargeCategory": "Tax", "ServiceName": "Tax", "ResourceId": "", "BilledCost": "4.00"}
    rows.append({**tax, "EffectiveCost": "4.00", "Tags": json.dumps({})})
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def table_cells(html: str, table_id: str) -> list[list[str]]:
    """The rows of the table with that id, each a list of its cells' text (tags stripped, spaces folded)."""
    table = html[html.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in cells])
    return rows


def visible_text(html: str) -> str:
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<(select|option)[^>]*>", " ", html)  # option values are attributes, their labels text
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.clock("2026-02-03T10:00:00Z")
def test_a_last_month_view_labels_each_week_by_the_days_it_holds_and_marks_the_cut_ones(january_billing, viewer_client):
    html = viewer_client.get("/allocation/", {"window": "lastmonth", "step": "week"}).content.decode()
    rows = table_cells(html, "allocation-periods")
    assert rows[0][:3] == ["Period", "Days", "Cost"]
    body = {row[0]: row[1:3] for row in rows[1:-1]}
    # Jan 1, 2026 is a Thursday: its ISO week starts on Dec 29, which a "last month" view does not hold.
    assert body == {
        "Jan 1 – 4 partial: 4 of 7 days": ["4", "$19.00"],
        "Jan 5 – 11": ["7", "$22.50"],
        "Jan 12 – 18": ["7", "$0.00"],
        "Jan 19 – 25": ["7", "$0.00"],
        "Jan 26 – 31 partial: 6 of 7 days": ["6", "$0.00"],
    }
    assert rows[-1][:3] == ["Total", "", "$41.50"]
    partial_rows = re.findall(
        r'<tr[^>]*class="[^"]*\bpartial\b[^"]*"[^>]*data-period="([^"]+)"|<tr[^>]*data-period="([^"]+)"[^>]*class="[^"]*\bpartial\b',
        html,
    )
    assert sorted("".join(match) for match in partial_rows) == ["2025-12-29", "2026-01-26"]
    # The chart names the same buckets and marks the cut ones.
    assert '"Jan 1 – 4"' in html.replace("\\u2013", "–") and "partial: 4 of 7 days" in html
    assert "Lighter bars are periods the window cuts: Jan 1 – 4 (partial: 4 of 7 days); Jan 26 – 31" in html

    by_month = viewer_client.get("/allocation/", {"window": "lastmonth", "step": "month"}).content.decode()
    assert table_cells(by_month, "allocation-periods")[1][:3] == ["Jan 1 – 31", "31", "$41.50"]
    assert "partial:" not in visible_text(by_month)


@pytest.mark.clock("2026-01-09T10:00:00Z")
def test_a_30_day_view_marks_its_short_last_week_instead_of_showing_a_drop(january_billing, viewer_client):
    html = viewer_client.get("/allocation/", {"window": "30d", "step": "week"}).content.decode()
    rows = table_cells(html, "allocation-periods")[1:-1]
    labels = [row[0] for row in rows]
    assert labels == [
        "Dec 10 – 14 partial: 5 of 7 days",
        "Dec 15 – 21",
        "Dec 22 – 28",
        "Dec 29, 2025 – Jan 4, 2026",
        "Jan 5 – 8 partial: 4 of 7 days",
    ]
    assert rows[-1][1:3] == ["4", "$15.00"]  # Jan 5–8: four days of 3.75
    assert rows[-2][1:3] == ["7", "$19.00"]  # Jan 1–4 and the tax
    assert "partial: 4 of 7 days" in html.split('id="allocation-chart"')[1].split("</section>")[0]


def api_total(client, params: dict) -> Decimal:
    response = client.get("/api/v1/allocations/", params)
    assert response.status_code == 200, response.content
    return Decimal(response.json()["total"])


def page_total(client, params: dict) -> Decimal:
    html = client.get("/allocation/", params).content.decode()
    return Decimal(re.search(r'id="allocation-total" title="[^"]*" data-exact="([^"]+)"', html).group(1))


@pytest.mark.parametrize(
    "filters",
    [
        {"service": ["Amazon SageMaker"]},
        {"service": ["Amazon SageMaker", "Amazon S3"]},
        {"account": [DATA]},
        {"region": ["eu-west-1"]},
        {"charge_category": ["tax"]},
        {"account": [ML_PROD], "charge_category": ["usage"], "service": ["Amazon Elastic Compute Cloud"]},
    ],
)
def test_the_filters_narrow_the_page_as_they_narrow_the_api(january_billing, viewer_client, filters):
    window = {"window": "2026-01-01,2026-02-01", "aggregate": "tag:team", "step": "week", "cost_basis": "billed"}
    everything = api_total(viewer_client, window)
    narrowed = api_total(viewer_client, {**window, **filters})
    assert Decimal(0) < narrowed < everything
    assert page_total(viewer_client, {**JANUARY, **filters}) == narrowed
    assert page_total(viewer_client, JANUARY) == everything


def test_the_filters_are_offered_with_the_values_in_the_window_and_kept_in_the_links(january_billing, viewer_client):
    html = viewer_client.get("/allocation/", {**JANUARY, "service": "Amazon S3", "account": DATA}).content.decode()
    services = re.search(r'<select name="service"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</option>", services) == [
        "Amazon Elastic Compute Cloud",
        "Amazon S3",
        "Amazon SageMaker",
        "Tax",
    ]
    assert re.search(r'<option value="Amazon S3" selected>', services)
    accounts = re.search(r'<select name="account"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</option>", accounts) == [DATA, "ml-prod (222222222222)"]
    regions = re.search(r'<select name="region"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</option>", regions) == ["eu-west-1", "us-east-1"]
    categories = re.search(r'<select name="charge_category"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</option>", categories) == ["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
    csv_link = re.search(r'href="([^"]+)" id="download-csv"', html).group(1).replace("&amp;", "&")
    assert "service=Amazon+S3" in csv_link and f"account={DATA}" in csv_link
    assert "Filtered Account: 333333333333; Service: Amazon S3" in visible_text(html)
    coverage = re.search(r'hx-get="([^"]+panel=coverage[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "service=Amazon+S3" in coverage


def test_an_unknown_charge_category_is_an_error_not_an_unfiltered_page(january_billing, viewer_client):
    html = viewer_client.get("/allocation/", {**JANUARY, "charge_category": "refund"}).content.decode()
    assert 'id="allocation-errors"' in html and 'id="allocation-table"' not in html


def test_accounts_are_named_beside_their_ids_when_allocating_by_account(january_billing, viewer_client):
    html = viewer_client.get("/allocation/", {**JANUARY, "key": "account"}).content.decode()
    rows = {row[0]: row[1:] for row in table_cells(html, "allocation-table")[1:]}
    assert "ml-prod 222222222222" in rows and DATA in rows
    assert rows["ml-prod 222222222222"][0] == "$29.00"  # 20 days of 1.25 and the 4.00 tax
    chart = html.split('id="allocation-chart"')[1].split("</section>")[0]
    assert "ml-prod (222222222222)" in chart  # the legend names the account too
    coverage = viewer_client.get("/allocation/", {**JANUARY, "panel": "coverage"}).content.decode()
    untagged = table_cells(coverage, "untagged-resources")
    assert any(row[1] == "ml-prod 222222222222" for row in untagged[1:])


def test_a_charge_category_key_shows_words_and_no_raw_enum_values_show_on_the_report(january_billing, viewer_client):
    html = viewer_client.get(
        "/allocation/", {**JANUARY, "key": "charge_category", "cost_basis": "effective"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    labels = [row[0] for row in table_cells(html, "allocation-table")[1:-1]]
    assert labels == ["Usage", "Tax"]
    text = visible_text(html)
    assert "(effective cost, by week)" in text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|\b[A-Z][a-z]+[A-Z]\w*\b|\b[A-Z]+_[A-Z_]+\b", text), text


@pytest.mark.clock("2026-02-03T10:00:00Z")
def test_the_accounts_and_reconciliation_pages_name_accounts_and_show_words(january_billing, viewer_client):
    payer = CloudAccount.objects.get(account_id="111111111111")
    CloudAccount.objects.filter(account_id=ML_PROD).update(payer=payer)
    IngestionRun.objects.create(
        account=CloudAccount.objects.get(account_id=ML_PROD),
        source=IngestionRun.Source.EXPORT,
        status=IngestionRun.Status.SUCCEEDED,
        window_start=date(2026, 1, 1),
        window_end=date(2026, 1, 11),
    )
    accounts = viewer_client.get("/accounts/").content.decode()
    rows = {row[0]: row[1:] for row in table_cells(accounts, "accounts")[1:]}
    assert rows["ml-prod 222222222222"][0] == "payer 111111111111"
    assert rows["ml-prod 222222222222"][4].startswith("Succeeded ")
    assert DATA in rows
    # Cost Explorer says 9.99 for ml-prod on Jan 2; the export says 3.75.
    CostExplorerRecord.objects.create(
        account=payer,
        view=CostExplorerRecord.ACCOUNT_SERVICE_VIEW,
        day=date(2026, 1, 2),
        linked_account_id=ML_PROD,
        service_name="Amazon SageMaker",
        unblended_cost=Decimal("9.99"),
        amortized_cost=Decimal("9.99"),
        net_amortized_cost=Decimal("9.99"),
        usage_quantity=Decimal(1),
    )
    reconciliation = viewer_client.get("/reconciliation/", {"days": 60}).content.decode()
    mismatches = table_cells(reconciliation, "mismatches")
    assert mismatches[1][:3] == ["Jan. 2, 2026", "ml-prod 222222222222", "FOCUS"]
