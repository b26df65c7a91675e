"""Dimension tables of the retail demo (calendar, currencies, customers, products, stores).

Each builder returns the Arrow table to load plus the numpy arrays the fact generator needs
(popularity weights, signup and opening days, prices per currency), so facts are drawn from the
same arrays the dimensions were built from and can never disagree with them.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from analytics_ext.demo import reference_data as ref
from analytics_ext.demo.arrays import (
    day_numbers,
    decimal_array,
    labels,
    month_index,
    weekday,
    weighted_index,
)

START_DATE = np.datetime64("2022-01-01", "D")
END_DATE = np.datetime64("2025-12-31", "D")
SIGNUP_START = np.datetime64("2018-01-01", "D")
ANNUAL_GROWTH = 1.22

# Relative demand by month (Jan..Dec) and by weekday (Mon..Sun), before the holiday events.
_MONTH_DEMAND = np.array([0.82, 0.78, 0.92, 0.93, 0.97, 0.95, 0.94, 0.99, 0.94, 1.0, 1.1, 1.3])
_WEEKDAY_DEMAND = np.array([0.86, 0.84, 0.90, 0.95, 1.10, 1.35, 1.00])

# name -> demand multiplier on that day
_EVENT_DEMAND: dict[str, float] = {
    "New Year's Day": 0.45,
    "Valentine's Day": 1.15,
    "Black Friday": 2.6,
    "Cyber Monday": 1.9,
    "Christmas Eve": 0.9,
    "Christmas Day": 0.2,
    "Boxing Day": 1.8,
    "New Year's Eve": 0.7,
}


# --- calendar ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """The order period: one entry per day, with its relative order volume."""

    days: np.ndarray  # datetime64[D]
    demand: np.ndarray  # relative expected number of orders that day
    events: tuple[str | None, ...]
    table: pa.Table


def _events_by_day(years: range) -> dict[dt.date, str]:
    events: dict[dt.date, str] = {}
    for year in years:
        november_first = dt.date(year, 11, 1)
        thanksgiving = november_first + dt.timedelta(days=(3 - november_first.weekday()) % 7 + 21)
        events[dt.date(year, 1, 1)] = "New Year's Day"
        events[dt.date(year, 2, 14)] = "Valentine's Day"
        events[thanksgiving + dt.timedelta(days=1)] = "Black Friday"
        events[thanksgiving + dt.timedelta(days=4)] = "Cyber Monday"
        events[dt.date(year, 12, 24)] = "Christmas Eve"
        events[dt.date(year, 12, 25)] = "Christmas Day"
        events[dt.date(year, 12, 26)] = "Boxing Day"
        events[dt.date(year, 12, 31)] = "New Year's Eve"
    return events


def build_calendar(rng: np.random.Generator) -> Calendar:
    """Daily demand = growth trend x month x weekday x holiday events x a little noise.

    December ramps up to Christmas and Black Friday week is busy, so monthly revenue shows the
    peaks analysts expect; the trend compounds ``ANNUAL_GROWTH`` a year.
    """
    days = np.arange(START_DATE, END_DATE + 1, dtype="datetime64[D]")
    dates = [START_DATE.astype(dt.date) + dt.timedelta(days=i) for i in range(len(days))]
    events_by_day = _events_by_day(range(dates[0].year, dates[-1].year + 1))
    events = tuple(events_by_day.get(day) for day in dates)

    years_elapsed = (day_numbers(days) - day_numbers(days[:1])) / 365.25
    demand = ANNUAL_GROWTH**years_elapsed
    demand *= _MONTH_DEMAND[month_index(days)] * _WEEKDAY_DEMAND[weekday(days)]
    day_of_month = np.array([day.day for day in dates])
    december = month_index(days) == 11
    demand *= np.where(december & (day_of_month <= 23), 1.0 + 0.6 * day_of_month / 23, 1.0)
    demand *= np.array([_EVENT_DEMAND.get(event, 1.0) if event else 1.0 for event in events])
    black_friday_week = _days_after_event(events, "Black Friday", 4)
    demand *= np.where(black_friday_week, 1.3, 1.0)
    demand *= rng.lognormal(0.0, 0.06, len(days))

    table = pa.table(
        {
            "date": pa.array(days),
            "year": pa.array([day.year for day in dates], pa.int32()),
            "quarter": pa.array([(day.month - 1) // 3 + 1 for day in dates], pa.int32()),
            "month": pa.array([day.month for day in dates], pa.int32()),
            "month_name": pa.array([ref.MONTH_NAMES[day.month - 1] for day in dates]),
            "iso_week": pa.array([day.isocalendar()[1] for day in dates], pa.int32()),
            "day_of_month": pa.array(day_of_month, pa.int32()),
            "day_of_week": pa.array([day.isoweekday() for day in dates], pa.int32()),
            "day_name": pa.array([ref.DAY_NAMES[day.weekday()] for day in dates]),
            "is_weekend": pa.array([day.weekday() >= 5 for day in dates]),
            "event": pa.array(list(events), pa.string()),
        }
    )
    return Calendar(days, demand, events, table)


def _days_after_event(events: tuple[str | None, ...], name: str, span: int) -> np.ndarray:
    """Mask of the ``span`` days following each occurrence of event ``name``."""
    mask = np.zeros(len(events), dtype=bool)
    for i, event in enumerate(events):
        if event == name:
            mask[i + 1 : i + 1 + span] = True
    return mask


def build_currencies() -> pa.Table:
    codes, names, rates = zip(*ref.CURRENCIES, strict=True)
    usd_rate = np.array([round(rate * 10_000) for rate in rates], dtype=np.int64)
    return pa.table(
        {"code": list(codes), "name": list(names), "usd_rate": decimal_array(usd_rate, 10, 4)}
    )


def currency_index(country: ref.Country) -> int:
    return [code for code, _, _ in ref.CURRENCIES].index(country.currency)


# --- customers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customers:
    """Customers sorted by signup day; ``weight`` is how often each one orders (Pareto-tailed)."""

    table: pa.Table
    signup_day: np.ndarray  # int64 days since epoch, ascending
    country: np.ndarray  # index into ref.COUNTRIES
    segment: np.ndarray  # index into ref.SEGMENTS
    weight: np.ndarray


def _ascii_slug(text: str) -> str:
    """Email-safe lowercase ASCII: 'van den Berg' -> 'vandenberg', 'Müller' -> 'muller'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _slugs(words: tuple[str, ...]) -> list[str]:
    return [_ascii_slug(word) for word in words]


