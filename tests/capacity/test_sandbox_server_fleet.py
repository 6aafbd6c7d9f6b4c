"""`python -m sandbox serve` runs the fleet: the catalogue's ids, in their accounts, over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from sandbox.aws import sandbox_client
from sandbox.machines import present

from .conftest import ML_PROD, ML_RESEARCH, TODAY

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_serves_the_catalogues_machines_per_account(catalogue):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--today", TODAY.isoformat()],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "COSTPLANE_SANDBOX_SIZE": "small"},
    )  # fmt: skip
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=90)
        assert lines and lines[0].startswith("sandbox ready on "), lines
        endpoint = lines[0].split(" on ", 1)[1].strip()

        def client(service, account_id):
            return sandbox_client(service, account_id=account_id, region="us-east-1", endpoint_url=endpoint)

        for account_id in (ML_RESEARCH, ML_PROD):
            served = {
                instance["InstanceId"]
                for reservation in client("ec2", account_id).describe_instances()["Reservations"]
                for instance in reservation["Instances"]
            }
            assert served == {
                r.id
                for r in catalogue.resources
                if r.kind == "ec2_instance" and r.account_id == account_id and present(r, TODAY)
            }
        endpoints = client("sagemaker", ML_PROD).list_endpoints()["Endpoints"]
        assert {e["EndpointName"] for e in endpoints} == {"resnet-tagger-prod", "whisper-asr-prod", "two-tower-staging"}
        assert client("ec2", "123456789012").describe_instances()["Reservations"] == [], "nothing in moto's default"
    finally:
        process.terminate()
        process.wait(timeout=20)
