"""GET /api/v1/billing-periods and the reports' `estimated` day ranges (ARCHITECTURE.md, "Currencies and billing
periods"); POST /api/v1/billing-periods/reallocate (operators, audited)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from finops.models import BillingPeriod, BillingPeriodReallocation, BillingRestatement
from finops.services.allocation_rules import allocation_rules_publish
from finops.services.billing_import import billing_export_import
from tests.finops.test_billing_import import focus_rows, write_focus
from tests.finops.test_billing_periods import write_focus_1_2

FIELDS = [
    "source",
    "billing_account_id",
    "billing_period_start",
    "billing_period_end",
    "status",
    "final_reason",
    "currency",
    "total",
    "invoice_ids",
    "restatements",
]


def period(**fields) -> BillingPeriod:
    values = {
        "source": "focus",
        "billing_account_id": "111111111111",
        "billing_period_start": date(2026, 11, 1),
        "billing_period_end": date(2026, 12, 1),
        "currency": "USD",
        "total": Decimal("10.5"),
        "lines": 3,
        **fields,
    }
    return BillingPeriod.objects.create(**values)


@pytest.mark.django_db
@pytest.mark.clock("2026-02-10T08:00:00Z")
def test_it_lists_billing_periods_with_exactly_the_architecture_fields(tmp_path, viewer_api):
    billing_export_import(location=str(write_focus_1_2(tmp_path / "a.csv", focus_rows(days=2), invoice_id="INV-9")))
    final = BillingPeriod.objects.get()
    BillingRestatement.objects.create(
        period=final,
        detected_at=datetime(2026, 2, 9, 12, tzinfo=UTC),
        total_before=Decimal("7"),
        total_after=Decimal("7.5"),
        lines_added=1,
        lines_removed=1,
    )

    body = viewer_api.get("/api/v1/billing-periods/").json()

    assert body["count"] == 1
    [item] = body["results"]
    assert list(item) == FIELDS
    assert item == {
        "source": "focus",
        "billing_account_id": "111111111111",
        "billing_period_start": "2026-01-01",
        "billing_period_end": "2026-02-01",
        "status": "final",
        "final_reason": "invoice",
        "currency": "USD",
        "total": "7.50000000000000000000",
        "invoice_ids": ["INV-9"],
        "restatements": [
            {
                "detected_at": "2026-02-09T12:00:00Z",
                "total_before": "7.00000000000000000000",
                "total_after": "7.50000000000000000000",
                "lines_added": 1,
                "lines_removed": 1,
            }
        ],
    }


@pytest.mark.django_db
def test_it_filters_billing_periods_by_status_account_and_source(viewer_api):
    period()
    period(source="cur2", billing_account_id="333333333333", status="final", final_reason="invoice")
    period(billing_period_start=date(2026, 10, 1), billing_period_end=date(2026, 11, 1), status="final",
           final_reason="age")  # fmt: skip

    def listed(**params) -> list[tuple]:
        body = viewer_api.get("/api/v1/billing-periods/", params).json()
        return [(i["source"], i["billing_account_id"], i["billing_period_start"]) for i in body["results"]]

    assert listed() == [
        ("cur2", "333333333333", "2026-11-01"),
        ("focus", "111111111111", "2026-11-01"),
        ("focus", "111111111111", "2026-10-01"),
    ]
    assert listed(status="estimated") == [("focus", "111111111111", "2026-11-01")]
    assert listed(status="final", source="focus") == [("focus", "111111111111", "2026-10-01")]
    assert listed(account="333333333333") == [("cur2", "333333333333", "2026-11-01")]
    assert listed(limit=1, offset=1) == [("focus", "111111111111", "2026-11-01")]


@pytest.mark.django_db
def test_it_answers_400_to_bad_filter_values_and_unknown_parameters(viewer_api):
    bad_status = viewer_api.get("/api/v1/billing-periods/", {"status": "invoiced"})
    bad_source = viewer_api.get("/api/v1/billing-periods/", {"source": "csv"})
    unknown = viewer_api.get("/api/v1/billing-periods/", {"period": "2026-11"})

    assert bad_status.status_code == bad_source.status_code == unknown.status_code == 400
    assert bad_status.json() == {"errors": {"status": ["Choose one of estimated, final."]}}
    assert bad_source.json() == {"errors": {"source": ["Choose one of focus, cur2, cur_legacy."]}}
    assert list(unknown.json()["errors"]) == ["period"]


@pytest.mark.django_db
@pytest.mark.clock("2026-12-07T08:00:00Z")
def test_the_report_envelopes_list_the_window_s_estimated_days_as_ranges(tmp_path, viewer_api):
    period(status="final", final_reason="invoice")  # November: final
    period(billing_period_start=date(2026, 12, 1), billing_period_end=date(2027, 1, 1))  # December: estimated
    period(source="cur2", billing_period_start=date(2026, 10, 1), billing_period_end=date(2026, 11, 1))
    period(
        source="cur2",
        billing_account_id="2",
        billing_period_start=date(2026, 10, 20),
        billing_period_end=date(2026, 10, 25),
    )  # fmt: skip: overlaps the one above, merged
    billing_export_import(location=str(write_focus(tmp_path / "a.csv", focus_rows(days=2))))  # January 2026

    for url in ("/api/v1/costs", "/api/v1/allocations", "/api/v1/unit-costs"):
        body = viewer_api.get(url, {"window": "2026-10-15,2026-12-07"}).json()
        assert body["estimated"] == [
            {"start": "2026-10-15", "end": "2026-11-01"},
            {"start": "2026-12-01", "end": "2026-12-07"},
        ], url
        assert viewer_api.get(url, {"window": "2026-11-01,2026-12-01"}).json()["estimated"] == [], url
    assert viewer_api.get("/api/v1/costs", {"window": "mtd"}).json()["estimated"] == [
        {"start": "2026-12-01", "end": "2026-12-07"}
    ]


@pytest.mark.django_db
def test_an_operator_reallocates_a_final_period_under_the_current_rules_audited(api_client, operator, viewer_api):
    final = period(status="final", final_reason="invoice", rules_version=1)
    allocation_rules_publish(document={"aliases": {"Team": "team"}}, user=operator)
    allocation_rules_publish(document={"aliases": {"TEAM": "team"}}, user=operator)
    request = {"source": "focus", "billing_account_id": "111111111111", "billing_period_start": "2026-11-01"}

    assert viewer_api.post("/api/v1/billing-periods/reallocate", request, format="json").status_code == 403
    api_client.force_authenticate(operator)
    answer = api_client.post("/api/v1/billing-periods/reallocate", {**request, "comment": "rules fixed"}, format="json")

    assert answer.status_code == 200, answer.json()
    assert (answer.json()["rules_version_before"], answer.json()["rules_version_after"]) == (1, 2)
    final.refresh_from_db()
    assert final.rules_version == 2
    audit = BillingPeriodReallocation.objects.get()
    assert (audit.period, audit.created_by, audit.comment) == (final, operator, "rules fixed")
    missing = api_client.post(
        "/api/v1/billing-periods/reallocate", {**request, "billing_period_start": "2026-09-01"}, format="json"
    )
    assert missing.status_code == 404
    period(billing_period_start=date(2026, 12, 1), billing_period_end=date(2027, 1, 1))
    estimated = api_client.post(
        "/api/v1/billing-periods/reallocate", {**request, "billing_period_start": "2026-12-01"}, format="json"
    )
    assert estimated.status_code == 400
    assert list(estimated.json()["errors"]) == ["billing_period_start"]


@pytest.mark.django_db
@pytest.mark.clock("2026-03-10T08:00:00Z")
def test_publishing_new_rules_leaves_a_final_period_s_allocation_as_it_was(tmp_path, operator, viewer_api):
    rows = focus_rows(days=3, per_day=3)  # lines 1 and 2 of each day carry team=vision, line 0 no tag
    allocation_rules_publish(document={"aliases": {"Team": "team"}}, user=operator)  # version 1
    billing_export_import(location=str(write_focus_1_2(tmp_path / "jan.csv", rows, invoice_id="INV-1")))
    february = [
        {**row, "BillingPeriodStart": "2026-02-01T00:00:00Z", "BillingPeriodEnd": "2026-03-01T00:00:00Z",
         "ChargePeriodStart": row["ChargePeriodStart"].replace("2026-01", "2026-02"),
         "ChargePeriodEnd": row["ChargePeriodEnd"].replace("2026-01", "2026-02")}
        for row in rows
    ]  # fmt: skip
    billing_export_import(location=str(write_focus_1_2(tmp_path / "feb.csv", february, invoice_id=None)))
    assert BillingPeriod.objects.get(billing_period_start=date(2026, 1, 1)).rules_version == 1
    assert BillingPeriod.objects.get(billing_period_start=date(2026, 2, 1)).rules_version is None
    params = {"window": "2026-01-01,2026-03-01", "aggregate": "tag:team", "step": "month"}
    before = viewer_api.get("/api/v1/allocations/", params).json()

    # Version 2: the untagged line goes to "platform". February (estimated) follows, January (final) does not.
    allocation_rules_publish(
        document={"virtual_tags": [{"key": "team", "value": "platform", "match": {"resource_pattern": "^i-0000$"}}]},
        user=operator,
    )
    after = viewer_api.get("/api/v1/allocations/", params).json()

    def by_month(body) -> dict:
        return {(item["period"], item["key"]["tag:team"]): Decimal(item["cost"]) for item in body["items"]}

    assert by_month(before) == {
        ("2026-01-01", "__unallocated__"): Decimal("3.75"),
        ("2026-01-01", "vision"): Decimal("7.5"),
        ("2026-02-01", "__unallocated__"): Decimal("3.75"),
        ("2026-02-01", "vision"): Decimal("7.5"),
    }
    assert by_month(after) == {
        ("2026-01-01", "__unallocated__"): Decimal("3.75"),
        ("2026-01-01", "vision"): Decimal("7.5"),
        ("2026-02-01", "platform"): Decimal("3.75"),
        ("2026-02-01", "vision"): Decimal("7.5"),
    }
    assert Decimal(after["total"]) == Decimal("22.5")
    assert after["rules_version"] == 2

    # An operator re-allocates January explicitly: from then on it follows the new rules too.
    api = viewer_api
    api.force_authenticate(operator)
    request = {"source": "focus", "billing_account_id": "111111111111", "billing_period_start": "2026-01-01"}
    assert api.post("/api/v1/billing-periods/reallocate", request, format="json").status_code == 200
    reallocated = by_month(api.get("/api/v1/allocations/", params).json())
    assert reallocated[("2026-01-01", "platform")] == Decimal("3.75")
    assert ("2026-01-01", "__unallocated__") not in reallocated
