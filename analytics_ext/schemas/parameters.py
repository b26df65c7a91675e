"""Typed parameters of saved queries and templates, and the values a run binds for them.

A definition says what a parameter accepts (text, number, date, date range, one of a list) and
its default; ``bind_values`` turns the values a caller sent into the ``:name`` bindings the
engine hands to the driver, refusing anything that does not fit with a 422 naming the
parameter. Values are never spliced into SQL: a date range binds two names, ``:<name>_start``
and ``:<name>_end``, so the SQL reads ``BETWEEN :period_start AND :period_end``.

Date defaults may be relative (``today``, ``today-7d``, ``today+1d``) so a saved "last week"
query stays last week; they are resolved when the query runs, in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from ..errors import Invalid
from .base import RequestModel

MAX_PARAMETERS = 50
MAX_OPTIONS = 1000
ParameterName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
_RELATIVE_DATE = re.compile(r"^today(?:([+-])(\d{1,5})d)?$")

DateValue = Annotated[str, Field(max_length=16)]
"""An ISO date (``2026-01-31``) or a relative one (``today``, ``today-7d``)."""
Scalar = StrictStr | StrictInt | StrictFloat


def resolve_date(value: str, today: dt.date | None = None) -> dt.date:
    """An ISO date, or ``today[+-Nd]`` counted from ``today`` (default: the UTC date now)."""
    match = _RELATIVE_DATE.match(value)
    if match:
        base = today or dt.datetime.now(dt.UTC).date()
        sign, days = match.groups()
        offset = int(days or 0) * (-1 if sign == "-" else 1)
        return base + dt.timedelta(days=offset)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD) or today[+-N]d") from None


def _check_date(value: str | None) -> None:
    if value is not None:
        resolve_date(value)


class _Parameter(RequestModel):
    name: ParameterName
    label: str = Field("", max_length=200)
    """What a form shows (the name if empty)."""
    description: str = Field("", max_length=2000)
    required: bool = False
    """A run must give a value when there is no default."""


class TextParameter(_Parameter):
    type: Literal["text"]
    default: StrictStr | None = Field(None, max_length=10_000)
    max_length: int = Field(10_000, ge=1, le=1_000_000)


class NumberParameter(_Parameter):
    type: Literal["number"]
    default: StrictInt | StrictFloat | None = None
    integer: bool = False
    minimum: StrictInt | StrictFloat | None = None
    maximum: StrictInt | StrictFloat | None = None

    @model_validator(mode="after")
    def _default_fits(self) -> NumberParameter:
        if self.default is not None:
            self.check(self.default)
        return self

    def check(self, value: float | int) -> None:
        if self.integer and not float(value).is_integer():
            raise ValueError("must be a whole number")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum}")


class DateParameter(_Parameter):
    type: Literal["date"]
    default: DateValue | None = None

    @model_validator(mode="after")
    def _default_is_a_date(self) -> DateParameter:
        _check_date(self.default)
        return self


class DateRange(RequestModel):
    start: DateValue
    end: DateValue

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if resolve_date(self.start) > resolve_date(self.end):
            raise ValueError("start must not be after end")
        return self


class DateRangeParameter(_Parameter):
    type: Literal["date_range"]
    default: DateRange | None = None


class EnumParameter(_Parameter):
    type: Literal["enum"]
    options: list[Scalar] = Field(min_length=1, max_length=MAX_OPTIONS)
    default: Scalar | None = None

    @model_validator(mode="after")
    def _default_is_an_option(self) -> EnumParameter:
        if len(set(map(repr, self.options))) != len(self.options):
            raise ValueError("options must be distinct")
        if self.default is not None and self.default not in self.options:
            raise ValueError("default must be one of the options")
        return self


QueryParameter = Annotated[
    TextParameter | NumberParameter | DateParameter | DateRangeParameter | EnumParameter,
    Field(discriminator="type"),
]
ParameterList = Annotated[list[QueryParameter], Field(max_length=MAX_PARAMETERS)]

ParameterInput = StrictStr | StrictBool | StrictInt | StrictFloat | dict[str, StrictStr] | None
"""What a run may send for one parameter: a JSON scalar, or ``{"start", "end"}`` for a range."""


def check_unique_names(parameters: Sequence[_Parameter]) -> None:
    """Two definitions of one name, or a range whose bound names clash with another: 422."""
    seen: set[str] = set()
    for index, parameter in enumerate(parameters):
        names = bound_names(parameter)
        clash = seen.intersection(names)
        if clash:
            raise Invalid(f"parameters.{index}.name", f"{sorted(clash)[0]!r} is defined twice")
        seen.update(names)


def bound_names(parameter: _Parameter) -> list[str]:
    """The ``:names`` a definition binds (a date range binds two)."""
    if isinstance(parameter, DateRangeParameter):
        return [f"{parameter.name}_start", f"{parameter.name}_end"]
    return [parameter.name]


def bind_values(
    parameters: Sequence[_Parameter],
    values: Mapping[str, Any],
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The driver bindings for ``values`` (defaults fill the gaps): 422 naming the parameter
    for an unknown name, a missing required value or a value of the wrong type."""
    by_name = {parameter.name: parameter for parameter in parameters}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise Invalid(f"parameters.{unknown[0]}", "is not a parameter of this query")
    bindings: dict[str, Any] = {}
    for parameter in parameters:
        raw = values.get(parameter.name, parameter.default)
        if isinstance(raw, DateRange):
            raw = {"start": raw.start, "end": raw.end}
        where = f"parameters.{parameter.name}"
        if raw is None:
            if parameter.required:
                raise Invalid(where, "a value is required")
            bindings.update(dict.fromkeys(bound_names(parameter)))
            continue
        try:
            bindings.update(_coerce(parameter, raw, today))
        except ValueError as error:
            raise Invalid(where, str(error)) from None
    return bindings


def _coerce(parameter: _Parameter, raw: Any, today: dt.date | None) -> dict[str, Any]:
    name = parameter.name
    if isinstance(parameter, TextParameter):
        if not isinstance(raw, str):
            raise ValueError("must be text")
        if len(raw) > parameter.max_length:
            raise ValueError(f"must be at most {parameter.max_length} characters")
        return {name: raw}
    if isinstance(parameter, NumberParameter):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError("must be a number")
        parameter.check(raw)
        return {name: int(raw) if parameter.integer else raw}
    if isinstance(parameter, DateParameter):
        if not isinstance(raw, str):
            raise ValueError("must be an ISO date (YYYY-MM-DD) or today[+-N]d")
        return {name: resolve_date(raw, today)}
    if isinstance(parameter, DateRangeParameter):
        if not isinstance(raw, dict) or set(raw) != {"start", "end"}:
            raise ValueError('must be {"start": date, "end": date}')
        start, end = resolve_date(raw["start"], today), resolve_date(raw["end"], today)
        if start > end:
            raise ValueError("start must not be after end")
        return {f"{name}_start": start, f"{name}_end": end}
    if isinstance(parameter, EnumParameter):
        if raw not in parameter.options or isinstance(raw, bool):
            shown = ", ".join(repr(option) for option in parameter.options[:10])
            raise ValueError(f"must be one of: {shown}")
        return {name: raw}
    raise AssertionError(f"unhandled parameter type {type(parameter).__name__}")
