"""Costplane's own GPU right-sizing: framework-free, DataFrames in, DataFrames out.

A GPU machine (EC2 instance or SageMaker endpoint) is over-provisioned when, over the lookback, the 95th
percentile of its hourly GPU utilisation and of its hourly GPU memory utilisation both stay under their
thresholds. It is then moved to the cheapest priced GPU type of the same manufacturer whose GPU memory
still holds the observed peak plus headroom, and with enough GPUs for the p95 of busy ones plus the same
headroom. Too few hours with data means no recommendation, with a reason: an unknown hour is never read as
an idle one.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd

HOURS_PER_MONTH = Decimal(730)
# The GPU types a machine may be moved to, besides those the fleet runs: current NVIDIA types from one GPU up (their
# `ml.` twins for SageMaker endpoints). Their prices are fetched with the fleet's, so that a fleet of one GPU type
# can still be right-sized; a type without a price in a region is no candidate there.
TARGET_INSTANCE_TYPES = (
    "g4dn.xlarge", "g4dn.2xlarge", "g4dn.4xlarge", "g4dn.12xlarge",
    "g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g5.12xlarge",
    "g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g6.12xlarge",
    "g6e.xlarge", "g6e.2xlarge", "g6e.12xlarge",
    "p4d.24xlarge", "p5.48xlarge",
)  # fmt: skip
HOURS_COLUMNS = ["resource_id", "metric", "hour", "average", "maximum"]
RESOURCE_COLUMNS = [
    "resource_id", "service", "region", "instance_type", "instance_count", "gpu_count", "gpu_memory_mib",
    "gpu_manufacturer", "hourly_usd",
]  # fmt: skip
CANDIDATE_COLUMNS = [
    "service",
    "region",
    "instance_type",
    "gpu_count",
    "gpu_memory_mib",
    "gpu_manufacturer",
    "hourly_usd",
]
RESULT_COLUMNS = [
    "resource_id", "current_type", "recommended_type", "monthly_savings", "current_hourly_usd",
    "recommended_hourly_usd", "evidence",
]  # fmt: skip
SKIPPED_COLUMNS = ["resource_id", "reason"]


def _hourly(hours: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per hour with data (the busiest endpoint variant stands for the hour)."""
    rows = hours[(hours["metric"] == metric) & hours["average"].notna()].copy()
    rows["average"] = rows["average"].astype(float)
    rows["maximum"] = rows["maximum"].astype(float).fillna(rows["average"])
    return rows.groupby(["resource_id", "hour"], as_index=False)[["average", "maximum"]].max()


