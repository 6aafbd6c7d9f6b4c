"""The resources of the sandbox organisation as plain specs (see catalogue.py for what the fields mean).

`start_at` / `stop_at` are fractions of the history, so resources that start later make spend grow.
The small fleet is part of the full one: the same names give the same ids in both sizes.
"""

from __future__ import annotations

import random

BUSY = {"base": 0.35, "peak": 0.92, "peak_hour_utc": 15}
WEEKDAYS = {"base": 0.05, "peak": 0.75, "peak_hour_utc": 14, "weekdays_only": True}
IDLE = {"base": 0.0, "peak": 0.02}
TRAINING = {"base": 0.82, "peak": 0.96}
LOW = {"base": 0.03, "peak": 0.08}
CPU = {"base": 0.2, "peak": 0.55, "peak_hour_utc": 2}


def tags(team: str, project: str, environment: str, model: str = "", model_version: str = "") -> dict[str, str]:
    result = {"team": team, "project": project, "environment": environment}
    if model:
        result |= {"model": model, "model_version": model_version}
    return result


def small_fleet() -> list[dict]:
    return [
        # ml-research: GPU training on EC2
        {"kind": "ec2_instance", "account": "ml-research", "name": "vision-train-p4d-0",
         "instance_type": "p4d.24xlarge", "tags": tags("vision", "image-tagger", "dev"), "profile": TRAINING},
        {"kind": "ec2_instance", "account": "ml-research", "name": "speech-train-p5-0", "instance_type": "p5.48xlarge",
         "start_at": 0.55, "schedule": "weekdays", "tags": tags("speech", "asr", "dev"), "profile": TRAINING},
        {"kind": "ec2_instance", "account": "ml-research", "name": "recsys-train-g5-0", "instance_type": "g5.12xlarge",
         "tags": tags("recsys", "ranker", "dev"), "profile": TRAINING},
        {"kind": "ec2_instance", "account": "ml-research", "name": "vision-dev-g5-0", "instance_type": "g5.xlarge",
         "start_at": 0.2, "schedule": "weekdays", "tags": tags("vision", "defect-detect", "dev"), "profile": LOW},
        # untagged and partly tagged spend: a forgotten experiment and a box tagged with its team only
        {"kind": "ec2_instance", "account": "ml-research", "name": "legacy-experiment", "instance_type": "p4d.24xlarge",
         "start_at": 0.1, "stop_at": 0.75, "tags": {}, "profile": LOW},
        {"kind": "ec2_instance", "account": "ml-research", "name": "scratch-g5", "instance_type": "g5.12xlarge",
         "start_at": 0.3, "tags": {}, "profile": LOW},
        {"kind": "ec2_instance", "account": "ml-research", "name": "speech-scratch", "instance_type": "g5.xlarge",
         "start_at": 0.4, "tags": {"team": "speech"}, "profile": LOW},
        # ml-prod: inference
        {"kind": "ec2_instance", "account": "ml-prod", "name": "recsys-serve-inf2-0", "instance_type": "inf2.xlarge",
         "start_at": 0.15, "tags": tags("recsys", "ranker", "prod"), "profile": BUSY},
        {"kind": "sagemaker_endpoint", "account": "ml-prod", "name": "resnet-tagger-prod",
         "instance_type": "ml.g5.xlarge", "count": 2,
         "tags": tags("vision", "image-tagger", "prod", "resnet-tagger", "v7"), "profile": BUSY},
        {"kind": "sagemaker_endpoint", "account": "ml-prod", "name": "whisper-asr-prod",
         "instance_type": "ml.inf2.xlarge", "start_at": 0.25,
         "tags": tags("speech", "asr", "prod", "whisper-ft", "v3"), "profile": WEEKDAYS},
        {"kind": "sagemaker_endpoint", "account": "ml-prod", "name": "two-tower-staging",
         "instance_type": "ml.g5.12xlarge", "start_at": 0.6,
         "tags": tags("recsys", "ranker", "staging", "two-tower", "v12"), "profile": LOW},
        {"kind": "sagemaker_endpoint", "account": "ml-research", "name": "resnet-tagger-dev",
         "instance_type": "ml.g5.xlarge", "start_at": 0.05,
         "tags": tags("vision", "image-tagger", "dev", "resnet-tagger", "v8"), "profile": IDLE},
        # idle dev notebooks
        {"kind": "sagemaker_notebook", "account": "ml-research", "name": "speech-asr-notebook",
         "instance_type": "ml.g5.xlarge", "start_at": 0.35,
         "tags": tags("speech", "asr", "dev", "whisper-ft", "v4"), "profile": IDLE},
        {"kind": "sagemaker_notebook", "account": "ml-research", "name": "recsys-eda-notebook",
         "instance_type": "ml.t3.medium", "tags": tags("recsys", "ranker", "dev", "two-tower", "v11"), "profile": IDLE},
        # data: CPU ETL and buckets
        {"kind": "ec2_instance", "account": "data", "name": "feature-etl-0", "instance_type": "m6i.2xlarge",
         "tags": tags("recsys", "feature-store", "prod"), "profile": CPU},
        {"kind": "s3_bucket", "account": "data", "name": "costplane-vision-datasets", "size_gb": 40_000,
         "growth_gb_per_day": 120, "tags": tags("vision", "image-tagger", "prod")},
        {"kind": "s3_bucket", "account": "data", "name": "costplane-speech-corpora", "size_gb": 25_000,
         "growth_gb_per_day": 60, "tags": tags("speech", "asr", "prod")},
        {"kind": "s3_bucket", "account": "data", "name": "costplane-raw-landing", "size_gb": 60_000,
         "growth_gb_per_day": 200, "tags": {}},
        # platform: shared networking and CPU
        {"kind": "nat_gateway", "account": "platform", "name": "shared-nat-use1", "size_gb": 900,
         "tags": tags("platform", "shared-infra", "prod")},
        {"kind": "ec2_instance", "account": "platform", "name": "gitlab-runner-0", "instance_type": "c6i.xlarge",
         "tags": tags("platform", "ml-platform", "prod"), "profile": CPU},
        {"kind": "ec2_instance", "account": "platform", "name": "mlflow-0", "instance_type": "r6i.4xlarge",
         "start_at": 0.45, "tags": {"team": "platform", "environment": "prod"}, "profile": CPU},
    ]  # fmt: skip


