"""The sandbox's side of the client factory: answers what moto does not implement.

Filled in by the sandbox billing work: `install_handlers(client)` registers `before-call` handlers
on a client for the operations the sandbox answers itself (Cost Explorer, Compute Optimizer, ...).
"""

from __future__ import annotations


def install_handlers(client) -> None:
    """Register the sandbox's before-call handlers on `client` (none yet for most services)."""
