from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import boto3

from sandbox.exports import BUCKET

from .conftest import TODAY

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_serves_the_seeded_bucket_over_http_and_stops_on_sigterm():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--today", TODAY.isoformat()],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COSTPLANE_SANDBOX_SIZE": "small"},
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert lines == [f"sandbox ready on http://127.0.0.1:{port}\n"], process.stderr.read() if not lines else lines
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        keys = [
            item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/costplane-focus/")["Contents"]
        ]
        assert "exports/costplane-focus/metadata/BILLING_PERIOD=2025-06/costplane-focus-Manifest.json" in keys
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
