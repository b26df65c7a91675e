"""Vectorised helpers shared by the demo table builders: dates as day numbers, exact decimals,
label columns and weighted draws, all without per-row Python loops."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def day_numbers(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as int64, the representation all the vectorised maths uses."""
    return days.astype("datetime64[D]").astype(np.int64)


def weekday(days: np.ndarray) -> np.ndarray:
    """0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday)."""
    return (day_numbers(days) + 3) % 7


def month_index(days: np.ndarray) -> np.ndarray:
    """0 = January .. 11 = December."""
    return days.astype("datetime64[M]").astype(np.int64) % 12


def decimal_array(unscaled: np.ndarray, precision: int, scale: int) -> pa.Array:
    """Arrow decimal128 from integer cents (or basis points) without a float round trip.

    Money is computed in integer minor units so every total is exact; this lays the int64 values
    out as little-endian 128-bit integers, which is exactly Arrow's decimal128 buffer format.
    """
    values = np.ascontiguousarray(unscaled, dtype="<i8")
    words = np.empty((len(values), 2), dtype="<i8")
    words[:, 0] = values
    words[:, 1] = values >> 63
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), len(values), [None, pa.py_buffer(words)]
    )


def labels(names: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    """A string column from small-integer codes, built by Arrow's take (no Python loop)."""
    return pa.array(list(names), pa.string()).take(pa.array(index, pa.int64()))


def weighted_index(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Draw ``size`` indices with probability proportional to ``weights``."""
    cumulative = np.cumsum(weights, dtype=np.float64)
    picks = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
    return np.minimum(picks, len(weights) - 1)
