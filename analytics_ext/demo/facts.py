"""Fact tables of the retail demo: orders and order lines, drawn from the dimensions' arrays.

Everything is vectorised over all rows at once (no per-order Python loop), which is what makes a
million order lines take about a second to generate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from analytics_ext.demo import reference_data as ref
from analytics_ext.demo.arrays import (
    day_numbers,
    decimal_array,
    labels,
    month_index,
    weighted_index,
)
from analytics_ext.demo.dimensions import (
    END_DATE,
    START_DATE,
    Calendar,
    Customers,
    Products,
    Stores,
    currency_index,
)
from analytics_ext.demo.schema import CHANNELS, STATUSES

IN_STORE, CLICK_AND_COLLECT, WEB, MOBILE_APP = range(len(CHANNELS))
COMPLETED, SHIPPED, CANCELLED, RETURNED = range(len(STATUSES))

# Hour-of-day traffic: shops open 9-21 with lunch and after-work peaks; online peaks in the evening.
_SHOP_HOURS = np.array([0] * 9 + [4, 6, 8, 10, 10, 8, 7, 7, 9, 10, 8, 5] + [0] * 3, dtype=float)
_ONLINE_HOURS = np.array(
    [3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 6, 6, 6, 7, 8, 10, 11, 10, 8, 5], dtype=float
)
# Per channel (in_store, click_and_collect, web, mobile_app)
_CANCEL_RATE = np.array([0.004, 0.04, 0.025, 0.02])
_RETURN_RATE = np.array([0.025, 0.05, 0.085, 0.075])
_EXTRA_LINES = np.array([1.6, 1.2, 1.35, 1.1])
_DISCOUNT_PCT = np.array([5, 10, 15, 20, 25, 30, 40, 50])
_DISCOUNT_WEIGHT = np.array([0.20, 0.26, 0.15, 0.15, 0.10, 0.08, 0.04, 0.02])
_OUTLET_FORMAT = [name for name, _, _ in ref.STORE_FORMATS].index("outlet")


@dataclass(frozen=True)
class Orders:
    """The orders table plus per-order arrays that shape the lines (sorted like the table)."""

    table: pa.Table
    month: np.ndarray
    channel: np.ndarray
    currency: np.ndarray
    business: np.ndarray
    outlet: np.ndarray
    sale_season: np.ndarray


def _pick_prefix(rng: np.random.Generator, weights: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """For each draw, pick among the first ``eligible[i]`` items, proportionally to ``weights``.

    Customers are sorted by signup and stores by opening day, so "signed up / open by then" is
    a prefix: one cumulative sum answers every draw without a loop.
    """
    cumulative = np.cumsum(weights, dtype=np.float64)
    limit = cumulative[np.maximum(eligible, 1) - 1]
    picks = np.searchsorted(cumulative, rng.random(len(eligible)) * limit, side="right")
    return np.minimum(picks, np.maximum(eligible, 1) - 1)


def _sale_season(calendar: Calendar) -> np.ndarray:
    """Black Friday to Cyber Monday, and the winter sales from Boxing Day to mid-January."""
    months, day_of_month = month_index(calendar.days), calendar.table["day_of_month"].to_numpy()
    season = ((months == 11) & (day_of_month >= 26)) | ((months == 0) & (day_of_month <= 15))
    for i, event in enumerate(calendar.events):
        if event == "Black Friday":
            season[i : i + 4] = True
    return season


def _online_share(calendar: Calendar, day_idx: np.ndarray) -> np.ndarray:
    """Online grows from 26 % to 40 % over the period; shops are shut on Christmas and New Year."""
    days = day_numbers(calendar.days)
    progress = (days - days[0]) / (days[-1] - days[0])
    share = 0.26 + 0.14 * progress + np.where(month_index(calendar.days) == 11, 0.05, 0.0)
    events = np.array([event or "" for event in calendar.events])
    share = np.where(events == "Cyber Monday", 0.85, share)
    share = np.where(np.isin(events, ["Christmas Day", "New Year's Day"]), 1.0, share)
    return share[day_idx]


def _assign_stores(
    rng: np.random.Generator,
    stores: Stores,
    country: np.ndarray,
    day: np.ndarray,
    online: np.ndarray,
) -> np.ndarray:
    """Online orders go to the customer's storefront, others to a shop open in their country."""
    store = stores.online_store_for_country[country]
    for c in range(len(ref.COUNTRIES)):
        rows = np.flatnonzero(~online & (country == c))
        shops = np.flatnonzero(~stores.online & (stores.country == c))
        eligible = np.searchsorted(stores.opened_day[shops], day[rows], side="right")
        store[rows] = shops[_pick_prefix(rng, stores.traffic[shops], eligible)]
    return store