def _signup_days(rng: np.random.Generator, count: int) -> np.ndarray:
    """40 % signed up before the order period (so day one has customers), the rest during it."""
    before = max(1, round(count * 0.4))
    early = rng.integers(day_numbers(SIGNUP_START), day_numbers(START_DATE), before)
    span = day_numbers(END_DATE) - day_numbers(START_DATE) + 1
    # Later signups are more frequent: invert the CDF of an exponential growth curve.
    growth = math.log(ANNUAL_GROWTH) / 365.25
    u = rng.random(count - before)
    late = day_numbers(START_DATE) + np.log1p(u * math.expm1(growth * span)) / growth
    return np.sort(np.concatenate([early, np.floor(late).astype(np.int64)]))


def build_customers(rng: np.random.Generator, count: int) -> Customers:
    signup_day = _signup_days(rng, count)
    shares = np.array([country.customer_share for country in ref.COUNTRIES])
    country = weighted_index(rng, shares, count)
    segment = weighted_index(rng, np.array([share for _, share, _ in ref.SEGMENTS]), count)
    ids = np.arange(1, count + 1)

    names = np.empty(count, dtype=object)
    emails = np.empty(count, dtype=object)
    cities = np.empty(count, dtype=object)
    domains = ref.EMAIL_DOMAINS
    domain = rng.integers(0, len(domains), count)
    for c, spec in enumerate(ref.COUNTRIES):
        rows = np.flatnonzero(country == c)
        firsts, lasts = ref.FIRST_NAMES[spec.language], ref.LAST_NAMES[spec.language]
        first_slugs, last_slugs = map(_slugs, (firsts, lasts))
        first = rng.integers(0, len(firsts), len(rows))
        last = rng.integers(0, len(lasts), len(rows))
        city = weighted_index(rng, np.array([city.weight for city in spec.cities]), len(rows))
        for row, f, la, ci in zip(rows, first, last, city, strict=True):
            names[row] = f"{firsts[f]} {lasts[la]}"
            emails[row] = f"{first_slugs[f]}.{last_slugs[la]}{ids[row]}@{domains[domain[row]]}"
            cities[row] = spec.cities[ci].name

    activity = np.minimum(rng.pareto(1.3, count) + 1.0, 80.0)
    weight = activity * np.array([factor for _, _, factor in ref.SEGMENTS])[segment]
    table = pa.table(
        {
            "id": pa.array(ids, pa.int32()),
            "name": pa.array(names.tolist(), pa.string()),
            "email": pa.array(emails.tolist(), pa.string()),
            "city": pa.array(cities.tolist(), pa.string()),
            "country": labels([spec.name for spec in ref.COUNTRIES], country),
            "segment": labels([name for name, _, _ in ref.SEGMENTS], segment),
            "signup_date": pa.array(signup_day.astype("datetime64[D]")),
        }
    )
    return Customers(table, signup_day, country, segment, weight)


