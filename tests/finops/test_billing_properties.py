"""Any spec-valid billing file imports exactly: FOCUS, CUR 2.0 and legacy CUR rows generated from each format's
column definitions, written as CSV (plain, gzip, zip) or Parquet, imported, and then the Reports API's totals and
items equal the file's exact Decimal sums, per currency, provider, account and tag value, for billed, effective
and list cost; and every line of the file is one stored row.

What a file's value is: the decimal it writes, exactly; a Parquet float64 is `Decimal(repr(x))` (ARCHITECTURE.md,
"Invariants"). Effective cost of a CUR line follows the amortisation finops/importers/cur.py documents.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tempfile
import zipfile
from collections import defaultdict
from decimal import Decimal, localcontext
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from finops.models import CostRecord
from finops.services.billing_import import billing_export_import

WINDOW = "2026-02-01,2026-04-01"
UNALLOCATED = "__unallocated__"
OCID = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsqabcdefgh"  # 84 characters
AZURE_SUBSCRIPTION = "/subscriptions/5f9c3f7e-1d2a-4c7b-9e0f-0123456789ab"
LONG_TAG_KEY = "cost:" + "ç" * 1019  # 1,024 characters, a colon in it
LARGEST = Decimal("999999999.9999999999999999999")  # 1e9 less one unit in the 19th fractional place
SMALLEST = Decimal("1e-12")
NINETEEN_PLACES = Decimal("0.0061215770588837586")
CURRENCIES = ("USD", "EUR", "GBP", "INR", "JPY")
# What the CSV reader and the CUR text columns take for "no value" whether quoted or not: an id or tag value
# spelled so is not generated (a file that means the word would be ambiguous to any reader).
NULL_WORDS = ("", "null", "NULL", "Null")

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any Unicode text PostgreSQL can store (text and jsonb hold no NUL; surrogates are not UTF-8).
characters = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def free_text(*, min_size: int = 1, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(characters, min_size=min_size, max_size=max_size).filter(lambda value: value not in NULL_WORDS)


# The report's filters strip what they are given, so a name filtered on has no surrounding blanks.
names = free_text(max_size=60).filter(lambda value: value == value.strip())
identifiers = st.one_of(
    st.sampled_from([OCID, AZURE_SUBSCRIPTION, "000123456789", "azure-billing-7"]),
    free_text(max_size=300),
)
aws_accounts = st.from_regex(r"\A[0-9]{12}\Z")


@st.composite
def amounts(draw) -> Decimal:
    """A cost between -1e9 and 1e9 with 0 to 19 fractional digits, of any magnitude down to 1e-19."""
    places = draw(st.integers(min_value=0, max_value=19))
    digits = draw(st.integers(min_value=0, max_value=9 + places))
    unscaled = draw(st.integers(min_value=0, max_value=10**digits - 1 if digits else 0))
    sign = draw(st.sampled_from([1, -1]))
    return (sign * Decimal(unscaled)).scaleb(-places)


@st.composite
def charge_periods(draw) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=draw(st.integers(0, 59 * 24 * 60 - 1)))
    return start, start + dt.timedelta(minutes=draw(st.sampled_from([0, 1, 60, 24 * 60])))


def month_of(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + dt.timedelta(days=32)).replace(day=1)


# How a file is written: container, the form of its money, and (CSV) line ends and byte-order mark.
layouts = st.one_of(
    st.fixed_dictionaries(
        {
            "container": st.sampled_from(["csv", "csv.gz", "csv.zip"]),
            "money": st.sampled_from(["plain", "exponent", "mixed"]),
            "newline": st.sampled_from(["\n", "\r\n"]),
            "bom": st.booleans(),
            "quote_all": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {
            "container": st.just("parquet"),
            "money": st.sampled_from(["plain", "mixed", "decimal", "float"]),
            "timestamps": st.sampled_from(["timestamp", "text"]),
        }
    ),
)


def value_in_file(amount: Decimal | None, layout: dict) -> Decimal | None:
    """The number a reader of the file sees: a float64 column holds the nearest double."""
    if amount is None or layout["money"] != "float":
        return amount
    return Decimal(repr(float(amount)))


def money_text(amount: Decimal, index: int, layout: dict) -> str:
    form = layout["money"]
    if form == "mixed":
        form = ("plain", "exponent", "exponent_upper")[index % 3]
    if form == "plain":
        return format(amount, "f")
    return format(amount, "E" if form == "exponent_upper" else "e")


def moment_text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Writing files ----------------------------------------------------------------------------------------------------


def _csv_field(value: str | None, *, quote_all: bool) -> str:
    """RFC 4180: a field holding a comma, quote or line break is quoted. FOCUS files quote every value (so "" is
    `""`) and write null as an unquoted empty field; CUR has no null apart from an empty field."""
    if value is None:
        return ""
    if quote_all or value == "" or any(character in value for character in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_write(path: Path, header: list[str], rows: list[list[str | None]], layout: dict, *, focus: bool) -> Path:
    newline = layout["newline"]
    quote_all = focus or layout["quote_all"]
    lines = [",".join(_csv_field(value, quote_all=quote_all) for value in row) for row in [header, *rows]]
    body = newline.join(lines) + newline
    data = ("\ufeff" if layout["bom"] else "").encode() + body.encode("utf-8")
    if layout["container"] == "csv.gz":
        path = path.with_suffix(".csv.gz")
        path.write_bytes(gzip.compress(data))
    elif layout["container"] == "csv.zip":
        path = path.with_suffix(".csv.zip")
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(path.name.removesuffix(".zip"), data)
    else:
        path.write_bytes(data)
    return path


def parquet_write(path: Path, columns: dict[str, pa.Array]) -> Path:
    path = path.with_suffix(".parquet")
    pq.write_table(pa.table(columns), path)
    return path


def money_column(values: list[Decimal | None], layout: dict) -> pa.Array:
    if layout["money"] == "decimal":
        return pa.array(values, pa.decimal128(38, 19))
    if layout["money"] == "float":
        return pa.array([None if value is None else float(value) for value in values], pa.float64())
    return pa.array(
        [None if value is None else money_text(value, index, layout) for index, value in enumerate(values)],
        pa.string(),
    )


def moment_column(values: list[dt.datetime], layout: dict) -> pa.Array:
    if layout["timestamps"] == "timestamp":
        return pa.array(values, pa.timestamp("us", tz="UTC"))
    return pa.array([moment_text(value) for value in values], pa.string())


TEXT_MAP = pa.map_(pa.string(), pa.string())


# What the reports must say -----------------------------------------------------------------------------------------


def exact_sum(values) -> Decimal:
    with localcontext(prec=80):
        return sum(values, Decimal(0))


def costs(client, currency: str, **params) -> dict:
    response = client.get("/api/v1/costs", {"window": WINDOW, "currency": currency, **params})
    assert response.status_code == 200, response.content
    return response.json()


def sums_by(lines: list[dict], basis: str, *keys: str) -> dict[tuple, Decimal]:
    """The exact sum of `basis` over `lines`, per value of `keys`."""
    groups: dict[tuple, list[Decimal]] = defaultdict(list)
    for line in lines:
        groups[tuple(line[key] for key in keys)].append(line[basis])
    return {key: exact_sum(values) for key, values in groups.items()}


def items_by(body: dict, currency: str, *keys: str) -> dict[tuple, Decimal]:
    """A report's items by their key; checks that it names its currency and that its items sum to its total."""
    assert body["currency"] == currency
    items = {tuple(item["key"][key] for key in keys): Decimal(item["cost"]) for item in body["items"]}
    assert len(items) == len(body["items"])
    assert exact_sum(items.values()) == Decimal(body["total"])
    return items