def _statuses(
    rng: np.random.Generator, channel: np.ndarray, month: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """Cancellations and returns by channel (online returns more, December gifts most); the
    last days of the period still have parcels in transit and returns not yet made."""
    cancel = _CANCEL_RATE[channel]
    returned = _RETURN_RATE[channel] * np.where(month == 11, 1.5, 1.0)
    u = rng.random(len(channel))
    status = np.full(len(channel), COMPLETED)
    status[u < cancel] = CANCELLED
    days_left = int(day_numbers(np.array([END_DATE]))[0]) - day
    status[(u >= cancel) & (u < cancel + returned) & (days_left >= 14)] = RETURNED
    status[(status == COMPLETED) & (channel != IN_STORE) & (days_left < 3)] = SHIPPED
    return status


def build_orders(
    rng: np.random.Generator, count: int, calendar: Calendar, customers: Customers, stores: Stores
) -> Orders:
    per_day = rng.multinomial(count, calendar.demand / calendar.demand.sum())
    day_idx = np.repeat(np.arange(len(calendar.days)), per_day)
    day = day_numbers(calendar.days)[day_idx]

    eligible = np.searchsorted(customers.signup_day, day, side="right")
    customer = _pick_prefix(rng, customers.weight, eligible)
    country = customers.country[customer]

    online = rng.random(count) < _online_share(calendar, day_idx)
    store = _assign_stores(rng, stores, country, day, online)
    progress = (day - int(day_numbers(np.array([START_DATE]))[0])) / (365.25 * 4)
    app = rng.random(count) < 0.18 + 0.27 * progress
    collect = rng.random(count) < 0.04 + 0.05 * progress
    channel = np.where(
        online, np.where(app, MOBILE_APP, WEB), np.where(collect, CLICK_AND_COLLECT, IN_STORE)
    )

    hour = np.where(
        channel == IN_STORE,
        weighted_index(rng, _SHOP_HOURS, count),
        weighted_index(rng, _ONLINE_HOURS, count),
    )
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, count)
    order = np.argsort(seconds, kind="stable")
    day_idx, day, customer, country = day_idx[order], day[order], customer[order], country[order]
    store, channel, seconds = store[order], channel[order], seconds[order]

    month = month_index(calendar.days)[day_idx]
    status = _statuses(rng, channel, month, day)
    currency_of_country = np.array([currency_index(c) for c in ref.COUNTRIES])
    currency = currency_of_country[country]
    table = pa.table(
        {
            "id": pa.array(np.arange(1, count + 1), pa.int32()),
            "customer_id": pa.array(customer + 1, pa.int32()),
            "store_id": pa.array(store + 1, pa.int32()),
            "order_date": pa.array(day.astype("datetime64[D]")),
            "ordered_at": pa.array(seconds.astype("datetime64[s]")),
            "channel": labels(CHANNELS, channel),
            "status": labels(STATUSES, status),
            "currency": labels([code for code, _, _ in ref.CURRENCIES], currency),
        }
    )
    return Orders(
        table,
        month=month,
        channel=channel,
        currency=currency,
        business=customers.segment[customer] > 0,
        outlet=stores.format[store] == _OUTLET_FORMAT,
        sale_season=_sale_season(calendar)[day_idx],
    )


