"""Named parameters (``:name``) handed to the driver in the placeholder style it binds.

Values are never spliced into SQL. Drivers that bind only by position (ADBC PostgreSQL: ``$1``;
SQLite: ``?``) get the placeholders rewritten and the values listed in order; a repeated name
reuses its number where the style allows. The rewrite works on sqlglot's tokens, so a ``:name``
inside a string literal, a quoted identifier or a comment is left alone, PostgreSQL's ``::``
casts are not parameters, and everything else in the statement keeps its original text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlglot import tokenize
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from analytics_ext.engine.dialects import sqlglot_dialect
from analytics_ext.engine.errors import ParameterError

Style = Literal["dollar_numeric", "qmark", "dollar_named", "pyformat", "named"]
"""``$1`` (ADBC PostgreSQL), ``?`` (SQLite), ``$name`` (DuckDB), ``%(name)s`` (pymysql,
psycopg), ``:name`` (drivers that bind names themselves)."""

MAX_PARAMETERS = 1000
MAX_VALUE_CHARS = 1_000_000
BINDABLE = (str, int, float, bool, decimal.Decimal, dt.date, dt.datetime, dt.time, type(None))
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_BEFORE = set("\\:\"'`]") | set(string.ascii_letters + string.digits + "_")
"""Characters that make a colon part of something else (``a:b`` paths, ``::`` casts, quotes)."""


@dataclass(frozen=True)
class Placeholder:
    name: str
    start: int
    """Index of the colon."""
    end: int
    """Index one past the name."""


def find_placeholders(sql: str, backend: str) -> list[Placeholder]:
    """Every ``:name`` in ``sql`` that is a parameter, in order of appearance."""
    try:
        toks = tokenize(sql, read=sqlglot_dialect(backend))
    except SqlglotError as error:
        raise ParameterError(f"the statement could not be tokenized: {error}") from None
    result: list[Placeholder] = []
    for colon, name in itertools.pairwise(toks):
        if colon.token_type is not TokenType.COLON or name.start != colon.end + 1:
            continue
        text = sql[name.start : name.end + 1]
        if not _NAME.fullmatch(text):
            continue
        if colon.start > 0 and sql[colon.start - 1] in _NOT_BEFORE:
            continue
        result.append(Placeholder(name=text, start=colon.start, end=name.end + 1))
    return result


def check_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse values no driver binds safely (lists, objects, huge strings)."""
    if len(values) > MAX_PARAMETERS:
        raise ParameterError(f"at most {MAX_PARAMETERS} parameters")
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ParameterError(f"{name!r} is not a parameter name (letters, digits, _)")
        if not isinstance(value, BINDABLE):
            raise ParameterError(
                f"{name}: {type(value).__name__} values cannot be bound; "
                "use a string, number, boolean or null"
            )
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise ParameterError(f"{name}: longer than {MAX_VALUE_CHARS} characters")
        checked[name] = value
    return checked


def bind(
    sql: str, values: Mapping[str, Any], backend: str, style: Style
) -> tuple[str, list[Any] | dict[str, Any] | None]:
    """Rewrite ``sql``'s ``:name`` placeholders into ``style`` and return (sql, driver args).

    Every placeholder needs a value and every value a placeholder, so a typo is a 422 rather
    than a silently unfiltered query. With no placeholders the args are None, which keeps
    pyformat drivers from reading ``%`` in the statement as a format character.
    """
    checked = check_values(values)
    found = find_placeholders(sql, backend)
    names = {placeholder.name for placeholder in found}
    missing = sorted(names - checked.keys())
    if missing:
        raise ParameterError(f"no value for {', '.join(':' + name for name in missing)}")
    unused = sorted(checked.keys() - names)
    if unused:
        raise ParameterError(f"not used by the statement: {', '.join(unused)}")
    if not found:
        return sql, None
    escape_percent = style == "pyformat"
    parts: list[str] = []
    positional: list[Any] = []
    numbers: dict[str, int] = {}
    cursor = 0
    for placeholder in found:
        literal = sql[cursor : placeholder.start]
        parts.append(literal.replace("%", "%%") if escape_percent else literal)
        name = placeholder.name
        if style == "dollar_numeric":
            if name not in numbers:
                positional.append(checked[name])
                numbers[name] = len(positional)
            parts.append(f"${numbers[name]}")
        elif style == "qmark":
            positional.append(checked[name])
            parts.append("?")
        elif style == "dollar_named":
            parts.append(f"${name}")
        elif style == "pyformat":
            parts.append(f"%({name})s")
        else:
            parts.append(f":{name}")
        cursor = placeholder.end
    tail = sql[cursor:]
    parts.append(tail.replace("%", "%%") if escape_percent else tail)
    rewritten = "".join(parts)
    if style in ("dollar_numeric", "qmark"):
        return rewritten, positional
    return rewritten, dict(checked)
