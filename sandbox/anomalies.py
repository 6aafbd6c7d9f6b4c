"""Cost Explorer's GetAnomalies over the sandbox's billing lines (pure: a request in, a response out).

One AWS-managed SERVICE monitor: a day is anomalous for a service when its unblended cost is more than
SPIKE_RATIO times the median of the previous BASELINE_DAYS days and at least MIN_IMPACT_USD above it;
consecutive anomalous days of a service are one anomaly (start, end, max and total impact). Root causes are
the linked account / region / usage type combinations that grew most that day. Answers DateInterval (dates
inclusive, the anomaly's start date inside it), TotalImpact and MaxResults / NextPageToken paging.
"""

from __future__ import annotations

import base64
import hashlib
import json
import statistics
from datetime import date, timedelta

import numpy as np

from sandbox import rates
from sandbox.catalogue import ACCOUNTS, MANAGEMENT_ACCOUNT_ID
from sandbox.cost_explorer import CostData
from sandbox.errors import AwsError

MONITOR_ARN = f"arn:aws:ce::{MANAGEMENT_ACCOUNT_ID}:anomalymonitor/5a3c1e7d-2b4f-4c1e-9d8a-sandboxservice"
BASELINE_DAYS = 14
SPIKE_RATIO = 1.5
MIN_IMPACT_USD = 100.0
DEFAULT_RESULTS = 20
# Like AWS's monitors, usage only: monthly fees, tax and credits arrive on schedule and are not anomalies.
USAGE_RECORD_TYPES = ("Usage", "SavingsPlanCoveredUsage")
ROOT_CAUSES = 3
ACCOUNT_NAMES = {account.id: account.name for account in ACCOUNTS}
_OPERATORS = {
    "EQUAL": lambda value, low, high: value == low,
    "GREATER_THAN_OR_EQUAL": lambda value, low, high: value >= low,
    "LESS_THAN_OR_EQUAL": lambda value, low, high: value <= low,
    "GREATER_THAN": lambda value, low, high: value > low,
    "LESS_THAN": lambda value, low, high: value < low,
    "BETWEEN": lambda value, low, high: low <= value <= (high if high is not None else low),
}


def _usd(units: float) -> float:
    return round(float(rates.units_to_decimal(int(units))), 2)


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError as error:
        raise AwsError("ValidationException", f"{name} {text!r} is not a date (YYYY-MM-DD)") from error


def _root_causes(data: CostData, service: str, day: date, baseline: list[date]) -> list[dict]:
    frame = data.frame[data.frame["record_type"].isin(USAGE_RECORD_TYPES)]
    rows = frame[(frame["service"] == service) & frame["day"].isin([np.datetime64(d, "D") for d in [day, *baseline]])]
    grouped = rows.groupby(["account_id", "region", "usage_type", "day"])["unblended"].sum()
    changes = []
    for (account, region, usage_type), costs in grouped.groupby(level=[0, 1, 2]):
        by_day = {value.date() if hasattr(value, "date") else value: cost for (*_, value), cost in costs.items()}
        actual = by_day.get(day, 0)
        expected = statistics.median([by_day.get(past, 0) for past in baseline])
        changes.append((actual - expected, account, region, usage_type))
    changes.sort(key=lambda change: -change[0])
    return [
        {
            "Service": service,
            "Region": region,
            "LinkedAccount": account,
            "LinkedAccountName": ACCOUNT_NAMES.get(account, account),
            "UsageType": usage_type,
            "Impact": {"Contribution": _usd(change)},
        }
        for change, account, region, usage_type in changes[:ROOT_CAUSES]
        if change > 0
    ]


