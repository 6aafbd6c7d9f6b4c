from __future__ import annotations

import socket

from celery import shared_task

from finops.services import core as services


@shared_task
def worker_heartbeat_record() -> None:
    services.worker_heartbeat_record(hostname=socket.gethostname())
