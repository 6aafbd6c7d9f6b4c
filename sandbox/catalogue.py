"""The sandbox organisation: accounts, teams and the resources that spend money, from a seed and a size.

The same (seed, size, today) always gives the same catalogue, with the same ids; "small" resources
are a subset of "full" ones (same names, so same ids). Later work creates these resources in moto
(EC2, SageMaker) and publishes their CloudWatch metrics from `Resource.profile`.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sandbox import rates
from sandbox.fleet import full_fleet, small_fleet

DEFAULT_SEED = 7
SIZES = ("small", "full")
HISTORY_MONTHS = 13
TAG_KEYS = ("team", "project", "environment", "model", "model_version")
TEAMS = ("vision", "speech", "recsys", "platform")
ORGANIZATION_ID = "o-costplane01"


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    email: str
    role: str  # "management" (the payer) or "member"

    @property
    def arn(self) -> str:
        return f"arn:aws:organizations::{MANAGEMENT_ACCOUNT_ID}:account/{ORGANIZATION_ID}/{self.id}"


MANAGEMENT_ACCOUNT_ID = "481516234200"
ACCOUNTS = (
    Account(MANAGEMENT_ACCOUNT_ID, "costplane-management", "aws+management@costplane.example", "management"),
    Account("481516234201", "ml-prod", "aws+ml-prod@costplane.example", "member"),
    Account("481516234202", "ml-research", "aws+ml-research@costplane.example", "member"),
    Account("481516234203", "platform", "aws+platform@costplane.example", "member"),
    Account("481516234204", "data", "aws+data@costplane.example", "member"),
)
ACCOUNT_IDS = {account.name: account.id for account in ACCOUNTS}


@dataclass(frozen=True)
class UtilisationProfile:
    """A daily cycle: `base` utilisation at the quietest hour, `peak` at `peak_hour_utc` (0..1)."""

    base: float
    peak: float
    peak_hour_utc: int = 15
    weekdays_only: bool = False  # no traffic on Saturdays and Sundays

    def at(self, moment: datetime) -> float:
        if self.weekdays_only and moment.weekday() >= 5:
            return 0.0
        phase = (moment.hour + moment.minute / 60 - self.peak_hour_utc) / 24 * 2 * math.pi
        return self.base + (self.peak - self.base) * (1 + math.cos(phase)) / 2


@dataclass(frozen=True)
class Resource:
    """One thing that spends money. `count` instances of `instance_type` bill `hourly_price` each hour they run."""

    id: str
    name: str
    kind: (
        str  # ec2_instance | sagemaker_endpoint | sagemaker_notebook | sagemaker_training_job | s3_bucket | nat_gateway
    )
    account_id: str
    region: str
    instance_type: str  # "" where the resource is not an instance
    count: int
    tags: dict[str, str]
    hourly_price: Decimal  # on-demand USD per instance-hour (per GB-month for s3_bucket)
    start: date
    stop: date | None  # exclusive; None while it still runs
    schedule: str = "always"  # "always" (24 h a day) or "weekdays" (12 h, Monday to Friday)
    hours_per_day: Decimal = Decimal(24)
    size_gb: int = 0  # EBS volume (ec2_instance), stored GB at start (s3_bucket), GB a day (nat_gateway)
    growth_gb_per_day: int = 0
    volume_id: str = ""
    profile: UtilisationProfile = field(default_factory=lambda: UtilisationProfile(0.5, 0.5))

    @property
    def gpu(self) -> bool:
        family = self.instance_type.removeprefix("ml.").split(".")[0]
        return family in rates.GPU_FAMILIES


@dataclass(frozen=True)
class SavingsPlan:
    arn: str
    account_id: str
    hourly_commitment: Decimal
    start: date
    end: date  # exclusive
    payment_option: str = "No Upfront"  # or "All Upfront": the whole term billed on the first day

    @property
    def term_days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class Catalogue:
    seed: int
    size: str
    today: date
    start: date  # first day of history (a month start)
    accounts: tuple[Account, ...]
    resources: tuple[Resource, ...]
    savings_plans: tuple[SavingsPlan, ...]
    credit_account_id: str  # the account whose SageMaker usage promotional credits offset
    credit_months: int  # credits apply during this many months from `start`

    @property
    def end(self) -> date:
        """The day after the last day of history (exclusive): today."""
        return self.today

    def resource(self, resource_id: str) -> Resource:
        return next(r for r in self.resources if r.id == resource_id)


def stable_hex(seed: int, *parts: str, length: int = 16) -> str:
    return hashlib.sha256(":".join((str(seed), *parts)).encode()).hexdigest()[:length]


def month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _resource_id(seed: int, kind: str, account_id: str, region: str, name: str) -> str:
    if kind == "ec2_instance":
        return "i-0" + stable_hex(seed, account_id, name)
    if kind == "nat_gateway":
        return "nat-0" + stable_hex(seed, account_id, name, length=16)
    if kind == "s3_bucket":
        return name
    sagemaker_type = {
        "sagemaker_endpoint": "endpoint",
        "sagemaker_notebook": "notebook-instance",
        "sagemaker_training_job": "training-job",
    }[kind]
    return f"arn:aws:sagemaker:{region}:{account_id}:{sagemaker_type}/{name}"


def _price(kind: str, instance_type: str, region: str) -> Decimal:
    table = {
        "ec2_instance": rates.EC2_HOURLY,
        "sagemaker_endpoint": rates.SAGEMAKER_HOSTING_HOURLY,
        "sagemaker_notebook": rates.SAGEMAKER_NOTEBOOK_HOURLY,
        "sagemaker_training_job": rates.SAGEMAKER_TRAINING_HOURLY,
    }
    if kind == "s3_bucket":
        return rates.S3_STANDARD_GB_MONTH
    if kind == "nat_gateway":
        return rates.NAT_HOURLY
    return rates.regional_price(table[kind][instance_type], region)


def _resource(seed: int, start: date, days: int, spec: dict) -> Resource:
    """A Resource from a fleet spec; `start_at`/`stop_at` are fractions of the history."""
    account_id = ACCOUNT_IDS[spec["account"]]
    kind, region, name = spec["kind"], spec.get("region", "us-east-1"), spec["name"]
    stop_at = spec.get("stop_at")
    return Resource(
        id=_resource_id(seed, kind, account_id, region, name),
        name=name,
        kind=kind,
        account_id=account_id,
        region=region,
        instance_type=spec.get("instance_type", ""),
        count=spec.get("count", 1),
        tags=dict(spec.get("tags", {})),
        hourly_price=_price(kind, spec.get("instance_type", ""), region),
        start=start + timedelta(days=int(days * spec.get("start_at", 0.0))),
        stop=None if stop_at is None else start + timedelta(days=int(days * stop_at)),
        schedule=spec.get("schedule", "always"),
        hours_per_day=Decimal(str(spec.get("hours_per_day", 24))),
        size_gb=spec.get("size_gb", 0),
        growth_gb_per_day=spec.get("growth_gb_per_day", 0),
        volume_id="vol-0" + stable_hex(seed, account_id, name, "volume") if kind == "ec2_instance" else "",
        profile=UtilisationProfile(**spec.get("profile", {"base": 0.5, "peak": 0.5})),
    )


def _training_jobs(seed: int, size: str, start: date, today: date) -> list[dict]:
    """Training jobs, one per model version, more of them each month (the growth of a busy ML org)."""
    rng = random.Random(f"{seed}:{size}:training")
    models = (
        ("vision", "image-tagger", "resnet-tagger", "ml.p4d.24xlarge", 2),
        ("speech", "asr", "whisper-ft", "ml.g5.12xlarge", 2),
        ("recsys", "ranker", "two-tower", "ml.g5.12xlarge", 1),
    )
    if size == "full":
        models += (
            ("vision", "defect-detect", "defect-vit", "ml.p4d.24xlarge", 1),
            ("speech", "tts", "tts-fastpitch", "ml.p5.48xlarge", 1),
            ("recsys", "feature-store", "seq-rec", "ml.g5.12xlarge", 2),
        )
    specs: list[dict] = []
    months = HISTORY_MONTHS + 1
    for team, project, model, instance_type, count in models:
        version = 0
        for month in range(months):
            first = month_start(start, -month)
            jobs_this_month = 1 + (month * (3 if size == "full" else 1)) // months
            for _ in range(jobs_this_month):
                day = first + timedelta(days=rng.randrange(0, 26))
                if day >= today - timedelta(days=1):
                    continue
                version += 1
                run_days = rng.choice((1, 2, 3))
                specs.append(
                    {
                        "kind": "sagemaker_training_job",
                        "account": "ml-research",
                        "name": f"{model}-v{version}-{day:%Y%m%d}",
                        "instance_type": instance_type,
                        "count": count,
                        "start_at_date": day,
                        "stop_at_date": min(day + timedelta(days=run_days), today),
                        "hours_per_day": rng.choice((4, 6, 8, 12)),
                        "tags": {
                            "team": team,
                            "project": project,
                            "environment": "dev",
                            "model": model,
                            "model_version": f"v{version}",
                        },
                        "profile": {"base": 0.9, "peak": 0.97},
                    }
                )
    return specs


def catalogue_build(*, seed: int = DEFAULT_SEED, size: str = "small", today: date | None = None) -> Catalogue:
    """The sandbox organisation's catalogue; history runs from the month 13 months before `today` to yesterday."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {size!r}")
    today = today or datetime.now(UTC).date()
    start = month_start(today, HISTORY_MONTHS)
    days = (today - start).days
    specs = small_fleet() + (full_fleet(seed) if size == "full" else [])
    resources = [_resource(seed, start, days, spec) for spec in specs]
    for spec in _training_jobs(seed, size, start, today):
        job = _resource(seed, start, days, spec)
        resources.append(replace(job, start=spec["start_at_date"], stop=spec["stop_at_date"]))
    resources = [r for r in resources if r.start < today and (r.stop is None or r.stop > r.start)]
    sp_rate = Decimal("0.40") if size == "small" else Decimal("0.55")
    baseline = sum(
        (r.hourly_price for r in resources if r.kind == "ec2_instance" and r.gpu and r.start == start),
        Decimal(0),
    )
    commitment = (baseline * sp_rate * rates.SAVINGS_PLAN_RATE_PERCENT / 100).quantize(Decimal("0.001"))
    savings_plans = (
        SavingsPlan(
            arn=f"arn:aws:savingsplans::{MANAGEMENT_ACCOUNT_ID}:savingsplan/{stable_hex(seed, 'sp-1', length=8)}"
            f"-{stable_hex(seed, 'sp-1b', length=4)}-4c1e-9a2b-{stable_hex(seed, 'sp-1c', length=12)}",
            account_id=MANAGEMENT_ACCOUNT_ID,
            hourly_commitment=commitment,
            start=start,
            end=start + timedelta(days=3 * 365),
        ),
        SavingsPlan(
            arn=f"arn:aws:savingsplans::{MANAGEMENT_ACCOUNT_ID}:savingsplan/{stable_hex(seed, 'sp-2', length=8)}"
            f"-{stable_hex(seed, 'sp-2b', length=4)}-4f7d-8c3e-{stable_hex(seed, 'sp-2c', length=12)}",
            account_id=MANAGEMENT_ACCOUNT_ID,
            hourly_commitment=(commitment / 2).quantize(Decimal("0.001")),
            start=month_start(start, -7),
            end=month_start(start, -7) + timedelta(days=365),
            payment_option="All Upfront",
        ),
    )
    return Catalogue(
        seed=seed,
        size=size,
        today=today,
        start=start,
        accounts=ACCOUNTS,
        resources=tuple(sorted(resources, key=lambda r: (r.account_id, r.kind, r.id))),
        savings_plans=savings_plans,
        credit_account_id=ACCOUNT_IDS["ml-research"],
        credit_months=6,
    )