def assert_reports_match(client, lines: list[dict], *, tag_key: str | None, list_cost: bool) -> None:
    """`lines`: per file row, what it means: currency, provider, account, tags (as the report sees them) and the
    exact billed, effective and list cost."""
    for currency in sorted({line["currency"] for line in lines}):
        mine = [line for line in lines if line["currency"] == currency]
        body = costs(client, currency, aggregate=["provider", "account"])
        assert items_by(body, currency, "provider", "account") == sums_by(mine, "billed", "provider", "account")
        assert Decimal(body["total"]) == exact_sum(line["billed"] for line in mine)
        body = costs(client, currency, aggregate=["provider", "invoice_issuer"], cost_basis="effective")
        by_issuer = sums_by(mine, "effective", "provider", "issuer")
        assert items_by(body, currency, "provider", "invoice_issuer") == by_issuer
        assert Decimal(body["total"]) == exact_sum(line["effective"] for line in mine)
        body = costs(client, currency, aggregate="charge_category")
        assert items_by(body, currency, "charge_category") == sums_by(mine, "billed", "category")
        if list_cost:
            body = costs(client, currency, cost_basis="list")
            assert Decimal(body["total"]) == exact_sum(line["list"] for line in mine)
        for (provider,), total in sums_by(mine, "billed", "provider").items():
            assert Decimal(costs(client, currency, provider=provider)["total"]) == total
        if tag_key is not None:
            tagged = [{**line, "tag": line["tags"].get(tag_key) or UNALLOCATED} for line in mine]
            body = costs(client, currency, aggregate=["provider", f"tag:{tag_key}"])
            expected = sums_by(tagged, "billed", "provider", "tag")
            assert items_by(body, currency, "provider", f"tag:{tag_key}") == expected


