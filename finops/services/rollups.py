"""The exact daily rollup of billing lines (finops.models.rollups): rebuilt per scope inside each import's transaction.

A scope is (source, billing account, billing period), the unit an import replaces. Rebuilding a scope's rollup rows
from its stored lines, in the transaction that changed them, keeps the rollup equal to a GROUP BY of the lines at
every commit (NUMERIC sums, no floating point), whatever was inserted, replaced or deleted. The tag keys it holds
are CostRollupState.tag_keys; `rollups_rebuild_all` (`manage.py rollups_rebuild`) rebuilds everything with
COSTPLANE_ALLOCATION_TAG_KEYS after that setting changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from finops.models import CostRollupState
from finops.rollup_sql import ROLLUP, TAG_ROLLUP, rollup_scopes_rebuild, rollups_build_all


def rollups_rebuild_scopes(cursor, scopes: Iterable[tuple[str, str, date]]) -> None:
    """Replace the rollup rows of each scope by a GROUP BY of its stored lines (in the caller's transaction)."""
    rollup_scopes_rebuild(cursor, scopes, CostRollupState.current_tag_keys())


def rollups_rebuild_all() -> int:
    """Rebuild the whole rollup with COSTPLANE_ALLOCATION_TAG_KEYS; returns its rows."""
    tag_keys = list(settings.COSTPLANE_ALLOCATION_TAG_KEYS)
    with transaction.atomic(), connection.cursor() as cursor:
        # Imports wait; reports keep reading the old rows until the commit.
        cursor.execute(f"LOCK TABLE {ROLLUP}, {TAG_ROLLUP} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {ROLLUP}")
        cursor.execute(f"DELETE FROM {TAG_ROLLUP}")
        rows = rollups_build_all(cursor, tag_keys)
        state = CostRollupState.objects.select_for_update().order_by("pk").first() or CostRollupState()
        state.tag_keys, state.rebuilt_at = tag_keys, timezone.now()
        state.save()
    return rows
