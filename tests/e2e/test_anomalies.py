"""The Anomalies page in a browser: ours and AWS's over the sandbox account, a detail, and feedback."""

from __future__ import annotations

from datetime import date

import pytest

from finops.models import CloudAccount, CostAnomaly
from finops.services.anomalies import cost_anomalies_aws_ingest, cost_anomalies_detect
from tests.e2e.browser import assert_charts_drawn
from tests.e2e.test_overview import sandbox_billing  # noqa: F401 (a fixture)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_lists_ours_beside_aws_and_takes_feedback(sandbox_billing, signed_in_page, live_server, tmp_path):  # noqa: F811
    today = date.today()
    stored = cost_anomalies_detect(today=today, lookback_days=90)
    assert stored, "the sandbox's training bursts give some anomalies over 90 days"
    payer = CloudAccount.objects.get_or_create(account_id="481516234200", defaults={"name": "management"})[0]
    assert cost_anomalies_aws_ingest(account=payer, today=today) > 0
    ours = (
        CostAnomaly.objects.filter(source="costplane").exclude(contributors__usage_types=[]).order_by("-impact").first()
    )
    assert ours is not None

    page = signed_in_page
    for source, label in (("aws", "AWS"), ("costplane", "Costplane")):
        page.goto(f"{live_server.url}/anomalies/?source={source}")
        page.wait_for_load_state("networkidle")
        shown = page.locator("#anomalies-table tbody td.source").all_inner_texts()
        assert shown and set(shown) == {label}
    page.goto(f"{live_server.url}/anomalies/")
    page.wait_for_load_state("networkidle")
    assert page.locator("nav.mainnav a.active").inner_text() == "Anomalies"
    assert_charts_drawn(page)
    page.screenshot(path=str(tmp_path / "anomalies.png"), full_page=True)

    page.goto(f"{live_server.url}/anomalies/?source=costplane&dimension={ours.dimension}&per_page=100")
    page.wait_for_load_state("networkidle")
    # Listed as its incident (ours may share it with other dimensions that saw the same spike).
    row = page.locator(f'#anomalies-table tr[data-anomaly="{ours.incident_id}"]')
    if row.count() == 0:  # on a later page: open it directly
        page.goto(f"{live_server.url}/anomalies/?anomaly={ours.incident_id}")
    else:
        row.locator("td.value").click()
    page.wait_for_selector(f"#anomaly-title:has-text('{ours.value}')")
    page.wait_for_load_state("networkidle")
    traces = page.evaluate("Array.from(document.querySelector('#anomaly-chart .js-plotly-plot').data, t => t.name)")
    assert traces == ["Cost", "Baseline (same weekday)", "Anomaly threshold"]
    top = ours.contributors["usage_types"][0]["usage_type"]
    assert page.locator("#anomaly-usage-types tbody tr").first.locator("td").first.inner_text() == top
    assert_charts_drawn(page, at_least=1)
    page.locator("#anomaly-detail").screenshot(path=str(tmp_path / "anomaly-detail.png"))

    page.click("#anomaly-feedback button[value=expected]")
    page.wait_for_selector("#anomaly-feedback-status:has-text('Saved: Expected, by erin')")
    ours.refresh_from_db()
    assert (ours.feedback, ours.feedback_by.username) == ("expected", "erin")
