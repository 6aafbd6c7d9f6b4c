"""The report envelope's money (ARCHITECTURE.md, "Reports API"): at most 20 fractional digits, stored figures as
stored, computed ones rounded half-even so that the items still sum to the total exactly."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from finops.api.reports import frame_envelope
from finops.reports import ReportQuery, money_sum

QUERY = ReportQuery(start=date(2026, 11, 1), end=date(2026, 12, 1), aggregate=("tag:team",))
MONEY_FIELDS = ["cost", "shared_cost", "idle_cost", "training_cost", "cost_per_1000_predictions"]

computed = st.builds(
    lambda numerator, denominator: Decimal(numerator) / Decimal(denominator),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=1, max_value=10**6),
)
stored = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=20, allow_nan=False)
money = st.one_of(computed, stored)
record = st.fixed_dictionaries(
    {
        "tag:team": st.sampled_from(["vision", "speech", "recsys", "__unallocated__"]),
        "period": st.none(),
        **{name: money for name in MONEY_FIELDS},
    }
)


def fractional_digits(text: str) -> int:
    return len(text.partition(".")[2])


def envelope(records: list[dict]) -> dict:
    return frame_envelope(
        QUERY,
        records,
        currency="USD",
        money_fields=MONEY_FIELDS,
        extra={"rules_version": 1},
        totals={"training_cost": "training_total"},
    )


@given(records=st.lists(record, max_size=30))
def test_every_money_string_has_at_most_twenty_fractional_digits_and_items_sum_to_their_totals(records):
    body = envelope(records)
    texts = [body["total"], body["training_total"], *(item[name] for item in body["items"] for name in MONEY_FIELDS)]
    assert all(fractional_digits(text) <= 20 for text in texts)
    # Summed exactly (money_sum): Python's default 28 significant digits would round sums of 12 + 20 digits.
    assert money_sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(body["total"])
    assert money_sum(Decimal(item["training_cost"]) for item in body["items"]) == Decimal(body["training_total"])
    for item, source in zip(body["items"], records, strict=True):
        for name in MONEY_FIELDS:
            assert abs(Decimal(item[name]) - source[name]) < Decimal("1e-20")


def test_it_writes_the_idle_cost_found_with_39_digits_with_20_and_keeps_stored_costs_as_stored():
    idle = Decimal("145714.862876193608980098818750000000000000000")
    body = envelope(
        [
            {"tag:team": "vision", "period": None, "cost": Decimal("200000.5"), "shared_cost": Decimal(0),
             "idle_cost": idle, "training_cost": Decimal("1.25"), "cost_per_1000_predictions": None},
        ]
    )  # fmt: skip
    (item,) = body["items"]
    assert item["idle_cost"] == "145714.86287619360898009882"
    assert (item["cost"], item["shared_cost"], item["training_cost"]) == ("200000.5", "0", "1.25")
    assert item["cost_per_1000_predictions"] is None
    assert (body["total"], body["training_total"]) == ("200000.5", "1.25")


def test_it_makes_three_computed_thirds_add_up_to_the_total_it_shows():
    third = Decimal(100) / 3
    body = envelope(
        [
            {"tag:team": team, "period": None, "cost": third, "shared_cost": third, "idle_cost": Decimal(0),
             "training_cost": Decimal(0), "cost_per_1000_predictions": None}
            for team in ("recsys", "speech", "vision")
        ]
    )  # fmt: skip
    assert body["total"] == "100.00000000000000000000"
    assert [item["cost"] for item in body["items"]] == [
        "33.33333333333333333334",
        "33.33333333333333333333",
        "33.33333333333333333333",
    ]
    assert [item["shared_cost"] for item in body["items"]] == ["33.33333333333333333333"] * 3
