"""The sandbox's generated data, built once per (seed, size, today) and shared by every handler."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

import pandas as pd

from sandbox.billing import billing_lines
from sandbox.catalogue import DEFAULT_SEED, SIZES, Catalogue, catalogue_build
from sandbox.cost_explorer import CostData, cost_data_build

SIZE_VARIABLE = "COSTPLANE_SANDBOX_SIZE"
TODAY_VARIABLE = "COSTPLANE_SANDBOX_TODAY"
SEED_VARIABLE = "COSTPLANE_SANDBOX_SEED"


@dataclass(frozen=True)
class Dataset:
    catalogue: Catalogue
    lines: pd.DataFrame
    cost_data: CostData


@lru_cache(maxsize=4)
def sandbox_dataset(seed: int, size: str, today: date) -> Dataset:
    catalogue = catalogue_build(seed=seed, size=size, today=today)
    lines = billing_lines(catalogue)
    return Dataset(catalogue=catalogue, lines=lines, cost_data=cost_data_build(lines, catalogue))


def environment_settings() -> tuple[int, str, date]:
    """(seed, size, today) from COSTPLANE_SANDBOX_SEED / _SIZE / _TODAY, read at call time."""
    size = os.environ.get(SIZE_VARIABLE) or "small"
    if size not in SIZES:
        raise ValueError(f"{SIZE_VARIABLE} must be one of {SIZES}, not {size!r}")
    today_text = os.environ.get(TODAY_VARIABLE)
    today = date.fromisoformat(today_text) if today_text else datetime.now(UTC).date()
    return int(os.environ.get(SEED_VARIABLE) or DEFAULT_SEED), size, today


def dataset_from_environment() -> Dataset:
    return sandbox_dataset(*environment_settings())
