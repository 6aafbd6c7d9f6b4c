"""The Capacity page's tables: the GPU fleet, the resources with their utilisation and price, service quotas, and
GPU demand per team."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.utils.html import format_html

from capacity.models import Resource
from dashboards.tables.columns import NUMERIC, UNALLOCATED_LABEL
from dashboards.templatetags.costplane import exact
from dashboards.templatetags.labels import account_label_html, enum_label
from finops.reports import UNALLOCATED

NO_DATA = format_html(
    '<span class="no-data" title="No datapoints in the window: unknown, not idle">{}</span>', "no data"
)
ACCELERATOR_LABELS = {"gpu": "GPU", "neuron": "AWS Neuron"}
TITLE_14_DAYS = {"class": "num", "title": "Mean of the hours with data over the last 14 days"}
SHORT_KIND_LABELS = {Resource.Kind.SAGEMAKER_NOTEBOOK: "SageMaker notebook"}
SERVICE_CODE_LABELS = {"ec2": "EC2", "sagemaker": "SageMaker"}  # Service Quotas' service codes


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
        return format_html('{} <span class="muted">{}</span>', account_label_html(record.account), record.region)

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
        return enum_label(value)  # AWS's states as words: InService → In service, ACTIVE → Active

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
        return account_label_html(record.account)

    def render_name(self, value, record):
        badge = format_html(' <span class="badge badge-near">{}</span>', "near limit") if record.pk in self.near else ""
        service = SERVICE_CODE_LABELS.get(record.service_code) or enum_label(record.service_code)
        return format_html('{} <span class="muted">{}</span>{}', value, service, badge)

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


# GPU demand panel


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
