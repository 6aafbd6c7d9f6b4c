"""Signals of capacity's models, so that models never import services.

- `gpu_hours_stored(rows)`: GPU utilisation hours were written through the ORM (UtilisationHour rows), in the
  caller's transaction; capacity.apps rebuilds the idle GPU cost of the lines over them.
"""

from __future__ import annotations

from django.dispatch import Signal

gpu_hours_stored = Signal()
