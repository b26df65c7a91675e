"""The form of a query's parameters: one input per parameter, built from the saved query's
typed definitions (text, number, date, date_range, enum) or, for ad-hoc SQL, from the ``:name``
placeholders in the statement.

Values go to the server as JSON and are bound there by the driver; nothing here splices them
into SQL. A typed form sends what the definitions ask for (a date range as ``{"start", "end"}``);
an ad-hoc form sends numbers for text that reads as a number and text otherwise, and saves
definitions inferred the same way, with the values in the form as their defaults.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets

_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]{0,62})")
_RELATIVE_DATE = re.compile(r"^today(?:([+-])(\d{1,5})d)?$")
_WIDE = {"description_width": "140px"}


def placeholders(sql: str) -> list[str]:
    """The ``:name`` placeholders of ``sql`` in order, each once; text in quotes and comments
    and PostgreSQL's ``::type`` casts are not placeholders."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(_LITERALS.sub(" ", sql))))


def resolve_date(value: str | None) -> dt.date | None:
    """An ISO date, or a relative default (``today``, ``today-7d``) as of today (UTC), as the
    server resolves it."""
    if not value:
        return None
    match = _RELATIVE_DATE.match(value)
    if match:
        sign, days = match.groups()
        offset = int(days or 0) * (-1 if sign == "-" else 1)
        return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _number(text: str) -> int | float:
    """``text`` as a JSON number (``ValueError`` otherwise: no NaN, no infinity)."""
    if not _NUMBER.match(text):
        raise ValueError(text)
    try:
        return int(text)
    except ValueError:
        return float(text)


class ParameterForm(widgets.VBox):
    """Inputs for a query's parameters; ``values()`` reads them for a run."""

    def __init__(self) -> None:
        super().__init__([])
        self.definitions: list[dict[str, Any]] = []
        """The typed definitions shown (empty for an ad-hoc form)."""
        self._inputs: dict[str, widgets.Widget] = {}

    @property
    def names(self) -> list[str]:
        return list(self._inputs)

    def show_definitions(self, definitions: Sequence[Mapping[str, Any]]) -> None:
        """A typed form, each input holding the parameter's default."""
        self.definitions = [dict(d) for d in definitions]
        self._inputs = {d["name"]: self._typed_input(d) for d in self.definitions}
        self.children = tuple(self._inputs.values())

    def show_placeholders(self, sql: str) -> None:
        """An ad-hoc form for the placeholders of ``sql``; inputs already there keep their text."""
        if self.definitions:
            return
        names = placeholders(sql)
        if names == self.names:
            return
        old = self._inputs
        self._inputs = {
            name: old.get(name) or widgets.Text(description=name, placeholder="value", style=_WIDE)
            for name in names
        }
        self.children = tuple(self._inputs.values())

    def values(self) -> dict[str, Any]:
        """The parameter values to send (empty inputs are left out, so defaults apply);
        ``ValueError`` naming the parameter for a number that is not one."""
        values: dict[str, Any] = {}
        kinds = {d["name"]: d["type"] for d in self.definitions}
        for name, field in self._inputs.items():
            value = self._read(name, kinds.get(name), field)
            if value is not None:
                values[name] = value
        return values

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Fill inputs (e.g. a notebook's own variables); unknown names are ignored."""
        kinds = {d["name"]: d["type"] for d in self.definitions}
        for name, value in values.items():
            field = self._inputs.get(name)
            if field is None:
                continue
            kind = kinds.get(name)
            if kind == "date_range":
                start, end = field.children  # type: ignore[attr-defined]
                start.value, end.value = resolve_date(value["start"]), resolve_date(value["end"])
            elif kind == "date":
                field.value = resolve_date(str(value))  # type: ignore[attr-defined]
            elif kind == "enum":
                field.value = value  # type: ignore[attr-defined]
            else:
                field.value = "" if value is None else str(value)  # type: ignore[attr-defined]

    def bindings(self) -> dict[str, Any]:
        """Values for an ad-hoc run, which binds plain ``:names``: a date range becomes
        ``<name>_start`` and ``<name>_end``, as the server binds a saved query's ranges."""
        bound: dict[str, Any] = {}
        for name, value in self.values().items():
            if isinstance(value, dict):
                bound[f"{name}_start"], bound[f"{name}_end"] = value["start"], value["end"]
            else:
                bound[name] = value
        return bound

    def definitions_to_save(self) -> list[dict[str, Any]]:
        """Typed definitions for saving: the ones shown, or (ad-hoc) inferred from the values
        in the form, which become the defaults."""
        if self.definitions:
            return [dict(d) for d in self.definitions]
        inferred = []
        for name, value in self.values().items():
            kind = "number" if isinstance(value, int | float) else "text"
            inferred.append({"name": name, "type": kind, "default": value})
        for name in self.names:
            if not any(d["name"] == name for d in inferred):
                inferred.append({"name": name, "type": "text"})
        return inferred

    # -- inputs ---------------------------------------------------------------------------------

    def _typed_input(self, definition: Mapping[str, Any]) -> widgets.Widget:
        name, kind = definition["name"], definition["type"]
        label = definition.get("label") or name
        if definition.get("required"):
            label += " *"
        default = definition.get("default")
        common = {"description": label, "style": _WIDE}
        tip = definition.get("description") or ""
        if kind == "date":
            return widgets.DatePicker(value=resolve_date(default), tooltip=tip, **common)
        if kind == "date_range":
            default = default or {}
            start = widgets.DatePicker(value=resolve_date(default.get("start")), **common)
            end = widgets.DatePicker(value=resolve_date(default.get("end")), description="to")
            return widgets.HBox([start, end], tooltip=tip)
        if kind == "enum":
            options: list[tuple[str, Any]] = [(str(o), o) for o in definition["options"]]
            if default is None:
                options.insert(0, ("(default)", None))
            return widgets.Dropdown(options=options, value=default, tooltip=tip, **common)
        placeholder = "number" if kind == "number" else "text"
        text = "" if default is None else str(default)
        return widgets.Text(value=text, placeholder=placeholder, tooltip=tip, **common)

    def _read(self, name: str, kind: str | None, field: widgets.Widget) -> Any:
        if kind == "date_range":
            start, end = field.children  # type: ignore[attr-defined]
            if start.value is None or end.value is None:
                return None
            return {"start": start.value.isoformat(), "end": end.value.isoformat()}
        if kind == "date":
            value = field.value  # type: ignore[attr-defined]
            return None if value is None else value.isoformat()
        if kind == "enum":
            return field.value  # type: ignore[attr-defined]
        text = field.value.strip() if kind != "text" else field.value  # type: ignore[attr-defined]
        if text == "":
            return None
        if kind == "number":
            try:
                return _number(text)
            except ValueError:
                raise ValueError(f"{name}: {text!r} is not a number") from None
        if kind is None:  # ad-hoc: a number if it reads as one
            try:
                return _number(text)
            except ValueError:
                return text
        return text
