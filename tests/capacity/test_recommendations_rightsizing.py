"""Costplane's GPU right-sizing: the pure function on hand-made hours, and the service on the sandbox fleet."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from django.db.models import Avg, Count

from capacity.models import InstanceTypeInfo, Price, Recommendation, Resource, UtilisationHour
from capacity.rightsizing import CANDIDATE_COLUMNS, HOURS_COLUMNS, RESOURCE_COLUMNS, gpu_rightsizing
from capacity.selectors.inventory import inventoried_types
from capacity.selectors.recommendations import recommendation_alternatives, recommendations_summary
from capacity.services.compute_optimizer import compute_optimizer_collect
from capacity.services.inventory import inventory_collect
from capacity.services.prices import prices_refresh
from capacity.services.rightsizing import gpu_rightsizing_refresh, rightsizing_targets_refresh
from capacity.services.utilisation import utilisation_collect

from .conftest import NOW, REGION, client_factory

START = datetime(2025, 6, 2, tzinfo=UTC)
HOURS = 14 * 24


def _hours(resource_id: int, gpu: float, memory: float, count: int = HOURS, peak_memory: float | None = None):
    rows = []
    for index in range(count):
        hour = START + timedelta(hours=index)
        rows.append((resource_id, "gpu", hour, Decimal(str(gpu)), Decimal(str(gpu + 5))))
        rows.append((resource_id, "gpu_memory", hour, Decimal(str(memory)), Decimal(str(memory + 1))))
    if peak_memory is not None:
        rows.append((resource_id, "gpu_memory", START, Decimal(str(memory)), Decimal(str(peak_memory))))
    return rows


def _resource(resource_id: int, instance_type: str, memory_mib: int, price: str | None, count: int = 1, gpus=4):
    return {
        "resource_id": resource_id, "service": "ec2", "region": "us-east-1", "instance_type": instance_type,
        "instance_count": count, "gpu_count": gpus, "gpu_memory_mib": memory_mib, "gpu_manufacturer": "NVIDIA",
        "hourly_usd": None if price is None else Decimal(price),
    }  # fmt: skip


CANDIDATES = pd.DataFrame(
    [
        ("ec2", "us-east-1", "g5.xlarge", 1, 24576, "NVIDIA", Decimal("1.006")),
        ("ec2", "us-east-1", "g6e.xlarge", 1, 49152, "NVIDIA", Decimal("1.861")),
        ("ec2", "us-east-1", "g5.12xlarge", 4, 98304, "NVIDIA", Decimal("5.672")),
        ("ec2", "us-east-1", "inf2.xlarge", 1, 32768, "AWS", Decimal("0.7582")),
        ("sagemaker", "us-east-1", "ml.g5.xlarge", 1, 24576, "NVIDIA", Decimal("1.41")),
    ],
    columns=CANDIDATE_COLUMNS,
)


def _run(hours, resources, **options):
    return gpu_rightsizing(
        pd.DataFrame(hours, columns=HOURS_COLUMNS),
        pd.DataFrame(resources, columns=RESOURCE_COLUMNS),
        CANDIDATES,
        hours_expected=HOURS,
        **options,
    )


def test_it_moves_an_idle_gpu_box_to_the_cheapest_type_that_holds_its_memory_peak():
    # 96 GiB of GPU memory, 30% used at peak: 28.8 GiB, 34.6 GiB with 20% headroom: g5.xlarge's 24 GiB is too
    # small, g6e.xlarge's 48 GiB fits; inf2 is cheaper but another manufacturer.
    found, skipped = _run(
        _hours(1, gpu=10, memory=25, peak_memory=30), [_resource(1, "g5.12xlarge", 98304, "5.672", 2)]
    )
    assert skipped.empty
    row = found.iloc[0]
    assert (row["current_type"], row["recommended_type"]) == ("g5.12xlarge", "g6e.xlarge")
    assert row["monthly_savings"] == Decimal(730) * 2 * (Decimal("5.672") - Decimal("1.861"))
    evidence = row["evidence"]
    assert evidence["hours_used"] == HOURS and evidence["hours_expected"] == HOURS
    assert evidence["gpu_p95_percent"] == pytest.approx(10)
    assert evidence["gpu_memory_peak_mib"] == pytest.approx(98304 * 0.30, abs=0.1)
    assert {item["instance_type"]: item["fits"] for item in evidence["candidates"]} == {
        "g5.xlarge": False,
        "g6e.xlarge": True,
    }


def test_it_leaves_busy_machines_alone_and_says_why():
    found, skipped = _run(_hours(1, gpu=65, memory=20), [_resource(1, "g5.12xlarge", 98304, "5.672")])
    assert found.empty
    assert "Busy enough: p95 GPU 65.0%" in skipped.iloc[0]["reason"]
    # Above the threshold 4 GPUs at 65% stay 4 GPUs: no 1-GPU type may take their work.
    found, skipped = _run(
        _hours(1, gpu=65, memory=15), [_resource(1, "g5.12xlarge", 98304, "5.672")], gpu_p95_threshold=70
    )
    assert found.empty and skipped.iloc[0]["reason"].startswith("No cheaper priced GPU type")
    found, _ = _run(_hours(1, gpu=15, memory=15), [_resource(1, "g5.12xlarge", 98304, "5.672")])
    assert found.iloc[0]["recommended_type"] == "g5.xlarge"
    assert found.iloc[0]["evidence"]["gpus_required"] == 1


def test_it_needs_eighty_percent_of_the_hours():
    found, skipped = _run(
        _hours(1, gpu=5, memory=5, count=int(HOURS * 0.79)), [_resource(1, "g5.12xlarge", 98304, "5.672")]
    )
    assert found.empty
    assert skipped.iloc[0]["reason"].startswith(f"Only {int(HOURS * 0.79)} of {HOURS} hours")
    found, _ = _run(
        _hours(1, gpu=5, memory=5, count=math.ceil(HOURS * 0.8)), [_resource(1, "g5.12xlarge", 98304, "5.672")]
    )
    assert len(found) == 1


def test_unknown_hours_do_not_count_as_idle_ones():
    hours = _hours(1, gpu=5, memory=5, count=HOURS // 2)
    hours += [(1, metric, START + timedelta(hours=HOURS // 2 + index), None, None)
              for index in range(HOURS // 2) for metric in ("gpu", "gpu_memory")]  # fmt: skip
    found, skipped = _run(hours, [_resource(1, "g5.12xlarge", 98304, "5.672")])
    assert found.empty and "Only 168 of 336" in skipped.iloc[0]["reason"]


def test_it_skips_without_a_price_or_a_cheaper_fit():
    found, skipped = _run(
        _hours(1, 5, 5) + _hours(2, 5, 60),
        [_resource(1, "g5.12xlarge", 98304, None), _resource(2, "g6e.xlarge", 49152, "1.861", gpus=1)],
        gpu_memory_p95_threshold=80,
    )
    assert found.empty
    assert list(skipped["reason"]) == [
        "No stored price for g5.12xlarge.",
        "No cheaper priced GPU type holds the GPU memory peak and the busy GPUs plus headroom.",
    ]


# The service, on the sandbox fleet: inventory, 14 days of utilisation and prices collected as in production.


@pytest.fixture
def collected(fleet, accounts, teams, db):
    """Inventory, 14 days of utilisation and prices collected as the tasks do: the fleet's types priced, then the
    right-sizing targets described and priced (capacity.tasks.prices_ingest)."""
    for name in ("ml-prod", "ml-research"):
        account = accounts[name]
        clients = client_factory(account.account_id)
        inventory_collect(account=account, region=REGION, client_factory=clients, now=NOW)
        utilisation_collect(account=account, region=REGION, until=NOW, client_factory=clients)
    clients = client_factory(accounts["ml-prod"].account_id)
    regions, types = inventoried_types()
    prices_refresh(regions=regions, instance_types=types, client=clients("pricing"), today=NOW.date())
    rightsizing_targets_refresh(ec2_client=clients("ec2"), pricing_client=clients("pricing"), now=NOW)
    return accounts


def test_the_service_recommends_from_stored_utilisation_and_prices(collected):
    counts = gpu_rightsizing_refresh(now=NOW)
    found = {
        rec.resource.name: rec
        for rec in Recommendation.objects.filter(source="costplane").select_related("resource", "team")
    }
    # Memory decides: ~37% of 4 x 22.9 GiB at peak needs a 48 GiB GPU (g6e); a one-GPU box fits a 16 GiB T4 (g4dn).
    assert {name: rec.recommended_configuration for name, rec in found.items()} == {
        "scratch-g5": "g6e.xlarge",
        "two-tower-staging": "ml.g6e.xlarge",
        "speech-scratch": "g4dn.xlarge",
        "resnet-tagger-dev": "ml.g4dn.xlarge",
    }
    staging = found["two-tower-staging"]
    assert staging.team.slug == "recsys" and staging.resource_type == "SageMakerEndpoint"
    assert staging.monthly_savings == Decimal(730) * (Decimal("7.09") - Decimal("2.328"))
    assert staging.evidence["hours_used"] >= 0.8 * staging.evidence["hours_expected"] == 0.8 * 336
    assert staging.evidence["gpu_p95_percent"] < 40 and staging.evidence["gpu_memory_p95_percent"] < 50
    assert found["scratch-g5"].resource_arn.endswith(":instance/" + found["scratch-g5"].resource.resource_id)
    skipped = {item["resource"]: item["reason"] for item in counts["skipped"]}
    assert skipped["vision-dev-g5-0"].startswith("Only 120 of 336 hours")  # weekdays only: not enough data
    assert skipped["vision-train-p4d-0"].startswith("Busy enough")
    assert "scratch-g5" not in skipped

    again = gpu_rightsizing_refresh(now=NOW)
    assert (again["created"], again["expired"], Recommendation.objects.count()) == (0, 0, 4)
    busy = gpu_rightsizing_refresh(now=NOW, gpu_p95_threshold=1)
    assert busy["expired"] == 4
    assert set(Recommendation.objects.values_list("state", flat=True)) == {"expired"}


def test_oversized_gpu_endpoints_get_a_recommendation_with_its_evidence(collected):
    """The sandbox's low-traffic GPU endpoints (two-tower-staging: ~5.5% GPU on an ml.g5.12xlarge) are moved to the
    cheapest priced GPU type that holds their memory peak, with the figures that justify it."""
    start = NOW - timedelta(days=14)
    endpoints = Resource.objects.filter(
        kind="sagemaker_endpoint", gone_at__isnull=True, type_info__gpu_count__gt=0, type_info__accelerator_kind="gpu"
    ).select_related("type_info")
    means = {
        endpoint: UtilisationHour.objects.filter(
            resource=endpoint, metric="gpu", hour__gte=start, hour__lt=NOW, average__isnull=False
        ).aggregate(mean=Avg("average"), hours=Count("hour", distinct=True))
        for endpoint in endpoints
    }
    oversized = {endpoint for endpoint, seen in means.items() if seen["hours"] >= 0.8 * 336 and seen["mean"] < 10}
    assert "two-tower-staging" in {endpoint.name for endpoint in oversized}
    gpu_rightsizing_refresh(now=NOW)
    for endpoint in oversized:
        recommendation = Recommendation.objects.get(resource=endpoint, source="costplane", kind="rightsize")
        evidence = recommendation.evidence
        assert recommendation.state == "open" and recommendation.current_configuration == endpoint.instance_type
        # Utilisation figures over the look-back
        assert (evidence["lookback_start"], evidence["lookback_end"]) == (start.isoformat(), NOW.isoformat())
        assert evidence["hours_used"] >= 0.8 * evidence["hours_expected"] == 0.8 * 336
        assert evidence["gpu_mean_percent"] == pytest.approx(float(means[endpoint]["mean"]), abs=1e-3)
        assert evidence["gpu_p95_percent"] < evidence["thresholds"]["gpu_p95_percent"]
        assert evidence["gpu_memory_p95_percent"] < evidence["thresholds"]["gpu_memory_p95_percent"]
        # The target type and the price delta, from the stored SageMaker hosting prices
        hosting = {
            price.instance_type: price.hourly_usd
            for price in Price.objects.filter(service="sagemaker", component="Hosting", region=REGION, missing=False)
        }
        target = recommendation.recommended_configuration
        current, new = hosting[endpoint.instance_type], hosting[target]
        assert (Decimal(evidence["current_hourly_usd"]), Decimal(evidence["recommended_hourly_usd"])) == (current, new)
        assert Decimal(evidence["hourly_price_delta_usd"]) == new - current < 0
        assert recommendation.monthly_savings == Decimal(730) * endpoint.instance_count * (current - new)
        # ... and it is the cheapest GPU type that holds the memory peak and the busy GPUs with headroom.
        facts = {info.instance_type: info for info in InstanceTypeInfo.objects.filter(accelerator_kind="gpu")}
        fitting = [
            (hourly, name)
            for name, hourly in hosting.items()
            if (info := facts.get(name.removeprefix("ml."))) is not None
            and info.gpu_manufacturer == endpoint.type_info.gpu_manufacturer
            and info.gpu_memory_mib >= evidence["gpu_memory_required_mib"]
            and info.gpu_count >= evidence["gpus_required"]
            and hourly < current
        ]
        assert min(fitting) == (new, target)
        assert evidence["gpu_memory_required_mib"] == pytest.approx(
            evidence["gpu_memory_peak_percent"] / 100 * endpoint.type_info.gpu_memory_mib * 1.2, abs=0.1
        )


def test_a_resource_both_sources_recommend_for_counts_one_saving_in_the_totals(collected, monkeypatch):
    """On the sandbox's fleet, Compute Optimizer and Costplane's right-sizing both recommend for some resources
    (scratch-g5: g5.xlarge from one, g6e.xlarge from the other; an idle dev endpoint gets a right-size besides its
    idle recommendation). The totals count each resource's largest saving once; the others are its alternatives."""
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", NOW.date().isoformat())
    for account in collected.values():
        result = compute_optimizer_collect(
            account=account, region=REGION, client_factory=client_factory(account.account_id), now=NOW
        )
        assert result["errors"] == []
    gpu_rightsizing_refresh(now=NOW)
    open_recommendations = list(Recommendation.objects.filter(state="open").select_related("resource"))
    by_resource: dict[str, list[Recommendation]] = {}
    for recommendation in open_recommendations:
        by_resource.setdefault(recommendation.resource_arn, []).append(recommendation)
    both = {arn: group for arn, group in by_resource.items() if len(group) > 1}
    names = {group[0].resource.name for group in both.values()}
    assert {"scratch-g5", "resnet-tagger-dev"} <= names, "the sandbox has resources two sources recommend for"
    assert all(
        len({rec.source for rec in group}) > 1 or len({rec.kind for rec in group}) > 1 for group in both.values()
    )

    summary = recommendations_summary()

    best = [max(rec.monthly_savings for rec in group) for group in by_resource.values()]
    assert summary["open"]["count"] == len(open_recommendations)
    assert summary["open"]["resources"] == len(by_resource) < len(open_recommendations)
    assert summary["open"]["savings"] == sum(best)
    assert summary["open"]["with_alternatives"] == len(both)
    added = sum(rec.monthly_savings for rec in open_recommendations)
    assert summary["open"]["alternatives_savings"] == added - sum(best) > 0
    assert sum(row["savings"] for row in summary["by_team"]) == summary["open"]["savings"]
    places = recommendation_alternatives(recommendations=open_recommendations)
    for group in both.values():
        counted = [rec for rec in group if places[rec.pk].counted]
        assert len(counted) == 1 and counted[0].monthly_savings == max(rec.monthly_savings for rec in group)
        assert all(len(places[rec.pk].others) == len(group) - 1 for rec in group)
