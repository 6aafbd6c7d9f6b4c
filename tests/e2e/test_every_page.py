"""Every page of the navigation with the small sandbox loaded (fleet, billing, recommendations, a policy, budgets,
anomalies, alerts), at 1440 and 1280 px: each page and each of its controls leaves no error in the browser (the
`page` fixture fails the test on any), every chart it shows is drawn, and every table fits its card."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from moto import mock_aws

from capacity.models import Recommendation, Resource
from capacity.services.alerts import alerts_evaluate
from capacity.services.compute_optimizer import compute_optimizer_collect
from capacity.services.policies import policy_create
from capacity.services.recommendations import Proposal, recommendations_store
from capacity.services.rightsizing import gpu_rightsizing_refresh
from finops.models import CloudAccount, Team
from finops.services.anomalies import cost_anomalies_detect
from finops.services.budgets import budget_create
from tests.capacity.conftest import REGION, client_factory
from tests.dashboards.test_capacity_page import SANDBOX_CLOCK, sandbox_fleet_collect
from tests.dashboards.test_unit_economics_page import sandbox_billing_import
from tests.e2e.browser import assert_charts_drawn, tables_overflowing
from tests.factories import UserFactory

WIDTHS = (1440, 1280)
# Where to keep the screenshots as well (for a person to look at), e.g. COSTPLANE_SCREENSHOTS=/tmp/pages.
SCREENSHOTS = os.environ.get("COSTPLANE_SCREENSHOTS", "")


def sandbox_everything_seed() -> dict:
    """The small sandbox as `make run` leaves it, in miniature: fleet and utilisation collected, billing imported,
    Compute Optimizer's and Costplane's recommendations, a policy, two budgets, anomalies and alerts evaluated."""
    now = sandbox_fleet_collect()
    sandbox_billing_import(now.date())
    with mock_aws():
        for account in CloudAccount.objects.all():
            compute_optimizer_collect(
                account=account, region=REGION, client_factory=client_factory(account.account_id), now=now
            )
    gpu_rightsizing_refresh(now=now)
    gpu = (
        Recommendation.objects.filter(resource__utilisation__metric="gpu", resource__type_info__gpu_count__gt=0)
        .distinct()
        .first()
    )
    if gpu is None:
        # Costplane's own right-sizing may find nothing in the small fleet: one recommendation on a GPU machine with
        # utilisation makes the detail panel's chart appear (its look-back is the evidence's window).
        resource = Resource.objects.filter(utilisation__metric="gpu").distinct().order_by("name").first()
        assert resource is not None, "the sandbox fleet has GPU utilisation"
        start = now - timedelta(days=14)
        recommendations_store(
            source=Recommendation.Source.COSTPLANE, account=resource.account, region=resource.region,
            resource_types=["Ec2Instance" if resource.kind == "ec2_instance" else "SageMakerEndpoint"],
            proposals=[Proposal(
                kind=Recommendation.Kind.RIGHTSIZE,
                resource_type="Ec2Instance" if resource.kind == "ec2_instance" else "SageMakerEndpoint",
                resource_arn=f"arn:aws:ec2:{resource.region}:{resource.account.account_id}:instance/"
                f"{resource.resource_id}",
                finding="GPUOverprovisioned", reason_codes=["GPUOverprovisioned"],
                current_configuration=resource.instance_type, recommended_configuration="g5.xlarge",
                monthly_savings=Decimal("321.5"), options=[{"instance_type": "g5.xlarge", "monthly_savings": "321.5"}],
                evidence={"gpu_p95_percent": 9.5, "lookback_start": start.isoformat(), "lookback_end": now.isoformat()},
                resource_ids=(resource.resource_id,),
            )],
            now=now,
        )  # fmt: skip
        gpu = Recommendation.objects.filter(source=Recommendation.Source.COSTPLANE).order_by("-pk").first()
    operator = UserFactory(username="olga", roles=["operator"])
    policy_create(
        user=operator,
        data={
            "name": "Dev GPUs at night", "action": "stop_start", "trigger": "schedule",
            "resource_kinds": ["ec2_instance"], "schedule": "off=(M-F,19);on=(M-F,7)",
            "tag_filters": {"team": ["vision"]},
            "max_actions_per_run": 5,
        },
    )  # fmt: skip
    vision = Team.objects.get(slug="vision")
    budget_create(name="All spend", amount=Decimal("1000000"), thresholds=[{"percent": 80}])
    budget_create(name="Vision", amount=Decimal("5000"), team=vision, thresholds=[{"percent": 50}])
    cost_anomalies_detect(today=now.date(), lookback_days=90)
    alerts_evaluate(now=now)
    return {"now": now, "gpu_recommendation": gpu}


@pytest.fixture
def sandbox_everything(settings):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    return sandbox_everything_seed()


def sign_in_as_admin(page, live_server) -> None:
    UserFactory(username="ada", roles=["admin"], is_staff=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def settle(page) -> None:
    page.wait_for_load_state("networkidle")


def check(page, where: str, found: list[str], *, charts: int = 0) -> None:
    """Charts drawn and tables measured on whatever the page shows now; what is wrong is added to `found`, so that
    one run names every page's problems."""
    try:
        assert_charts_drawn(page, at_least=charts)
    except AssertionError as error:
        found.append(f"{where}: {error}")
    for table in tables_overflowing(page):
        found.append(f"{where}: table wider than its card: {table}")


