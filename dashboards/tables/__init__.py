"""django-tables2 tables for the pages. Money shows to the cent; the exact stored value is in the title."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
import pandas as pd
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from capacity.models import Recommendation, Resource
from dashboards.templatetags.costplane import exact, money
from finops.reports import UNALLOCATED, money_sum

UNALLOCATED_LABEL = "Unallocated"
NUMERIC = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}


def key_value_label(value: str | None) -> str:
    return UNALLOCATED_LABEL if value in (None, "", UNALLOCATED) else str(value)


def money_html(value: Decimal | None):
    if value is None:
        return "—"
    return format_html('<span title="{}" data-exact="{}">{}</span>', exact(value), exact(value), money(value))


def share_text(part: Decimal, total: Decimal) -> str:
    if not total:
        return "—"
    return f"{part / total * 100:.1f}%"


class MoneyColumn(tables.Column):
    """A Decimal shown to the cent with the exact value in a title; the footer is the column's exact sum."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUMERIC)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return money_html(value)

    def render_footer(self, bound_column, table):
        return money_html(money_sum(row[bound_column.accessor] for row in table.data))


def allocation_table_rows(items: pd.DataFrame, *, key: str) -> list[dict]:
    """Items per key value and period (allocate's output) summed per key value, largest cost first,
    Unallocated last; each row has value, label, cost, shared_cost and share (of the total, as text)."""
    if items.empty:
        return []
    by_value: dict[str, list[Decimal]] = {}
    for value, cost, shared in zip(items[key], items["cost"], items["shared_cost"], strict=True):
        sums = by_value.setdefault(value, [Decimal(0), Decimal(0)])
        sums[0] = money_sum([sums[0], cost])
        sums[1] = money_sum([sums[1], shared])
    total = money_sum(cost for cost, _ in by_value.values())
    rows = [
        {
            "value": value,
            "label": key_value_label(value),
            "cost": cost,
            "shared_cost": shared,
            "share": share_text(cost, total),
        }
        for value, (cost, shared) in by_value.items()
    ]
    rows.sort(key=lambda row: (row["value"] == UNALLOCATED, -row["cost"], row["label"]))
    return rows


class AllocationTable(tables.Table):
    label = tables.Column(verbose_name="Value", footer="Total", attrs={"tf": {"class": "total-label"}})
    cost = MoneyColumn(verbose_name="Cost")
    shared_cost = MoneyColumn(verbose_name="Of which shared")
    share = tables.Column(verbose_name="Share of total", attrs=NUMERIC, footer="100.0%")

    class Meta:
        orderable = False
        attrs = {"id": "allocation-table", "class": "data"}
        row_attrs = {
            "data-value": lambda record: record["value"],
            "class": lambda record: "unallocated" if record["value"] == UNALLOCATED else "",
        }
        empty_text = "No cost in this window."

    def __init__(self, *args, key_label: str = "Value", **kwargs):
        super().__init__(*args, **kwargs)
        self.columns["label"].column.verbose_name = key_label

    def render_label(self, record):
        if record["value"] == UNALLOCATED:
            return format_html('<span class="swatch swatch-unallocated"></span>{}', record["label"])
        return record["label"]


class UntaggedResourcesTable(tables.Table):
    resource = tables.Column(attrs={"td": {"class": "resource"}})
    account = tables.Column()
    service = tables.Column()
    cost = MoneyColumn(verbose_name="Cost")

    class Meta:
        orderable = False
        attrs = {"id": "untagged-resources", "class": "data"}
        empty_text = "Every resource with cost carries this tag."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, show_footer=False, **kwargs)


# Capacity page

NO_DATA = format_html(
    '<span class="no-data" title="No datapoints in the window: unknown, not idle">{}</span>', "no data"
)
ACCELERATOR_LABELS = {"gpu": "GPU", "neuron": "AWS Neuron"}
TITLE_14_DAYS = {"class": "num", "title": "Mean of the hours with data over the last 14 days"}
SHORT_KIND_LABELS = {Resource.Kind.SAGEMAKER_NOTEBOOK: "SageMaker notebook"}


