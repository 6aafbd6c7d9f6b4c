"""Arrow columns for the renderings: exact decimals from integer units, UTC timestamps, tag columns."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sandbox import rates
from sandbox.catalogue import ACCOUNTS, Catalogue

MONEY = pa.decimal128(38, rates.MONEY_SCALE)
TIMESTAMP = pa.timestamp("ms", tz="UTC")
TAG_MAP = pa.map_(pa.string(), pa.string())
ACCOUNT_NAMES = {account.id: account.name for account in ACCOUNTS}


def money(units: np.ndarray | pd.Series) -> pa.Array:
    """decimal128(38, 10) from int64 1e-10 units, bit for bit: the units are the decimal's unscaled value."""
    values = np.asarray(units, dtype=np.int64)
    words = np.empty((len(values), 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63  # sign extension to 128 bits
    return pa.Array.from_buffers(MONEY, len(values), [None, pa.py_buffer(words.tobytes())])


def quantity(micro_units: np.ndarray | pd.Series) -> pa.Array:
    return money(np.asarray(micro_units, dtype=np.int64) * 10 ** (rates.MONEY_SCALE - rates.QUANTITY_SCALE))


def unit_price(price_units: np.ndarray | pd.Series) -> pa.Array:
    return money(np.asarray(price_units, dtype=np.int64) * 10 ** (rates.MONEY_SCALE - rates.PRICE_SCALE))


def timestamps(values: pd.Series) -> pa.Array:
    return pa.array(values.to_numpy().astype("datetime64[ms]"), type=pa.timestamp("ms")).cast(TIMESTAMP)


def strings(values: pd.Series | np.ndarray) -> pa.Array:
    """Strings with "" and None as nulls."""
    array = pa.array(np.asarray(values, dtype=object), type=pa.string())
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)


def month_bounds(days: pd.Series) -> tuple[pd.Series, pd.Series]:
    start = days.dt.to_period("M").dt.to_timestamp()
    return start, start + pd.offsets.MonthBegin(1)


def owner_tags(catalogue: Catalogue) -> dict[str, Mapping[str, str]]:
    return {resource.id: resource.tags for resource in catalogue.resources}


def tags_json(owner_ids: pd.Series, catalogue: Catalogue) -> pa.Array:
    """FOCUS Tags: a JSON object as text, `{}` where the line has no tags."""
    texts = {owner: json.dumps(dict(sorted(tags.items()))) for owner, tags in owner_tags(catalogue).items()}
    return pa.array(owner_ids.map(texts).fillna("{}").to_numpy(dtype=object), type=pa.string())


def tags_map(owner_ids: pd.Series, catalogue: Catalogue) -> pa.Array:
    """CUR 2.0 resource_tags: MAP<string, string> of user tags as `user_<key>`."""
    owners = ["", *sorted(owner_tags(catalogue))]
    position = {owner: index for index, owner in enumerate(owners)}
    catalogue_tags = owner_tags(catalogue)
    entries = [[]] + [sorted((f"user_{key}", value) for key, value in catalogue_tags[o].items()) for o in owners[1:]]
    unique = pa.array(entries, type=TAG_MAP)
    indexes = owner_ids.map(position).fillna(0).astype(np.int64).to_numpy()
    return unique.take(pa.array(indexes))
