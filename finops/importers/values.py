"""Vectorised conversions from Arrow columns to the normalised value types.

Money and quantities become ``str`` holding an exact, plain decimal literal (no exponent), or None:

- text (CSV, or a string column in Parquet) is kept as written when it already is a plain decimal
  (``-1.50`` stays ``-1.50``); other valid forms (``1E-7``, ``+.5``) go through
  ``format(Decimal(text), "f")``; ``""``, ``null`` and ``NaN`` are None; anything else is an error;
- Parquet decimals and integers are formatted exactly;
- Parquet float64 goes through its shortest repr, as ``Decimal(repr(x))`` would. Arrow's float→string
  cast writes the same shortest round-trip digits as ``repr`` (both use the shortest-then-closest
  rule), only sometimes in exponent form, and it is about six times faster than ``repr`` in a Python loop.
  Each cast value is checked to read back as the same float, and any that does not (none seen) is
  redone with ``repr``; exponent forms are then written out plainly.

Timestamps become timezone-aware UTC; text is read as ISO 8601 (``Z``, offsets, a space instead of
``T``, fractions); a text timestamp without an offset is UTC, as AWS writes them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finops.importers.errors import BillingFileError

NULL_TOKENS = ("", "null", "NULL", "Null")
_NAN_TOKENS = ("NaN", "nan", "NAN")
_PLAIN_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
_NULL_STRING = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class BatchContext:
    """Where a batch sits in its file, so that errors name the file's own row numbers and column names."""

    path: str
    first_row: int
    column_names: dict[str, str] = field(default_factory=dict)

    def error(self, index: int | None, column: str | None, message: str) -> BillingFileError:
        row = None if index is None else self.first_row + int(index)
        name = None if column is None else self.column_names.get(column, column)
        return BillingFileError(self.path, message, row=row, column=name)


