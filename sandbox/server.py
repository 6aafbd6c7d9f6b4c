"""`python -m sandbox serve`: moto in server mode with the sandbox's billing exports in S3 and its machines running."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import date, datetime
from types import FrameType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from sandbox.aws import sandbox_client
from sandbox.catalogue import DEFAULT_SEED
from sandbox.dataset import environment_settings, sandbox_dataset
from sandbox.exports import exports_write
from sandbox.machines import FleetSeed, fleet_seed

HOST = "127.0.0.1"


def seed_exports(
    s3_client: Any, size: str = "small", today: date | None = None, *, seed: int = DEFAULT_SEED
) -> dict[str, list[str]]:
    """Write the FOCUS and CUR 2.0 exports for (seed, size, today) into the export bucket behind `s3_client`."""
    today = today or environment_settings()[2]
    dataset = sandbox_dataset(seed, size, today)
    return exports_write(s3_client, catalogue=dataset.catalogue, lines=dataset.lines)


def seed_machines(
    endpoint_url: str | None = None,
    size: str = "small",
    today: date | None = None,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
) -> FleetSeed:
    """Create the sandbox's machines and their metrics in moto: at `endpoint_url`, or in-process under `mock_aws`.

    Must run in the process that holds moto's backends (the server's, or the test's): it extends moto there.
    """
    today = today or environment_settings()[2]
    clients: dict[tuple[str, str, str], Any] = {}

    def client_for(service: str, account_id: str, region: str) -> Any:
        key = (service, account_id, region)
        if key not in clients:
            clients[key] = sandbox_client(service, account_id=account_id, region=region, endpoint_url=endpoint_url)
        return clients[key]

    metric_days = 14 if size == "small" else 30
    return fleet_seed(
        catalogue=sandbox_dataset(seed, size, today).catalogue, client_for=client_for, now=now, metric_days=metric_days
    )


def serve(*, port: int, size: str = "small", today: date | None = None, seed: int = DEFAULT_SEED) -> None:
    """Start moto on 127.0.0.1:`port`, seed the exports, announce readiness, run until SIGTERM or SIGINT."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on stderr
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://{HOST}:{port}"
        s3_client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )
        seed_exports(s3_client, size, today, seed=seed)
        seed_machines(endpoint, size, today, seed=seed)
        print(f"sandbox ready on {endpoint}", flush=True)
        while not stop.wait(1):
            pass
    finally:
        server.stop()
