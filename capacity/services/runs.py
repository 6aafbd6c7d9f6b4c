"""The run record every collection keeps: started, then succeeded with counts or failed with the error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError
from django.utils import timezone

from capacity.aws import RequestCount
from capacity.models import CollectionRun
from finops.models import CloudAccount


def _error_text(error: Exception) -> str:
    # str(ClientError) already reads "An error occurred (Code) when calling ...: message".
    return str(error) if isinstance(error, ClientError) else f"{type(error).__name__}: {error}"


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
        run.error = _error_text(error)
        run.requests = count.requests
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "requests", "finished_at"])
        raise
    run.status = CollectionRun.Status.SUCCEEDED
    run.requests = count.requests
    run.finished_at = timezone.now()
    run.save()
