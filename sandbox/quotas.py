"""Service Quotas for the sandbox: GetServiceQuota and ListServiceQuotas per account and region.

moto answers GetServiceQuota for ec2 with NoSuchResourceException, so the sandbox answers both
operations itself. EC2 has the on-demand vCPU quotas by instance family (the codes AWS uses); SageMaker
has one quota per ml.* type and use ("ml.g5.xlarge for endpoint usage"), with codes the sandbox makes
up (stable, "L-" and 8 hex digits), as AWS's own codes for those are opaque. Usage is not part of the
answer (AWS publishes it as a CloudWatch AWS/Usage metric); Costplane counts it from its inventory.
"""

from __future__ import annotations

from sandbox import rates
from sandbox.catalogue import ACCOUNT_IDS, stable_hex
from sandbox.dataset import environment_settings
from sandbox.errors import AwsError

DEFAULT_PAGE_SIZE = 20

# (code, name, usage class, default vCPUs)
EC2_QUOTAS = (
    ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", "Standard/OnDemand", 640),
    ("L-417A185B", "Running On-Demand P instances", "P/OnDemand", 0),
    ("L-DB2E81BA", "Running On-Demand G and VT instances", "G/OnDemand", 64),
    ("L-1945791B", "Running On-Demand Inf instances", "Inf/OnDemand", 0),
    ("L-2C3B7624", "Running On-Demand Trn instances", "Trn/OnDemand", 0),
    ("L-6E869C2A", "Running On-Demand DL instances", "DL/OnDemand", 0),
)
# Raised limits, per account name and quota code: the research account trains on P and G instances (and has room
# for two trn1.32xlarge to try Trainium on).
EC2_RAISED = {
    "ml-research": {"L-417A185B": 800, "L-DB2E81BA": 768, "L-2C3B7624": 256},
    "ml-prod": {"L-DB2E81BA": 128, "L-1945791B": 64},
}
SAGEMAKER_USES = {
    "endpoint usage": rates.SAGEMAKER_HOSTING_HOURLY,
    "training job usage": rates.SAGEMAKER_TRAINING_HOURLY,
    "notebook instance usage": rates.SAGEMAKER_NOTEBOOK_HOURLY,
}
SAGEMAKER_RAISED = {"ml-prod": 6, "ml-research": 4}
# The full-size fleet (`make run`) runs about ten times the small one's machines; its accounts have had their
# quotas raised to match, as a real organisation of that size would (AWS never lets usage pass a quota).
FULL_SIZE_SCALE = 10


def _account_name(account_id: str) -> str:
    return next((name for name, known in ACCOUNT_IDS.items() if known == account_id), "")


def _quota(service: str, code: str, name: str, value: float, account_id: str, region: str, usage: dict) -> dict:
    return {
        "ServiceCode": service,
        "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)" if service == "ec2" else "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:{region}:{account_id}:{service}/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
        "UsageMetric": usage,
        "QuotaAppliedAtLevel": "ACCOUNT",
    }


def quotas(service: str, account_id: str, region: str) -> list[dict]:
    account = _account_name(account_id)
    scale = FULL_SIZE_SCALE if environment_settings()[1] == "full" else 1
    if service == "ec2":
        raised = EC2_RAISED.get(account, {})
        return [
            _quota("ec2", code, name, raised.get(code, default) * scale, account_id, region, {
                "MetricNamespace": "AWS/Usage", "MetricName": "ResourceCount",
                "MetricDimensions": {"Class": usage_class, "Resource": "vCPU", "Service": "EC2", "Type": "Resource"},
                "MetricStatisticRecommendation": "Maximum",
            })
            for code, name, usage_class, default in EC2_QUOTAS
        ]  # fmt: skip
    if service == "sagemaker":
        result = []
        for use, table in SAGEMAKER_USES.items():
            for instance_type in sorted(table):
                code = "L-" + stable_hex(0, "sagemaker", instance_type, use, length=8).upper()
                gpu = instance_type.split(".")[1] in rates.GPU_FAMILIES
                value = (SAGEMAKER_RAISED.get(account, 2) if gpu else 20) * scale
                usage = {
                    "MetricNamespace": "AWS/Usage", "MetricName": "ResourceCount",
                    "MetricDimensions": {"Class": "None", "Resource": instance_type, "Service": "SageMaker",
                                         "Type": "Resource"},
                    "MetricStatisticRecommendation": "Maximum",
                }  # fmt: skip
                result.append(_quota("sagemaker", code, f"{instance_type} for {use}", value, account_id, region, usage))
        return result
    raise AwsError("NoSuchResourceException", f"The sandbox has no quotas for service {service}")


def get_service_quota(request: dict, *, account_id: str, region: str) -> dict:
    for quota in quotas(request["ServiceCode"], account_id, region):
        if quota["QuotaCode"] == request["QuotaCode"]:
            return {"Quota": quota}
    raise AwsError("NoSuchResourceException", f"The quota {request['QuotaCode']} does not exist")


def list_service_quotas(request: dict, *, account_id: str, region: str) -> dict:
    found = quotas(request["ServiceCode"], account_id, region)
    if request.get("QuotaCode"):
        found = [quota for quota in found if quota["QuotaCode"] == request["QuotaCode"]]
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    token = request.get("NextToken")
    try:
        offset = int(token.removeprefix("quotas-")) if token else 0
    except ValueError as error:
        raise AwsError("InvalidPaginationTokenException", "The NextToken is not valid") from error
    response: dict = {"Quotas": found[offset : offset + size]}
    if offset + size < len(found):
        response["NextToken"] = f"quotas-{offset + size}"
    return response
