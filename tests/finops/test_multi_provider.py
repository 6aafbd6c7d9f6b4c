"""A multi-cloud FOCUS 1.0 export (AWS, Microsoft and Oracle rows; USD and EUR) imports exactly and reports by
provider, invoice issuer and any sub-account id, never adding two currencies (ARCHITECTURE.md, "Currencies and
billing periods")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from finops.models import Budget, CostRecord
from finops.services.billing_import import billing_export_import

OCID = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsqabcdefgh"
AZURE_SUB = "/subscriptions/5f9c3f7e-1d2a-4c7b-9e0f-0123456789ab"
AZURE_RESOURCE = AZURE_SUB + "/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/" + "w" * 300
LONG_TAG_KEY = "cost:" + "ç" * 1019  # 1,024 characters, a colon in it
HEADER = ["ProviderName", "InvoiceIssuerName", "BillingAccountId", "SubAccountId", "BillingPeriodStart",
          "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ServiceName",
          "RegionId", "ResourceId", "SkuId", "BilledCost", "EffectiveCost", "BillingCurrency", "Tags"]  # fmt: skip


def row(provider, issuer, billing, sub, day, service, cost, currency, *, resource=None, tags=None, category="Usage"):
    return {
        "ProviderName": provider,
        "InvoiceIssuerName": issuer,
        "BillingAccountId": billing,
        "SubAccountId": sub,
        "BillingPeriodStart": "2026-10-01T00:00:00Z",
        "BillingPeriodEnd": "2026-11-01T00:00:00Z",
        "ChargePeriodStart": f"2026-10-{day:02d}T00:00:00Z",
        "ChargePeriodEnd": f"2026-10-{day + 1:02d}T00:00:00Z",
        "ChargeCategory": category,
        "ChargeClass": None,
        "ServiceName": service,
        "RegionId": None,
        "ResourceId": resource,
        "SkuId": None,
        "BilledCost": cost,
        "EffectiveCost": cost,
        "BillingCurrency": currency,
        "Tags": json.dumps(tags or {}),
    }


ROWS = [
    row(
        "AWS",
        "AWS",
        "111111111111",
        "222222222222",
        1,
        "Amazon SageMaker",
        "100.000000000000000001",
        "USD",
        resource="",
        tags={"team": "vision"},
    ),
    row(
        "AWS", "AWS Marketplace", "111111111111", "222222222222", 2, "Amazon Bedrock", "-3.5", "USD", category="Credit"
    ),
    row(
        "Microsoft",
        "Microsoft",
        "azure-billing-7",
        AZURE_SUB,
        1,
        "Azure Machine Learning",
        "40.25",
        "EUR",
        resource=AZURE_RESOURCE,
        tags={LONG_TAG_KEY: "ünïcode", "team": "speech"},
    ),
    row("Microsoft", "Contoso Reseller", "azure-billing-7", AZURE_SUB, 3, "Virtual Machines", "0.000000000001", "EUR"),
    row("Oracle", "Oracle", OCID, OCID, 2, "OCI Compute", "999999999.123456789", "USD", resource=OCID + ".gpu"),
]


def _field(value) -> str:
    return "" if value is None else '"' + str(value).replace('"', '""') + '"'


def write(path: Path, rows: list[dict]) -> Path:
    """FOCUS's CSV convention of null and empty: every value quoted (so "" is written `""`), None an unquoted
    empty field. (Python 3.11's csv module writes None as `""` under QUOTE_NONNUMERIC.)"""
    lines = [",".join(HEADER), *(",".join(_field(record[name]) for name in HEADER) for record in rows)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


@pytest.fixture
def operator_api(api_client, operator):
    api_client.force_authenticate(operator)
    return api_client


@pytest.fixture
def imported(tmp_path, db):
    return billing_export_import(location=str(write(tmp_path / "multicloud.csv", ROWS)))


def costs(client, **params):
    return client.get("/api/v1/costs", {"window": "2026-10-01,2026-11-01", **params})


def test_every_row_imports_with_its_long_ids_provider_issuer_and_currency(imported):
    assert imported.status == "succeeded", imported.error
    oracle = CostRecord.objects.get(provider_name="Oracle")
    assert (oracle.billing_account_id, oracle.sub_account_id, oracle.billing_currency) == (OCID, OCID, "USD")
    azure = CostRecord.objects.get(resource_id=AZURE_RESOURCE)
    assert azure.sub_account_id == AZURE_SUB and len(azure.resource_id) > 400
    assert azure.tags[LONG_TAG_KEY] == "ünïcode"
    assert set(CostRecord.objects.values_list("invoice_issuer_name", flat=True)) == {
        "AWS", "AWS Marketplace", "Microsoft", "Contoso Reseller", "Oracle"
    }  # fmt: skip


def test_null_and_empty_are_kept_apart(imported):
    assert CostRecord.objects.get(service_name="Amazon SageMaker").resource_id == ""
    assert CostRecord.objects.get(service_name="Amazon Bedrock").resource_id is None
    assert CostRecord.objects.filter(region_id__isnull=True).count() == len(ROWS)


def test_a_report_over_two_currencies_is_400_naming_them(imported, viewer_api):
    response = costs(viewer_api)
    assert response.status_code == 400
    assert "EUR, USD" in response.json()["errors"]["currency"][0]
    assert "currency=" in response.json()["errors"]["currency"][0]


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("EUR", Decimal("40.250000000001")), ("usd", Decimal("100.000000000000000001") - Decimal("3.5")
                                                  + Decimal("999999999.123456789"))],
)  # fmt: skip
def test_currency_narrows_and_the_envelope_names_it(imported, viewer_api, currency, expected):
    body = costs(viewer_api, currency=currency, aggregate="provider").json()
    assert body["currency"] == currency.upper()
    assert Decimal(body["total"]) == expected
    assert sum(Decimal(item["cost"]) for item in body["items"]) == expected


