"""Python rows → Arrow record batches, for drivers without an Arrow path (the cursor fallback).

Types come from the driver's column description where it says enough (pymysql's field types:
integers, decimals with precision and scale, timestamps, dates, times) and from the values
otherwise, so MariaDB's DECIMAL(10,2) arrives as decimal128(10, 2), not as float or text. Once a
column's type is known it is fixed for the rest of the result, so every batch shares one schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from analytics_ext.engine.errors import QueryFailed

# pymysql.constants.FIELD_TYPE, spelled out so this module needs no driver import.
_MYSQL_INTS = {1, 2, 3, 8, 9, 13}  # TINY SHORT LONG LONGLONG INT24 YEAR
_MYSQL_DECIMALS = {0, 246}
_MYSQL_HINTS: dict[int, pa.DataType] = {
    4: pa.float32(),
    5: pa.float64(),
    6: pa.null(),
    7: pa.timestamp("us"),
    10: pa.date32(),
    11: pa.duration("us"),  # TIME spans -838:59:59..838:59:59: a duration, as pymysql returns it
    12: pa.timestamp("us"),
    14: pa.date32(),
    16: pa.binary(),
    245: pa.string(),  # JSON
}


def mysql_hints(description: Sequence[Sequence[Any]]) -> list[pa.DataType | None]:
    """Arrow types for a pymysql cursor description (None: decide from the values)."""
    hints: list[pa.DataType | None] = []
    for column in description:
        code = column[1]
        if code in _MYSQL_INTS:
            hints.append(pa.int64())
        elif code in _MYSQL_DECIMALS:
            length, scale = int(column[3] or 0), int(column[5] or 0)
            precision = max(1, length - (1 if scale else 0) - 1)
            precision = max(precision, scale, 1)
            hints.append(pa.decimal128(precision, scale) if precision <= 38 else None)
        else:
            hints.append(_MYSQL_HINTS.get(code))
    return hints


class RowBatcher:
    """Turns lists of row tuples into record batches of one stable schema."""

    def __init__(self, names: Sequence[str], hints: Sequence[pa.DataType | None]) -> None:
        self.names = _unique(names)
        self.types: list[pa.DataType | None] = list(hints)
        self._emitted: set[int] = set()
        """Columns already sent with a non-null type: their type can no longer change."""

    def convert(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in self.names]
        arrays = [self._column(index, list(values)) for index, values in enumerate(columns)]
        return pa.RecordBatch.from_arrays(arrays, names=self.names)

    def _column(self, index: int, values: list[Any]) -> pa.Array:
        wanted = self.types[index]
        if wanted is not None and not pa.types.is_null(wanted):
            array = _convert(values, wanted)
            if array is None and pa.types.is_decimal(wanted) and index not in self._emitted:
                # An UNSIGNED decimal carries one more digit than the signed formula allows.
                wanted = pa.decimal128(min(38, wanted.precision + 1), wanted.scale)
                array = _convert(values, wanted)
            if array is not None:
                self.types[index] = wanted
                self._emitted.add(index)
                return array
            if index in self._emitted:
                raise QueryFailed(
                    f"column {self.names[index]!r} holds values of more than one type "
                    f"(first {wanted}); CAST it in the query"
                )
        array = _infer(values)
        if not pa.types.is_null(array.type):
            self.types[index] = array.type
            self._emitted.add(index)
        return array


def _convert(values: list[Any], wanted: pa.DataType) -> pa.Array | None:
    try:
        return pa.array(values, type=wanted)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return None


def _infer(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return pa.array([None if value is None else str(value) for value in values], pa.string())


def _unique(names: Sequence[str]) -> list[str]:
    """Column names made unique (``a``, ``a_2``): pandas and JSON need unique names."""
    seen: dict[str, int] = {}
    result: list[str] = []
    for name in names:
        label = str(name) or "column"
        if label in seen:
            seen[label] += 1
            label = f"{label}_{seen[label]}"
            while label in seen:
                label += "_"
        seen.setdefault(label, 1)
        result.append(label)
    return result