def first_tag_key(lines: list[dict]) -> str | None:
    return next((key for line in lines for key in line["tags"]), None)


def import_and_check(client, path: Path, lines: list[dict], *, list_cost: bool) -> None:
    """Import in a savepoint rolled back afterwards, so that each example starts from an empty database."""
    with transaction.atomic():
        run = billing_export_import(location=str(path))
        assert run.status == "succeeded", run.error
        assert run.rows == len(lines) == CostRecord.objects.count()
        assert_reports_match(client, lines, tag_key=first_tag_key(lines), list_cost=list_cost)
        transaction.set_rollback(True)


# FOCUS ------------------------------------------------------------------------------------------------------------

FOCUS_HEADER = ["ProviderName", "InvoiceIssuerName", "BillingAccountId", "SubAccountId", "BillingPeriodStart",
                "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
                "ServiceName", "RegionId", "ResourceId", "SkuId", "BilledCost", "EffectiveCost", "ListCost",
                "BillingCurrency", "Tags"]  # fmt: skip
FOCUS_1_2_HEADER = ["PricingCurrency", "InvoiceId"]
FOCUS_MONEY = ("BilledCost", "EffectiveCost", "ListCost")
FOCUS_MOMENTS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
tag_values = st.one_of(st.none(), st.just(""), free_text(max_size=30), st.sampled_from(["vision", "speech"]))
focus_tags = st.one_of(
    st.none(),
    st.dictionaries(st.one_of(st.sampled_from(["team", "aws:eks:namespace"]), free_text()), tag_values, max_size=3),
)


def focus_line(**columns) -> dict:
    """One FOCUS row (Python values; None is null), for regression examples."""
    start = columns.pop("start", dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC))
    period_start, period_end = month_of(start)
    row = {
        "ProviderName": "AWS",
        "InvoiceIssuerName": "AWS",
        "BillingAccountId": "000123456789",
        "SubAccountId": None,
        "BillingPeriodStart": period_start,
        "BillingPeriodEnd": period_end,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start + dt.timedelta(hours=1),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ServiceName": "Amazon SageMaker",
        "RegionId": None,
        "ResourceId": None,
        "SkuId": None,
        "BilledCost": Decimal(1),
        "EffectiveCost": Decimal(1),
        "ListCost": Decimal(1),
        "BillingCurrency": "USD",
        "PricingCurrency": None,
        "InvoiceId": None,
        "Tags": None,
    }
    row.update(columns)
    return row


