"""Where moto 5.2 falls short of AWS for the sandbox's fleet, extended inside the sandbox's own process.

- SageMaker: moto accepts only a dozen instance types in CreateEndpointConfig and CreateNotebookInstance
  and rejects the GPU ones the sandbox runs (ml.g5, ml.p4d, ml.p5, ml.inf2) and ml.t3.medium. Here both
  accept every type botocore's SageMaker model lists, as AWS does.
- EC2: moto draws instance ids at random; `forced_instance_ids` makes the next RunInstances use the
  catalogue's ids, so the sandbox has the same ids on every start.
- Training jobs: moto finishes them at once with no billable time; `training_job_history` sets the
  times and BillableTimeInSeconds the catalogue billed.
- CloudWatch: moto's GetMetricData scans every stored datapoint for every query and period (weeks of
  hourly data for hundreds of series would take minutes); here plain metric queries are answered from
  an index of the window's datapoints, with moto's own statistics. Metric math goes to moto as before.

Only the sandbox (its server process, and tests that seed the fleet in-process) calls these. The
product's code never does: it sees AWS-shaped answers either way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import botocore.session


@cache
def _sagemaker_enum(shape_name: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for(shape_name).enum)


def _validator(shape_name: str, original):
    def validate_instance_type(self, instance_type: str) -> None:
        if instance_type in _sagemaker_enum(shape_name):
            return
        original(self, instance_type)

    validate_instance_type.sandbox_extension = True
    return validate_instance_type


def _indexed_metric_data(original):
    from moto.cloudwatch.models import Statistics

    def get_metric_data(
        self,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        if not queries or any("MetricStat" not in query for query in queries):
            return original(self, queries, start_time, end_time, scan_by)
        original(self, [], start_time, end_time, scan_by)  # moto's own checks of the window
        start_time, end_time = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        index: dict[tuple, list] = defaultdict(list)
        for datum in self.get_all_metrics():
            if start_time <= datum.timestamp < end_time:
                pairs = frozenset((dimension.name, dimension.value) for dimension in datum.dimensions)
                index[(datum.namespace, datum.name, pairs)].append(datum)
        results = []
        for query in queries:
            stat, metric = query["MetricStat"], query["MetricStat"]["Metric"]
            dimensions = frozenset((item["Name"], item["Value"]) for item in metric.get("Dimensions", []))
            period = timedelta(seconds=int(stat["Period"]))
            buckets: dict[datetime, list] = defaultdict(list)
            for datum in index.get((metric["Namespace"], metric["MetricName"], dimensions), []):
                if stat.get("Unit") and datum.unit != stat["Unit"]:
                    continue
                buckets[start_time + ((datum.timestamp - start_time) // period) * period].append(datum)
            timestamps, values = [], []
            for moment in sorted(buckets, reverse=scan_by == "TimestampDescending"):
                statistics = Statistics([stat["Stat"]], moment)
                statistics.metric_data = buckets[moment]
                timestamps.append(statistics.timestamp)
                values.append(statistics.get_statistics_for_type(stat["Stat"]))
            if query.get("ReturnData", True):
                label = query.get("Label") or f"{metric['MetricName']} {stat['Stat']}"
                results.append({"id": query["Id"], "label": label, "values": values, "timestamps": timestamps,
                                "status_code": "Complete"})  # fmt: skip
        return results

    get_metric_data.sandbox_extension = True
    return get_metric_data


def moto_extend() -> None:
    """Accept every real SageMaker hosting and notebook instance type in moto, and index GetMetricData
    (idempotent)."""
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.sagemaker import models

    for cls, shape_name in (
        (models.FakeEndpointConfig, "ProductionVariantInstanceType"),
        (models.FakeSagemakerNotebookInstance, "InstanceType"),
    ):
        if not getattr(cls.validate_instance_type, "sandbox_extension", False):
            cls.validate_instance_type = _validator(shape_name, cls.validate_instance_type)
    if not getattr(CloudWatchBackend.get_metric_data, "sandbox_extension", False):
        CloudWatchBackend.get_metric_data = _indexed_metric_data(CloudWatchBackend.get_metric_data)
    _update_endpoint_add()


def _update_endpoint_add() -> None:
    """moto 5.2 has no SageMaker UpdateEndpoint: point the endpoint at the new config, as AWS ends up doing."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(SageMakerModelBackend, "update_endpoint", None) is not None:
        return

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str):
        if endpoint_name not in self.endpoints:
            raise ValidationError(message=f"Could not find endpoint '{endpoint_name}'.")
        try:
            config = self.describe_endpoint_config(endpoint_config_name)
        except KeyError:
            raise ValidationError(message=f"Could not find endpoint configuration '{endpoint_config_name}'.") from None
        endpoint = self.endpoints[endpoint_name]
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        endpoint.last_modified_time = utcnow()
        return endpoint

    def update_endpoint_response(self):
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"), endpoint_config_name=self._get_param("EndpointConfigName")
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    SageMakerModelBackend.update_endpoint = update_endpoint
    SageMakerResponse.update_endpoint = update_endpoint_response


@contextmanager
def forced_instance_ids(ids: Iterable[str]) -> Iterator[None]:
    """Within the block, moto gives new EC2 instances `ids`, in order, instead of random ones."""
    from moto.ec2.models import instances

    pending = iter(ids)
    original = instances.random_instance_id
    instances.random_instance_id = lambda: next(pending)
    try:
        yield
    finally:
        instances.random_instance_id = original


def training_job_history(
    *, account_id: str, region: str, name: str, start: datetime, end: datetime, billable_seconds: int
) -> None:
    """Give a moto training job the times and billable seconds of the run the catalogue billed."""
    from moto.backends import get_backend

    job = get_backend("sagemaker")[account_id][region].training_jobs[name]
    job.creation_time = job.training_start_time = start
    job.training_end_time = job.last_modified_time = end
    job.billable_time_in_seconds = billable_seconds  # moto echoes attributes as DescribeTrainingJob fields
    for transition in job.secondary_status_transitions:
        transition["StartTime"], transition["EndTime"] = start, start
    for metric in job.final_metric_data_list:
        metric["Timestamp"] = end
