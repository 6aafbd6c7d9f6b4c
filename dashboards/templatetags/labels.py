"""Words for what the pages show: enum values (`Ec2Instance`, `VeryLow`, `GPU_PERCENTAGE`, `after_discounts`) as
words, a performance risk one way everywhere ("1 of 4 (low)"), and a cloud account's name beside its id.

The Python functions (`enum_label`, `risk_label`, `account_label_html`, `account_label_text`, `account_names`) serve
tables, charts and views; the template filters and tag (`{% load labels %}`: `|enum_label`, `|choice_label:"field"`,
`|risk_label`, `{% account_label account_id %}`) serve templates. Account names are read once per request (cached on
the request, or on whatever object is passed as `holder`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django import template
from django.apps import apps
from django.utils.html import format_html

from finops.selectors.accounts import cloud_account_names

register = template.Library()

# Words that read as written in AWS's documentation, never split or lower-cased.
BRANDS = ("SageMaker", "CloudWatch", "CloudFront", "DynamoDB", "ElastiCache", "OpenSearch", "CloudTrail")
ACRONYMS = {
    "api": "API",
    "arn": "ARN",
    "aws": "AWS",
    "az": "AZ",
    "cpu": "CPU",
    "csv": "CSV",
    "cur": "CUR",
    "ebs": "EBS",
    "ec2": "EC2",
    "ecs": "ECS",
    "eks": "EKS",
    "focus": "FOCUS",
    "gpu": "GPU",
    "gpus": "GPUs",
    "id": "id",
    "io": "I/O",
    "iops": "IOPS",
    "ml": "ML",
    "ok": "OK",
    "rds": "RDS",
    "ri": "RI",
    "s3": "S3",
    "sns": "SNS",
    "sp": "SP",
    "sqs": "SQS",
    "url": "URL",
    "vcpu": "vCPU",
    "vcpus": "vCPUs",
}
# Compute Optimizer's performance risk: 0 (very low) to 4 (very high).
RISK_WORDS = ("very low", "low", "medium", "high", "very high")
RISK_BY_NAME = {"verylow": 0, "low": 1, "medium": 2, "high": 3, "veryhigh": 4}
_TOKEN = re.compile("|".join(BRANDS) + r"|[A-Z]+[0-9]*(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+[a-z]*")
ACCOUNT_ID = re.compile(r"^\d{12}$")


def enum_label(value, choices=None) -> str:
    """An enum value as words: the Django choices label when `choices` (pairs or a dict) names it, else
    `Ec2Instance` → "EC2 instance", `VeryLow` → "Very low", `GPU_PERCENTAGE` → "GPU %", `after_discounts` →
    "After discounts". None and "" give "—"; a value that is not a string (a number) is shown as it is."""
    if value is None or value == "":
        return "—"
    if choices is not None:
        labels = dict(choices)
        if value in labels:
            return str(labels[value])
    if not isinstance(value, str):
        return str(value)
    tokens = _TOKEN.findall(value)
    if not tokens:
        return value
    words = []
    for index, token in enumerate(tokens):
        lower = token.lower()
        if token in BRANDS:
            words.append(token)
        elif lower in ("percentage", "percent") and index > 0:
            words.append("%")
        elif lower in ACRONYMS:
            words.append(ACRONYMS[lower])
        else:
            words.append(lower)
    text = " ".join(words)
    return text[0].upper() + text[1:]


def risk_level(value) -> int | None:
    """A performance risk as 0–4, from a number (1, "1.0", Decimal("1.00")) or a name ("VeryLow", "low")."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return RISK_BY_NAME.get(re.sub(r"[^a-z]", "", str(value).lower()))
    return min(4, max(0, int(number)))


def risk_label(value) -> str:
    """A performance risk shown one way everywhere: "1 of 4 (low)"; "—" when the source states none."""
    level = risk_level(value)
    return "—" if level is None else f"{level} of 4 ({RISK_WORDS[level]})"


def account_names(holder=None) -> dict[str, str]:
    """{account id: name} of every cloud account, read once per `holder` (a request, a table) and kept on it."""
    if holder is None:
        return cloud_account_names()
    names = getattr(holder, "_costplane_account_names", None)
    if names is None:
        names = cloud_account_names()
        try:
            holder._costplane_account_names = names
        except AttributeError:  # an object without a __dict__: read again next time
            pass
    return names


def _account_id_and_name(value, names: dict[str, str] | None) -> tuple[str, str]:
    """(id, name) of a CloudAccount or an account id; the name is "" when the account has none or is unknown."""
    if value is None:
        return "", ""
    if hasattr(value, "account_id"):
        return str(value.account_id), getattr(value, "name", "") or ""
    account_id = str(value)
    return account_id, (names or {}).get(account_id, "") or ""


def account_label_text(value, names: dict[str, str] | None = None) -> str:
    """ "name (123456789012)", or the id alone for an account without a name (plain text: charts, selects, CSV)."""
    account_id, name = _account_id_and_name(value, names)
    if not account_id:
        return "—"
    return f"{name} ({account_id})" if name else account_id