@st.composite
def focus_files(draw) -> list[dict]:
    """Rows of one FOCUS file: a few providers, accounts and currencies that rows share, as real files do."""
    providers = draw(st.lists(st.one_of(st.sampled_from(["AWS", "Microsoft", "Oracle", "Google Cloud"]), names),
                              min_size=1, max_size=3, unique=True))  # fmt: skip
    billing_accounts = draw(st.lists(identifiers, min_size=1, max_size=2, unique=True))
    sub_accounts = draw(st.lists(st.one_of(st.none(), st.just(""), identifiers), min_size=1, max_size=3))
    currencies = draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=2, unique=True))
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        start, end = draw(charge_periods())
        period_start, period_end = month_of(start)
        billed = draw(amounts())
        rows.append(
            focus_line(
                start=start,
                ChargePeriodEnd=end,
                BillingPeriodStart=period_start,
                BillingPeriodEnd=period_end,
                ProviderName=draw(st.sampled_from(providers)),
                InvoiceIssuerName=draw(st.one_of(st.sampled_from(providers), names)),
                BillingAccountId=draw(st.sampled_from(billing_accounts)),
                SubAccountId=draw(st.sampled_from(sub_accounts)),
                ChargeCategory=draw(st.sampled_from(["Usage", "Purchase", "Tax", "Credit", "Adjustment"])),
                ChargeClass=draw(st.sampled_from([None, "Correction"])),
                ServiceName=draw(st.one_of(st.just(""), free_text(max_size=80))),
                RegionId=draw(st.one_of(st.none(), st.just(""), free_text(max_size=30))),
                ResourceId=draw(st.one_of(st.none(), st.just(""), identifiers)),
                SkuId=draw(st.one_of(st.none(), free_text(max_size=60))),
                BilledCost=billed,
                EffectiveCost=draw(st.one_of(st.just(billed), amounts())),
                ListCost=draw(st.one_of(st.just(billed), amounts())),
                BillingCurrency=draw(st.sampled_from(currencies)),
                PricingCurrency=draw(st.one_of(st.none(), st.sampled_from(CURRENCIES))),
                InvoiceId=draw(st.one_of(st.none(), free_text(max_size=40))),
                Tags=draw(focus_tags),
            )
        )
    return rows


def focus_write(folder: Path, rows: list[dict], layout: dict, *, version_1_2: bool, ascii_json: bool) -> Path:
    header = FOCUS_HEADER + (FOCUS_1_2_HEADER if version_1_2 else [])
    path = folder / "focus.csv"
    if layout["container"] != "parquet":
        texts = []
        for index, row in enumerate(rows):
            values: list[str | None] = []
            for name in header:
                value = row[name]
                if value is None:
                    values.append(None)
                elif name in FOCUS_MONEY:
                    values.append(money_text(value, index, layout))
                elif name in FOCUS_MOMENTS:
                    values.append(moment_text(value))
                elif name == "Tags":
                    values.append(json.dumps(value, ensure_ascii=ascii_json))
                else:
                    values.append(value)
            texts.append(values)
        return csv_write(path, header, texts, layout, focus=True)
    columns = {}
    for name in header:
        values = [row[name] for row in rows]
        if name in FOCUS_MONEY:
            columns[name] = money_column(values, layout)
        elif name in FOCUS_MOMENTS:
            columns[name] = moment_column(values, layout)
        elif name == "Tags" and ascii_json:
            columns[name] = pa.array([None if tags is None else list(tags.items()) for tags in values], TEXT_MAP)
        elif name == "Tags":
            columns[name] = pa.array([None if tags is None else json.dumps(tags) for tags in values], pa.string())
        else:
            columns[name] = pa.array(values, pa.string())
    return parquet_write(path, columns)


