"""The template engine: only whitelisted Jinja syntax is accepted, parameters render as bind
placeholders (never as values), and values only decide ``{% if %}`` branches — proved with the
classic sandbox escapes and a hostile value run against a real PostgreSQL database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, text

from analytics_ext.engine import templating
from analytics_ext.engine.templating import TemplateNames, check, render
from analytics_ext.errors import Invalid
from analytics_ext.schemas.parameters import (
    DateRange,
    DateRangeParameter,
    EnumParameter,
    NumberParameter,
    TextParameter,
)
from analytics_ext.services.query_templates import check_template, expand
from tests.support.datasources import postgres_database

NAMES = TemplateNames.of(
    {"region": ["region"], "n": ["n"], "period": ["period_start", "period_end"]}
)
LEAKS = ("<class", "<function", "<module", "<built-in", "object at 0x", "root:", "/bin/", "__")


def refused(body: str, names: TemplateNames = NAMES) -> str:
    with pytest.raises(Invalid) as caught:
        check(body, names)
    message = caught.value.message
    assert caught.value.field == "body"
    for leak in LEAKS:
        assert leak not in message, message
    return message


@pytest.mark.parametrize(
    ("body", "construct"),
    [
        ("{{ ''.__class__.__mro__ }}", "attribute access"),
        ("{{ ().__class__.__bases__[0].__subclasses__() }}", "function calls"),
        ("{% include '/etc/passwd' %}", "{% include %}"),
        ("{% import 'x' as y %}", "{% import %}"),
        ("{% from 'x' import y %}", "{% from ... import %}"),
        ("{% extends 'base.sql' %}", "{% extends %}"),
        ("{{ cycler.__init__.__globals__ }}", "attribute access"),
        ("{{ lipsum }}", "'lipsum' is not a parameter"),
        ("{{ range(10**9) }}", "function calls"),
        ("{% for i in range(10) %}x{% endfor %}", "loops"),
        ("{% set x = 1 %}", "{% set %}"),
        ("{% macro m() %}x{% endmacro %}", "macros"),
        ("{{ region|upper }}", "filters"),
        ("{{ region['x'] }}", "item access"),
        ("{% if region.startswith('E') %}x{% endif %}", "function calls"),
        ("{% if n > 10**9 %}x{% endif %}", "arithmetic"),
        ("{{ region ~ 'x' }}", "concatenation"),
        ("{{ 'literal' }}", "around anything but a parameter name"),
        ("{% if n is divisibleby 3 %}x{% endif %}", "tests other than"),
        ("{% with a = 1 %}x{% endwith %}", "{% with %}"),
        ("{% block b %}x{% endblock %}", "{% block %}"),
        ("{% filter upper %}x{% endfilter %}", "{% filter %}"),
        ("{% if undeclared %}x{% endif %}", "'undeclared' is not a parameter"),
        ("{{ period }}", "date range: write {{ period_start }} and {{ period_end }}"),
    ],
)
def test_everything_outside_the_whitelist_is_refused_naming_the_construct(
    body: str, construct: str
) -> None:
    assert construct in refused(body)


def test_syntax_errors_size_nesting_and_nul_are_422_on_body() -> None:
    assert "line 1" in refused("{{ region ")
    assert "at most" in refused("x" * (templating.MAX_TEMPLATE_CHARS + 1))
    assert "levels deep" in refused("{% if n %}" * 100 + "{% endif %}" * 100)
    assert "NUL" in refused("SELECT 1\x00")


def test_a_parameter_renders_as_its_placeholder_and_values_only_choose_branches() -> None:
    body = (
        "SELECT * FROM sales WHERE 1=1"
        "{% if region %} AND region = {{ region }}{% endif %}"
        "{% if period is defined %} AND day BETWEEN {{ period_start }} AND {{ period_end }}"
        "{% endif %}{# a comment #}"
        "{% if n is defined and n > -1 %} LIMIT {{ n }}{% elif region in ('EU', 'US') %}"
        " LIMIT 10{% else %} LIMIT 5{% endif %}"
    )
    hostile = "EU'; DROP TABLE sales; --"
    period = {"start": "2026-01-01", "end": "2026-01-31"}
    sql, used = render(body, NAMES, {"region": hostile, "period": period, "n": 3})
    assert sql == (
        "SELECT * FROM sales WHERE 1=1 AND region = :region"
        " AND day BETWEEN :period_start AND :period_end LIMIT :n"
    )
    assert used == ["region", "period_start", "period_end", "n"]
    assert hostile not in sql
    sql, used = render(body, NAMES, {"region": "EU"})
    assert sql == "SELECT * FROM sales WHERE 1=1 AND region = :region LIMIT 10"
    assert used == ["region"]
    sql, used = render(body, NAMES, {"region": None, "n": None})
    assert (sql, used) == ("SELECT * FROM sales WHERE 1=1 LIMIT 5", [])


def test_raw_blocks_stay_text_and_comparing_an_unset_value_is_a_422() -> None:
    assert render("{% raw %}{{ region }}{% endraw %}", NAMES, {}) == ("{{ region }}", [])
    with pytest.raises(Invalid) as caught:
        render("{% if n > 3 %}x{% endif %}", NAMES, {})
    assert caught.value.field == "parameters"
    with pytest.raises(Invalid, match="different types"):
        render("{% if region > 3 %}x{% endif %}", NAMES, {"region": "EU"})


def test_output_and_time_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templating, "MAX_RENDERED_CHARS", 10)
    with pytest.raises(Invalid, match="more than 10 characters"):
        render("SELECT 1, 2, 3, 4, 5", NAMES, {})
    monkeypatch.setattr(templating, "MAX_RENDERED_CHARS", 1_000_000)
    monkeypatch.setattr(templating, "RENDER_SECONDS", -1.0)
    with pytest.raises(Invalid, match="longer than"):
        render("SELECT {{ n }}", NAMES, {"n": 1})


PARAMETERS = [
    TextParameter(type="text", name="name"),
    NumberParameter(type="number", name="min_total", integer=False),
    EnumParameter(type="enum", name="sort", options=["id", "name"], default="id"),
    DateRangeParameter(
        type="date_range", name="period", default=DateRange(start="2026-01-01", end="today")
    ),
]


def test_expand_types_values_fills_defaults_and_binds_only_what_the_sql_uses() -> None:
    body = (
        "SELECT * FROM customers WHERE 1=1{% if name %} AND name = {{ name }}{% endif %}"
        "{% if min_total is defined %} AND total >= {{ min_total }}{% endif %}"
        "{% if sort == 'name' %} ORDER BY name{% else %} ORDER BY id{% endif %}"
        "{% if period_start >= '2026-01-01' %} AND day >= {{ period_start }}{% endif %}"
    )
    check_template(body, PARAMETERS)
    expansion = expand(body, PARAMETERS, {"name": "Ada"}, today=dt.date(2026, 3, 1))
    assert expansion.sql == (
        "SELECT * FROM customers WHERE 1=1 AND name = :name ORDER BY id AND day >= :period_start"
    )
    assert expansion.bindings == {"name": "Ada", "period_start": dt.date(2026, 1, 1)}
    assert [p.name for p in expansion.parameters] == ["name", "period_start"]
    assert expansion.parameters[1].type == "date"  # half a range is a date of its own
    with pytest.raises(Invalid) as caught:
        expand(body, PARAMETERS, {"min_total": "lots"})
    assert caught.value.field == "parameters.min_total"
    with pytest.raises(Invalid) as caught:
        expand(body, PARAMETERS, {"nope": 1})
    assert caught.value.field == "parameters.nope"


def test_duplicate_parameter_names_are_refused_on_the_parameter() -> None:
    clash = [*PARAMETERS, TextParameter(type="text", name="period_end")]
    with pytest.raises(Invalid) as caught:
        check_template("SELECT 1", clash)
    assert caught.value.field == "parameters.4.name"


def test_a_hostile_value_is_bound_and_the_table_survives() -> None:
    """The rendered SQL runs on a real PostgreSQL database with the driver binding the value:
    the injection attempt is a string compared to names, and the table is intact."""
    hostile = "x'; DROP TABLE customers; --"
    body = "SELECT count(*) FROM customers WHERE 1=1{% if name %} AND name = {{ name }}{% endif %}"
    check_template(body, PARAMETERS)
    expansion = expand(body, PARAMETERS, {"name": hostile})
    assert hostile not in expansion.sql
    with postgres_database() as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                found = connection.execute(text(expansion.sql), expansion.bindings).scalar()
                assert found == 0
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM customers")).scalar() == 2
        finally:
            engine.dispose()
