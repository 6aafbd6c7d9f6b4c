"""The Overview page with the sandbox account's billing loaded."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from moto import mock_aws

from dashboards.templatetags.costplane import money
from finops.selectors.overview import overview_summary
from finops.services.billing_import import billing_export_import
from sandbox.server import seed_exports
from tests.e2e.browser import assert_charts_drawn


@pytest.fixture
def sandbox_billing(settings, monkeypatch):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        seed_exports(s3, size="small", today=date.today())
        billing_export_import(location="s3://costplane-sandbox-exports/exports/costplane-focus/")
        yield


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_shows_the_sandbox_month_to_date_and_a_daily_chart(sandbox_billing, signed_in_page, live_server, tmp_path):
    page = signed_in_page
    summary = overview_summary(today=date.today())
    expected = money(summary.current.usage)
    page.goto(f"{live_server.url}/")
    page.wait_for_load_state("networkidle")
    assert_charts_drawn(page, at_least=1)
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    assert page.locator("#kpi-mtd .value").inner_text() == expected
    assert summary.this_month.label in page.locator("#kpi-mtd .label").inner_text()
    fees = page.locator('#charge-kinds tr[data-kind="fee"] td').all_inner_texts()
    assert fees[1:3] == [money(summary.current.fees), money(summary.previous.fees)]
    traces = page.evaluate("document.querySelector('#daily-by-service .js-plotly-plot').data.length")
    assert traces >= 1
    assert page.locator("#freshness tbody tr").count() >= 1
    assert page.locator("#movers tbody tr").count() >= 1
