"""ChartBuilder against a real server and real PostgreSQL data: its marks hold the server's
aggregated rows, the stored customization reaches title and axes (as text), the controls redraw
through the preview route, Save/Favorite/Share work, open_chart reopens a chart with its
parameters and look, a million-point line and scatter hold at most 4,000 points end to end, and
every failure (a failing query, a cancelled run, a lost server, 403, 404) is one readable line
that leaves the kernel usable."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator

import bqplot as bq
import numpy as np
import pyarrow as pa
import pytest
import requests
from sqlalchemy import create_engine, text

from analytics_ext import client as analytics
from analytics_ext.widgets import ChartBuilder, open_chart
from analytics_ext.widgets.date_ticks import date_ticks, label_width
from analytics_ext.widgets.downsample import MAX_POINTS
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer, seed_account, start_live_server

pytestmark = pytest.mark.timeout(300)

MILLION = 1_000_000
PASSWORD = "granite heron at noon 7"  # a test account's password
SALES_DDL = [
    "CREATE TABLE sales (region TEXT, day DATE, amount NUMERIC(10, 2), qty INTEGER)",
    "INSERT INTO sales VALUES ('EMEA', '2024-01-01', 10.00, 1), ('EMEA', '2024-01-02', 20.00, 2),"
    " ('APAC', '2024-01-01', 5.50, 3), ('AMER', '2024-01-03', 7.25, 4)",
    "CREATE TABLE doomed (n INTEGER)",
    "INSERT INTO doomed VALUES (1), (2)",
]
BY_REGION = {
    "type": "bar",
    "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}},
    "aggregation": {"op": "sum"},
    "sort": {"by": "y", "order": "descending"},
}
POINTS_SQL = (
    "SELECT g AS n, sin(g / 5000.0) + (g % 97) / 97.0 AS wave, cos(g * 1.3) * (g % 13) AS spread "
    "FROM generate_series(1, 1000000) AS g"
)


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with postgres_database(SALES_DDL) as url:
        yield url


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


@pytest.fixture(scope="module")
def datasource(owner, live_server: LiveServer, sales_url: str) -> str:
    body = {
        "name": f"chart-widgets-{time.monotonic_ns()}",
        "url": sales_url,
        "options": {"row_limit": MILLION},
    }
    response = requests.post(
        f"{live_server.url}api/datasources", json=body, headers=live_server.auth_header
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def sales_query(owner, datasource: str) -> str:
    sql = "SELECT region, day, amount, qty FROM sales WHERE qty >= :least"
    parameter = {"name": "least", "type": "number", "default": 0}
    return owner.save_query(unique("sales"), sql, datasource, parameters=[parameter])["id"]


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def no_threads_left(builder: ChartBuilder) -> bool:
    return builder._background.join(10) and not [
        t for t in threading.enumerate() if t.name.startswith("analytics-widget-") and t.is_alive()
    ]


def test_marks_hold_the_servers_aggregated_rows(owner, sales_query: str) -> None:
    chart = owner.create_chart(unique("by region"), sales_query, BY_REGION)
    builder = open_chart(chart["id"], owner).wait(60)
    assert builder.status == "drawn", builder.error
    rows = owner.chart_arrow(chart["id"])
    (bars,) = builder.drawing.figure.marks
    assert isinstance(bars, bq.Bars)
    assert list(bars.x) == rows.column("region").to_pylist() == ["EMEA", "AMER", "APAC"]
    assert bars.y.tolist() == rows.column("amount").to_pylist() == [30.0, 7.25, 5.5]
    assert builder.points == 3
    assert builder.note == ""
    assert (builder.kind.value, builder.x.value, builder.y.value) == ("bar", "region", "amount")
    assert builder.aggregation.value == "sum"


def test_customization_reaches_title_axes_and_colours_as_text(owner, sales_query: str) -> None:
    look = {
        "title": "<img src=x onerror=alert(1)> Sales & co",
        "subtitle": "<b>per</b> day",
        "x_label": "Day <i>",
        "y_label": "Units",
        "number_format": ",.1f",
        "date_format": "%d %b",
        "palette": ["#112233", "#445566"],
        "legend": "bottom",
        "width": 500,
        "height": 300,
        "annotations": [{"text": "<script>peak</script>", "x": "2024-01-02", "y": 2}],
    }
    spec = {
        "type": "line",
        "encodings": {"x": {"field": "day"}, "y": {"field": "qty"}, "color": {"field": "region"}},
        "aggregation": {"op": "sum"},
    }
    chart = owner.create_chart(unique("styled"), sales_query, spec, look)
    builder = open_chart(chart["id"], owner).wait(60)
    assert builder.status == "drawn", builder.error
    figure = builder.drawing.figure
    assert figure.title == look["title"]  # a trait drawn as an SVG text node: never markup
    x_axis, y_axis = figure.axes
    assert (x_axis.label, y_axis.label) == ("Day <i>", "Units")
    assert (x_axis.tick_format, y_axis.tick_format) == ("%d %b", ",.1f")
    assert isinstance(x_axis.scale, bq.DateScale)
    assert figure.legend_location == "bottom"
    assert (figure.layout.width, figure.layout.height) == ("500px", "300px")
    lines = [mark for mark in figure.marks if isinstance(mark, bq.Lines)]
    # series in the rows' order (as the export's colour domain): grouped by day, then region
    assert [mark.labels[0] for mark in lines] == ["APAC", "EMEA", "AMER"]
    assert [mark.colors[0] for mark in lines] == ["#112233", "#445566", "#112233"]
    (label,) = [mark for mark in figure.marks if isinstance(mark, bq.Label)]
    assert list(label.text) == ["<script>peak</script>"]
    assert label.x[0] == np.datetime64("2024-01-02")
    assert builder._subtitle.value == "<b>per</b> day"  # a Label: plain text
    assert "<script>" not in builder._status.value
    assert "<b>" not in builder._note.value


def test_controls_redraw_through_the_preview_and_save_updates(owner, sales_query: str) -> None:
    builder = ChartBuilder(owner, query=sales_query).wait(60)
    assert builder.status == "idle"
    assert list(builder.x.options)[1:] == ["region", "day", "amount", "qty"]
    builder.kind.value = "bar"
    builder.x.value = "region"
    builder.y.value = "qty"
    builder.aggregation.value = "max"
    builder.wait(60)
    assert builder.status == "drawn", builder.error
    (bars,) = builder.drawing.figure.marks
    assert dict(zip(bars.x, bars.y.tolist(), strict=True)) == {"AMER": 4, "APAC": 3, "EMEA": 2}

    builder.name.value = unique("built")
    builder.save().wait(30)
    assert builder.chart_id is not None, builder.message
    saved = owner.chart(builder.chart_id)
    assert saved["spec"]["aggregation"] == {"op": "max"}
    builder.aggregation.value = "sum"
    builder.wait(60)
    builder.save().wait(30)
    assert owner.chart(builder.chart_id)["spec"]["aggregation"] == {"op": "sum"}

    builder.toggle_favorite().wait(30)
    assert builder.favorite
    assert builder.chart_id in {f["object_id"] for f in owner.favorites()}
    builder.toggle_favorite().wait(30)
    assert builder.chart_id not in {f["object_id"] for f in owner.favorites()}
    builder.share_link().wait(30)
    assert "share_token=" in builder._status.value
    assert builder._status.value.count("<code>") == 1

    builder.y.value = "(none)"  # a bar needs a y unless it counts
    assert builder.status == "error"
    assert "encodings.y" in builder.error
    builder.aggregation.value = "count"
    builder.wait(60)
    assert builder.status == "drawn", builder.error


def test_open_chart_reopens_parameters_and_customization(owner, sales_query: str) -> None:
    chart = owner.create_chart(
        unique("reopened"), sales_query, BY_REGION, {"title": "Big ones"}, parameters={"least": 2}
    )
    builder = open_chart(chart["id"], owner).wait(60)
    assert builder.parameters == {"least": 2}
    assert builder.customization.title == "Big ones"
    assert builder.name.value == chart["name"]
    (bars,) = builder.drawing.figure.marks
    assert dict(zip(bars.x, bars.y.tolist(), strict=True)) == {
        "AMER": 7.25,
        "APAC": 5.5,
        "EMEA": 20,
    }
    builder.customize(title="Renamed")
    builder.wait(30)
    assert builder.drawing.figure.title == "Renamed"
    builder.save().wait(30)
    assert owner.chart(chart["id"])["customization"]["title"] == "Renamed"
    assert owner.chart(chart["id"])["parameters"] == {"least": 2}


MONTHS_SQL = (
    "SELECT (DATE '2022-01-01' + make_interval(months => g))::{kind} AS month, "
    "(g * 7) % 50 + 40 AS orders FROM generate_series(0, 45) AS g"
)


@pytest.mark.parametrize("kind", ["date", "timestamp", "timestamptz"])
def test_a_monthly_line_has_a_date_axis_with_few_readable_ticks(
    owner, datasource: str, kind: str
) -> None:
    """46 months of a DATE or TIMESTAMP column (through the server's preview route): a
    DateScale over datetime64 points, not category text, and calendar ticks whose labels fit
    side by side (bqplot's own ten-ish ticks put sixteen labels over each other)."""
    saved = owner.save_query(unique(f"months-{kind}"), MONTHS_SQL.format(kind=kind), datasource)
    spec = {
        "type": "line",
        "encodings": {"x": {"field": "month"}, "y": {"field": "orders"}},
        "sort": {"by": "x"},
    }
    builder = ChartBuilder(owner, query=saved["id"], spec=spec).wait(60)
    assert builder.status == "drawn", builder.error
    assert builder.table.schema.field("month").type != pa.string()
    figure = builder.drawing.figure
    (line,) = figure.marks
    x_axis = figure.axes[0]
    assert isinstance(line.scales["x"], bq.DateScale)
    assert isinstance(x_axis.scale, bq.DateScale)
    assert line.x.dtype == np.dtype("datetime64[ms]")
    assert (line.x[0], line.x[-1]) == (np.datetime64("2022-01-01"), np.datetime64("2025-10-01"))
    assert x_axis.tick_values.dtype == np.dtype("datetime64[ms]")
    ticks = [str(tick)[:10] for tick in x_axis.tick_values]
    # the user's settings' date format (YYYY-MM-DD by default): yearly ticks fit 535 px
    assert x_axis.tick_format == "%Y-%m-%d"
    assert ticks == ["2022-01-01", "2023-01-01", "2024-01-01", "2025-01-01"]

    builder.customize(date_format="%b %Y", width=1000).wait(60)
    x_axis = builder.drawing.figure.axes[0]
    assert x_axis.tick_format == "%b %Y"
    ticks = [str(tick)[:10] for tick in x_axis.tick_values]
    assert ticks == [
        f"{year}-{month}-01" for year in (2022, 2023, 2024, 2025) for month in ("01", "07")
    ]


def test_date_ticks_bound_their_count_by_the_labels_width() -> None:
    """Pure: the tick step grows with the span and the label's width; no format set picks one
    that suits the step."""
    values, tick_format = date_ticks("2022-01-01", "2025-10-01", 535, None)
    assert tick_format == "%Y"  # 6-monthly "%Y-%m" labels would need 8 x 73 px
    assert [str(v)[:10] for v in values] == ["2022-01-01", "2023-01-01", "2024-01-01", "2025-01-01"]
    values, tick_format = date_ticks("2024-01-01", "2024-03-01", 535, None)
    assert tick_format == "%Y-%m"
    assert [str(v)[:10] for v in values] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    values, tick_format = date_ticks("2024-01-01T00:00", "2024-01-01T06:00", 535, None)
    assert tick_format == "%Y-%m-%d %H:%M"
    assert 2 <= len(values) <= 535 // label_width(tick_format, values[-1])
    values, _ = date_ticks("2024-01-01", "2024-01-01", 535, "%d.%m.%Y")
    assert list(values) == [np.datetime64("2024-01-01")]
    values, tick_format = date_ticks("1900-01-01", "2024-01-01", 300, None, vertical=True)
    assert tick_format == "%Y"
    assert 2 <= len(values) <= 10


def test_a_million_points_end_to_end_hold_at_most_4000(owner, datasource: str) -> None:
    run = owner.run(POINTS_SQL, datasource, row_limit=MILLION)
    line = ChartBuilder(
        owner,
        data=run,
        spec={"type": "line", "encodings": {"x": {"field": "n"}, "y": {"field": "wave"}}},
    ).wait(180)
    assert line.status == "drawn", line.error
    assert line.table.num_rows == MILLION
    assert 0 < line.points <= MAX_POINTS
    (mark,) = line.drawing.figure.marks
    assert (mark.x[0], mark.x[-1]) == (1, MILLION)
    assert "of 1,000,000 points drawn" in line.note

    scatter = {"type": "scatter", "encodings": {"x": {"field": "wave"}, "y": {"field": "spread"}}}
    line.set_spec(scatter).wait(60)
    assert line.status == "drawn", line.error
    assert 0 < line.points <= MAX_POINTS
    assert "binned" in line.note

    saved = owner.save_query(unique("points"), POINTS_SQL, datasource)
    chart = owner.create_chart(unique("points"), saved["id"], scatter)
    reopened = open_chart(chart["id"], owner).wait(180)
    assert reopened.status == "drawn", reopened.error
    assert 0 < reopened.points <= MAX_POINTS
    assert reopened.table.num_rows == 100_000  # the server's row cap for a chart
    assert "row cap" in reopened.note or "100,000" in reopened.note


def test_a_failing_query_is_one_readable_line(owner, datasource: str, sales_url: str) -> None:
    doomed = owner.save_query(unique("doomed"), "SELECT n FROM doomed", datasource)
    spec = {"type": "line", "encodings": {"x": {"field": "n"}, "y": {"field": "n"}}}
    chart = owner.create_chart(unique("doomed"), doomed["id"], spec)
    engine = create_engine(sales_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE doomed"))
    engine.dispose()
    builder = open_chart(chart["id"], owner).wait(60)
    assert builder.status == "error"
    assert "doomed" in builder.error
    assert "Traceback" not in builder._status.value
    assert no_threads_left(builder)


def test_a_cancelled_run_and_cancel_say_cancelled(owner, datasource: str) -> None:
    run = owner.run("SELECT pg_sleep(30) AS n, 1 AS v", datasource)
    spec = {"type": "line", "encodings": {"x": {"field": "n"}, "y": {"field": "v"}}}
    builder = ChartBuilder(owner, data=run, spec=spec)
    time.sleep(0.5)
    run.cancel()
    builder.wait(60)
    assert (builder.status, builder.error) == ("error", "Cancelled.")

    slow = owner.run("SELECT pg_sleep(30) AS n, 1 AS v", datasource)
    waiting = ChartBuilder(owner, data=slow, spec=spec)
    time.sleep(0.3)
    started = time.monotonic()
    waiting._cancel.click()
    waiting.wait(10)
    assert time.monotonic() - started < 5
    assert (waiting.status, waiting.error) == ("error", "Cancelled.")
    slow.cancel()
    assert no_threads_left(waiting)


def test_lost_server_404_and_share_links(owner, sales_query: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    gone = analytics.connect(f"http://127.0.0.1:{closed}/", "token")
    lost = open_chart("A" * 22, gone).wait(30)
    assert lost.status == "error"
    assert lost.error.startswith("Cannot reach the server")
    assert lost.error.endswith("Is the server running?")

    missing = open_chart("A" * 22, owner).wait(30)
    assert missing.error.startswith("Not found (or not shared with you)")

    chart = owner.create_chart(unique("linked"), sales_query, BY_REGION)
    link = owner.share_chart(chart["id"], link=True)
    with analytics.connect(owner.url, link["token"]) as guest:
        seen = open_chart(chart["id"], guest).wait(60)
        assert seen.status == "drawn", seen.error  # a link views the chart and its data
        assert list(seen.drawing.figure.marks[0].x) == ["EMEA", "AMER", "APAC"]
    assert no_threads_left(seen)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, sales_url: str) -> Iterator[dict]:
    """A team server: an admin who owns a chart, and a user it is shared with at view."""
    with postgres_database([]) as store_url:
        seed_account(store_url, "chief", PASSWORD, is_admin=True)
        viewer = seed_account(store_url, "viewer", PASSWORD)
        extra = [
            "--AnalyticsExtension.multi_user=True",
            f"--AnalyticsExtension.db_url={store_url}",
            f"--AnalyticsExtension.jwt_signing_key={secrets.token_urlsafe(48)}",
        ]
        with start_live_server(tmp_path_factory.mktemp("team"), extra_args=extra) as server:
            tokens = {
                name: requests.post(
                    f"{server.url}api/auth/login",
                    json={"username": name, "password": PASSWORD},
                    timeout=30,
                ).json()["access_token"]
                for name in ("chief", "viewer")
            }
            yield {"server": server, "tokens": tokens, "viewer_id": viewer.id}


def test_a_viewer_saving_gets_a_readable_403(team: dict, sales_url: str) -> None:
    server, tokens = team["server"], team["tokens"]
    with analytics.connect(server.url, tokens["chief"]) as chief:
        created = requests.post(
            f"{server.url}api/datasources",
            json={"name": unique("team-sales"), "url": sales_url},
            headers={"Authorization": f"Bearer {tokens['chief']}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        query = chief.save_query(
            unique("q"), "SELECT region, amount FROM sales", created.json()["id"]
        )
        chart = chief.create_chart(unique("team chart"), query["id"], BY_REGION)
        chief.share_chart(chart["id"], team["viewer_id"], "view")
        with analytics.connect(server.url, tokens["viewer"]) as viewer:
            builder = open_chart(chart["id"], viewer).wait(60)
            assert builder.status == "drawn", builder.error
            assert builder.drawing.figure.marks[0].y.tolist() == [30.0, 7.25, 5.5]
            builder.name.value = "taken over"
            builder.save().wait(30)
            assert builder.message.startswith("Permission denied"), builder.message
            assert "Traceback" not in builder._status.value
        assert chief.chart(chart["id"])["name"] == chart["name"]
        assert no_threads_left(builder)


@pytest.mark.parametrize(
    ("spec", "look"),
    [
        (
            {
                "type": "bar",
                "encodings": {
                    "x": {"field": "region"},
                    "y": {"field": "amount"},
                    "color": {"field": "kind"},
                },
                "aggregation": {"op": "sum"},
            },
            {"palette": "tableau10", "title": "T", "x_label": "Where", "number_format": ",.0f"},
        ),
        (
            {
                "type": "line",
                "encodings": {
                    "x": {"field": "region"},
                    "y": {"field": "amount"},
                    "color": {"field": "kind"},
                },
                "aggregation": {"op": "mean"},
            },
            {"palette": ["#010203", "#040506", "#070809"], "y_label": "Mean"},
        ),
    ],
    ids=["bar", "line"],
)
def test_figure_reads_the_rows_as_the_export_does(spec: dict, look: dict) -> None:
    """The same rows, spec and look give the same axis order, series colours, titles and formats
    in the notebook figure as in the server's Vega-Lite export."""
    import pyarrow as pa

    from analytics_ext.client.charts import chart_columns
    from analytics_ext.engine.vega_lite import to_vega_lite
    from analytics_ext.schemas.charts import ChartSpec, Customization
    from analytics_ext.widgets.bqplot_marks import draw
    from analytics_ext.widgets.chart_look import category_colors

    rows = pa.table(
        {
            "region": ["north", "south", "north", "east"],
            "kind": ["b", "a", "a", "b"],
            "amount": [3.0, 1.0, 2.0, 5.0],
        }
    )
    parsed, customization = ChartSpec.model_validate(spec), Customization.model_validate(look)
    columns = chart_columns(spec)
    vega = to_vega_lite(parsed, customization, rows, columns)
    figure = draw(parsed, customization, rows, columns).figure
    encoding = vega["encoding"]
    x_axis, y_axis = figure.axes
    assert x_axis.scale.domain == encoding["x"]["sort"] == ["north", "south", "east"]
    assert (x_axis.label, y_axis.label) == (encoding["x"]["title"], encoding["y"]["title"])
    assert y_axis.tick_format == encoding["y"].get("axis", {}).get("format")
    series = encoding["color"]["sort"]
    category = vega["config"].get("range", {}).get("category")
    expected = category_colors(category if isinstance(category, list) else look["palette"], 2)
    if isinstance(figure.marks[0], bq.Bars):
        assert list(figure.marks[0].labels) == series
        assert list(figure.marks[0].colors) == expected
    else:
        assert [mark.labels[0] for mark in figure.marks] == series
        assert [mark.colors[0] for mark in figure.marks] == expected
    assert figure.title == vega.get("title", {}).get("text", "")