def account_label_html(value, names: dict[str, str] | None = None):
    """The account's name with its id beside it (HTML: tables and templates); the id alone when it has no name."""
    account_id, name = _account_id_and_name(value, names)
    if not account_id:
        return "—"
    if not name:
        return format_html('<span class="account"><span class="account-id">{}</span></span>', account_id)
    return format_html(
        '<span class="account"><span class="account-name">{}</span> <span class="account-id muted">{}</span></span>',
        name,
        account_id,
    )


@register.filter(name="enum_label")
def enum_label_filter(value, field: str = "") -> str:
    """`{{ value|enum_label }}`, or `{{ row.source|enum_label:"finops.CostRecord.source" }}` to use that model
    field's choices labels (app label, model, field)."""
    if not field:
        return enum_label(value)
    app_label, model_name, field_name = field.split(".")
    choices = apps.get_model(app_label, model_name)._meta.get_field(field_name).choices
    return enum_label(value, choices)


@register.filter
def choice_label(instance, field_name: str) -> str:
    """A model field's value as its choices label (`{{ action|choice_label:"state" }}`), else as words."""
    value = getattr(instance, field_name, None)
    field = instance._meta.get_field(field_name)
    return enum_label(value, field.choices)


@register.filter(name="risk_label")
def risk_label_filter(value) -> str:
    return risk_label(value)


@register.simple_tag(takes_context=True)
def account_label(context, value):
    """`{% account_label row.account_id %}` (or a CloudAccount): its name beside its id; names read once a request."""
    if hasattr(value, "account_id"):
        return account_label_html(value)
    holder = context.get("request")
    return account_label_html(value, account_names(holder))


@register.simple_tag(takes_context=True)
def account_text(context, value):
    """`{% account_text account_id %}`: "name (id)" as plain text (option labels, titles)."""
    if hasattr(value, "account_id"):
        return account_label_text(value)
    return account_label_text(value, account_names(context.get("request")))


@dataclass(frozen=True)
class PeriodBucket:
    """A report period (a day, an ISO week from Monday, a month) as far as the window holds it."""

    period: date  # the period's first day, as the Reports API names it
    first: date  # the first day the window holds
    last: date  # the last day the window holds (inclusive)
    days: int  # days the window holds
    period_days: int  # days the whole period has

    @property
    def period_end(self) -> date:
        """The first day after the whole period."""
        return self.period + timedelta(days=self.period_days)

    @property
    def partial(self) -> bool:
        return self.days < self.period_days

    @property
    def label(self) -> str:
        """The dates it holds: "Nov 1", "Nov 2 – 8", "Oct 26 – Nov 1", "Dec 28, 2026 – Jan 3, 2027"."""
        return date_span_label(self.first, self.last)

    @property
    def partial_note(self) -> str:
        """ "partial: 3 of 7 days", or "" for a whole period."""
        return f"partial: {self.days} of {self.period_days} days" if self.partial else ""


def date_span_label(first: date, last: date) -> str:
    """Days first..last (inclusive) named the short way: "Nov 1", "Nov 2 – 8", "Oct 26 – Nov 1"."""
    if first == last:
        return f"{first:%b} {first.day}"
    if first.year != last.year:
        return f"{first:%b} {first.day}, {first.year} – {last:%b} {last.day}, {last.year}"
    if first.month == last.month:
        return f"{first:%b} {first.day} – {last.day}"
    return f"{first:%b} {first.day} – {last:%b} {last.day}"


def period_start(day: date, *, step: str) -> date:
    """The first day of the period (ISO week from Monday, month, day) holding `day`."""
    if step == "week":
        return day - timedelta(days=day.weekday())
    if step == "month":
        return day.replace(day=1)
    return day


def period_bucket(period: date, *, step: str | None, start: date, end: date) -> PeriodBucket:
    """The bucket starting at `period` for `step` (day, week, month; None: the whole window) cut to [start, end)."""
    if step == "day":
        period_end = period + timedelta(days=1)
    elif step == "week":
        period_end = period + timedelta(days=7)
    elif step == "month":
        period_end = period + timedelta(days=calendar.monthrange(period.year, period.month)[1])
    else:
        period, period_end = start, end
    first, stop = max(period, start), min(period_end, end)
    return PeriodBucket(
        period=period,
        first=first,
        last=stop - timedelta(days=1),
        days=(stop - first).days,
        period_days=(period_end - period).days,
    )


@register.simple_tag(takes_context=True)
def dimension_value(context, dimension: str, value):
    """`{% dimension_value seen.dimension seen.value %}`: a value along a dimension (an anomaly's, a budget's scope),
    an account named beside its id, anything else as it is."""
    if dimension == "account":
        return account_label_text(value, account_names(context.get("request")))
    return value


def is_account_id(value) -> bool:
    return isinstance(value, str) and bool(ACCOUNT_ID.match(value))
