"""The Recommendations page: KPIs, the filterable table, a recommendation's detail, and decisions posted from it."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.models import Action, Recommendation, RecommendationTransition, Resource
from capacity.services.approvals import recommendation_reject
from capacity.services.recommendations import Proposal, recommendations_store
from tests.factories import CloudAccountFactory, TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("dashboards:recommendations")
HTMX_DETAIL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "recommendation-detail"}
HTMX_LIST = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "recommendations-list"}
CO_ARN = "arn:aws:ec2:us-east-1:481516234202:instance/i-0gpu"
ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:481516234202:endpoint/asr-prod"


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


def kpi(html: str, kpi_id: str) -> str:
    block = html[html.index(f'id="{kpi_id}"') :]
    return text(re.search(r'<div class="value[^"]*"[^>]*>(.*?)</div>', block, re.S).group(1))


def detail_state(html: str) -> str:
    return text(re.search(r'id="recommendation-detail-state">(.*?)</span>', html, re.S).group(1))


def recommendations_seed(now=None) -> dict[str, Recommendation]:
    """Two open recommendations as ingestion stores them: Compute Optimizer's for Vision's trainer, and Costplane's
    GPU right-sizing for Speech's endpoint, each with its evidence and its creation transition."""
    now = now or timezone.now() - timedelta(days=3)
    account = CloudAccountFactory(account_id="481516234202", name="ml-prod")
    vision = TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    TeamFactory(name="Speech", slug="speech", tag_values=["speech"])
    Resource.objects.create(
        account=account, region="us-east-1", kind="ec2_instance", resource_id="i-0gpu", name="vision-trainer",
        instance_type="p4d.24xlarge", team=vision, first_seen=now, last_seen=now,
    )  # fmt: skip
    compute_optimizer = Proposal(
        kind=Recommendation.Kind.RIGHTSIZE, resource_type="Ec2Instance", resource_arn=CO_ARN,
        finding="Overprovisioned", reason_codes=["GPUOverprovisioned", "CPUOverprovisioned"],
        current_configuration="p4d.24xlarge", recommended_configuration="g5.12xlarge",
        performance_risk=Decimal("1.0"), monthly_savings=Decimal("1234.5678"),
        options=[
            {"rank": 1, "configuration": "g5.12xlarge", "performance_risk": 1.0, "monthly_savings": "1234.5678",
             "savings_basis": "public", "currency": "USD", "migration_effort": "Low"},
            {"rank": 2, "configuration": "g6.12xlarge", "performance_risk": 3.0, "monthly_savings": "1500",
             "savings_basis": "public", "currency": "USD", "migration_effort": "Medium"},
        ],
        evidence={"utilization_metrics": [{"name": "GPU_PERCENTAGE", "statistic": "MAXIMUM", "value": 12.5}],
                  "lookback_days": 14, "current_performance_risk": "VeryLow", "idle": "False"},
        resource_ids=("i-0gpu",), tags={"team": "vision"},
    )  # fmt: skip
    costplane = Proposal(
        kind=Recommendation.Kind.RIGHTSIZE, resource_type="SageMakerEndpoint", resource_arn=ENDPOINT_ARN,
        finding="GPUOverprovisioned", reason_codes=["GPUOverprovisioned", "GPUMemoryOverprovisioned"],
        current_configuration="ml.g5.12xlarge", recommended_configuration="ml.g5.2xlarge",
        monthly_savings=Decimal("2811.2"),
        options=[{"instance_type": "ml.g5.2xlarge", "hourly_usd": "1.515", "monthly_savings": "2811.2"}],
        evidence={
            "gpu_p95_percent": 11.25, "gpu_memory_p95_percent": 18.0, "gpu_memory_peak_percent": 21.5,
            "gpu_memory_peak_mib": 21135.4, "gpu_memory_required_mib": 25362.5, "gpus_required": 1,
            "hours_used": 330, "hours_expected": 336, "gpu_mean_percent": 6.4963, "gpu_memory_mean_percent": 15.2,
            "instance_count": 1, "current_hourly_usd": "7.09000000000000000000",
            "recommended_hourly_usd": "1.51500000000000000000", "hourly_price_delta_usd": "-5.57500000000000000000",
            "lookback_start": "2026-11-23T03:00:00+00:00", "lookback_end": "2026-12-07T03:00:00+00:00",
            "thresholds": {"gpu_p95_percent": 40.0, "gpu_memory_p95_percent": 50.0, "memory_headroom": 0.2,
                           "min_coverage": 0.8},
            "candidates": [
                {"instance_type": "ml.g5.2xlarge", "gpu_memory_mib": 24576, "hourly_usd": "1.515", "gpu_count": 1,
                 "fits": False, "cheaper": True},
                {"instance_type": "ml.g5.4xlarge", "gpu_memory_mib": 24576, "hourly_usd": "2.03", "gpu_count": 1,
                 "fits": True, "cheaper": True},
            ],
        },
        tags={"team": "speech"},
    )  # fmt: skip
    for source, resource_type, proposal in (
        (Recommendation.Source.COMPUTE_OPTIMIZER, "Ec2Instance", compute_optimizer),
        (Recommendation.Source.COSTPLANE, "SageMakerEndpoint", costplane),
    ):
        recommendations_store(
            source=source, account=account, region="us-east-1", resource_types=[resource_type],
            proposals=[proposal], now=now,
        )  # fmt: skip
    return {
        "trainer": Recommendation.objects.get(resource_arn=CO_ARN),
        "endpoint": Recommendation.objects.get(resource_arn=ENDPOINT_ARN),
    }


