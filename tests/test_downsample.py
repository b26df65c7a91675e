"""Kernel-side reduction of big chart inputs: MinMaxLTTB lines keep their ends and extremes,
scatters bin into at most 4,000 cells that account for every point, samples are stratified,
box plots keep their exact quartiles and whiskers; and the ChartBuilder on a million points of
line and scatter data holds at most 4,000 points in its marks (and sends about that much)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from analytics_ext.schemas.charts import ChartSpec, Customization
from analytics_ext.widgets import ChartBuilder
from analytics_ext.widgets.bqplot_marks import draw
from analytics_ext.widgets.downsample import (
    MAX_POINTS,
    bin_scatter,
    box_stats,
    box_values,
    downsample_lines,
    line_indices,
    sample_rows,
    share_budget,
)
from tests.support.widgets import recording_comms

MILLION = 1_000_000


@pytest.fixture(scope="module")
def million() -> pa.Table:
    rng = np.random.default_rng(7)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    return pa.table(
        {
            "at": pa.array(start + np.arange(MILLION)),
            "n": np.arange(MILLION, dtype=np.int64),
            "walk": rng.standard_normal(MILLION).cumsum(),
            "noise": rng.standard_normal(MILLION),
            "group": np.where(np.arange(MILLION) % 4 == 0, "rare", "common"),
        }
    )


def test_budget_shares_fill_short_series_first() -> None:
    assert share_budget([10, 5000, 5000], 4000) == [10, 1995, 1995]
    assert share_budget([10, 20], 4000) == [10, 20]
    assert sum(share_budget([3000] * 7, 4000)) <= 4000


def test_line_keeps_first_last_and_extremes(million: pa.Table) -> None:
    x, y = million.column("n").to_numpy(), million.column("walk").to_numpy()
    kept = line_indices(x, y, MAX_POINTS)
    assert len(kept) <= MAX_POINTS
    assert np.all(np.diff(kept) > 0)
    assert {0, MILLION - 1, int(np.argmin(y)), int(np.argmax(y))} <= set(kept.tolist())
    assert line_indices(x[:10], y[:10], MAX_POINTS).tolist() == list(range(10))
    assert set(line_indices(x, y, 2).tolist()) == {0, MILLION - 1}


def test_lines_are_sorted_per_series_and_reduced(million: pa.Table) -> None:
    shuffled = million.take(np.random.default_rng(1).permutation(MILLION))
    reduced, reduction = downsample_lines(shuffled, "at", "walk", "group")
    assert reduced.num_rows <= MAX_POINTS
    assert reduction.method == "minmax-lttb"
    assert reduction.source_points == MILLION
    for group in ("rare", "common"):
        rows = reduced.filter(pa.compute.equal(reduced.column("group"), group))
        times = rows.column("at").to_numpy()
        assert np.all(np.diff(times.astype(np.int64)) > 0)
        source = million.filter(pa.compute.equal(million.column("group"), group))
        assert times[0] == source.column("at").to_numpy()[0]
        assert times[-1] == source.column("at").to_numpy()[-1]
        walk = source.column("walk").to_numpy()
        assert rows.column("walk").to_numpy().max() == walk.max()
        assert rows.column("walk").to_numpy().min() == walk.min()


def test_short_lines_and_nulls() -> None:
    table = pa.table({"x": [3, 1, None, 2], "y": [30.0, 10.0, 5.0, None]})
    reduced, reduction = downsample_lines(table, "x", "y", None)
    assert reduced.to_pydict() == {"x": [1, 3], "y": [10.0, 30.0]}
    assert not reduction.reduced
    assert reduction.note() == ""


def test_scatter_bins_account_for_every_point(million: pa.Table) -> None:
    binned, reduction = bin_scatter(million, "walk", "noise", "group", budget=MAX_POINTS)
    assert binned.num_rows <= MAX_POINTS
    assert reduction.method == "binned"
    assert sum(binned.column("count").to_pylist()) == MILLION
    walk = million.column("walk").to_numpy()
    means = binned.column("walk").to_numpy()
    assert walk.min() <= means.min()
    assert means.max() <= walk.max()
    assert set(binned.column("group").to_pylist()) == {"rare", "common"}
    dated, _ = bin_scatter(million, "at", "noise", None)
    assert dated.schema.field("at").type == pa.timestamp("s")
    small = million.slice(0, 100)
    assert bin_scatter(small, "walk", "noise", None)[0] is small


def test_category_scatter_is_a_stratified_sample(million: pa.Table) -> None:
    sample, reduction = sample_rows(million, "group", ["noise"])
    again, _ = sample_rows(million, "group", ["noise"])
    assert sample.num_rows <= MAX_POINTS
    assert reduction.method == "sampled"
    assert sample.column("n").to_pylist() == again.column("n").to_pylist()  # fixed seed
    counts = {g: sample.column("group").to_pylist().count(g) for g in ("rare", "common")}
    assert counts == {"rare": 2000, "common": 2000}  # equal shares: both series are long
    noise = million.column("noise").to_numpy()
    assert {noise.min(), noise.max()} <= set(sample.column("noise").to_pylist())


def test_box_rows_have_the_datas_exact_quartiles_and_whiskers() -> None:
    rng = np.random.default_rng(3)
    groups = [rng.standard_normal(200_000), rng.standard_exponential(50_000), np.array([4.0])]
    rows, reduction = box_values(groups)
    assert rows.size <= MAX_POINTS
    assert reduction.method == "box-summary"
    for group, row in zip(groups, rows, strict=True):
        stats = box_stats(group)
        # what a box plot mark computes from the row: d3 quantiles, 1.5 IQR fences
        q1, median, q3 = np.quantile(row, [0.25, 0.5, 0.75])
        assert (q1, median, q3) == pytest.approx((stats.q1, stats.median, stats.q3))
        fences = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
        inside = row[(row >= fences[0]) & (row <= fences[1])]
        assert inside.min() == stats.whisker_low
        assert inside.max() == stats.whisker_high
        outliers = row[(row < fences[0]) | (row > fences[1])]
        if len(stats.outliers_high):
            assert stats.outliers_high.max() in outliers  # the most extreme is kept
    assert "outliers capped" in reduction.note()


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "line", "encodings": {"x": {"field": "at"}, "y": {"field": "walk"}}},
        {
            "type": "line",
            "encodings": {"x": {"field": "n"}, "y": {"field": "walk"}, "color": {"field": "group"}},
        },
        {"type": "area", "encodings": {"x": {"field": "at"}, "y": {"field": "noise"}}},
        {"type": "scatter", "encodings": {"x": {"field": "walk"}, "y": {"field": "noise"}}},
        {
            "type": "scatter",
            "encodings": {"x": {"field": "group"}, "y": {"field": "noise"}, "size": {"field": "n"}},
        },
        {"type": "box", "encodings": {"x": {"field": "group"}, "y": {"field": "noise"}}},
    ],
    ids=["line", "line-series", "area", "scatter", "category-scatter", "box"],
)
def test_a_million_points_reach_the_marks_as_at_most_4000(million: pa.Table, spec) -> None:
    # annotations take their points from the same budget
    note = {"text": "note", "x": 1.0, "y": 1.0, "rule": True}
    look = Customization(annotations=[note] if spec["type"] == "scatter" else [])
    drawing = draw(ChartSpec.model_validate(spec), look, million, _columns(spec))
    assert 0 < drawing.points <= MAX_POINTS
    assert drawing.reduction.source_points == MILLION
    assert "of 1,000,000 points drawn" in drawing.reduction.note()


def _columns(spec: dict) -> dict[str, str]:
    return {channel: encoding["field"] for channel, encoding in spec["encodings"].items()}


@pytest.mark.parametrize("kind", ["line", "scatter"])
def test_chart_builder_on_a_million_points_sends_at_most_4000(million: pa.Table, kind) -> None:
    spec = {"type": kind, "encodings": {"x": {"field": "walk"}, "y": {"field": "noise"}}}
    if kind == "line":
        spec["encodings"]["x"] = {"field": "at"}
    with recording_comms() as recorder:
        builder = ChartBuilder(data=million, spec=spec).wait(60)
        sent = recorder.total_bytes
    assert builder.status == "drawn", builder.error
    assert 0 < builder.points <= MAX_POINTS
    marks = builder.drawing.figure.marks
    assert sum(np.size(mark.x) for mark in marks) == builder.points
    assert "of 1,000,000 points drawn" in builder.note
    assert "of 1,000,000 points drawn" in builder._note.value
    # Each point is an x and a y (8 bytes each) plus a size for a binned scatter; the rest is
    # the widgets' state. A million points as Arrow would be 16 MB.
    assert sent < 400_000