# --- products ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Products:
    """Products grouped by category (ids are contiguous per category), with demand weights."""

    table: pa.Table
    category: np.ndarray  # index into ref.CATEGORIES
    popularity: np.ndarray  # Zipf-like weight within the category
    local_price: np.ndarray  # cents, shape (products, currencies)


def _category_sizes(total: int) -> list[int]:
    """Split ``total`` products by catalog share (largest remainder, so sizes sum exactly)."""
    shares = np.array([category.catalog_share for category in ref.CATEGORIES])
    exact = shares / shares.sum() * total
    sizes = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - sizes), kind="stable")[: total - sizes.sum()]:
        sizes[i] += 1
    return [max(int(size), len(ref.CATEGORIES[i].subcategories)) for i, size in enumerate(sizes)]


def shelf_price_cents(price: np.ndarray) -> np.ndarray:
    """Snap prices (in cents) to shelf price points: x.99 above 10, x.x9 below."""
    whole = np.ceil(price / 100.0) * 100 - 1
    tenths = np.ceil(price / 10.0) * 10 - 1
    return np.where(price >= 1000, whole, np.maximum(tenths, 49)).astype(np.int64)


def _product_names(
    rng: np.random.Generator, category: ref.Category, subcategory: np.ndarray
) -> tuple[list[str], list[str]]:
    """Brand + adjective + noun; repeats get a model number so names stay unique per brand."""
    brand_weights = 1.0 / np.arange(1, len(category.brands) + 1) ** 0.8
    brand = weighted_index(rng, brand_weights, len(subcategory))
    adjective = rng.integers(0, len(ref.PRODUCT_ADJECTIVES), len(subcategory))
    noun_pick = rng.random(len(subcategory))
    seen: dict[str, int] = {}
    names, brands = [], []
    for b, a, s, u in zip(brand, adjective, subcategory, noun_pick, strict=True):
        nouns = category.subcategories[s].nouns
        base = f"{category.brands[b]} {ref.PRODUCT_ADJECTIVES[a]} {nouns[int(u * len(nouns))]}"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
        brands.append(category.brands[b])
    return names, brands


def build_products(rng: np.random.Generator, count: int) -> Products:
    """Catalog with log-normal prices per subcategory, margins per category, Zipf popularity."""
    columns: dict[str, list] = {key: [] for key in ("name", "category", "subcategory", "brand")}
    category_idx, popularity, price, cost, skus = [], [], [], [], []
    next_id = 1
    for c, (category, size) in enumerate(zip(ref.CATEGORIES, _category_sizes(count), strict=True)):
        subcats = category.subcategories
        subcategory = rng.integers(0, len(subcats), size)
        subcategory[: len(subcats)] = np.arange(len(subcats))  # every subcategory is stocked
        subcategory = np.sort(subcategory, kind="stable")
        median = np.array([s.median_price for s in subcats])[subcategory]
        sigma = np.array([s.price_sigma for s in subcats])[subcategory]
        usd = np.clip(rng.lognormal(np.log(median), sigma), median / 8, median * 8)
        list_price = shelf_price_cents(usd * 100)
        margin = rng.uniform(*category.margin, size)
        names, brands = _product_names(rng, category, subcategory)

        columns["name"] += names
        columns["brand"] += brands
        columns["category"] += [category.name] * size
        columns["subcategory"] += [subcats[s].name for s in subcategory]
        skus += [f"{category.code}-{next_id + i:06d}" for i in range(size)]
        category_idx.append(np.full(size, c))
        popularity.append(1.0 / (rng.permutation(size) + 1.0) ** 0.9)
        price.append(list_price)
        cost.append(np.maximum(np.round(list_price * margin), 1).astype(np.int64))
        next_id += size

    price_cents = np.concatenate(price)
    table = pa.table(
        {
            "id": pa.array(np.arange(1, next_id), pa.int32()),
            "sku": pa.array(skus, pa.string()),
            **{key: pa.array(values, pa.string()) for key, values in columns.items()},
            "unit_price": decimal_array(price_cents, 10, 2),
            "cost": decimal_array(np.concatenate(cost), 10, 2),
        }
    )
    usd_per_unit = np.array([rate for _, _, rate in ref.CURRENCIES])
    local = shelf_price_cents(price_cents[:, None] / usd_per_unit[None, :])
    local[:, 0] = price_cents  # USD shelf price is the list price itself
    return Products(table, np.concatenate(category_idx), np.concatenate(popularity), local)