def hourly_price_text(value: Decimal) -> str:
    """An hourly price with every stored digit (sub-cent prices matter over a month), at least to the cent."""
    exponent = min(value.normalize().as_tuple().exponent, -2)
    return f"${value.quantize(Decimal(1).scaleb(exponent)):,}"


def utilisation_html(value: Decimal | None, *, applicable: bool = True):
    if not applicable:
        return "—"
    if value is None:
        return NO_DATA
    return format_html('<span title="{}">{}%</span>', exact(value), f"{value:.1f}")


class GpuFleetTable(tables.Table):
    """gpu_fleet_summary's groups with column totals in the footer."""

    team = tables.Column(footer="Total", attrs={"tf": {"class": "total-label"}}, empty_values=())
    gpu_model = tables.Column(verbose_name="GPU model / accelerator", empty_values=())
    kind = tables.Column()
    resources = tables.Column(attrs=NUMERIC, footer=lambda table: sum(row["resources"] for row in table.data))
    instances = tables.Column(attrs=NUMERIC, footer=lambda table: sum(row["instances"] for row in table.data))
    gpus = tables.Column(verbose_name="GPUs", attrs=NUMERIC, footer=lambda table: sum(r["gpus"] for r in table.data))
    running_gpus = tables.Column(
        verbose_name="Running GPUs", attrs=NUMERIC, footer=lambda table: sum(r["running_gpus"] for r in table.data)
    )

    class Meta:
        orderable = False
        attrs = {"id": "gpu-fleet", "class": "data"}
        empty_text = "No live machine with GPUs or other accelerators."

    def render_team(self, value):
        return value or format_html('<span class="muted">{}</span>', "No team")

    def render_gpu_model(self, value, record):
        kind = ACCELERATOR_LABELS.get(record["accelerator"], record["accelerator"])
        return format_html('{} <span class="muted">{}</span>', value or "unknown model", kind)

    def render_kind(self, value):
        return Resource.Kind(value).label


class ResourceTable(tables.Table):
    """Resources from inventory (a queryset of resources_listed()), with 14-day averages and on-demand prices.

    A row loads its utilisation chart into #resource-detail with htmx (the page's own URL with ?resource=<pk>).
    """

    name = tables.Column(verbose_name="Resource", order_by=("name", "resource_id"))
    kind = tables.Column()
    team = tables.Column(verbose_name="Team", accessor="team__name", order_by=("team__name",), default="—")
    account = tables.Column(verbose_name="Account, region", order_by=("account__name", "region"))
    instance_type = tables.Column(verbose_name="Instance type")
    gpus = tables.Column(verbose_name="GPUs", attrs=NUMERIC)
    state = tables.Column(empty_values=())
    cpu_average = tables.Column(
        verbose_name="CPU avg", empty_values=(), orderable=False, attrs=NUMERIC | {"th": TITLE_14_DAYS}
    )
    gpu_average = tables.Column(
        verbose_name="GPU avg", empty_values=(), orderable=False, attrs=NUMERIC | {"th": TITLE_14_DAYS}
    )
    hourly_price = tables.Column(
        verbose_name="$/hour",
        empty_values=(),
        orderable=False,
        attrs=NUMERIC | {"th": {"class": "num", "title": "On-demand price per instance per hour (AWS Pricing API)"}},
    )

    class Meta:
        attrs = {"id": "capacity-resources-table", "class": "data resources"}
        empty_text = "No resource matches these filters."

    def __init__(self, *args, detail_url: str, averages: dict[str, dict], prices=None, selected=None, **kwargs):
        self.averages, self.prices = averages, prices or {}
        row_attrs = {
            "data-resource": lambda record: record.pk,
            "hx-get": lambda record: f"{detail_url}?resource={record.pk}",
            "hx-target": "#resource-detail",
            "hx-swap": "innerHTML",
            "hx-push-url": "false",
            "hx-trigger": "click, keyup[key=='Enter']",
            "tabindex": "0",
            "title": "Show hourly utilisation",
            "class": lambda record: " ".join(
                name
                for name, on in (("gone", record.gone_at is not None), ("selected", str(record.pk) == str(selected)))
                if on
            ),
        }
        super().__init__(*args, row_attrs=row_attrs, **kwargs)

    def render_name(self, record):
        return format_html(
            '<span class="resource-name" title="{}">{}</span>', record.resource_id, record.name or record.resource_id
        )

    def render_kind(self, record):
        return SHORT_KIND_LABELS.get(record.kind, record.get_kind_display())

    def render_account(self, record):
        return format_html(
            '<span title="{}">{}</span> <span class="muted">{}</span>',
            record.account.account_id,
            record.account.name,
            record.region,
        )

    def render_instance_type(self, value, record):
        if record.instance_count != 1:
            return format_html('{} <span class="muted">× {}</span>', value, record.instance_count)
        return value

    def render_gpus(self, value, record):
        if not value:
            return "—"
        return format_html('{} <span class="muted">{}</span>', value, record.type_info.gpu_model)

    def render_state(self, value, record):
        if record.gone_at is not None:
            return format_html(
                '<span class="badge badge-gone" title="Not seen since {}">gone</span>', record.gone_at.isoformat()
            )
        return value or "—"

    def render_cpu_average(self, record):
        return utilisation_html(self.averages["cpu"].get(record.pk))

    def render_gpu_average(self, record):
        gpu_host = record.type_info is not None and record.type_info.accelerator_kind == "gpu"
        return utilisation_html(self.averages["gpu"].get(record.pk), applicable=gpu_host)

    def render_hourly_price(self, record):
        if not record.instance_type:
            return "—"
        price = self.prices.get(record.pk)
        if price is None or price.missing:
            reason = "not fetched yet" if price is None else "the Pricing API lists no on-demand price"
            return format_html('<span class="price-missing" title="{}">price missing</span>', reason)
        return format_html('<span title="{}">{}</span>', exact(price.hourly_usd), hourly_price_text(price.hourly_usd))


