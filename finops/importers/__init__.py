"""Billing exports (FOCUS 1.0–1.2, CUR 2.0, legacy CUR) → normalised pandas frames. Pure: no ORM.

``open_billing_file(path_or_fileobj)`` detects the container and the format from the header;
``BillingFile.batches()`` yields frames with exactly ``NORMALISED_COLUMNS`` (FOCUS 1.2 names).
Money is exact decimal text, never float (see ``values``); tag keys are described in ``tags``;
CUR's mapping to FOCUS in ``cur``; format detection in ``schema``.
"""

from __future__ import annotations

from finops.importers.billing_file import BillingFile, open_billing_file
from finops.importers.errors import BillingFileError
from finops.importers.reading import list_billing_files
from finops.importers.schema import MONEY_COLUMNS, NORMALISED_COLUMNS, BillingFormat

__all__ = [
    "MONEY_COLUMNS",
    "NORMALISED_COLUMNS",
    "BillingFile",
    "BillingFileError",
    "BillingFormat",
    "list_billing_files",
    "open_billing_file",
]
