"""The client's query-library calls against a real server process and a real PostgreSQL
datasource: saved queries and versions, runs of saved queries, favorites, templates, sharing
(users and links), export to bytes and to a file, and server-sorted result pages."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import requests

from analytics_ext import client as analytics
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def datasource(live_server: LiveServer, shop_url: str) -> str:
    """A uniquely named datasource on the shop database; its id."""
    body = {"name": f"library-{time.monotonic_ns()}", "url": shop_url}
    response = requests.post(
        f"{live_server.url}api/datasources", json=body, headers=live_server.auth_header
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


REGION = {"name": "customer", "type": "enum", "options": [1, 2], "default": 1}


def test_saved_query_lifecycle_with_versions(client, datasource: str) -> None:
    name = unique("customer")
    saved = client.save_query(
        name,
        "SELECT name FROM customers WHERE id = :customer",
        datasource,
        parameters=[REGION],
        tags=["demo"],
    )
    assert saved["version"] == 1
    assert saved["permission"] == "manage"
    assert client.saved_query(saved["id"])["parameters"][0]["options"] == [1, 2]

    frame = client.saved_queries(search=name)
    assert isinstance(frame, pd.DataFrame)
    assert frame["name"].tolist() == [name]
    assert frame.loc[0, "tags"] == ["demo"]
    listed = client.saved_queries(tag="demo", datasource=datasource, as_frame=False)
    assert saved["id"] in {item["id"] for item in listed}
    assert "sql" in listed[0]

    changed = client.update_query(
        saved["id"], sql="SELECT name, email FROM customers WHERE id = :customer", base_version=1
    )
    assert changed["version"] == 2
    with pytest.raises(analytics.Conflict):  # someone else's save would be overwritten
        client.update_query(saved["id"], name="stale", base_version=1)

    versions = client.query_versions(saved["id"])
    assert [v["version"] for v in versions] == [2, 1]
    assert "sql" in versions[0]["changed"]
    assert client.query_version(saved["id"], 1)["sql"].startswith("SELECT name FROM")
    diff = client.diff_query(saved["id"], 2)
    sql_change = next(c for c in diff["changes"] if c["field"] == "sql")
    assert "+SELECT name, email" in sql_change["unified_diff"]

    restored = client.restore_query(saved["id"], 1)
    assert restored["version"] == 3
    assert restored["sql"] == "SELECT name FROM customers WHERE id = :customer"

    client.delete_query(saved["id"])
    with pytest.raises(analytics.NotFound):
        client.saved_query(saved["id"])


def test_run_saved_binds_parameters_and_defaults(client, datasource: str) -> None:
    saved = client.save_query(
        unique("run"), "SELECT name FROM customers WHERE id = :customer", datasource, [REGION]
    )
    by_default = client.run_saved(saved["id"]).wait(timeout=30)
    assert by_default.arrow().column("name").to_pylist() == ["Ada"]
    chosen = client.run_saved(saved["id"], {"customer": 2}).wait(timeout=30)
    assert chosen.to_pandas()["name"].tolist() == ["Grace"]
    edited = client.run_saved(
        saved["id"],
        {"customer": 2},
        sql="SELECT upper(name) AS name FROM customers WHERE id = :customer",
    ).wait(timeout=30)
    assert edited.to_pandas()["name"].tolist() == ["GRACE"]
    with pytest.raises(analytics.InvalidRequest, match="customer"):
        client.run_saved(saved["id"], {"customer": 3})  # not one of the options
    limited = client.run_saved(saved["id"], row_limit=1).wait(timeout=30)
    assert limited.rows == 1


def test_favorites_add_reorder_remove(client, datasource: str) -> None:
    first, second, third = (
        client.save_query(unique(f"fav{i}"), "SELECT 1 AS one", datasource) for i in range(3)
    )
    for query in (first, second, third):
        assert client.add_favorite(query["id"])["object_id"] == query["id"]
    mine = [f["object_id"] for f in client.favorites()]
    assert mine[-3:] == [first["id"], second["id"], third["id"]]

    reordered = client.reorder_favorites([third["id"], first["id"]])
    order = [f["object_id"] for f in reordered]
    assert order[:2] == [third["id"], first["id"]]
    assert order.index(second["id"]) > 1

    favorite = next(f for f in reordered if f["object_id"] == second["id"])
    assert client.move_favorite(favorite["id"], 0)["position"] == 0
    assert client.favorites()[0]["object_id"] == second["id"]

    client.remove_favorite(second["id"])
    assert second["id"] not in {f["object_id"] for f in client.favorites()}
    with pytest.raises(analytics.AnalyticsError, match="not one of your favorites"):
        client.reorder_favorites([second["id"]])


def test_templates_render_and_instantiate(client, datasource: str) -> None:
    template = client.create_query_template(
        unique("by-customer"),
        "SELECT name FROM customers {% if customer %}WHERE id = {{ customer }}{% endif %}",
        parameters=[{"name": "customer", "type": "number", "integer": True}],
    )
    assert template["id"] in {t["id"] for t in client.query_templates(search=template["name"])}
    assert client.query_template(template["id"])["body"] == template["body"]

    rendered = client.render_template(template["id"], {"customer": 2})
    assert rendered["sql"].strip().endswith("WHERE id = :customer")
    assert rendered["bindings"] == {"customer": 2}

    saved = client.instantiate_template(
        template["id"], unique("from-template"), datasource, {"customer": 2}
    )
    assert client.run_saved(saved["id"]).wait(timeout=30).to_pandas()["name"].tolist() == ["Grace"]
    client.delete_query_template(template["id"])
    with pytest.raises(analytics.NotFound):
        client.query_template(template["id"])


def test_share_links_and_grants(client, datasource: str, live_server: LiveServer) -> None:
    saved = client.save_query(unique("shared"), "SELECT name FROM customers", datasource)
    other = client.save_query(unique("private"), "SELECT 1 AS one", datasource)
    with pytest.raises(analytics.AnalyticsError, match="not both"):
        client.share_query(saved["id"])
    link = client.share_query(saved["id"], link=True)
    assert link["token"].startswith("ael_")
    assert saved["id"] in link["url"]
    grants = client.query_grants(saved["id"])
    assert [g["id"] for g in grants] == [link["id"]]
    assert grants[0]["token"] is None  # the secret is shown once

    guest = analytics.connect(live_server.url, link["token"])
    assert guest.saved_query(saved["id"])["permission"] == "view"
    assert guest.run_saved(saved["id"]).wait(timeout=30).rows == 2
    with pytest.raises(analytics.NotFound):  # a link views its one query, nothing more
        guest.update_query(saved["id"], name="defaced")
    with pytest.raises(analytics.NotFound):  # and sees nothing else
        guest.saved_query(other["id"])

    client.revoke_grant(link["id"])
    assert client.query_grants(saved["id"]) == []
    with pytest.raises(analytics.NotFound):
        guest.saved_query(saved["id"])
    with pytest.raises(analytics.NotFound):  # a user id nobody has
        client.share_query(saved["id"], "A" * 22, level="edit")


def test_export_to_bytes_and_streamed_to_a_file(client, datasource: str, tmp_path: Path) -> None:
    saved = client.save_query(
        unique("export"), "SELECT id, name FROM customers WHERE id <= :n ORDER BY id", datasource,
        [{"name": "n", "type": "number", "default": 2}],
    )  # fmt: skip
    data = client.export_query(saved["id"])
    assert isinstance(data, bytes)
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["id", "name"],
        ["1", "Ada"],
        ["2", "Grace"],
    ]

    target = client.export_query(
        saved["id"], format="parquet", path=tmp_path / "one.parquet", parameters={"n": 1}
    )
    assert target == tmp_path / "one.parquet"
    assert pd.read_parquet(target).to_dict("records") == [{"id": 1, "name": "Ada"}]
    assert not (tmp_path / "one.parquet.part").exists()

    run = client.run("SELECT g AS n FROM generate_series(1, 5000) AS g", datasource, row_limit=5000)
    run.wait(timeout=30)
    big = client.export_query(run_id=run.id, format="csv", path=tmp_path / "run.csv")
    assert len(Path(big).read_text().splitlines()) == 5001

    with pytest.raises(analytics.InvalidRequest, match="query_id"):
        client.export_query()


def test_result_pages_sorted_on_the_server(client, datasource: str) -> None:
    run = client.run(
        "SELECT g AS n, (g * 37) % 101 AS k, CASE WHEN g % 5 = 0 THEN NULL ELSE g END AS m "
        "FROM generate_series(1, 2000) AS g",
        datasource,
        row_limit=2000,
    ).wait(timeout=30)
    page = client.result_page(run.id, offset=0, limit=5, sort="k", descending=True)
    assert [row["k"] for row in page["rows"]] == [100] * 5
    assert page["total_rows"] == 2000
    whole = sorted(range(1, 2001), key=lambda g: ((g * 37) % 101, g))
    middle = client.result_page(run.id, offset=1000, limit=3, sort="k")
    assert [row["n"] for row in middle["rows"]] == whole[1000:1003]
    last = client.result_page(run.id, offset=1995, limit=10, sort="m")
    assert [row["m"] for row in last["rows"]] == [None] * 5  # nulls last
    plain = client.result_page(run.id, offset=0, limit=2)
    assert [row["n"] for row in plain["rows"]] == [1, 2]
    with pytest.raises(analytics.InvalidRequest, match="sort") as refused:
        client.result_page(run.id, sort="nope")
    assert refused.value.status == 422
    arrow = requests.get(
        f"{client.url}api/query/runs/{run.id}/result",
        params={"format": "arrow", "sort": "n", "order": "desc", "limit": 3},
        headers=client.transport._session.headers,
        timeout=30,
    )
    table = pa.ipc.open_stream(arrow.content).read_all()
    assert table.column("n").to_pylist() == [2000, 1999, 1998]
