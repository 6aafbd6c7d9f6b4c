"""The Capacity page with the small sandbox fleet seeded into moto, collected, priced and its quotas read."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from moto import mock_aws

from capacity.models import CollectionRun, Resource, ServiceQuota, UtilisationHour
from capacity.selectors.inventory import FLEET_KINDS, RUNNING_STATES, inventoried_types
from capacity.services.inventory import inventory_collect
from capacity.services.prices import prices_refresh
from capacity.services.quotas import quotas_refresh
from capacity.services.utilisation import utilisation_collect
from sandbox.catalogue import ACCOUNT_IDS, ACCOUNTS
from sandbox.server import seed_machines
from tests.capacity.conftest import REGION, client_factory
from tests.clock import pinned as clock_pinned
from tests.factories import CloudAccountFactory, TeamFactory

# The sandbox fleet follows the clock: its weekday machines run 07:00-19:00 UTC, Monday to Friday. Pages over it are
# tested at a Wednesday 03:00 UTC, when those machines are stopped (so running GPUs are fewer than all GPUs), and on a
# fixed date, so the catalogue's history is the same on every run.
SANDBOX_CLOCK = "2026-12-02T03:00:00Z"

pytestmark = [pytest.mark.django_db, pytest.mark.clock(SANDBOX_CLOCK)]


def sandbox_fleet_collect(now: datetime | None = None) -> datetime:
    """Seed the small sandbox fleet in moto (in-process) with metrics up to `now` and collect everything the page
    reads, as the capacity tasks would: inventory, utilisation and quotas per account, then prices. Returns `now`."""
    assert clock_pinned(), "the sandbox fleet's state follows the clock: pin it with @pytest.mark.clock(SANDBOX_CLOCK)"
    now = now or timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    accounts = [CloudAccountFactory(account_id=account.id, name=account.name) for account in ACCOUNTS]
    for name in ("vision", "speech", "recsys", "platform"):
        TeamFactory(name=name.title(), slug=name, tag_values=[name])
    with mock_aws():
        seed_machines(None, "small", now.date(), now=now)
        for account in accounts:
            clients = client_factory(account.account_id)
            inventory_collect(account=account, region=REGION, client_factory=clients, now=now)
            utilisation_collect(account=account, region=REGION, until=now, client_factory=clients)
            quotas_refresh(account=account, region=REGION, client_factory=clients, now=now)
        regions, instance_types = inventoried_types()
        pricing = client_factory(ACCOUNT_IDS["ml-prod"])("pricing")
        prices_refresh(regions=regions, instance_types=instance_types, client=pricing, today=now.date())
    return now


@pytest.fixture
def collected_fleet(db):
    return sandbox_fleet_collect()


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with this id, each a list of cell texts."""
    table = html[html.index(f'id="{table_id}"') :]
    body = table[table.index("<tbody") : table.index("</tbody>")]
    return [
        [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def resource_row(html: str, name: str) -> list[str]:
    return next(row for row in table_rows(html, "capacity-resources-table") if row[0] == name)


def kpi(html: str, kpi_id: str) -> str:
    block = html[html.index(f'id="{kpi_id}"') :]
    return text(re.search(r'<div class="value[^"]*"[^>]*>(.*?)</div>', block, re.S).group(1))


def test_it_shows_gpu_totals_that_equal_the_inventory(collected_fleet, viewer_client):
    response = viewer_client.get("/capacity/")
    assert response.status_code == 200
    html = response.content.decode()
    fleet = [
        resource
        for resource in Resource.objects.filter(gone_at=None, kind__in=FLEET_KINDS).select_related("type_info")
        if resource.type_info and resource.type_info.gpu_count
    ]
    total = sum(resource.instance_count * resource.type_info.gpu_count for resource in fleet)
    running = sum(
        resource.instance_count * resource.type_info.gpu_count for resource in fleet if resource.state in RUNNING_STATES
    )
    assert total > running > 0
    assert kpi(html, "kpi-gpus") == str(total)
    assert kpi(html, "kpi-running-gpus") == str(running)
    footer = html[html.index('id="gpu-fleet"') :]
    footer = footer[footer.index("<tfoot") : footer.index("</tfoot>")]
    assert [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", footer, re.S)][-2:] == [str(total), str(running)]
    vision_a100 = [row for row in table_rows(html, "gpu-fleet") if row[0] == "Vision" and row[1].startswith("A100")]
    assert vision_a100 == [["Vision", "A100 GPU", "EC2 instance", "1", "1", "8", "8"]]
    assert re.fullmatch(r"\d+\.\d%", kpi(html, "kpi-gpu-utilisation"))


def test_it_shows_averages_prices_and_no_data_where_utilisation_is_unknown(collected_fleet, viewer_client):
    html = viewer_client.get("/capacity/", {"gpu": "true", "kind": "sagemaker_notebook"}).content.decode()
    notebook = resource_row(html, "speech-asr-notebook")
    assert notebook[1:3] == ["SageMaker notebook", "Speech"]
    assert notebook[-3:] == ["no data", "no data", "$1.408"], "a notebook has no CloudWatch metrics: unknown, not 0"
    assert not UtilisationHour.objects.filter(resource__name="speech-asr-notebook").exists()

    html = viewer_client.get("/capacity/", {"name": "vision-train-p4d"}).content.decode()
    p4d = resource_row(html, "vision-train-p4d-0")
    average = UtilisationHour.objects.filter(resource__name="vision-train-p4d-0", metric="gpu").exclude(average=None)
    expected = sum(row.average for row in average) / average.count()
    assert p4d[-2] == f"{expected:.1f}%" and p4d[-1] == "$32.7726"
    assert p4d[3:7] == ["ml-research 481516234202 us-east-1", "p4d.24xlarge", "8 A100", "Running"]

    html = viewer_client.get("/capacity/", {"kind": "sagemaker_endpoint"}).content.decode()
    whisper = resource_row(html, "whisper-asr-prod")
    assert whisper[-2] == "—", "Inferentia: GPU utilisation does not apply"
    assert resource_row(html, "two-tower-staging")[-1] == "$7.09"
    assert "0.0%" not in [cell for row in table_rows(html, "capacity-resources-table") for cell in row[-3:-1]]


def test_it_says_price_missing_when_the_pricing_api_has_none(collected_fleet, viewer_client):
    Resource.objects.filter(name="speech-asr-notebook").update(instance_type="ml.g5.12xlarge")  # no Notebook price
    html = viewer_client.get("/capacity/", {"name": "speech-asr-notebook"}).content.decode()
    assert resource_row(html, "speech-asr-notebook")[-1] == "price missing"


def test_it_filters_by_kind_team_and_gpu_and_hides_gone_resources(collected_fleet, viewer_client):
    def names(params) -> set[str]:
        html = viewer_client.get("/capacity/", {**params, "kind": params.get("kind", "ec2_instance")}).content.decode()
        return {row[0] for row in table_rows(html, "capacity-resources-table")}

    everything = names({})
    assert {"vision-train-p4d-0", "gitlab-runner-0", "recsys-serve-inf2-0"} <= everything
    assert names({"team": "vision"}) == {"vision-train-p4d-0", "vision-dev-g5-0"}
    gpu = names({"gpu": "true"})
    assert "vision-train-p4d-0" in gpu and "gitlab-runner-0" not in gpu and "mlflow-0" not in gpu
    assert names({"gpu": "false"}) == everything - gpu
    html = viewer_client.get("/capacity/", {"kind": "sagemaker_endpoint"}).content.decode()
    assert {row[1] for row in table_rows(html, "capacity-resources-table")} == {"SageMaker endpoint"}

    Resource.objects.filter(name="scratch-g5").update(gone_at=timezone.now())
    assert "scratch-g5" not in names({})
    html = viewer_client.get("/capacity/", {"kind": "ec2_instance", "gone": "1"}).content.decode()
    assert resource_row(html, "scratch-g5")[6] == "gone"
    assert "vision-train-p4d-0" in {row[0] for row in table_rows(html, "capacity-resources-table")}


def test_its_team_filter_lists_each_team_once(collected_fleet, viewer_client):
    html = viewer_client.get("/capacity/").content.decode()
    select = html[html.index('<select name="team" id="filter-team">') :]
    select = select[: select.index("</select>")]
    options = re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', select)
    owners = [resource.team for resource in Resource.objects.select_related("team") if resource.team is not None]
    assert len(owners) > len({team.pk for team in owners}), "teams own several resources each"
    teams = sorted({(team.slug, team.name) for team in owners}, key=lambda team: team[1].lower())
    assert options == [("", "Any"), *teams]


def test_it_shows_resource_states_as_words(collected_fleet, viewer_client):
    def states(kind: str) -> set[str]:
        html = viewer_client.get("/capacity/", {"kind": kind}).content.decode()
        return {row[6] for row in table_rows(html, "capacity-resources-table")}

    # AWS says InService, ACTIVE, running, stopped
    assert set(Resource.objects.filter(kind="sagemaker_endpoint").values_list("state", flat=True)) == {"InService"}
    assert states("sagemaker_endpoint") == {"In service"}
    assert set(Resource.objects.filter(kind="eks_node_group").values_list("state", flat=True)) == {"ACTIVE"}
    assert states("eks_node_group") == {"Active"}
    instances = states("ec2_instance")
    assert "Running" in instances and instances <= {"Running", "Stopped", "Pending", "Stopping"}


def test_it_pages_and_orders_the_resources(collected_fleet, viewer_client):
    live = Resource.objects.filter(gone_at=None).count()
    assert live > 25
    first = viewer_client.get("/capacity/", {"sort": "-gpus"}).content.decode()
    rows = table_rows(first, "capacity-resources-table")
    assert len(rows) == 25 and rows[0][5].startswith("16 ")  # a two-instance p4d training job
    second = viewer_client.get("/capacity/", {"sort": "-gpus", "page": 3}).content.decode()
    assert len(table_rows(second, "capacity-resources-table")) == live - 50
    assert f"{live} resources" in text(first)


def test_it_returns_the_resources_panel_to_htmx(collected_fleet, viewer_client):
    response = viewer_client.get(
        "/capacity/",
        {"team": "speech", "kind": "ec2_instance"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="capacity-resources",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="capacity-resources"')
    assert "<html" not in html and "gpu-fleet" not in html
    assert {row[0] for row in table_rows(html, "capacity-resources-table")} == {"speech-train-p5-0", "speech-scratch"}
    assert "HX-Target" in response["Vary"]


def test_it_charts_a_gpu_resource_with_gaps_for_unknown_hours(collected_fleet, viewer_client):
    p5 = Resource.objects.get(name="speech-train-p5-0")  # weekdays only: nights and weekends have no datapoints
    assert UtilisationHour.objects.filter(resource=p5, metric="gpu", average=None).exists()
    html = viewer_client.get(
        "/capacity/", {"resource": p5.pk}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="resource-detail"
    ).content.decode()
    assert "<html" not in html and 'id="resource-chart"' in html and 'class="plotly-graph-div"' in html
    assert "speech-train-p5-0" in html
    data = html[html.index("Plotly.newPlot") :]
    assert '"name":"GPU"' in data and '"name":"GPU memory"' in data and '"name":"CPU"' in data
    assert "null" in data, "hours without datapoints are drawn as gaps"


def test_it_charts_endpoint_invocations_per_variant_and_says_when_there_are_none(collected_fleet, viewer_client):
    busy = Resource.objects.get(name="resnet-tagger-prod")
    html = viewer_client.get(
        "/capacity/", {"resource": busy.pk}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="resource-detail"
    ).content.decode()
    assert '"name":"Invocations (primary)"' in html and '"name":"Invocations (canary)"' in html
    assert "no data (unknown)" not in html

    idle = Resource.objects.get(name="resnet-tagger-dev")  # no invocations at all: unknown, not a flat zero
    html = viewer_client.get(
        "/capacity/", {"resource": idle.pk}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="resource-detail"
    ).content.decode()
    assert "no data (unknown)" in html and '"name":"Invocations' not in html
    assert 'id="invocations-no-data"' in html


def test_it_opens_the_page_with_a_resource_chart_from_its_link(collected_fleet, viewer_client):
    p4d = Resource.objects.get(name="vision-train-p4d-0")
    html = viewer_client.get("/capacity/", {"resource": p4d.pk}).content.decode()
    assert 'id="gpu-fleet"' in html and 'id="resource-chart"' in html
    selected = re.findall(r'<tr [^>]*class="[^"]*selected[^>]*>', html)
    assert len(selected) == 1 and f'data-resource="{p4d.pk}"' in selected[0]
    assert viewer_client.get("/capacity/", {"resource": 999999}).status_code == 404


def test_it_shows_quotas_with_headroom_and_highlights_those_near_the_limit(collected_fleet, viewer_client):
    quota = ServiceQuota.objects.get(
        account__account_id=ACCOUNT_IDS["ml-prod"], name="ml.g5.xlarge for endpoint usage"
    )  # two of six in use
    html = viewer_client.get("/capacity/").content.decode()
    assert '<tr class="near-limit' not in html
    quota.value = Decimal(2)
    quota.save()
    html = viewer_client.get("/capacity/").content.decode()
    rows = table_rows(html, "service-quotas")
    assert rows[0][0] == "ml-prod 481516234201" and rows[0][2].startswith(
        "ml.g5.xlarge for endpoint usage SageMaker near limit"
    )
    assert rows[0][3:] == ["2", "2", "0"]
    assert len(re.findall(r'<tr class="near-limit', html)) == 1 and "1 near the limit" in text(html)


def test_it_shows_the_last_collection_run_per_kind_and_account(collected_fleet, viewer_client):
    account = CloudAccountFactory(account_id=ACCOUNT_IDS["ml-prod"])
    CollectionRun.objects.create(kind="utilisation", account=account, region=REGION, status="failed", error="denied")
    html = viewer_client.get("/capacity/").content.decode()
    rows = {row[0]: row[1:] for row in table_rows(html, "capacity-freshness")}
    assert len(rows) == len(ACCOUNTS)
    inventory, utilisation, quotas = rows[f"ml-prod 481516234201 {REGION}"]
    assert inventory.startswith("succeeded") and quotas.startswith("succeeded")
    assert utilisation.startswith("failed") and "denied" in utilisation
    assert re.search(r"last success: 0.minutes ago", utilisation), "the earlier success is still shown"
    assert re.search(r'id="prices-run">\s*<span class="status-succeeded">succeeded</span>', html)


def test_it_shows_an_honest_empty_state_without_inventory(viewer_client):
    response = viewer_client.get("/capacity/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "No inventory yet" in html and 'id="gpu-fleet"' not in html and "plotly" not in html
    assert "No capacity collection has run yet." in html


def test_it_sends_anonymous_visitors_to_the_login_page(client, collected_fleet):
    response = client.get("/capacity/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = client.get("/capacity/", {"resource": 1}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="resource-detail")
    assert response.status_code == 302
