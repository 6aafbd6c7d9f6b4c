"""The run record every collection keeps: started, then succeeded with counts or failed with the error.

A run is made of parts (inventory: one per AWS API it reads). A part AWS refuses (access denied) fails on its own:
`part_failed` records it under counts["failed_parts"] with the permission it lacks, the other parts go on and are
stored, and the run ends failed with every refused permission in its error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError
from django.utils import timezone

from capacity.aws import RequestCount
from capacity.models import CollectionRun
from finops.aws.clients import access_denied_text
from finops.models import CloudAccount


class CollectionPartsFailed(Exception):
    """Parts of a collection failed (named in the message); the other parts ran and were stored."""


def error_text(error: Exception) -> str:
    # str(ClientError) already reads "An error occurred (Code) when calling ...: message".
    denied = access_denied_text(error)
    if denied:
        return denied
    return str(error) if isinstance(error, ClientError) else f"{type(error).__name__}: {error}"


def part_failed(run: CollectionRun, *, part: str, message: str) -> None:
    """Record that `part` of the run failed with `message`; the run goes on and ends failed."""
    run.counts.setdefault("failed_parts", {})[part] = message


@contextmanager
def collection_run(
    *, kind: str, account: CloudAccount | None = None, region: str = ""
) -> Iterator[tuple[CollectionRun, RequestCount]]:
    """Record a run around the block: on an exception the run is marked failed and the exception re-raised."""
    run = CollectionRun.objects.create(kind=kind, account=account, region=region)
    count = RequestCount()
    try:
        yield run, count
    except Exception as error:
        run.status = CollectionRun.Status.FAILED
        run.error = error_text(error)
        run.requests = count.requests
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "requests", "finished_at"])
        raise
    failed_parts = run.counts.get("failed_parts", {})
    run.status = CollectionRun.Status.FAILED if failed_parts else CollectionRun.Status.SUCCEEDED
    run.error = "; ".join(f"{part}: {message}" for part, message in failed_parts.items())
    run.requests = count.requests
    run.finished_at = timezone.now()
    run.save()