class ServiceQuotaTable(tables.Table):
    """Service quotas (quotas_by_use()) with counted usage and headroom; `near` holds the pks near their limit."""

    account = tables.Column(order_by=("account__name",))
    region = tables.Column()
    name = tables.Column(verbose_name="Quota")
    value = tables.Column(attrs=NUMERIC)
    usage = tables.Column(attrs=NUMERIC, empty_values=())
    headroom = tables.Column(attrs=NUMERIC, empty_values=())

    class Meta:
        orderable = False
        attrs = {"id": "service-quotas", "class": "data"}
        empty_text = "No service quotas collected yet."

    def __init__(self, *args, near: set[int], **kwargs):
        self.near = near
        row_attrs = {"class": lambda record: "near-limit" if record.pk in near else ""}
        super().__init__(*args, row_attrs=row_attrs, **kwargs)

    def render_account(self, record):
        return format_html('<span title="{}">{}</span>', record.account.account_id, record.account.name)

    def render_name(self, value, record):
        badge = format_html(' <span class="badge badge-near">{}</span>', "near limit") if record.pk in self.near else ""
        return format_html('{} <span class="muted">{}</span>{}', value, record.service_code, badge)

    def render_value(self, value):
        return exact(value)

    def render_usage(self, value):
        if value is None:
            return format_html(
                '<span class="no-data" title="Costplane cannot count this usage">{}</span>', "not counted"
            )
        return exact(value)

    def render_headroom(self, record):
        return "—" if record.headroom is None else exact(record.headroom)


# Unit economics page

UNKNOWN_PREDICTIONS = format_html(
    '<span class="no-data" title="No Invocations datapoint in the window: unknown, not zero">{}</span>', "unknown"
)
UNTAGGED_LABEL = "untagged"