def test_a_malformed_currency_is_400(imported, viewer_api):
    response = costs(viewer_api, currency="E1")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["currency"]


def test_provider_and_invoice_issuer_are_keys_and_provider_a_filter(imported, viewer_api):
    body = costs(viewer_api, currency="USD", aggregate="provider,invoice_issuer").json()
    by_key = {(item["key"]["provider"], item["key"]["invoice_issuer"]): Decimal(item["cost"]) for item in body["items"]}
    assert by_key == {
        ("AWS", "AWS"): Decimal("100.000000000000000001"),
        ("AWS", "AWS Marketplace"): Decimal("-3.5"),
        ("Oracle", "Oracle"): Decimal("999999999.123456789"),
    }
    oracle = costs(viewer_api, currency="USD", provider="Oracle").json()
    assert Decimal(oracle["total"]) == Decimal("999999999.123456789")


def test_the_account_filter_takes_any_sub_account_id(imported, viewer_api):
    body = costs(viewer_api, account=OCID).json()
    assert body["currency"] == "USD" and Decimal(body["total"]) == Decimal("999999999.123456789")
    azure = costs(viewer_api, account=AZURE_SUB, aggregate="account").json()
    assert [item["key"]["account"] for item in azure["items"]] == [AZURE_SUB]


def test_a_1024_character_tag_key_is_a_report_key(imported, viewer_api):
    body = costs(viewer_api, currency="EUR", aggregate=[f"tag:{LONG_TAG_KEY}", ""]).json()
    values = {item["key"][f"tag:{LONG_TAG_KEY}"]: Decimal(item["cost"]) for item in body["items"]}
    assert values == {"ünïcode": Decimal("40.25"), "__unallocated__": Decimal("0.000000000001")}


@pytest.mark.parametrize("path", ["/api/v1/allocations", "/api/v1/unit-costs"])
def test_allocations_and_unit_costs_follow_the_currency_rule(imported, viewer_api, path):
    mixed = viewer_api.get(path, {"window": "2026-10-01,2026-11-01"})
    assert mixed.status_code == 400 and "EUR, USD" in mixed.json()["errors"]["currency"][0]
    narrowed = viewer_api.get(path, {"window": "2026-10-01,2026-11-01", "currency": "EUR"})
    assert narrowed.status_code == 200, narrowed.json()
    assert narrowed.json()["currency"] == "EUR"
    if path == "/api/v1/allocations":
        assert Decimal(narrowed.json()["total"]) == Decimal("40.250000000001")


@pytest.mark.clock("2026-10-20T12:00:00Z")
def test_a_budget_counts_only_its_own_currency(imported, operator_api):
    response = operator_api.post(
        "/api/v1/budgets/", {"name": "Azure EUR", "amount": "100", "currency": "eur"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["currency"] == "EUR"
    assert Decimal(response.json()["status"]["actual"]) == Decimal("40.250000000001")
    assert Budget.objects.get(name="Azure EUR").currency == "EUR"


@pytest.mark.clock("2026-10-20T12:00:00Z")
def test_pages_name_the_currency_and_offer_the_choice(imported, operator_api, client, viewer):
    operator_api.post("/api/v1/budgets/", {"name": "Azure EUR", "amount": "100", "currency": "EUR"}, format="json")
    client.force_login(viewer)
    budgets = client.get("/budgets/").content.decode()
    assert "EUR 100.00" in budgets and "EUR 40.25" in budgets
    allocation = client.get("/allocation/", {"window": "30d"}).content.decode()
    assert 'id="currency-choice"' in allocation and "holds EUR, USD" in allocation
    euro = client.get("/allocation/", {"window": "30d", "currency": "EUR"}).content.decode()
    assert "EUR 40.25" in euro


def test_focus_1_2_pricing_currency_figures_are_kept_and_never_a_cost_basis(tmp_path, viewer_api):
    """A FOCUS 1.2 row billed in USD and priced in JPY: the JPY figures are stored as given, the reports read USD."""
    header = [*HEADER, "PricingCurrency", "PricingCurrencyEffectiveCost", "PricingCurrencyContractedUnitPrice",
              "PricingCurrencyListUnitPrice", "InvoiceId"]  # fmt: skip
    record = row("AWS", "AWS", "111111111111", "222222222222", 5, "Amazon EC2", "12.5", "USD")
    record.update(
        PricingCurrency="JPY",
        PricingCurrencyEffectiveCost="1875.125",
        PricingCurrencyContractedUnitPrice="625.0000000000000000001",
        PricingCurrencyListUnitPrice="700",
        InvoiceId="INV-2026-10",
    )
    lines = [",".join(header), ",".join(_field(record[name]) for name in header)]
    path = tmp_path / "focus-1.2.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    run = billing_export_import(location=str(path))
    assert run.status == "succeeded", run.error
    stored = CostRecord.objects.get()
    assert (stored.pricing_currency, stored.billing_currency, stored.invoice_id) == ("JPY", "USD", "INV-2026-10")
    assert stored.pricing_currency_effective_cost == Decimal("1875.125")
    assert stored.pricing_currency_contracted_unit_price == Decimal("625.0000000000000000001")
    assert stored.pricing_currency_list_unit_price == Decimal(700)
    for basis in ("billed", "effective"):
        body = costs(viewer_api, cost_basis=basis).json()
        assert (body["currency"], Decimal(body["total"])) == ("USD", Decimal("12.5"))
    assert costs(viewer_api, currency="JPY").json()["total"] == "0"
