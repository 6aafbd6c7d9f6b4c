"""Tags as one ``dict[str, str]`` per row; a key whose value is empty is untagged, so it is left out.

Key names, by source:

- legacy CUR, slash style: ``resourceTags/user:CostCenter`` → ``CostCenter`` (the key as the user
  wrote it); AWS-generated keys keep their prefix: ``resourceTags/aws:createdBy`` → ``aws:createdBy``.
- legacy CUR, Athena style: ``resource_tags_user_cost_center`` → ``cost_center``;
  ``resource_tags_aws_created_by`` → ``aws_created_by``. Athena's renaming is lossy (the original
  ``CostCenter`` cannot be recovered), so the key is the snake_case name without ``user_``: the same
  key that CUR 2.0 gives.
- CUR 2.0 ``resource_tags`` map (Parquet map, or JSON object text in CSV): keys such as
  ``user_cost_center`` lose the ``user_`` prefix → ``cost_center``; ``aws_created_by`` stays.
- FOCUS ``Tags`` (JSON object text, or a map): keys as written. Non-string JSON values are kept as
  their JSON text (``true``, ``5``).

``costCategory/…`` and ``noTags/…`` columns are not tags.

Rows in a billing file share a handful of tag sets, so each distinct set is parsed once
(Arrow dictionary-encodes the raw text) and each row gets its own copy of the parsed dict.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.importers.values import NULL_TOKENS, BatchContext, as_string, text

_FIELD = "\x1f"
_PAIR = "\x1e"


def strip_user_prefix(key: str) -> str:
    return key.removeprefix("user_")


def slash_tag_key(column: str) -> str:
    """``resourceTags/user:CostCenter`` → ``CostCenter``; ``resourceTags/aws:createdBy`` → ``aws:createdBy``."""
    return column.split("/", 1)[1].removeprefix("user:")


def athena_tag_key(column: str) -> str:
    """``resource_tags_user_cost_center`` → ``cost_center``; ``resource_tags_aws_created_by`` → ``aws_created_by``."""
    return strip_user_prefix(column.removeprefix("resource_tags_"))


def _object_array(values: list[dict[str, str]]) -> np.ndarray:
    rows = np.empty(len(values), dtype=object)
    rows[:] = values
    return rows


def _per_row(codes: np.ndarray, distinct: list[dict[str, str]]) -> np.ndarray:
    return _object_array([dict(distinct[code]) if code >= 0 else {} for code in codes.tolist()])


def _encode(strings: pa.Array) -> tuple[np.ndarray, list[str]]:
    encoded = pc.dictionary_encode(strings)
    return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist()


def _contains_separator(array: pa.Array) -> bool:
    return bool(pc.any(pc.match_substring_regex(array, f"[{_FIELD}{_PAIR}]")).as_py())


def empty_tags(length: int) -> np.ndarray:
    return _object_array([{} for _ in range(length)])


def map_values(array: pa.Array, key: str) -> np.ndarray:
    """The value under ``key`` per row of a map column (Parquet) or JSON object text (CSV); None if absent."""
    if pa.types.is_map(array.type):
        return text(pc.map_lookup(array, pa.scalar(key, array.type.key_type), "first"))
    codes, distinct = _encode(as_string(array))
    lookup = []
    for document in distinct:
        try:
            value = json.loads(document)
        except ValueError:
            value = None
        found = value.get(key) if isinstance(value, dict) else None
        lookup.append(found if isinstance(found, str) and found else None)
    return np.array([*lookup, None], dtype=object)[codes]


def tags_from_columns(columns: list[tuple[str, pa.Array]], length: int) -> np.ndarray:
    """One dict per row from one column per tag key (legacy CUR)."""
    if not columns:
        return _per_row(np.full(length, -1), [])
    keys = [key for key, _ in columns]
    strings = [pc.fill_null(as_string(array), "") for _, array in columns]
    if any(_contains_separator(values) for values in strings):
        # Values holding the separator are rare enough that a slow, exact path is fine.
        rows = zip(*(values.to_pylist() for values in strings), strict=True)
        return _object_array([_pairs_dict(keys, list(row)) for row in rows])
    codes, distinct = _encode(pc.binary_join_element_wise(*strings, _FIELD))
    return _per_row(codes, [_pairs_dict(keys, signature.split(_FIELD)) for signature in distinct])


def _pairs_dict(keys: list[str], values: list[str]) -> dict[str, str]:
    return {key: value for key, value in zip(keys, values, strict=True) if value not in NULL_TOKENS}


def tags_from_map(array: pa.MapArray, key: Callable[[str], str]) -> np.ndarray:
    """One dict per row from an Arrow map<string, string> column (CUR 2.0 or FOCUS Parquet)."""
    keys = as_string(array.keys)
    items = pc.fill_null(as_string(array.items), "")
    if _contains_separator(keys) or _contains_separator(items):
        rows = array.to_pylist()
        return _object_array([{key(k): v for k, v in row or () if v not in NULL_TOKENS} for row in rows])
    pairs = pc.binary_join_element_wise(keys, items, _FIELD)
    signatures = pc.binary_join(pa.ListArray.from_arrays(array.offsets, pairs), _PAIR)
    codes, distinct = _encode(signatures)
    parsed = []
    for signature in distinct:
        entries = (pair.split(_FIELD, 1) for pair in signature.split(_PAIR)) if signature else ()
        parsed.append({key(k): v for k, v in entries if v not in NULL_TOKENS})
    return _per_row(codes, parsed)


def tags_from_json(array: pa.Array, context: BatchContext, column: str, key: Callable[[str], str] = str) -> np.ndarray:
    """One dict per row from JSON object text (FOCUS ``Tags``, CUR 2.0 CSV ``resource_tags``), or a map."""
    if pa.types.is_map(array.type):
        return tags_from_map(array, key)
    codes, distinct = _encode(as_string(array))
    parsed = []
    for code, document in enumerate(distinct):
        if document.strip() in NULL_TOKENS:
            parsed.append({})
            continue
        try:
            value = json.loads(document)
        except ValueError as error:
            message = f"tags are not valid JSON: {error}"
            raise context.error(int(np.flatnonzero(codes == code)[0]), column, message) from error
        if not isinstance(value, dict):
            raise context.error(int(np.flatnonzero(codes == code)[0]), column, "tags must be a JSON object")
        parsed.append({key(k): _tag_value(v) for k, v in value.items() if v is not None and v != ""})
    return _per_row(codes, parsed)


def _tag_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