def focus_meaning(row: dict, layout: dict) -> dict:
    sub_account = row["SubAccountId"]
    return {
        "currency": row["BillingCurrency"],
        "provider": row["ProviderName"],
        "issuer": row["InvoiceIssuerName"],
        "category": row["ChargeCategory"].lower(),
        # SubAccountId is null where a provider has no sub-accounts: the billing account is then the account.
        "account": row["BillingAccountId"] if sub_account in (None, "") else sub_account,
        # An empty or null tag value is no tag (finops/importers/tags.py).
        "tags": {key: value for key, value in (row["Tags"] or {}).items() if value not in (None, "")},
        "billed": value_in_file(row["BilledCost"], layout),
        "effective": value_in_file(row["EffectiveCost"], layout),
        "list": value_in_file(row["ListCost"], layout),
    }


OCI = {"ProviderName": "Oracle", "InvoiceIssuerName": "Oracle", "BillingAccountId": OCID, "SubAccountId": OCID}
CSV_LAYOUT = {"container": "csv", "money": "plain", "newline": "\r\n", "bom": False, "quote_all": False}
PARQUET_LAYOUT = {"container": "parquet", "money": "decimal", "timestamps": "timestamp"}


@pytest.mark.django_db
@PROPERTY
@given(rows=focus_files(), layout=layouts, version_1_2=st.booleans(), ascii_json=st.booleans())
@example(
    rows=[
        focus_line(BilledCost=SMALLEST, EffectiveCost=SMALLEST, ListCost=SMALLEST),
        focus_line(BilledCost=LARGEST, EffectiveCost=LARGEST, ListCost=LARGEST, Tags={"team": "vision"}),
        focus_line(BilledCost=NINETEEN_PLACES, EffectiveCost=-NINETEEN_PLACES, ListCost=NINETEEN_PLACES, **OCI),
        focus_line(ChargeCategory="Credit", BilledCost=Decimal("-3.5"), EffectiveCost=Decimal("-3.5")),
        focus_line(ChargeClass="Correction", ChargeCategory="Usage", BilledCost=-LARGEST, EffectiveCost=-SMALLEST),
        focus_line(Tags={LONG_TAG_KEY: "ünïcode", "team": ""}, BillingCurrency="EUR", ProviderName="Microsoft"),
    ],
    layout=CSV_LAYOUT,
    version_1_2=True,
    ascii_json=False,
).via("edge values")
@example(
    rows=[
        focus_line(Tags={LONG_TAG_KEY: "ünïcode"}, BilledCost=LARGEST, **OCI),
        focus_line(BilledCost=-SMALLEST, ChargeClass="Correction", ChargeCategory="Adjustment", **OCI),
        focus_line(ProviderName="阿里云", SubAccountId="", BilledCost=NINETEEN_PLACES, BillingCurrency="JPY"),
    ],
    layout=PARQUET_LAYOUT,
    version_1_2=False,
    ascii_json=True,
).via("edge values in Parquet, tags as a map")
def test_any_focus_file_reports_its_exact_sums_per_currency_provider_and_account(
    viewer_api, rows, layout, version_1_2, ascii_json
):
    with tempfile.TemporaryDirectory() as folder:
        path = focus_write(Path(folder), rows, layout, version_1_2=version_1_2, ascii_json=ascii_json)
        import_and_check(viewer_api, path, [focus_meaning(row, layout) for row in rows], list_cost=True)


# CUR 2.0 and legacy CUR -------------------------------------------------------------------------------------------

# AWS's line item types (CUR data dictionary, line_item_line_item_type).
LINE_ITEM_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation", "BundledDiscount",
                   "Discount", "PrivateRateDiscount", "EdpDiscount", "SppDiscount", "DistributorDiscount", "Fee",
                   "RIFee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee", "Tax", "Credit", "Refund")  # fmt: skip