def _line_categories(rng: np.random.Generator, month: np.ndarray) -> np.ndarray:
    """Category per line from month-dependent shares (toys in December, sports in January)."""
    shares = np.array([c.demand_share for c in ref.CATEGORIES])
    seasonal = np.array([c.monthly for c in ref.CATEGORIES]).T * shares  # (12, categories)
    cumulative = np.cumsum(seasonal / seasonal.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(month))
    picks = np.empty(len(month), dtype=np.int64)
    for m in range(12):
        rows = month == m
        picks[rows] = np.searchsorted(cumulative[m], u[rows], side="right")
    return np.minimum(picks, len(ref.CATEGORIES) - 1)


def _line_products(
    rng: np.random.Generator, products: Products, category: np.ndarray
) -> np.ndarray:
    """A product within each line's category, proportional to its (Zipf) popularity."""
    starts = np.searchsorted(products.category, np.arange(len(ref.CATEGORIES)), side="left")
    ends = np.searchsorted(products.category, np.arange(len(ref.CATEGORIES)), side="right")
    cumulative = np.cumsum(products.popularity, dtype=np.float64)
    before = np.concatenate([[0.0], cumulative])
    lo, hi = before[starts][category], cumulative[ends - 1][category]
    picks = np.searchsorted(cumulative, lo + rng.random(len(category)) * (hi - lo), side="right")
    return np.clip(picks, starts[category], ends[category] - 1)


def _line_numbers(order_of_line: np.ndarray) -> np.ndarray:
    """1, 2, 3 ... within each run of equal (sorted) order indices."""
    first = np.flatnonzero(np.r_[True, order_of_line[1:] != order_of_line[:-1]])
    run_lengths = np.diff(np.r_[first, len(order_of_line)])
    return np.arange(len(order_of_line)) - np.repeat(first, run_lengths) + 1


def _discount_pct(
    rng: np.random.Generator, orders: Orders, order_of_line: np.ndarray
) -> np.ndarray:
    """Whole-percent discounts: rare normally, common in sales and at outlet stores."""
    outlet, season = orders.outlet[order_of_line], orders.sale_season[order_of_line]
    chance = np.where(outlet, 0.5, np.where(season, 0.4, 0.07))
    pct = _DISCOUNT_PCT[weighted_index(rng, _DISCOUNT_WEIGHT, len(order_of_line))]
    pct = np.minimum(pct + np.where(outlet, 10, 0), 70)
    return np.where(rng.random(len(order_of_line)) < chance, pct, 0)


def build_order_lines(rng: np.random.Generator, orders: Orders, products: Products) -> pa.Table:
    count = len(orders.channel)
    extra = _EXTRA_LINES[orders.channel] + np.where(orders.business, 0.8, 0.0)
    lines_per_order = 1 + np.minimum(rng.poisson(extra), 19)
    order_of_line = np.repeat(np.arange(count), lines_per_order)
    category = _line_categories(rng, orders.month[order_of_line])
    product = _line_products(rng, products, category)

    # A product appears once per order: drop repeats, keeping the first line for it.
    _, first = np.unique(order_of_line * len(products.category) + product, return_index=True)
    keep = np.sort(first)
    order_of_line, product, category = order_of_line[keep], product[keep], category[keep]

    extra_qty = np.array([c.extra_quantity for c in ref.CATEGORIES])[category]
    extra_qty *= np.where(orders.business[order_of_line], 1.8, 1.0)
    quantity = 1 + np.minimum(rng.poisson(extra_qty), 47)
    price = products.local_price[product, orders.currency[order_of_line]]
    pct = _discount_pct(rng, orders, order_of_line)
    total = (quantity * price * (100 - pct) + 50) // 100  # exact cents, half-up
    return pa.table(
        {
            "order_id": pa.array(order_of_line + 1, pa.int32()),
            "line_number": pa.array(_line_numbers(order_of_line), pa.int32()),
            "product_id": pa.array(product + 1, pa.int32()),
            "quantity": pa.array(quantity, pa.int32()),
            "unit_price": decimal_array(price, 10, 2),
            "discount": decimal_array(pct, 4, 2),
            "line_total": decimal_array(total, 12, 2),
        }
    )