# --- stores -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stores:
    """Stores sorted by opening day (ids grow with it); physical ones serve their own country."""

    table: pa.Table
    opened_day: np.ndarray  # int64 days since epoch, ascending
    country: np.ndarray  # index into ref.COUNTRIES of the store's location
    traffic: np.ndarray  # relative share of its country's in-store orders
    online: np.ndarray  # bool
    format: np.ndarray  # index into STORE_FORMATS, len(STORE_FORMATS) = online
    online_store_for_country: np.ndarray  # country index -> store row serving it online


def _random_days(rng: np.random.Generator, first: str, last: str, size: int) -> np.ndarray:
    lo, hi = day_numbers(np.datetime64(first, "D")), day_numbers(np.datetime64(last, "D"))
    return rng.integers(lo, hi + 1, size)


def _physical_store_rows(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """(country, city, format) for every physical store: a flagship and an outlet per country."""
    rows = []
    formats = [name for name, _, _ in ref.STORE_FORMATS]
    for c, country in enumerate(ref.COUNTRIES):
        outlet_city = int(rng.integers(1, len(country.cities)))
        for i, _city in enumerate(country.cities):
            if i == 0:
                rows.append((c, i, formats.index("flagship")))
            mall = i == 0 or rng.random() < 0.5
            rows.append((c, i, formats.index("mall" if mall else "high_street")))
            if i == outlet_city:
                rows.append((c, i, formats.index("outlet")))
    return rows


def build_stores(rng: np.random.Generator) -> Stores:
    rows = _physical_store_rows(rng)
    flagship = np.array([f == 0 for _, _, f in rows])
    opened = _random_days(rng, "2010-01-01", "2021-12-31", len(rows))
    new_store = rng.random(len(rows)) < 0.22
    opened = np.where(new_store, _random_days(rng, "2022-02-01", "2025-06-30", len(rows)), opened)
    opened = np.where(flagship, _random_days(rng, "2005-01-01", "2012-12-31", len(rows)), opened)

    codes = [country.code for country in ref.COUNTRIES]
    online_rows = [
        (codes.index(home), 0, len(ref.STORE_FORMATS)) for _, home, _ in ref.ONLINE_STORES
    ]
    online_opened = _random_days(rng, "2012-01-01", "2016-12-31", len(online_rows))

    all_rows = rows + online_rows
    opened_all = np.concatenate([opened, online_opened])
    order = np.argsort(opened_all, kind="stable")
    format_names = [name for name, _, _ in ref.STORE_FORMATS] + ["online"]
    format_labels = [label for _, label, _ in ref.STORE_FORMATS]
    traffic_by_format = [traffic for _, _, traffic in ref.STORE_FORMATS] + [0.0]

    names, cities, regions, countries, fmt, traffic = [], [], [], [], [], []
    for i in order:
        c, city_idx, f = all_rows[i]
        city = ref.COUNTRIES[c].cities[city_idx]
        is_online = f == len(ref.STORE_FORMATS)
        names.append(
            ref.ONLINE_STORES[i - len(rows)][0] if is_online else f"{city.name} {format_labels[f]}"
        )
        cities.append(city.name)
        regions.append("Online" if is_online else city.region)
        countries.append(c)
        fmt.append(f)
        traffic.append(traffic_by_format[f] * city.weight**0.3)

    fmt_arr, country_arr = np.array(fmt), np.array(countries)
    online = fmt_arr == len(ref.STORE_FORMATS)
    serving = np.zeros(len(ref.COUNTRIES), dtype=np.int64)
    for row in np.flatnonzero(online):
        name = names[row]
        served = next(serves for store, _, serves in ref.ONLINE_STORES if store == name)
        for code in served:
            serving[codes.index(code)] = row

    table = pa.table(
        {
            "id": pa.array(np.arange(1, len(order) + 1), pa.int32()),
            "name": pa.array(names, pa.string()),
            "city": pa.array(cities, pa.string()),
            "region": pa.array(regions, pa.string()),
            "country": labels([country.name for country in ref.COUNTRIES], country_arr),
            "opened_on": pa.array(opened_all[order].astype("datetime64[D]")),
            "format": labels(format_names, fmt_arr),
        }
    )
    return Stores(
        table, opened_all[order], country_arr, np.array(traffic), online, fmt_arr, serving
    )
