from __future__ import annotations

from decimal import Decimal

import pytest

from finops.models import AllocationRulesVersion
from finops.services.billing_import import billing_export_import
from tests.finops.test_billing_import import focus_rows, write_focus

WINDOW = "2026-01-01,2026-02-01"


@pytest.mark.django_db
def test_it_publishes_rules_versions_with_an_audit_of_who_and_what_changed(api_client, operator, viewer):
    api_client.force_authenticate(operator)
    first = api_client.post(
        "/api/v1/allocation-rules/", {"document": {"aliases": {"env": "environment"}}}, format="json"
    )
    second = api_client.post(
        "/api/v1/allocation-rules/",
        {"document": {"aliases": {"env": "environment"}, "fold_key_case": True}, "comment": "case"},
        format="json",
    )
    assert (first.status_code, second.status_code) == (201, 201)
    latest = AllocationRulesVersion.objects.get(number=2)
    assert latest.previous_document == {"aliases": {"env": "environment"}}
    assert latest.document["fold_key_case"] is True
    assert (latest.created_by, latest.comment) == (operator, "case")
    api_client.force_authenticate(viewer)
    listed = api_client.get("/api/v1/allocation-rules/").json()
    assert [version["number"] for version in listed["results"]] == [2, 1]
    refused = api_client.post("/api/v1/allocation-rules/", {"document": {}}, format="json")
    assert refused.status_code == 403


@pytest.mark.django_db
def test_it_rejects_invalid_rules_and_keeps_the_current_version(api_client, operator):
    api_client.force_authenticate(operator)
    response = api_client.post(
        "/api/v1/allocation-rules/",
        {"document": {"shared_costs": [{"key": "team", "match": {"service": ["Support"]}}]}},
        format="json",
    )
    assert response.status_code == 400
    assert "document.shared_costs[0].key" in response.json()["errors"]
    assert not AllocationRulesVersion.objects.exists()


@pytest.mark.django_db
def test_it_names_the_rules_version_and_applies_it_to_allocations_but_not_to_costs(tmp_path, viewer_api, operator):
    rows = focus_rows(days=2)
    for row in rows:
        row["Tags"] = row["Tags"].replace('"team"', '"Team"')
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))
    AllocationRulesVersion.objects.create(number=7, document={"fold_key_case": True})
    allocations = viewer_api.get("/api/v1/allocations/", {"window": WINDOW, "aggregate": "tag:team"}).json()
    costs = viewer_api.get("/api/v1/costs/", {"window": WINDOW, "aggregate": "tag:team"}).json()
    assert allocations["rules_version"] == 7
    assert {item["key"]["tag:team"] for item in allocations["items"]} == {"vision", "__unallocated__"}
    assert {item["key"]["tag:team"] for item in costs["items"]} == {"__unallocated__"}
    assert allocations["total"] == costs["total"]
    assert all(item["shared_cost"] == "0" for item in allocations["items"])


@pytest.mark.django_db
def test_it_reports_tag_coverage_by_day_and_account_and_the_top_untagged_resources(tmp_path, viewer_api):
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", focus_rows(days=3))))
    body = viewer_api.get("/api/v1/tag-coverage/", {"window": WINDOW, "key": "team"}).json()
    assert [row["day"] for row in body["by_day_account"]] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert {Decimal(row["coverage"]) for row in body["by_day_account"]} == {Decimal("0.6667")}
    assert body["top_untagged_resources"] == [
        {
            "resource": "i-0000",
            "account": "222222222222",
            "service": "Amazon SageMaker",
            "cost": "3.75000000000000000000",
        }
    ]
    missing = viewer_api.get("/api/v1/tag-coverage/", {"window": WINDOW})
    assert missing.status_code == 400 and "key" in missing.json()["errors"]


@pytest.mark.django_db
@pytest.mark.clock("2026-03-15T10:00:00Z")
def test_it_answers_ninety_days_and_year_to_date_in_complete_utc_days(tmp_path, viewer_api):
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", focus_rows(days=31))))
    whole = viewer_api.get("/api/v1/costs/", {"window": WINDOW}).json()["total"]
    assert Decimal(whole) == Decimal("116.25")
    for report in ("/api/v1/costs/", "/api/v1/allocations/"):
        ninety = viewer_api.get(report, {"window": "90d"}).json()
        assert ninety["window"] == {"start": "2025-12-15", "end": "2026-03-15"}
        year = viewer_api.get(report, {"window": "ytd", "aggregate": "tag:team"}).json()
        assert year["window"] == {"start": "2026-01-01", "end": "2026-03-15"}
        assert ninety["total"] == year["total"] == whole
        assert viewer_api.get(report, {"window": "30d"}).json()["items"] == []