# Each line item type's charge category, as finops/importers/cur.py documents it (after the FinOps Foundation's
# converter).
CHARGE_CATEGORIES = {
    **dict.fromkeys(LINE_ITEM_TYPES[:10], "usage"),
    **dict.fromkeys(("Fee", "RIFee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee"), "purchase"),
    "Tax": "tax",
    "Credit": "credit",
    "Refund": "credit",
}
# Money columns a CUR line may carry: (CUR 2.0 / Athena name, legacy slash name).
CUR_MONEY = {
    "cost": ("line_item_unblended_cost", "lineItem/UnblendedCost"),
    "list": ("pricing_public_on_demand_cost", "pricing/publicOnDemandCost"),
    "sp_effective": ("savings_plan_savings_plan_effective_cost", "savingsPlan/SavingsPlanEffectiveCost"),
    "ri_effective": ("reservation_effective_cost", "reservation/EffectiveCost"),
    "sp_commitment": ("savings_plan_total_commitment_to_date", "savingsPlan/TotalCommitmentToDate"),
    "sp_used": ("savings_plan_used_commitment", "savingsPlan/UsedCommitment"),
    "ri_unused_upfront": (
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    ),
    "ri_unused_recurring": ("reservation_unused_recurring_fee", "reservation/UnusedRecurringFee"),
}
CUR_TEXT = {
    "payer": ("bill_payer_account_id", "bill/PayerAccountId"),
    "account": ("line_item_usage_account_id", "lineItem/UsageAccountId"),
    "type": ("line_item_line_item_type", "lineItem/LineItemType"),
    "currency": ("line_item_currency_code", "lineItem/CurrencyCode"),
    "issuer": ("bill_invoicing_entity", "bill/InvoicingEntity"),
    "invoice": ("bill_invoice_id", "bill/InvoiceId"),
    "resource": ("line_item_resource_id", "lineItem/ResourceId"),
    "reservation": ("reservation_reservation_a_r_n", "reservation/ReservationARN"),
}
CUR_MOMENTS = {
    "period_start": ("bill_billing_period_start_date", "bill/BillingPeriodStartDate"),
    "period_end": ("bill_billing_period_end_date", "bill/BillingPeriodEndDate"),
    "start": ("line_item_usage_start_date", "lineItem/UsageStartDate"),
    "end": ("line_item_usage_end_date", "lineItem/UsageEndDate"),
}
ISSUERS = ("Amazon Web Services, Inc.", "AWS EMEA SARL", "Amazon Web Services India Private Limited", "AWS Marketplace")
# User tag keys as AWS allows them (letters of any script, digits, spaces, _ . : / = + - @), never "aws:"-prefixed.
aws_tag_keys = st.text(
    st.characters(categories=("L", "Nd"), include_characters=" _.:/=+-@"), min_size=1, max_size=40
).filter(lambda key: not key.lower().startswith("aws"))
athena_tag_keys = st.from_regex(r"\A[a-z][a-z0-9_]{0,30}\Z").filter(lambda key: not key.startswith("aws"))
optional_money = st.one_of(st.none(), amounts())


def cur_line(**fields) -> dict:
    """One CUR line (Python values; None is an empty field), for regression examples."""
    start = fields.pop("start", dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC))
    period_start, period_end = month_of(start)
    line = {
        "payer": "000123456789",
        "account": "000987654321",
        "type": "Usage",
        "currency": "USD",
        "issuer": "Amazon Web Services, Inc.",
        "invoice": None,
        "resource": None,
        "reservation": None,
        "period_start": period_start,
        "period_end": period_end,
        "start": start,
        "end": start + dt.timedelta(hours=1),
        "product_name": "Amazon SageMaker",
        "region": "us-east-1",
        "tags": {},
        **dict.fromkeys(CUR_MONEY),
        "cost": Decimal(1),
    }
    line.update(fields)
    return line


