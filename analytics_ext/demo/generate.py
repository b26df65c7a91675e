"""Turn (seed, scale) into the retail tables as Arrow, deterministically.

Each table draws from its own random stream, ``default_rng([seed, stream number])``: the numbers
are fixed below rather than derived from ``hash()`` (randomised per process), and a change to how
one table is drawn leaves the others' streams untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from analytics_ext.demo.dimensions import (
    build_calendar,
    build_currencies,
    build_customers,
    build_products,
    build_stores,
)
from analytics_ext.demo.facts import build_order_lines, build_orders

_STREAMS = {"calendar": 1, "customers": 2, "products": 3, "stores": 4, "orders": 5, "lines": 6}


@dataclass(frozen=True)
class RetailSizes:
    """Row targets for a scale: facts and customers grow linearly, the catalog with sqrt(scale),
    and the store network is fixed (it is geography, not volume)."""

    customers: int
    products: int
    orders: int

    @classmethod
    def for_scale(cls, scale: float) -> RetailSizes:
        return cls(
            customers=max(200, round(50_000 * scale)),
            products=max(120, round(2_500 * math.sqrt(scale))),
            # ~2.72 lines per order: about 1,000,000 order lines at scale 1.0
            orders=max(100, round(367_000 * scale)),
        )


def _stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[name]])


def build_tables(
    seed: int, scale: float, report: Callable[[str], None] = lambda _message: None
) -> dict[str, pa.Table]:
    """All tables in load order (every table after the ones it references)."""
    sizes = RetailSizes.for_scale(scale)
    calendar = build_calendar(_stream(seed, "calendar"))
    customers = build_customers(_stream(seed, "customers"), sizes.customers)
    products = build_products(_stream(seed, "products"), sizes.products)
    stores = build_stores(_stream(seed, "stores"))
    orders = build_orders(_stream(seed, "orders"), sizes.orders, calendar, customers, stores)
    order_lines = build_order_lines(_stream(seed, "lines"), orders, products)
    tables = {
        "currencies": build_currencies(),
        "dates": calendar.table,
        "customers": customers.table,
        "products": products.table,
        "stores": stores.table,
        "orders": orders.table,
        "order_lines": order_lines,
    }
    for name, table in tables.items():
        report(f"{name}: {table.num_rows:,} rows")
    return tables
