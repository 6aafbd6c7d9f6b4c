"""One account's capacity collection: inventory, then utilisation and quotas (which read the inventory) and capacity
reservations, per region.

Each collection is a part of the whole: AWS refusing one (access denied, or any other AWS error) is recorded on
that collection's run and the others still run, so a role missing one permission loses only what it guards.
"""

from __future__ import annotations

import logging

from botocore.exceptions import ClientError

from capacity.models import CollectionRun
from capacity.services.inventory import inventory_collect
from capacity.services.quotas import quotas_refresh
from capacity.services.reservations import reservations_refresh
from capacity.services.runs import error_text
from capacity.services.utilisation import utilisation_collect
from finops.models import CloudAccount

logger = logging.getLogger(__name__)

COLLECTIONS = (inventory_collect, utilisation_collect, quotas_refresh, reservations_refresh)


def capacity_collect(*, account: CloudAccount, regions: list[str]) -> list[str]:
    """Run every collection of the account in each region; returns what failed ("region kind: error"), if anything.

    An AWS error fails its collection (recorded on the run) and the next one runs; anything else rises.
    """
    failures: list[str] = []
    for region in regions:
        for collect in COLLECTIONS:
            try:
                run = collect(account=account, region=region)
            except ClientError as error:
                failures.append(f"{region} {collect.__name__}: {error_text(error)}")
                logger.warning("capacity collection %s", failures[-1])
                continue
            if run.status == CollectionRun.Status.FAILED:
                failures.append(f"{region} {run.kind}: {run.error}")
    return failures