def choose_options(page, select: str, where: str, found: list[str]) -> None:
    """Pick up to three options of a <select> in turn (each reloads part of the page, or the page), then the first
    again (for a multiple select: none)."""
    options = page.locator(f"{select} option").evaluate_all("options => options.map(option => option.value)")
    multiple = page.locator(select).get_attribute("multiple") is not None
    for value in [*options[1:4], [] if multiple else options[0]] if options else []:
        if not page.locator(select).is_visible():
            return  # an earlier choice hid it (e.g. a key without tag coverage)
        page.select_option(select, value)
        settle(page)
        check(page, f"{where} {select}={value}", found)


# The page's filters: every visible <select> with an id in a GET form (POST forms are editors, not filters).
FILTER_SELECTS = """() => Array.from(document.querySelectorAll('form select[id]'))
  .filter(select => (select.form.getAttribute('method') || 'get').toLowerCase() === 'get')
  .filter(select => select.offsetParent !== null)
  .map(select => '#' + select.id)"""


def work_the_filters(page, where: str, found: list[str]) -> list[str]:
    """Every filter of the page in turn (see choose_options); returns the selects worked."""
    selects = page.evaluate(FILTER_SELECTS)
    for select in selects:
        if page.locator(select).count():
            choose_options(page, select, where, found)
    return selects


def click_first_row(page, table_rows: str, target: str, where: str, found: list[str], *, charts: int = 0) -> None:
    rows = page.locator(table_rows)
    assert rows.count() >= 1, f"{where}: no row in {table_rows}"
    rows.first.locator("td").nth(1).click()
    page.wait_for_selector(target)
    settle(page)
    check(page, f"{where} row", found, charts=charts)


@pytest.mark.e2e
@pytest.mark.clock(SANDBOX_CLOCK)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_and_its_controls_work_draw_their_charts_and_fit_their_tables(
    sandbox_everything, page, live_server, width, tmp_path
):
    url = live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_as_admin(page, live_server)
    found: list[str] = []
    measured: list[int] = []

    def visit(path: str, *, charts: int = 0) -> None:
        response = page.goto(url + path)
        assert response is not None and response.status == 200, f"{path} answered {response and response.status}"
        settle(page)
        check(page, path, found, charts=charts)
        name = f"{path.strip('/').split('?')[0].replace('/', '_') or 'overview'}-{width}.png"
        for folder in (tmp_path, SCREENSHOTS):
            if folder:
                page.screenshot(path=str(Path(folder) / name), full_page=True)
        measured.append(len(page.locator(".card table").all()))

    visit("/", charts=1)
    work_the_filters(page, "/", found)

    visit("/allocation/", charts=1)
    assert {"#id_key", "#id_window"} <= set(work_the_filters(page, "/allocation/", found))

    visit("/unit-economics/", charts=1)
    assert "#id_group" in work_the_filters(page, "/unit-economics/", found)

    visit("/capacity/")
    click_first_row(page, "#capacity-resources-table tbody tr", "#resource-detail-name", "/capacity/", found, charts=1)
    assert "#filter-gpu" in work_the_filters(page, "/capacity/", found)

    visit("/capacity/plan/")
    assert "#plan-scenario" in work_the_filters(page, "/capacity/plan/", found)

    visit("/accounts/")
    work_the_filters(page, "/accounts/", found)
    visit("/reconciliation/")
    work_the_filters(page, "/reconciliation/", found)

    visit("/recommendations/")
    assert "#filter-risk" in work_the_filters(page, "/recommendations/", found)
    gpu = sandbox_everything["gpu_recommendation"]
    visit(f"/recommendations/?state=&recommendation={gpu.pk}", charts=1)
    assert page.locator("#recommendation-utilisation-chart .main-svg").count() >= 1, "the evidence chart is drawn"
    for row in range(min(3, page.locator("#recommendations-table tbody tr").count())):
        page.locator("#recommendations-table tbody tr").nth(row).locator("td").nth(1).click()
        settle(page)
        check(page, f"/recommendations/ row {row}", found)

    visit("/schedules/")
    work_the_filters(page, "/schedules/", found)
    page.locator(".preview-button").first.click()
    page.wait_for_selector("#policy-preview-name")
    settle(page)
    check(page, "/schedules/ preview", found)

    visit("/alerts/")
    work_the_filters(page, "/alerts/", found)
    visit("/anomalies/")
    assert "#filter-source" in work_the_filters(page, "/anomalies/", found)
    page.locator("#anomalies-table tbody tr[data-anomaly] td.value").first.click()
    page.wait_for_selector("#anomaly-title")
    settle(page)
    check(page, "/anomalies/ detail", found, charts=1)

    visit("/budgets/", charts=2)
    work_the_filters(page, "/budgets/", found)

    assert found == [], "\n".join(found)
    assert sum(measured) >= 20, f"tables measured per page: {measured}"
