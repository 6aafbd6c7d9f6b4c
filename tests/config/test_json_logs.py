from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.integration_support import ROOT

SCRIPT = """
import logging
import django
django.setup()
log = logging.getLogger("costplane.check")
log.warning("disk %s full", "/data")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("division failed")
"""


def run_logging(log_format: str) -> list[str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="true", COSTPLANE_LOG_FORMAT=log_format)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stderr.splitlines()


def test_it_writes_one_json_object_a_line_when_asked():
    lines = run_logging("json")
    records = [json.loads(line) for line in lines]
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("WARNING", "costplane.check", "disk /data full"),
        ("ERROR", "costplane.check", "division failed"),
    ]
    assert records[0]["time"].endswith("+00:00") and "exc" not in records[0]
    assert "ZeroDivisionError: division by zero" in records[1]["exc"]


def test_it_writes_plain_text_by_default():
    lines = run_logging("text")
    assert " WARNING costplane.check disk /data full" in lines[0]
    assert not lines[0].startswith("{")


def test_it_refuses_a_metrics_allow_list_entry_that_is_no_address_and_an_unknown_log_format():
    from tests.config.test_settings import settings_in_subprocess

    bad_network = settings_in_subprocess(DEBUG="true", COSTPLANE_METRICS_ALLOW="10.0.0.0/8,intranet")
    assert bad_network.returncode != 0
    assert "COSTPLANE_METRICS_ALLOW: 'intranet' is not an address or network" in bad_network.stderr
    bad_format = settings_in_subprocess(DEBUG="true", COSTPLANE_LOG_FORMAT="xml")
    assert bad_format.returncode != 0 and "COSTPLANE_LOG_FORMAT='xml' must be one of: text, json" in bad_format.stderr