def as_string(array: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    return array


def _null_tokens_to_null(array: pa.Array, tokens: tuple[str, ...] = NULL_TOKENS) -> pa.Array:
    return pc.if_else(pc.is_in(array, value_set=pa.array(tokens)), _NULL_STRING, array)


def nones(length: int) -> np.ndarray:
    return np.full(length, None, dtype=object)


def or_nones(values: np.ndarray | None, length: int) -> np.ndarray:
    return nones(length) if values is None else values


def _distinct(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values): code -1 for null. Billing columns repeat a few values over many rows,
    so converting each distinct value once and taking by code is much cheaper than converting rows."""
    encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), encoded.dictionary


def _taken(lookup: list[str | None] | np.ndarray, codes: np.ndarray) -> np.ndarray:
    table = np.empty(len(lookup) + 1, dtype=object)
    table[:-1] = lookup
    return table[codes]


def text(array: pa.Array) -> np.ndarray:
    """str or None per row; empty and ``null`` are None."""
    if pa.types.is_null(array.type):
        return nones(len(array))
    codes, distinct = _distinct(array)
    values = as_string(distinct).to_numpy(zero_copy_only=False)
    values[np.isin(values, NULL_TOKENS)] = None
    return _taken(values, codes)


def text_kept(array: pa.Array) -> np.ndarray:
    """str or None per row, null and empty kept apart as FOCUS says (null: no value; "": the value ""). A CSV
    reader gives null for an unquoted empty field and "" for a quoted one (finops.importers.reading)."""
    if pa.types.is_null(array.type):
        return nones(len(array))
    codes, distinct = _distinct(array)
    return _taken(as_string(distinct).to_numpy(zero_copy_only=False), codes)


_CURRENCY = re.compile(r"^[A-Z]{3}$")


def currency_codes(array: pa.Array | None, context: BatchContext, column: str, length: int) -> np.ndarray:
    """ISO 4217 alphabetic codes per row (``eur`` is read as ``EUR``); USD where the file has no such column.

    A value that is not three letters, or a missing one, is an error naming the row: a cost without its
    currency cannot be added to anything.
    """
    if array is None:
        return np.full(length, "USD", dtype=object)
    codes, distinct = _distinct(array)
    values = pc.utf8_upper(pc.utf8_trim_whitespace(as_string(distinct))).to_numpy(zero_copy_only=False)
    for code, value in enumerate(values):
        if value is None or not _CURRENCY.match(value):
            shown = "no value" if value in (None, "") else repr(value)
            raise context.error(
                _first(codes == code), column, f"{shown} is not an ISO 4217 currency code (three letters, e.g. EUR)"
            )
    if (codes < 0).any():
        raise context.error(_first(codes < 0), column, "the currency is missing")
    return _taken(values, codes)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def decimal_strings(array: pa.Array, context: BatchContext, column: str) -> np.ndarray:
    """Exact plain decimal str or None per row (see the module docstring)."""
    if pa.types.is_null(array.type):
        return nones(len(array))
    if pa.types.is_floating(array.type):
        codes, strings = _float_strings(array, context, column)
        plain = pc.invert(pc.match_substring(strings, "e")).to_numpy(zero_copy_only=False)
    else:
        codes, distinct = _distinct(array)
        strings = pc.utf8_trim_whitespace(as_string(distinct))
        strings = _null_tokens_to_null(strings, NULL_TOKENS + _NAN_TOKENS)
        plain = pc.fill_null(pc.match_substring_regex(strings, _PLAIN_DECIMAL), True).to_numpy(zero_copy_only=False)
    values = strings.to_numpy(zero_copy_only=False)
    for code in np.flatnonzero(~plain):
        values[code] = _plain_decimal(values[code], context, column, codes, code)
    return _taken(values, codes)


def _plain_decimal(value: str, context: BatchContext, column: str, codes: np.ndarray, code: int) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise context.error(_first(codes == code), column, f"{value!r} is not a decimal number")
    return format(number, "f")


def _float_strings(array: pa.Array, context: BatchContext, column: str) -> tuple[np.ndarray, pa.Array]:
    """(codes, shortest-repr text of each distinct float)."""
    floats = array.to_numpy(zero_copy_only=False)
    infinite = np.isinf(floats)
    if infinite.any():
        raise context.error(_first(infinite), column, f"{floats[_first(infinite)]} is not a decimal number")
    codes, distinct = pd.factorize(floats)
    if not pa.types.is_float64(array.type):
        # A float32's shortest repr is its own (numpy's str), not that of the float64 it widens to.
        return codes, pa.array([str(np.float32(value)) for value in distinct], pa.string())
    strings = pc.cast(pa.array(distinct, pa.float64()), pa.string())
    read_back = pc.cast(strings, pa.float64()).to_numpy(zero_copy_only=False)
    differs = read_back != distinct
    if differs.any():
        fixed = strings.to_numpy(zero_copy_only=False)
        for code in np.flatnonzero(differs):
            fixed[code] = repr(float(distinct[code]))
        strings = pa.array(fixed, pa.string())
    return codes, strings


def timestamps(array: pa.Array, context: BatchContext, column: str, *, required: bool) -> pd.Series:
    """Timezone-aware UTC timestamps; an unreadable value is an error, a missing one too if ``required``."""
    kind = array.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        series = array.to_pandas()
        series = pd.to_datetime(series, utc=True) if pa.types.is_date(kind) else series
        if series.dt.tz is None:
            series = series.dt.tz_localize("UTC")
        parsed = series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    else:
        codes, dictionary = _distinct(array)
        strings = _null_tokens_to_null(pc.utf8_trim_whitespace(as_string(dictionary)))
        distinct = pd.Series(strings.to_numpy(zero_copy_only=False), dtype=object)
        read = pd.to_datetime(distinct, format="ISO8601", utc=True, errors="coerce")
        unreadable = np.append((read.isna() & distinct.notna()).to_numpy(dtype=bool), False)[codes]
        if unreadable.any():
            index = _first(unreadable)
            raise context.error(index, column, f"cannot read {distinct[codes[index]]!r} as a timestamp")
        lookup = np.append(read.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
        parsed = pd.Series(pd.DatetimeIndex(lookup[codes]).tz_localize("UTC"))
    if required and parsed.isna().any():
        raise context.error(_first(parsed.isna().to_numpy()), column, "a value is required here")
    return parsed


def dates(moments: pd.Series) -> np.ndarray:
    """The UTC calendar date of each timestamp (None for NaT)."""
    codes, distinct = pd.factorize(moments)
    lookup = np.array([moment.date() for moment in distinct] + [None], dtype=object)
    return lookup[codes]


def calendar_months(moments: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """First day of each timestamp's UTC month, and first day of the next month."""
    codes, distinct = pd.factorize(moments)
    starts = [dt.date(moment.year, moment.month, 1) for moment in distinct]
    ends = [dt.date(day.year + day.month // 12, day.month % 12 + 1, 1) for day in starts]
    return np.array(starts + [None], dtype=object)[codes], np.array(ends + [None], dtype=object)[codes]


def mapped(
    array: pa.Array, context: BatchContext, column: str, mapping: dict[str, str | None], *, required: bool
) -> np.ndarray:
    """Each value looked up in ``mapping``, ignoring case; an unknown value is an error."""
    lowered = {key.lower(): value for key, value in mapping.items()}
    codes, dictionary = _distinct(array)
    distinct = _null_tokens_to_null(pc.utf8_trim_whitespace(as_string(dictionary))).to_pylist()
    lookup: list[str | None] = []
    for code, value in enumerate(distinct):
        if value is not None and value.lower() not in lowered:
            expected = ", ".join(mapping)
            raise context.error(_first(codes == code), column, f"unknown value {value!r} (expected one of {expected})")
        lookup.append(None if value is None else lowered[value.lower()])
    absent = np.append(np.array([value is None for value in distinct], dtype=bool), True)[codes]
    if required and absent.any():
        raise context.error(_first(absent), column, "a value is required here")
    return _taken(lookup, codes)


def coalesce(*candidates: np.ndarray | None) -> np.ndarray | None:
    """Per row, the first non-None value among the candidates (which may be None as a whole)."""
    present = [values for values in candidates if values is not None]
    if not present:
        return None
    result = present[0].copy()
    for values in present[1:]:
        missing = pd.isna(result)
        result[missing] = values[missing]
    return result