@st.composite
def cur_files(draw, *, tag_keys: st.SearchStrategy[str]) -> list[dict]:
    payers = draw(st.lists(aws_accounts, min_size=1, max_size=2, unique=True))
    accounts = draw(st.lists(aws_accounts, min_size=1, max_size=3, unique=True))
    currencies = draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=2, unique=True))
    keys = draw(st.lists(tag_keys, max_size=3, unique=True))
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        start, end = draw(charge_periods())
        period_start, period_end = month_of(start)
        rows.append(
            cur_line(
                start=start,
                end=end,
                period_start=period_start,
                period_end=period_end,
                payer=draw(st.sampled_from(payers)),
                account=draw(st.sampled_from(accounts)),
                type=draw(st.sampled_from(LINE_ITEM_TYPES)),
                currency=draw(st.sampled_from(currencies)),
                issuer=draw(st.sampled_from(ISSUERS)),
                invoice=draw(st.one_of(st.none(), st.from_regex(r"\A[0-9]{6,12}\Z"))),
                resource=draw(st.one_of(st.none(), free_text(max_size=200))),
                reservation=draw(
                    st.one_of(st.none(), st.just("arn:aws:ec2:us-east-1:000987654321:reserved-instances/1a2b"))
                ),
                product_name=draw(st.one_of(st.none(), free_text(max_size=60))),
                tags={key: draw(st.one_of(st.none(), free_text(max_size=30))) for key in keys},
                **{name: draw(optional_money) for name in CUR_MONEY if name != "cost"},
                cost=draw(amounts()),
            )
        )
    return rows


def cur_effective(line: dict, layout: dict) -> Decimal:
    """The amortised cost finops/importers/cur.py documents, computed exactly; an absent input falls back to the
    unblended cost."""
    value = {name: value_in_file(line[name], layout) for name in CUR_MONEY}
    kind = line["type"]
    if kind == "SavingsPlanCoveredUsage" and value["sp_effective"] is not None:
        return value["sp_effective"]
    if kind == "DiscountedUsage" and value["ri_effective"] is not None:
        return value["ri_effective"]
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee") or (kind == "Fee" and line["reservation"]):
        return Decimal(0)
    with localcontext(prec=80):
        if kind == "SavingsPlanRecurringFee" and None not in (value["sp_commitment"], value["sp_used"]):
            return value["sp_commitment"] - value["sp_used"]
        if kind == "RIFee" and None not in (value["ri_unused_upfront"], value["ri_unused_recurring"]):
            return value["ri_unused_upfront"] + value["ri_unused_recurring"]
    return value["cost"]


def cur_meaning(line: dict, layout: dict, *, tag_key) -> dict:
    return {
        "currency": line["currency"],
        "provider": "AWS",
        "issuer": line["issuer"],
        "category": CHARGE_CATEGORIES[line["type"]],
        "account": line["account"],
        "tags": {tag_key(key): value for key, value in line["tags"].items() if value is not None},
        "billed": value_in_file(line["cost"], layout),
        "effective": cur_effective(line, layout),
        "list": None,
    }


def cur_write(folder: Path, rows: list[dict], layout: dict, *, style: str) -> Path:
    """style: ``cur2`` (snake_case, product and resource_tags maps), ``slash`` or ``athena`` (legacy CUR)."""
    slash = style == "slash"
    header_of = {name: pair[1] if slash else pair[0] for name, pair in {**CUR_TEXT, **CUR_MOMENTS, **CUR_MONEY}.items()}
    keys = list(dict.fromkeys(key for row in rows for key in row["tags"]))
    if style == "cur2":
        header_of |= {"product": "product", "region": "product_region_code", "tags": "resource_tags"}
    elif slash:
        header_of |= {"product_name": "product/ProductName", "region": "product/region"}
        header_of |= {f"tag:{key}": f"resourceTags/user:{key}" for key in keys}
    else:
        header_of |= {"product_name": "product_product_name", "region": "product_region"}
        header_of |= {f"tag:{key}": f"resource_tags_user_{key}" for key in keys}

    def field(row: dict, name: str):
        if name.startswith("tag:"):
            return row["tags"].get(name[4:])
        if name == "product":
            return {"product_name": row["product_name"], "region": row["region"]}
        return row[name]

    header = list(header_of.values())
    path = folder / "cur.csv"
    if layout["container"] != "parquet":
        texts = []
        for index, row in enumerate(rows):
            values = []
            for name in header_of:
                value = field(row, name)
                if value is None:
                    values.append(None)
                elif name in CUR_MONEY:
                    values.append(money_text(value, index, layout))
                elif name in CUR_MOMENTS:
                    values.append(moment_text(value))
                elif name in ("product", "tags"):
                    prefixed = value if name == "product" else {f"user_{k}": v for k, v in value.items()}
                    values.append(json.dumps({k: v for k, v in prefixed.items() if v is not None}))
                else:
                    values.append(value)
            texts.append(values)
        return csv_write(path, header, texts, layout, focus=False)
    columns = {}
    for name, written in header_of.items():
        values = [field(row, name) for row in rows]
        if name in CUR_MONEY:
            columns[written] = money_column(values, layout)
        elif name in CUR_MOMENTS:
            columns[written] = moment_column(values, layout)
        elif name == "product":
            columns[written] = pa.array([list(value.items()) for value in values], TEXT_MAP)
        elif name == "tags":
            columns[written] = pa.array([[(f"user_{k}", v) for k, v in value.items()] for value in values], TEXT_MAP)
        else:
            columns[written] = pa.array(values, pa.string())
    return parquet_write(path, columns)