def full_fleet(seed: int) -> list[dict]:
    """More of everything, spread over teams, regions and start dates (seeded, so stable)."""
    rng = random.Random(f"{seed}:full-fleet")
    teams = {
        "vision": ("image-tagger", "defect-detect", "resnet-tagger"),
        "speech": ("asr", "tts", "whisper-ft"),
        "recsys": ("ranker", "feature-store", "two-tower"),
    }
    specs: list[dict] = []
    for team, (project_a, project_b, model) in teams.items():
        for index in range(14):
            instance_type = rng.choice(("p4d.24xlarge", "g5.12xlarge", "g5.xlarge", "g5.12xlarge", "p5.48xlarge"))
            if instance_type == "p5.48xlarge" and index % 3:
                instance_type = "g5.xlarge"
            specs.append(
                {
                    "kind": "ec2_instance",
                    "account": "ml-research",
                    "name": f"{team}-gpu-{index}",
                    "instance_type": instance_type,
                    "region": rng.choice(("us-east-1", "us-east-1", "us-west-2")),
                    "start_at": round(rng.random() * 0.85, 3),
                    "schedule": rng.choice(("always", "always", "weekdays")),
                    "stop_at": 0.9 if index == 5 else None,
                    "tags": tags(team, rng.choice((project_a, project_b)), "dev"),
                    "profile": rng.choice((TRAINING, LOW, TRAINING)),
                }
            )
        for index in range(10):
            environment = ("prod", "prod", "staging", "dev", "prod", "dev")[index % 6]
            specs.append(
                {
                    "kind": "sagemaker_endpoint",
                    "account": "ml-prod" if environment != "dev" else "ml-research",
                    "name": f"{model}-{environment}-{index}",
                    "instance_type": rng.choice(("ml.g5.xlarge", "ml.inf2.xlarge", "ml.g5.12xlarge", "ml.m5.xlarge")),
                    "count": rng.choice((1, 1, 2, 3)),
                    "region": rng.choice(("us-east-1", "eu-west-1")),
                    "start_at": round(rng.random() * 0.8, 3),
                    "tags": tags(team, project_a, environment, model, f"v{rng.randrange(2, 20)}"),
                    "profile": (BUSY, BUSY, LOW, IDLE, WEEKDAYS, IDLE)[index % 6],
                }
            )
        for index in range(30):
            specs.append(
                {
                    "kind": "sagemaker_notebook",
                    "account": "ml-research",
                    "name": f"{team}-notebook-{index}",
                    "instance_type": rng.choice(("ml.t3.medium", "ml.t3.medium", "ml.g5.xlarge")),
                    "start_at": round(rng.random() * 0.9, 3),
                    "tags": tags(team, project_b, "dev", model, f"v{rng.randrange(2, 20)}"),
                    "profile": IDLE,
                }
            )
        for index in range(10):
            specs.append(
                {
                    "kind": "s3_bucket",
                    "account": "data",
                    "name": f"costplane-{team}-data-{index}",
                    "size_gb": rng.randrange(2_000, 30_000),
                    "growth_gb_per_day": rng.randrange(5, 80),
                    "start_at": round(rng.random() * 0.7, 3),
                    "tags": tags(team, project_a, "prod") if index else {},
                }
            )
        for index in range(12):
            specs.append(
                {
                    "kind": "ec2_instance",
                    "account": "data",
                    "name": f"{team}-etl-{index}",
                    "instance_type": rng.choice(("m6i.2xlarge", "c6i.xlarge", "r6i.4xlarge")),
                    "start_at": round(rng.random() * 0.9, 3),
                    "tags": tags(team, project_b, "prod") if index % 4 else {"team": team},
                    "profile": CPU,
                }
            )
    specs.append(
        {
            "kind": "sagemaker_endpoint",
            "account": "ml-prod",
            "name": "llm-gateway-prod",
            "instance_type": "ml.p4d.24xlarge",
            "start_at": 0.7,
            "tags": tags("platform", "ml-platform", "prod", "llama-ft", "v2"),
            "profile": BUSY,
        }
    )
    for index in range(30):
        specs.append(
            {
                "kind": "ec2_instance",
                "account": rng.choice(("ml-research", "data")),
                "name": f"untagged-{index}",
                "instance_type": rng.choice(("g5.xlarge", "m6i.2xlarge", "c6i.xlarge", "g5.12xlarge")),
                "start_at": round(rng.random() * 0.9, 3),
                "tags": {},
                "profile": LOW,
            }
        )
    for index, region in enumerate(("us-west-2", "eu-west-1", "us-east-1")):
        specs.append(
            {
                "kind": "nat_gateway",
                "account": "platform",
                "name": f"shared-nat-{index}",
                "region": region,
                "size_gb": 300,
                "start_at": 0.2 * index,
                "tags": tags("platform", "shared-infra", "prod"),
            }
        )
        for runner in range(12):
            specs.append(
                {
                    "kind": "ec2_instance",
                    "account": "platform",
                    "name": f"platform-{region}-{runner}",
                    "instance_type": "c6i.xlarge",
                    "region": region,
                    "start_at": round(rng.random() * 0.9, 3),
                    "tags": tags("platform", "ml-platform", "prod"),
                    "profile": CPU,
                }
            )
    return specs  # fmt: skip
