"""ChartSpec + Customization + Arrow rows → Vega-Lite: every chart type draws its rows through the
real vl-convert, values reach JSON with the right types, customization shows, text stays text."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pyarrow as pa
import pytest

from analytics_ext.engine.chart_render import render
from analytics_ext.engine.chart_sql import histogram_table
from analytics_ext.engine.vega_lite import json_values, to_vega_lite
from analytics_ext.errors import Invalid
from analytics_ext.schemas.charts import ChartSpec, Customization

pytestmark = pytest.mark.timeout(60)
SVG = "{http://www.w3.org/2000/svg}"

ROWS = pa.table(
    {
        "region": ["north", "south", "east"],
        "revenue": [30, 20, 10],
        "segment": ["retail", "trade", "retail"],
        "day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
        "price": pa.array(
            [decimal.Decimal("1.50"), None, decimal.Decimal("3")], pa.decimal128(9, 2)
        ),
    }
)


def chart(spec: dict[str, Any], look: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return to_vega_lite(
        ChartSpec.model_validate(spec),
        Customization.model_validate(look or {}),
        kw.pop("table", ROWS),
        kw.pop("columns", None),
        width=400,
        height=300,
    )


def svg_of(vl: dict[str, Any]) -> ET.Element:
    return ET.fromstring(render(vl, "svg", 400, 300))


def marks(root: ET.Element, roledescription: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("aria-roledescription") == roledescription]


BAR = {"type": "bar", "encodings": {"x": {"field": "region"}, "y": {"field": "revenue"}}}


@pytest.mark.parametrize(
    ("spec", "mark", "count"),
    [
        (BAR, "bar", 3),
        (
            {"type": "line", "encodings": {"x": {"field": "day"}, "y": {"field": "revenue"}}},
            "line mark",
            1,
        ),
        (
            {"type": "area", "encodings": {"x": {"field": "day"}, "y": {"field": "revenue"}}},
            "area mark",
            1,
        ),
        (
            {
                "type": "scatter",
                "encodings": {
                    "x": {"field": "revenue"},
                    "y": {"field": "price"},
                    "size": {"field": "revenue"},
                },
            },
            "point",
            2,  # the null price is not drawn
        ),
        (
            {"type": "pie", "encodings": {"x": {"field": "region"}, "y": {"field": "revenue"}}},
            "arc mark",
            3,
        ),
        (
            {
                "type": "heatmap",
                "encodings": {
                    "x": {"field": "region"},
                    "y": {"field": "segment"},
                    "color": {"field": "revenue"},
                },
                "aggregation": {"op": "sum"},
            },
            "rect mark",
            3,
        ),
        (
            {"type": "box", "encodings": {"x": {"field": "segment"}, "y": {"field": "revenue"}}},
            "box",
            2,
        ),
    ],
)
def test_every_chart_type_draws_its_rows(spec: dict[str, Any], mark: str, count: int) -> None:
    root = svg_of(chart(spec))
    assert len(marks(root, mark)) == count


def test_a_histogram_draws_the_bins_it_is_given() -> None:
    spec = ChartSpec.model_validate(
        {"type": "histogram", "encodings": {"x": {"field": "v"}}, "bins": 4}
    )
    columns = {"x": "v", "x_end": "v_end", "y": "count"}
    binned = histogram_table(pa.table({"v": [1, 1, 2, 3, 4, 4, 4, 4]}), spec, columns)
    vl = to_vega_lite(spec, Customization(), binned, columns, width=400, height=300)
    bars = marks(svg_of(vl), "bar")
    assert len(bars) == 4
    heights = [float(re.findall(r"v(-?[\d.]+)", bar.get("d", ""))[0]) for bar in bars]
    assert [round(h / heights[1], 2) for h in heights] == [2.0, 1.0, 1.0, 4.0]


def test_values_reach_json_with_their_meaning() -> None:
    zoned = pa.array([dt.datetime(2024, 1, 3, 23, 30, 0, 123456)], pa.timestamp("us", "UTC"))
    paris = zoned.cast(pa.timestamp("us", "Europe/Paris"))
    assert json_values(paris) == ["2024-01-03T23:30:00.123Z"]  # the UTC instant
    naive = pa.array([dt.datetime(2024, 1, 3, 10, 0)], pa.timestamp("ns"))
    assert json_values(naive) == ["2024-01-03T10:00:00.000Z"]
    assert json_values(pa.array([dt.date(2024, 2, 29), None])) == ["2024-02-29", None]
    assert json_values(pa.array([1.5, float("nan"), float("inf"), None])) == [1.5, None, None, None]
    decimals = pa.array([decimal.Decimal("2.25")], pa.decimal128(5, 2))
    assert json_values(decimals) == [2.25]
    assert json_values(pa.array(["a", "b", "a"]).dictionary_encode()) == ["a", "b", "a"]
    assert json_values(pa.array([dt.timedelta(minutes=2)])) == [120.0]
    vl = chart(BAR)
    json.dumps(vl, allow_nan=False)  # strict JSON: no NaN sneaks through
    assert vl["data"]["values"][0] == {"region": "north", "revenue": 30}


def test_dates_read_the_same_in_every_server_time_zone() -> None:
    program = (
        "import json, sys, pyarrow as pa, datetime as dt\n"
        "from analytics_ext.engine.vega_lite import to_vega_lite\n"
        "from analytics_ext.engine.chart_render import render\n"
        "from analytics_ext.schemas.charts import ChartSpec, Customization\n"
        "t = pa.table({'d': [dt.date(2024, 1, 1), dt.date(2024, 1, 2)], 'v': [1, 2]})\n"
        "s = ChartSpec.model_validate({'type': 'line', 'encodings': {'x': {'field': 'd'},"
        " 'y': {'field': 'v'}}})\n"
        "c = Customization(date_format='%Y-%m-%d %H:%M')\n"
        "sys.stdout.write(render(to_vega_lite(s, c, t), 'svg', 400, 300).decode())\n"
    )
    labels = {}
    for zone in ("UTC", "America/New_York", "Asia/Tokyo"):
        done = subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "TZ": zone},
            capture_output=True,
            check=True,
            timeout=60,
        )
        root = ET.fromstring(done.stdout)
        labels[zone] = [e.get("aria-label") for e in marks(root, "line mark")]
    assert labels["UTC"] == labels["America/New_York"] == labels["Asia/Tokyo"]
    assert "2024-01-01 00:00" in labels["UTC"][0]


def test_column_names_vega_would_parse_are_aliased_and_titled() -> None:
    odd = pa.table({"a.b": ["p", "q"], 'x"]+alert(1)+["': [1, 2], "c[0]\\": [3, 4]})
    spec = {"type": "bar", "encodings": {"x": {"field": "a.b"}, "y": {"field": 'x"]+alert(1)+["'}}}
    vl = chart(spec, table=odd)
    assert vl["encoding"]["x"]["field"] == "_c0"
    assert vl["encoding"]["x"]["title"] == "a.b"
    assert vl["encoding"]["y"]["title"] == 'x"]+alert(1)+["'
    labels = [bar.get("aria-label") for bar in marks(svg_of(vl), "bar")]
    assert labels == ['a.b: p; x"]+alert(1)+[": 1', 'a.b: q; x"]+alert(1)+[": 2']


def test_discrete_axes_keep_the_rows_order() -> None:
    vl = chart({**BAR, "sort": {"by": "y", "order": "descending"}})
    assert vl["encoding"]["x"]["sort"] == ["north", "south", "east"]
    bars = marks(svg_of(vl), "bar")
    lefts = {
        bar.get("aria-label"): float(re.match(r"M([\d.]+)", bar.get("d")).group(1)) for bar in bars
    }
    assert sorted(lefts, key=lefts.get) == [
        "region: north; revenue: 30",
        "region: south; revenue: 20",
        "region: east; revenue: 10",
    ]


def test_series_stack_or_sit_side_by_side() -> None:
    colored = {**BAR, "encodings": {**BAR["encodings"], "color": {"field": "segment"}}}
    side = chart(colored)["encoding"]
    assert side["y"]["stack"] is None
    assert side["xOffset"]["field"] == "segment"
    stacked = chart({**colored, "stacked": True})["encoding"]
    assert stacked["y"]["stack"] == "zero"
    assert "xOffset" not in stacked


def test_customization_reaches_the_spec() -> None:
    look = {
        "title": "Revenue",
        "subtitle": "by region",
        "x_label": "Region",
        "y_label": "EUR",
        "number_format": ",.2f",
        "palette": ["#112233", "#445566"],
        "theme": "dark",
        "legend": "bottom",
        "width": 300,
        "height": 200,
    }
    spec = {**BAR, "encodings": {**BAR["encodings"], "color": {"field": "segment"}}}
    vl = to_vega_lite(ChartSpec.model_validate(spec), Customization.model_validate(look), ROWS)
    assert vl["title"] == {"text": "Revenue", "subtitle": "by region"}
    assert (vl["width"], vl["height"]) == (300, 200)
    assert vl["encoding"]["x"]["title"] == "Region"
    assert vl["encoding"]["y"]["title"] == "EUR"
    assert vl["encoding"]["y"]["axis"] == {"format": ",.2f"}
    assert vl["encoding"]["color"]["legend"] == {"orient": "bottom"}
    assert vl["config"]["range"]["category"] == ["#112233", "#445566"]
    assert vl["config"]["background"] == "#1e1e1e"
    root = svg_of(vl)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Revenue", "by region", "Region", "EUR", "30.00"} <= set(texts)
    assert root.find(f"{SVG}rect").get("fill") == "#1e1e1e"
    fills = {bar.get("fill") for bar in marks(root, "bar")}
    assert fills == {"#112233", "#445566"}
    hidden = chart(spec, {"legend": "none", "palette": "viridis"})
    assert hidden["encoding"]["color"]["legend"] is None
    assert hidden["config"]["range"]["category"] == {"scheme": "viridis"}
    assert not [e for e in svg_of(hidden).iter() if "role-legend" in (e.get("class") or "")]


def test_date_formats_apply_to_time_axes() -> None:
    spec = {"type": "line", "encodings": {"x": {"field": "day"}, "y": {"field": "revenue"}}}
    root = svg_of(chart(spec, {"date_format": "%d %b %Y"}))
    assert "01 Jan 2024" in [t.text for t in root.iter(f"{SVG}text")]


def test_annotations_are_text_and_rule_layers() -> None:
    look = {
        "annotations": [
            {"x": "south", "y": 25, "text": "promo <i>"},
            {"y": 15, "rule": True, "text": "target"},
        ]
    }
    vl = chart(BAR, look)
    assert [layer["mark"]["type"] for layer in vl["layer"]] == ["bar", "text", "rule", "text"]
    root = svg_of(vl)
    assert {"promo <i>", "target"} <= {t.text for t in root.iter(f"{SVG}text")}
    assert len(marks(root, "bar")) == 3  # the notes draw once, not once per row
    scatter = {"type": "scatter", "encodings": {"x": {"field": "revenue"}, "y": {"field": "price"}}}
    with pytest.raises(Invalid) as error:
        chart(scatter, {"annotations": [{"x": "north", "y": 1, "text": "t"}]})
    assert error.value.field == "customization.annotations.0.x"
    pie = {"type": "pie", "encodings": {"x": {"field": "region"}, "y": {"field": "revenue"}}}
    with pytest.raises(Invalid) as error:
        chart(pie, {"annotations": [{"y": 1, "text": "t"}]})
    assert error.value.field == "customization.annotations"


def test_time_annotations_are_dates_not_expressions() -> None:
    spec = {"type": "line", "encodings": {"x": {"field": "day"}, "y": {"field": "revenue"}}}
    vl = chart(spec, {"annotations": [{"x": "2024-01-02", "rule": True}]})
    assert vl["layer"][1]["encoding"]["x"]["datum"] == {
        "utc": True,
        "year": 2024,
        "month": 1,
        "date": 2,
    }
    with pytest.raises(Invalid) as error:
        chart(spec, {"annotations": [{"x": "datum.x + alert(1)", "rule": True}]})
    assert error.value.field == "customization.annotations.0.x"


def test_markup_in_titles_is_escaped_text() -> None:
    title = '<script>alert(1)</script> & "q" <b>&'
    svg = render(
        chart(BAR, {"title": title, "x_label": "<img src=x onerror=alert(1)>"}), "svg", 400, 300
    )
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in svg
    root = ET.fromstring(svg)
    assert not [
        e for e in root.iter() if e.tag.split("}")[-1] in ("script", "b", "img", "foreignObject")
    ]
    assert title in [t.text for t in root.iter(f"{SVG}text")]
    assert not [e for e in root.iter() if any(k.startswith("on") for k in e.attrib)]


def test_missing_columns_and_too_many_facets_name_the_field() -> None:
    with pytest.raises(Invalid) as error:
        chart({"type": "bar", "encodings": {"x": {"field": "nope"}, "y": {"field": "revenue"}}})
    assert error.value.field == "spec.encodings.x.field"
    many = pa.table({"k": ["a"] * 40, "v": list(range(40)), "f": [str(i) for i in range(40)]})
    faceted = {"type": "bar", "encodings": {**BAR["encodings"], "facet": {"field": "f"}}}
    faceted["encodings"] = {"x": {"field": "k"}, "y": {"field": "v"}, "facet": {"field": "f"}}
    with pytest.raises(Invalid) as error:
        chart(faceted, table=many)
    assert error.value.field == "spec.encodings.facet"


def test_the_spec_is_deterministic() -> None:
    assert json.dumps(chart(BAR, {"title": "t"})) == json.dumps(chart(BAR, {"title": "t"}))


def test_aggregated_columns_are_read_through_the_channel_map() -> None:
    # As engine.chart_sql names them: a count without a y field is column "count"; a sum of
    # the grouped column itself gets a fresh name.
    counted = pa.table({"region": ["north", "south"], "count": [7, 3]})
    spec = {"type": "bar", "encodings": {"x": {"field": "region"}}, "aggregation": {"op": "count"}}
    vl = chart(spec, table=counted, columns={"x": "region", "y": "count"})
    assert vl["encoding"]["y"] == {"field": "count", "type": "quantitative", "title": "count"}
    assert len(marks(svg_of(vl), "bar")) == 2
    summed = pa.table({"region": ["north", "south"], "region_2": [2, 1]})
    spec = {
        "type": "bar",
        "encodings": {"x": {"field": "region"}, "y": {"field": "region", "type": "nominal"}},
        "aggregation": {"op": "count_distinct"},
    }
    vl = chart(spec, table=summed, columns={"x": "region", "y": "region_2"})
    assert vl["encoding"]["y"]["type"] == "quantitative"  # an aggregate is a number
    assert vl["encoding"]["y"]["title"] == "distinct count of region"
    assert vl["data"]["values"] == [
        {"region": "north", "region_2": 2},
        {"region": "south", "region_2": 1},
    ]