@pytest.fixture
def seeded(db):
    return recommendations_seed()


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def vision_approver(seeded):
    return TeamMembershipFactory(team=seeded["trainer"].team, user=UserFactory(username="val")).user


@pytest.fixture
def approver_client(client, vision_approver):
    client.force_login(vision_approver)
    return client


def decide(client, recommendation, command, **fields):
    return client.post(URL, {"recommendation": recommendation.pk, "command": command, **fields}, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_it_shows_an_honest_empty_state(viewer_client):
    html = viewer_client.get(URL).content.decode()
    assert "No recommendations yet" in html
    assert "recommendations-table" not in html


def test_it_lists_open_recommendations_with_their_savings_and_kpis(viewer_client, seeded):
    response = viewer_client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert kpi(html, "kpi-open") == "2"
    assert kpi(html, "kpi-open-savings") == "$4,045.77"
    assert 'title="4045.7678"' in html
    assert kpi(html, "kpi-awaiting") == "0"
    assert table_rows(html, "recommendation-savings-by-team") == [
        ["Speech", "1", "1", "$2,811.20"],
        ["Vision", "1", "1", "$1,234.57"],
    ]
    assert 'id="kpi-open-alternatives"' not in html
    rows = table_rows(html, "recommendations-table")
    assert [row[0] for row in rows] == ["asr-prod SageMaker endpoint", "vision-trainer EC2 instance"]
    trainer = rows[1]
    assert trainer[1:4] == ["Vision", "ml-prod 481516234202 us-east-1", "p4d.24xlarge → g5.12xlarge"]
    assert trainer[4] == "Overprovisioned GPU overprovisioned CPU overprovisioned"
    assert trainer[5:9] == ["$1,234.57", "1 of 4 (low)", "Compute Optimizer", "Open"]
    assert trainer[9] == "3 days"
    assert 'title="1234.5678"' in html
    assert rows[0][6] == "—" and rows[0][7] == "Costplane"


def costplane_alternative_for_the_trainer(seeded) -> Recommendation:
    """Costplane's own right-sizing for the trainer Compute Optimizer already recommends for: another target, a
    larger saving."""
    trainer = seeded["trainer"]
    proposal = Proposal(
        kind=Recommendation.Kind.RIGHTSIZE, resource_type="Ec2Instance", resource_arn=CO_ARN,
        finding="GPUOverprovisioned", reason_codes=["GPUOverprovisioned"], current_configuration="p4d.24xlarge",
        recommended_configuration="g6e.12xlarge", monthly_savings=Decimal("2000.25"),
        resource_ids=("i-0gpu",), tags={"team": "vision"},
    )  # fmt: skip
    recommendations_store(
        source=Recommendation.Source.COSTPLANE, account=trainer.account, region="us-east-1",
        resource_types=["Ec2Instance"], proposals=[proposal], now=trainer.first_seen,
    )  # fmt: skip
    return Recommendation.objects.get(source="costplane", resource_arn=CO_ARN)


def test_two_recommendations_for_one_resource_count_one_saving_and_show_as_alternatives(viewer_client, seeded):
    alternative = costplane_alternative_for_the_trainer(seeded)
    assert alternative.resource_id == seeded["trainer"].resource_id

    html = viewer_client.get(URL).content.decode()

    # Three open recommendations for two resources: the trainer's larger saving counts, not both.
    assert kpi(html, "kpi-open") == "3"
    assert "waiting for a decision, for 2 resources" in html
    assert kpi(html, "kpi-open-savings") == "$4,811.45", "2,811.20 + 2,000.25, not + 1,234.57 as well"
    assert 'title="4811.45"' in html
    notes = text(re.search(r'id="kpi-open-alternatives">(.*?)</div>', html, re.S).group(1))
    assert notes == "1 resource with alternative recommendations: $1,234.57 of alternatives not added"
    assert table_rows(html, "recommendation-savings-by-team") == [
        ["Speech", "1", "1", "$2,811.20"],
        ["Vision", "2", "1", "$2,000.25"],
    ]
    footer = html[html.index('id="recommendation-savings-by-team"') :]
    assert "$4,811.45" in footer[footer.index("<tfoot") : footer.index("</tfoot>")]
    rows = {row[7]: row for row in table_rows(html, "recommendations-table") if row[0].startswith("vision-trainer")}
    assert rows["Costplane"][3] == "p4d.24xlarge → g6e.12xlarge or Compute Optimizer: g5.12xlarge"
    assert rows["Costplane"][5] == "$2,000.25 best of 2"
    assert rows["Compute Optimizer"][3] == "p4d.24xlarge → g5.12xlarge or Costplane: g6e.12xlarge"
    assert rows["Compute Optimizer"][5] == "$1,234.57 not in totals"

    # A filter that hides one of them still says the other exists.
    filtered = viewer_client.get(URL, {"source": "compute_optimizer"}).content.decode()
    [row] = table_rows(filtered, "recommendations-table")
    assert row[3] == "p4d.24xlarge → g5.12xlarge or Costplane: g6e.12xlarge"
    assert row[5] == "$1,234.57 not in totals"

    # The CSV marks which rows the totals count: the marked ones sum to the page's figure.
    exported = list(csv.DictReader(io.StringIO(viewer_client.get(URL + "?format=csv").content.decode())))
    counted = {row["id"]: row["counted_in_totals"] for row in exported}
    assert counted == {
        str(seeded["endpoint"].pk): "true",
        str(alternative.pk): "true",
        str(seeded["trainer"].pk): "false",
    }
    assert sum(Decimal(row["monthly_savings"]) for row in exported if row["counted_in_totals"] == "true") == Decimal(
        "4811.45"
    )
    by_id = {row["id"]: row for row in exported}
    assert by_id[str(seeded["trainer"].pk)]["alternatives"] == str(alternative.pk)
    assert by_id[str(seeded["endpoint"].pk)]["alternatives"] == ""


def test_the_best_saving_per_resource_counts_once_the_other_is_decided(viewer_client, seeded, admin_user):
    alternative = costplane_alternative_for_the_trainer(seeded)
    recommendation_reject(recommendation_id=alternative.pk, user=admin_user, reason="g6e not in our region yet")

    html = viewer_client.get(URL).content.decode()

    assert kpi(html, "kpi-open-savings") == "$4,045.77", "the remaining open one counts again"
    [row] = [row for row in table_rows(html, "recommendations-table") if row[0].startswith("vision-trainer")]
    assert row[3] == "p4d.24xlarge → g5.12xlarge" and row[5] == "$1,234.57"


def test_it_filters_by_state_team_source_and_kind(viewer_client, seeded, admin_user):
    recommendation_reject(recommendation_id=seeded["trainer"].pk, user=admin_user, reason="needed for a launch")

    def names(query: dict) -> list[str]:
        html = viewer_client.get(URL, query, **HTMX_LIST).content.decode()
        assert "<html" not in html, "the list panel alone"
        return [row[0].split()[0] if len(row) > 1 else row[0] for row in table_rows(html, "recommendations-table")]

    assert names({}) == ["asr-prod"], "open by default"
    assert names({"state": "rejected"}) == ["vision-trainer"]
    assert names({"state": ""}) == ["asr-prod", "vision-trainer"], "any state"
    assert names({"state": "", "team": "vision"}) == ["vision-trainer"]
    assert names({"state": "", "source": "compute_optimizer"}) == ["vision-trainer"]
    assert names({"state": "", "source": "costplane", "team": "speech", "kind": "rightsize"}) == ["asr-prod"]
    assert names({"state": "", "kind": "idle"}) == ["No recommendation matches these filters."]


def test_it_filters_by_performance_risk_level_or_none_stated(viewer_client, seeded, client, admin_user):
    def names(query: dict) -> list[str]:
        html = viewer_client.get(URL, query, **HTMX_LIST).content.decode()
        return [row[0].split()[0] if len(row) > 1 else row[0] for row in table_rows(html, "recommendations-table")]

    assert names({"risk": "1"}) == ["vision-trainer"], "Compute Optimizer's 1.0 is level 1 (low)"
    assert names({"risk": "0"}) == names({"risk": "2"}) == ["No recommendation matches these filters."]
    assert names({"risk": "none"}) == ["asr-prod"], "Costplane's own states no risk"
    html = viewer_client.get(URL, {"risk": "1"}).content.decode()
    assert '<option value="1" selected>1 of 4 (low)</option>' in html
    # The API filters through the same FilterSet.
    client.force_login(admin_user)
    api = client.get("/api/v1/recommendations/", {"risk": "1"}).json()
    assert [item["resource_arn"] for item in api["results"]] == [CO_ARN]


def test_it_exports_the_filtered_list_as_csv_with_exact_values(viewer_client, seeded, admin_user):
    recommendation_reject(recommendation_id=seeded["trainer"].pk, user=admin_user, reason="needed for a launch")
    html = viewer_client.get(URL, {"state": "", "team": "vision"}).content.decode()
    link = re.search(r'id="download-csv" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link == f"{URL}?state=&team=vision&format=csv"

    response = viewer_client.get(link)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="recommendations.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["state"], row["team"], row["resource"]) == (
        str(seeded["trainer"].pk),
        "rejected",
        "vision",
        "vision-trainer",
    )
    assert (row["monthly_savings"], row["performance_risk"], row["currency"]) == ("1234.5678", "1", "USD")
    assert row["account_id"] == "481516234202" and row["reason_codes"] == "GPUOverprovisioned CPUOverprovisioned"

    # Without a state the CSV holds what the table shows by default: the open ones, biggest savings first.
    default = viewer_client.get(URL + "?format=csv").content.decode()
    assert [row["resource"] for row in csv.DictReader(io.StringIO(default))] == ["asr-prod"]
    everything = viewer_client.get(URL + "?state=&format=csv").content.decode()
    assert [row["resource"] for row in csv.DictReader(io.StringIO(everything))] == ["asr-prod", "vision-trainer"]


def test_it_shows_the_evidence_and_the_audit_trail_in_the_detail_fragment(viewer_client, seeded):
    endpoint = seeded["endpoint"]
    html = viewer_client.get(URL, {"recommendation": endpoint.pk}, **HTMX_DETAIL).content.decode()
    assert "<html" not in html
    evidence = dict(table_rows(re.sub(r"<(/?)th[^>]*>", r"<\1td>", html), "recommendation-evidence"))
    assert evidence["GPU utilisation, p95 of hourly averages"] == "11.2% (recommends below 40%)"
    assert evidence["GPU memory, p95 of hourly averages"] == "18.0% (recommends below 50%)"
    assert evidence["GPU memory needed"] == "25,362 MiB (peak + 20% headroom)"
    assert evidence["Hours with GPU data"] == "330 of 336 (98%), needs 80%"
    assert evidence["GPU utilisation, mean of hourly averages"] == "6.5%"
    assert evidence["GPU memory, mean of hourly averages"] == "15.2%"
    assert (evidence["Instances"], evidence["Current price"]) == ("1", "$7.09 an hour")
    assert (evidence["Recommended price"], evidence["Price change"]) == ("$1.515 an hour", "-$5.575 an hour")
    assert evidence["Window"] == "2026-11-23 03:00 – 2026-12-07 03:00 UTC"
    assert not any(label.endswith(" usd") or "0000" in value for label, value in evidence.items()), evidence
    candidates = table_rows(html, "recommendation-candidates")
    assert candidates[0] == ["ml.g5.2xlarge recommended", "1", "24,576", "$1.515", "no", "yes"]
    assert table_rows(html, "recommendation-options")[0][1] == "ml.g5.2xlarge $1.515/h"
    assert candidates[1][0] == "ml.g5.4xlarge"
    transitions = table_rows(html, "recommendation-transitions")
    assert [row[1:3] for row in transitions] == [["costplane ingestion", "created → open"]]
    assert "No action: one is planned when the recommendation is approved." in html
    assert "decision-approve" not in html, "a viewer sees no buttons"

    trainer = viewer_client.get(URL, {"recommendation": seeded["trainer"].pk}, **HTMX_DETAIL).content.decode()
    options = table_rows(trainer, "recommendation-options")
    assert [(row[1], row[2]) for row in options] == [("g5.12xlarge", "1 of 4 (low)"), ("g6.12xlarge", "3 of 4 (high)")]
    assert table_rows(trainer, "recommendation-utilisation") == [["GPU %", "Maximum", "12.5"]]
    evidence = dict(table_rows(re.sub(r"<(/?)th[^>]*>", r"<\1td>", trainer), "recommendation-evidence"))
    assert evidence["Current performance risk"] == "0 of 4 (very low)"
    assert evidence["Idle (Compute Optimizer)"] == "No"
    assert "VeryLow" not in text(trainer.split("<details")[0]), "enum values as words outside the raw JSON"


def test_it_lets_an_approver_of_the_team_approve_from_the_page(approver_client, vision_approver, seeded):
    trainer = seeded["trainer"]
    detail = approver_client.get(URL, {"recommendation": trainer.pk}, **HTMX_DETAIL).content.decode()
    assert 'id="decision-approve"' in detail and "csrfmiddlewaretoken" in detail
    endpoint = approver_client.get(URL, {"recommendation": seeded["endpoint"].pk}, **HTMX_DETAIL).content.decode()
    assert "decision-approve" not in endpoint, "not Speech's approver"

    back = "state=&team=vision&next=https://elsewhere.example"
    response = decide(approver_client, trainer, "approve", reason="agreed with vision", return_query=back)
    landed = f"{URL}?state=&team=vision&recommendation={trainer.pk}#recommendation-detail"
    assert response.redirect_chain[-1][0] == landed, "the filters kept, nothing else"
    action = Action.objects.get(recommendation=trainer)
    assert messages_of(response) == [
        f"Approved vision-trainer (p4d.24xlarge): action {action.pk} is planned (dry run)."
    ]
    trainer.refresh_from_db()
    assert trainer.state == "approved"
    assert action.state == "planned" and action.parameters["target"] == "g5.12xlarge"
    transition = RecommendationTransition.objects.get(recommendation=trainer, to_state="approved")
    assert (transition.user, transition.from_state) == (vision_approver, "open")
    assert transition.reason == "agreed with vision"
    html = response.content.decode()
    assert detail_state(html) == "Approved"
    assert table_rows(html, "recommendation-transitions")[-1][1:] == ["val", "open → approved", "agreed with vision"]
    assert "Planned" in text(html[html.index('id="recommendation-action"') :][:300])
    assert kpi(html, "kpi-awaiting") == "1"


def test_it_answers_403_to_an_operator_who_is_not_an_approver_and_changes_nothing(client, operator, seeded):
    client.force_login(operator)
    trainer = seeded["trainer"]
    detail = client.get(URL, {"recommendation": trainer.pk}, **HTMX_DETAIL).content.decode()
    assert "decision-approve" not in detail
    assert "Only approvers of Vision and admins can decide this recommendation." in text(detail)
    response = client.post(URL, {"recommendation": trainer.pk, "command": "approve"})
    assert response.status_code == 403
    assert "You may not decide this recommendation" in response.content.decode()
    trainer.refresh_from_db()
    assert trainer.state == "open"
    assert not Action.objects.exists()
    assert list(trainer.transitions.values_list("to_state", flat=True)) == ["open"]


def test_it_shows_a_message_and_plans_no_second_action_on_a_double_approve(approver_client, seeded):
    trainer = seeded["trainer"]
    decide(approver_client, trainer, "approve")
    response = decide(approver_client, trainer, "approve")
    assert response.status_code == 200
    assert messages_of(response) == [
        "Nothing changed: this recommendation is approved, and only open or snoozed ones can be approved."
    ]
    assert Action.objects.count() == 1
    assert trainer.transitions.filter(to_state="approved").count() == 1
    assert "recommendation-decided" in response.content.decode(), "no buttons for a decided recommendation"


def test_it_requires_a_reason_to_reject(approver_client, vision_approver, seeded):
    trainer = seeded["trainer"]
    response = decide(approver_client, trainer, "reject", reason="   ")
    assert messages_of(response) == ["Nothing changed: A rejection needs a reason."]
    trainer.refresh_from_db()
    assert trainer.state == "open"

    response = decide(approver_client, trainer, "reject", reason="needed for the launch")
    assert messages_of(response) == ["Rejected vision-trainer (p4d.24xlarge)."]
    trainer.refresh_from_db()
    assert trainer.state == "rejected"
    assert trainer.transitions.last().reason == "needed for the launch"
    assert trainer.transitions.last().user == vision_approver
    assert not Action.objects.exists()


def test_it_snoozes_until_the_chosen_date(approver_client, seeded):
    trainer = seeded["trainer"]
    today = timezone.now().date()
    response = decide(approver_client, trainer, "snooze", until=today.isoformat())
    assert messages_of(response) == ["Nothing changed: The snooze must end after today."]
    trainer.refresh_from_db()
    assert trainer.state == "open"

    until = today + timedelta(days=10)
    response = decide(approver_client, trainer, "snooze", until=until.isoformat(), reason="after the freeze")
    assert messages_of(response) == [f"Snoozed vision-trainer (p4d.24xlarge) until {until.isoformat()}."]
    trainer.refresh_from_db()
    assert (trainer.state, trainer.snoozed_until) == ("snoozed", until)
    assert trainer.transitions.last().reason == "after the freeze"
    assert detail_state(response.content.decode()) == f"Snoozed until {until.isoformat()}"


def test_it_lets_an_admin_decide_a_recommendation_without_a_team(client, admin_user, seeded):
    endpoint = seeded["endpoint"]
    Recommendation.objects.filter(pk=endpoint.pk).update(team=None)
    client.force_login(admin_user)
    response = decide(client, endpoint, "approve")
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.state == "approved"