def gpu_rightsizing(
    hours: pd.DataFrame,
    resources: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    hours_expected: int,
    gpu_p95_threshold: float = 40.0,
    gpu_memory_p95_threshold: float = 50.0,
    memory_headroom: float = 0.2,
    min_coverage: float = 0.8,
    percentile: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(recommendations, skipped) for `resources` from their hourly `gpu` and `gpu_memory` rows.

    hours: HOURS_COLUMNS (percent 0-100 per device, Decimal or float, None for unknown); resources:
    RESOURCE_COLUMNS (hourly_usd Decimal or None); candidates: CANDIDATE_COLUMNS (priced types only).
    Thresholds are percent (0-100) of the 95th percentile of hourly averages; headroom and coverage are shares.
    Savings are 730 h/month x instance count x the hourly price difference, in Decimal.
    """
    gpu = _hourly(hours, "gpu")
    memory = _hourly(hours, "gpu_memory")
    results: list[dict] = []
    skipped: list[dict] = []
    for resource in resources.to_dict("records"):
        resource_id = resource["resource_id"]

        def skip(reason: str, resource_id=resource_id) -> None:
            skipped.append({"resource_id": resource_id, "reason": reason})

        if not resource["gpu_count"] or not resource["gpu_memory_mib"]:
            skip("No GPU facts for the instance type.")
            continue
        if resource["hourly_usd"] is None or pd.isna(resource["hourly_usd"]):
            skip(f"No stored price for {resource['instance_type']}.")
            continue
        own_gpu = gpu[gpu["resource_id"] == resource_id]
        own_memory = memory[memory["resource_id"] == resource_id]
        hours_used = min(len(own_gpu), len(own_memory))
        coverage = hours_used / hours_expected if hours_expected else 0.0
        if coverage < min_coverage:
            skip(
                f"Only {hours_used} of {hours_expected} hours have GPU and GPU memory data (needs {min_coverage:.0%})."
            )
            continue
        gpu_mean = float(own_gpu["average"].mean())
        gpu_p95 = float(own_gpu["average"].quantile(percentile))
        memory_p95 = float(own_memory["average"].quantile(percentile))
        memory_peak_percent = float(own_memory["maximum"].max())
        peak_mib = memory_peak_percent / 100 * resource["gpu_memory_mib"]
        required_mib = peak_mib * (1 + memory_headroom)
        # The GPUs' work must fit too: p95 busy GPUs of the current type, plus the same headroom.
        required_gpus = max(1, math.ceil(gpu_p95 / 100 * resource["gpu_count"] * (1 + memory_headroom) - 1e-9))
        evidence = {
            "gpu_mean_percent": round(gpu_mean, 4),
            "gpu_memory_mean_percent": round(float(own_memory["average"].mean()), 4),
            "gpu_p95_percent": round(gpu_p95, 4),
            "gpu_memory_p95_percent": round(memory_p95, 4),
            "gpu_memory_peak_percent": round(memory_peak_percent, 4),
            "gpu_memory_peak_mib": round(peak_mib, 1),
            "gpu_memory_required_mib": round(required_mib, 1),
            "gpus_required": required_gpus,
            "hours_used": hours_used,
            "hours_expected": hours_expected,
            "thresholds": {
                "gpu_p95_percent": gpu_p95_threshold,
                "gpu_memory_p95_percent": gpu_memory_p95_threshold,
                "memory_headroom": memory_headroom,
                "min_coverage": min_coverage,
            },
        }
        if gpu_p95 >= gpu_p95_threshold or memory_p95 >= gpu_memory_p95_threshold:
            skip(
                f"Busy enough: p95 GPU {gpu_p95:.1f}% (threshold {gpu_p95_threshold:g}%), "
                f"p95 GPU memory {memory_p95:.1f}% (threshold {gpu_memory_p95_threshold:g}%)."
            )
            continue
        current_price = Decimal(resource["hourly_usd"])
        pool = candidates[
            (candidates["service"] == resource["service"])
            & (candidates["region"] == resource["region"])
            & (candidates["gpu_count"] > 0)
            & (candidates["instance_type"] != resource["instance_type"])
        ]
        if resource.get("gpu_manufacturer"):
            pool = pool[pool["gpu_manufacturer"] == resource["gpu_manufacturer"]]
        considered = [
            {
                "instance_type": row["instance_type"],
                "gpu_memory_mib": int(row["gpu_memory_mib"]),
                "hourly_usd": str(row["hourly_usd"]),
                "gpu_count": int(row["gpu_count"]),
                "fits": bool(row["gpu_memory_mib"] >= required_mib and row["gpu_count"] >= required_gpus),
                "cheaper": bool(Decimal(row["hourly_usd"]) < current_price),
            }
            for row in pool.sort_values(["instance_type"]).to_dict("records")
        ]
        evidence["candidates"] = considered
        fitting = sorted(
            (item for item in considered if item["fits"] and item["cheaper"]),
            key=lambda item: (Decimal(item["hourly_usd"]), item["instance_type"]),
        )
        if not fitting:
            skip("No cheaper priced GPU type holds the GPU memory peak and the busy GPUs plus headroom.")
            continue
        best = fitting[0]
        new_price = Decimal(best["hourly_usd"])
        evidence |= {
            "current_hourly_usd": str(current_price),
            "recommended_hourly_usd": str(new_price),
            "hourly_price_delta_usd": str(new_price - current_price),
            "instance_count": int(resource["instance_count"]),
        }
        results.append(
            {
                "resource_id": resource_id,
                "current_type": resource["instance_type"],
                "recommended_type": best["instance_type"],
                "monthly_savings": HOURS_PER_MONTH * int(resource["instance_count"]) * (current_price - new_price),
                "current_hourly_usd": current_price,
                "recommended_hourly_usd": new_price,
                "evidence": evidence,
            }
        )
    return pd.DataFrame(results, columns=RESULT_COLUMNS), pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)