def unit_key(record: dict, aggregate: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("" if record[key] in (None, UNALLOCATED) else str(record[key]) for key in aggregate)


def unit_key_label(key: tuple[str, ...], aggregate: tuple[str, ...]) -> str:
    """A model version as "model version", an endpoint by its name (the ARN's last part); untagged says so."""
    if aggregate == ("resource",):
        return key[0].rsplit("/", 1)[-1] or "(no resource)"
    return " ".join(value or f"({UNTAGGED_LABEL} {name[4:] if name.startswith('tag:') else name})"
                    for value, name in zip(key, aggregate, strict=True))  # fmt: skip


def unit_cost_table_rows(items: pd.DataFrame, *, aggregate: tuple[str, ...]) -> list[dict]:
    """unit_costs' items of a whole window as rows: key, label, the key values by name, cost, predictions
    (None = unknown), cost_per_1000_predictions, training_cost; most serving cost first, then training cost."""
    rows = []
    for record in items.to_dict("records"):
        key = unit_key(record, aggregate)
        rows.append(
            {
                "key": key,
                "label": unit_key_label(key, aggregate),
                "values": dict(zip(aggregate, key, strict=True)),
                "model": record.get("tag:model"),
                "model_version": record.get("tag:model_version"),
                "cost": record["cost"],
                "predictions": record["predictions"],
                "cost_per_1000_predictions": record["cost_per_1000_predictions"],
                "training_cost": record["training_cost"],
            }
        )
    rows.sort(key=lambda row: (-row["cost"], -row["training_cost"], row["label"]))
    return rows


def unit_cost_daily_rows(items: pd.DataFrame, *, aggregate: tuple[str, ...], keys: list[tuple[str, ...]]) -> list[dict]:
    """unit_costs' daily items (step=day) of the given keys as label, period, cost_per_1000_predictions (None where
    the day's predictions are unknown), in the order of `keys`."""
    order = {key: index for index, key in enumerate(keys)}
    rows = [
        {
            "label": unit_key_label(key, aggregate),
            "order": order[key],
            "period": record["period"],
            "cost_per_1000_predictions": record["cost_per_1000_predictions"],
        }
        for record in items.to_dict("records")
        if (key := unit_key(record, aggregate)) in order and record["period"] is not None and record["cost"] > 0
    ]
    return sorted(rows, key=lambda row: (row["order"], row["period"]))


def unit_price_html(value: Decimal | None):
    """Cost per 1,000 predictions: to the cent, or to four significant digits below a dime (a cheap model's
    cost per 1,000 is often a fraction of a cent); the exact value in the title."""
    if value is None:
        return "—"
    text = money(value) if abs(value) >= Decimal("0.1") else f"${value:.4g}" if value else "$0.00"
    return format_html('<span title="{}" data-exact="{}">{}</span>', exact(value), exact(value), text)


class UnitCostTable(tables.Table):
    """unit_cost_table_rows' rows: serving cost, predictions (unknown where no datapoint), cost per 1,000."""

    label = tables.Column(verbose_name="Model version", footer="Total", attrs={"tf": {"class": "total-label"}})
    cost = MoneyColumn(verbose_name="Serving cost")
    predictions = tables.Column(verbose_name="Predictions", attrs=NUMERIC, empty_values=())
    cost_per_1000_predictions = tables.Column(verbose_name="Cost per 1,000 predictions", attrs=NUMERIC, empty_values=())
    training_cost = MoneyColumn(verbose_name="Training cost")

    class Meta:
        orderable = False
        attrs = {"id": "unit-cost-table", "class": "data"}
        row_attrs = {"data-key": lambda record: "|".join(record["key"])}
        empty_text = "No serving or training cost in this window."

    def __init__(self, *args, group: str = "model", **kwargs):
        super().__init__(*args, **kwargs)
        if group == "resource":
            self.columns["label"].column.verbose_name = "Endpoint or training job"

    def render_label(self, record):
        if "resource" in record["values"]:
            return format_html('<span class="resource-name" title="{}">{}</span>', record["values"]["resource"],
                               record["label"])  # fmt: skip
        if not all(record["key"]):
            return format_html('<span class="muted">{}</span>', record["label"])
        return record["label"]

    def render_predictions(self, record):
        if record["predictions"] is not None:
            count = record["predictions"]
            return format_html('<span title="{}">{}</span>', exact(count), f"{count:,.0f}")
        return UNKNOWN_PREDICTIONS if record["cost"] > 0 else "—"

    def render_cost_per_1000_predictions(self, record):
        return unit_price_html(record["cost_per_1000_predictions"])


class TrainingCostTable(tables.Table):
    """Training cost per model version (rows of unit_cost_table_rows with training cost)."""

    model = tables.Column(verbose_name="Model", footer="Total", attrs={"tf": {"class": "total-label"}}, empty_values=())
    model_version = tables.Column(verbose_name="Version", empty_values=())
    training_cost = MoneyColumn(verbose_name="Training cost")

    class Meta:
        orderable = False
        attrs = {"id": "training-cost-table", "class": "data"}
        empty_text = "No training job cost in the last 13 months."

    def render_model(self, value):
        return _tag_value_html(value, "(untagged model)")

    def render_model_version(self, value):
        return _tag_value_html(value, "(untagged version)")


def _tag_value_html(value: str | None, missing: str):
    return value if value not in (None, "", UNALLOCATED) else format_html('<span class="muted">{}</span>', missing)


def gpu_hours_text(value: Decimal) -> str:
    return f"{value:,.0f}"


class GpuDemandTable(tables.Table):
    """Per team: GPU-hours of the recent days and the team's newest forecast ahead (mean and the sums of its daily
    80% bounds); the footer is the whole fleet, whose own forecast need not equal the sum of the teams'."""

    team = tables.Column(verbose_name="Team", footer="Whole fleet", attrs={"tf": {"class": "total-label"}})
    recent_gpu_hours = tables.Column(attrs=NUMERIC, footer=lambda table: table.render_recent_gpu_hours(
        table.fleet["recent_gpu_hours"]))  # fmt: skip
    forecast = tables.Column(
        attrs=NUMERIC,
        empty_values=(),
        accessor="ahead",
        footer=lambda table: table.render_forecast(table.fleet["ahead"]),
    )
    band_80 = tables.Column(
        verbose_name="80% band",
        attrs=NUMERIC,
        empty_values=(),
        accessor="ahead",
        footer=lambda table: table.render_band_80(table.fleet["ahead"]),
    )

    class Meta:
        orderable = False
        attrs = {"id": "gpu-demand-teams", "class": "data"}
        empty_text = "No team used GPUs in the last days and none has a forecast."

    def __init__(self, *args, fleet: dict, ahead_days: int, recent_days: int, **kwargs):
        self.fleet, self.ahead_days = fleet, ahead_days
        super().__init__(*args, **kwargs)
        self.columns["recent_gpu_hours"].column.verbose_name = f"GPU-hours, last {recent_days} days"
        self.columns["forecast"].column.verbose_name = f"Forecast GPU-hours, next {ahead_days} days"

    def render_team(self, value):
        return format_html('<span class="muted">{}</span>', UNALLOCATED_LABEL) if value == UNALLOCATED else value

    def render_recent_gpu_hours(self, value):
        return format_html('<span title="{}">{}</span>', exact(value), gpu_hours_text(value))

    def render_forecast(self, value):
        if value is None:
            return format_html('<span class="no-data">{}</span>', "no forecast")
        partial = f" ({value['days']} days)" if value["days"] < self.ahead_days else ""
        return format_html('<span title="{}">{}</span>{}', exact(value["mean"]), gpu_hours_text(value["mean"]), partial)

    def render_band_80(self, value):
        if value is None:
            return "—"
        return f"{gpu_hours_text(value['lower_80'])} – {gpu_hours_text(value['upper_80'])}"


# Recommendations page


def performance_risk_html(value: Decimal | None):
    """Compute Optimizer's performance risk, 0 (very low) to 4 (very high); Costplane's own has none."""
    if value is None:
        return format_html('<span class="muted" title="{}">{}</span>', "The source states no performance risk", "—")
    label = ("very low", "low", "medium", "high", "very high")[min(4, max(0, int(value)))]
    return format_html(
        '<span title="{} of 4">{}</span> <span class="muted">{}</span>', exact(value), exact(value), label
    )


def recommendation_resource_label(recommendation: Recommendation) -> str:
    """The inventoried resource's name, else the last part of the ARN (the instance id, volume id…)."""
    if recommendation.resource is not None and recommendation.resource.name:
        return recommendation.resource.name
    return recommendation.resource_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


WRAP = {"td": {"class": "wrap"}}


class RecommendationTable(tables.Table):
    """Recommendations (a queryset with account, team, resource selected); a row loads its detail with htmx into
    #recommendation-detail (the page's URL with the current filters and ?recommendation=<pk>)."""

    resource = tables.Column(
        verbose_name="Resource", empty_values=(), order_by=("resource__name", "resource_arn"), attrs=WRAP
    )
    team = tables.Column(verbose_name="Team", accessor="team__name", order_by=("team__name",), default="—")
    account = tables.Column(verbose_name="Account, region", order_by=("account__name", "region"))
    change = tables.Column(verbose_name="Current → recommended", empty_values=(), orderable=False, attrs=WRAP)
    finding = tables.Column(verbose_name="Finding, reasons", attrs=WRAP)
    monthly_savings = tables.Column(verbose_name="Savings / month", attrs=NUMERIC)
    performance_risk = tables.Column(verbose_name="Performance risk", empty_values=())
    source = tables.Column()
    state = tables.Column()
    first_seen = tables.Column(verbose_name="Age")

    class Meta:
        attrs = {"id": "recommendations-table", "class": "data recommendations"}
        empty_text = "No recommendation matches these filters."

    def __init__(self, *args, detail_url: str, selected: str | None = None, **kwargs):
        row_attrs = {
            "data-recommendation": lambda record: record.pk,
            "hx-get": lambda record: f"{detail_url}recommendation={record.pk}",
            "hx-target": "#recommendation-detail",
            "hx-swap": "innerHTML",
            "hx-push-url": "false",
            "hx-trigger": "click, keyup[key=='Enter']",
            "tabindex": "0",
            "title": "Show the evidence and the audit trail",
            "class": lambda record: "selected" if str(record.pk) == str(selected) else "",
        }
        super().__init__(*args, row_attrs=row_attrs, **kwargs)

    def render_resource(self, record):
        return format_html(
            '<span class="resource-name" title="{}">{}</span><br><span class="muted">{}</span>',
            record.resource_arn,
            recommendation_resource_label(record),
            record.resource_type,
        )

    def render_account(self, record):
        return format_html(
            '<span title="{}">{}</span> <span class="muted">{}</span>',
            record.account.account_id,
            record.account.name,
            record.region,
        )

    def render_change(self, record):
        if record.kind == Recommendation.Kind.IDLE:
            return format_html("{} →<br><strong>{}</strong>", record.current_configuration or "—", "stop or delete")
        return format_html(
            "{} →<br><strong>{}</strong>", record.current_configuration or "—", record.recommended_configuration or "—"
        )

    def render_finding(self, value, record):
        codes = format_html_join(" ", '<span class="reason-code">{}</span>', ((code,) for code in record.reason_codes))
        return format_html("{} {}", value or "—", codes)

    def render_monthly_savings(self, value):
        return money_html(value)

    def render_performance_risk(self, value):
        return performance_risk_html(value)

    def render_source(self, record):
        short = "Compute Optimizer" if record.source == Recommendation.Source.COMPUTE_OPTIMIZER else "Costplane"
        return format_html('<span title="{}">{}</span>', record.get_source_display(), short)

    def render_state(self, value, record):
        until = f" until {record.snoozed_until.isoformat()}" if record.snoozed_until else ""
        return format_html('<span class="badge state-{}">{}{}</span>', value, record.get_state_display(), until)

    def render_first_seen(self, value):
        return format_html(
            '<span title="First seen {}">{}</span>', value.isoformat(), timesince(value, timezone.now()).split(",")[0]
        )


class RecommendationSavingsByTeamTable(tables.Table):
    """Open recommendations per team: how many and their estimated monthly savings; rows are dicts."""

    team = tables.Column(verbose_name="Team", footer="All teams", empty_values=())
    count = tables.Column(verbose_name="Open", attrs=NUMERIC, footer=lambda table: sum(r["count"] for r in table.data))
    savings = MoneyColumn(verbose_name="Savings / month")

    class Meta:
        orderable = False
        attrs = {"id": "recommendation-savings-by-team", "class": "data"}
        empty_text = "No open recommendation."

    def render_team(self, value):
        return value or format_html('<span class="muted">{}</span>', "No team")
