"""Signals other apps listen to, so that finops never imports them (capacity keeps its idle GPU costs this way).

- `billing_scopes_rebuilt(cursor, scopes)`: the lines of these (source, billing account, billing period) scopes
  changed and their rollups were rebuilt, in the transaction `cursor` belongs to (None: every scope).
- `billing_months_dropped(cursor, before)`: retention dropped the billing periods starting before `before`.
"""

from __future__ import annotations

from django.dispatch import Signal

billing_scopes_rebuilt = Signal()
billing_months_dropped = Signal()