def cur_edge_lines() -> list[dict]:
    return [
        cur_line(cost=SMALLEST),
        cur_line(cost=LARGEST, currency="EUR"),
        cur_line(cost=NINETEEN_PLACES, type="Tax"),
        cur_line(type="Credit", cost=-LARGEST),
        cur_line(type="Refund", cost=-SMALLEST, account="000000000001"),
        cur_line(type="SavingsPlanCoveredUsage", cost=Decimal("3.06"), sp_effective=NINETEEN_PLACES),
        cur_line(type="SavingsPlanRecurringFee", cost=LARGEST, sp_commitment=LARGEST, sp_used=-LARGEST),
        cur_line(type="RIFee", cost=Decimal(0), ri_unused_upfront=LARGEST, ri_unused_recurring=Decimal("0.5")),
        cur_line(type="Fee", cost=Decimal(100), reservation="arn:aws:ec2:us-east-1:000987654321:reserved-instances/1"),
    ]


@pytest.mark.django_db
@PROPERTY
@given(rows=cur_files(tag_keys=aws_tag_keys), layout=layouts)
@example(rows=cur_edge_lines(), layout=CSV_LAYOUT).via("edge values")
@example(rows=cur_edge_lines(), layout=PARQUET_LAYOUT).via("edge values in Parquet")
def test_any_cur_2_file_reports_its_exact_sums_per_currency_and_account(viewer_api, rows, layout):
    with tempfile.TemporaryDirectory() as folder:
        path = cur_write(Path(folder), rows, layout, style="cur2")
        lines = [cur_meaning(row, layout, tag_key=str) for row in rows]
        import_and_check(viewer_api, path, lines, list_cost=False)


@pytest.mark.django_db
@PROPERTY
@given(
    data=st.sampled_from(["slash", "athena"]).flatmap(
        lambda style: st.tuples(
            st.just(style), cur_files(tag_keys=aws_tag_keys if style == "slash" else athena_tag_keys)
        )
    ),
    layout=layouts,
)
@example(data=("slash", cur_edge_lines()), layout=CSV_LAYOUT).via("edge values")
@example(data=("athena", cur_edge_lines()), layout=PARQUET_LAYOUT).via("edge values in Parquet")
@example(
    data=("slash", [cur_line(tags={"CostCenter": "ünïcode", "team": None}), cur_line(tags={"CostCenter": None})]),
    layout=CSV_LAYOUT,
).via("tag columns as written, one row untagged")
def test_any_legacy_cur_file_reports_its_exact_sums_per_currency_and_account(viewer_api, data, layout):
    style, rows = data
    with tempfile.TemporaryDirectory() as folder:
        path = cur_write(Path(folder), rows, layout, style=style)
        lines = [cur_meaning(row, layout, tag_key=str) for row in rows]
        import_and_check(viewer_api, path, lines, list_cost=False)
