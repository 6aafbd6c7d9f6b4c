"""`python -m sandbox serve`: moto in server mode with the sandbox's billing exports already in S3."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import date
from types import FrameType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from sandbox.catalogue import DEFAULT_SEED
from sandbox.dataset import environment_settings, sandbox_dataset
from sandbox.exports import exports_write

HOST = "127.0.0.1"


def seed_exports(
    s3_client: Any, size: str = "small", today: date | None = None, *, seed: int = DEFAULT_SEED
) -> dict[str, list[str]]:
    """Write the FOCUS and CUR 2.0 exports for (seed, size, today) into the export bucket behind `s3_client`."""
    today = today or environment_settings()[2]
    dataset = sandbox_dataset(seed, size, today)
    return exports_write(s3_client, catalogue=dataset.catalogue, lines=dataset.lines)


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
        print(f"sandbox ready on {endpoint}", flush=True)
        while not stop.wait(1):
            pass
    finally:
        server.stop()