def _anomalies(data: CostData, start: date, end: date) -> list[dict]:
    frame = data.frame[data.frame["record_type"].isin(USAGE_RECORD_TYPES)]
    first = start - timedelta(days=BASELINE_DAYS)
    window = frame[(frame["day"] >= np.datetime64(first, "D")) & (frame["day"] <= np.datetime64(end, "D"))]
    daily = window.groupby(["service", "day"])["unblended"].sum()
    found: list[dict] = []
    for service, costs in daily.groupby(level=0):
        by_day = {stamp.date(): int(cost) for (_, stamp), cost in costs.items()}
        current: dict | None = None
        day = start
        while day <= min(end, data.today - timedelta(days=1)):
            baseline = [day - timedelta(days=n) for n in range(1, BASELINE_DAYS + 1)]
            expected = statistics.median([by_day.get(past, 0) for past in baseline])
            actual = by_day.get(day, 0)
            impact = actual - expected
            spike = (
                baseline[-1] >= data.first_day and actual > SPIKE_RATIO * expected and _usd(impact) >= MIN_IMPACT_USD
            )
            if spike:
                score = round(min(impact / expected, 10.0) / 10.0 if expected else 1.0, 3)
                if current is None:
                    current = {"service": service, "start": day, "days": [], "score": 0.0}
                    current["causes"] = _root_causes(data, service, day, baseline)
                current["days"].append((day, actual, expected, impact))
                current["score"] = max(current["score"], score)
                current["end"] = day
            elif current is not None:
                found.append(current)
                current = None
            day += timedelta(days=1)
        if current is not None:
            found.append(current)
    return [_anomaly(item, today=data.today) for item in found]


def _anomaly(item: dict, *, today: date) -> dict:
    actual = sum(day[1] for day in item["days"])
    expected = sum(day[2] for day in item["days"])
    impact = actual - expected
    ended = item["end"] < today - timedelta(days=1)
    digest = hashlib.sha256(f"{item['service']}:{item['start']}".encode()).hexdigest()
    anomaly = {
        "AnomalyId": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
        "AnomalyStartDate": item["start"].isoformat(),
        "DimensionValue": item["service"],
        "RootCauses": item["causes"],
        "AnomalyScore": {"MaxScore": item["score"], "CurrentScore": 0.0 if ended else item["score"]},
        "Impact": {
            "MaxImpact": _usd(max(day[3] for day in item["days"])),
            "TotalImpact": _usd(impact),
            "TotalActualSpend": _usd(actual),
            "TotalExpectedSpend": _usd(expected),
            "TotalImpactPercentage": round(impact / expected * 100, 2) if expected else 100.0,
        },
        "MonitorArn": MONITOR_ARN,
    }
    if ended:
        anomaly["AnomalyEndDate"] = item["end"].isoformat()
    return anomaly


def _token(offset: int, digest: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _offset(token: str, digest: str) -> int:
    try:
        offset, token_digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        value = int(offset)
    except (ValueError, UnicodeDecodeError) as error:
        raise AwsError("InvalidNextTokenException", "Invalid NextPageToken") from error
    if token_digest != digest:
        raise AwsError("ValidationException", "The request changed between pages")
    return value


def get_anomalies(data: CostData, request: dict) -> dict:
    interval = request["DateInterval"]
    start = _day(interval["StartDate"], "StartDate")
    end = _day(interval["EndDate"], "EndDate") if interval.get("EndDate") else data.today
    if end < start:
        raise AwsError("ValidationException", "StartDate must be before EndDate")
    if request.get("MonitorArn") and request["MonitorArn"] != MONITOR_ARN:
        raise AwsError("UnknownMonitorException", f"Monitor {request['MonitorArn']} does not exist")
    limit = request.get("MaxResults") or DEFAULT_RESULTS
    unpaged = {key: value for key, value in request.items() if key != "NextPageToken"}
    digest = hashlib.sha256(json.dumps(unpaged, sort_keys=True, default=str).encode()).hexdigest()[:16]
    offset = _offset(request["NextPageToken"], digest) if request.get("NextPageToken") else 0

    found = _anomalies(data, max(start, data.first_day), end)
    if request.get("TotalImpact"):
        condition = request["TotalImpact"]
        test = _OPERATORS[condition["NumericOperator"]]
        found = [
            item
            for item in found
            if test(item["Impact"]["TotalImpact"], condition["StartValue"], condition.get("EndValue"))
        ]
    if request.get("Feedback"):
        found = []  # nobody gives feedback on the sandbox's anomalies
    found.sort(key=lambda item: (item["AnomalyStartDate"], item["DimensionValue"]), reverse=True)
    response: dict = {"Anomalies": found[offset : offset + limit]}
    if offset + limit < len(found):
        response["NextPageToken"] = _token(offset + limit, digest)
    return response
