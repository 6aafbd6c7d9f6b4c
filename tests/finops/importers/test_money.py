from __future__ import annotations

import csv
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from tests.finops.importers.support import FOCUS_HEADER, focus_row, read_all

decimal_texts = st.builds(
    lambda digits, places: format(Decimal(digits).scaleb(-places), "f"),
    st.integers(min_value=-(10**24), max_value=10**24),
    st.integers(min_value=0, max_value=19),
)


def focus_csv(rows: list[dict[str, str]]) -> io.BytesIO:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=FOCUS_HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode())


@given(st.lists(decimal_texts, min_size=1, max_size=30))
def test_it_keeps_decimal_text_exactly(costs):
    rows = [focus_row(BilledCost=cost, EffectiveCost=cost, ListCost=cost, Tags="") for cost in costs]

    frame = read_all(focus_csv(rows))

    assert list(frame.billed_cost) == costs
    assert [Decimal(value) for value in frame.effective_cost] == [Decimal(cost) for cost in costs]


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30))
def test_it_converts_parquet_floats_through_their_shortest_repr(costs):
    rows = focus_row()
    table = pa.table(
        {
            "ChargePeriodStart": [rows["ChargePeriodStart"]] * len(costs),
            "ChargePeriodEnd": [rows["ChargePeriodEnd"]] * len(costs),
            "ChargeCategory": ["Usage"] * len(costs),
            "BillingAccountId": ["000123456789"] * len(costs),
            "BilledCost": pa.array(costs, pa.float64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    sink.seek(0)

    frame = read_all(sink)

    assert [Decimal(value) for value in frame.billed_cost] == [Decimal(repr(cost)) for cost in costs]
    assert not any("e" in value for value in frame.billed_cost)
    assert list(frame.effective_cost) == list(frame.billed_cost)
