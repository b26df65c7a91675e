"""Publishing dashboards: the notebook written with nbformat (valid, one cell, metadata),
atomically into ``dashboards_dir`` with the right modes; the viewer URL; unpublishing; who may
publish; no path outside the folder whatever id is asked for; notebooks of deleted dashboards
pruned."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from analytics_ext.errors import NotFound
from analytics_ext.services.dashboard_publish import (
    build_notebook,
    notebook_path,
    write_atomically,
)
from tests.support.dashboard_team import HERE, create_board, sales_database, team_factory

pytestmark = pytest.mark.timeout(120)

PUBLIC_URL = "https://analytics.example.org/team/"


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def published_dir(tmp_path: Path) -> Path:
    return tmp_path / "published" / "dashboards"


@pytest.fixture
def jp_server_config(jp_server_config: Config, published_dir: Path) -> Config:
    jp_server_config.AnalyticsExtension.dashboards_dir = str(published_dir)
    jp_server_config.AnalyticsExtension.public_url = PUBLIC_URL
    return jp_server_config


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with sales_database() as url:
        yield url


@pytest.fixture
def make_team(api, create_account, login, server_services, sales_url):
    return team_factory(api, create_account, login, server_services, sales_url)


async def test_publish_writes_the_notebook(make_team, published_dir):
    team = await make_team()
    created = await create_board(team.alice, team, title='Sales <b>"weekly"</b>')
    dashboard_id = created["id"]
    await team.alice.patch(f"/api/dashboards/{dashboard_id}", {"description": "v2"})

    published = await team.alice.post(f"/api/dashboards/{dashboard_id}/publish")
    assert published["dashboard_id"] == dashboard_id
    assert published["version"] == 2
    assert published["notebook"] == f"{dashboard_id}.ipynb"
    assert published["viewer_url"] == f"{PUBLIC_URL}analytics/dashboards/{dashboard_id}"

    path = published_dir / published["notebook"]
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["analytics_ext"] == {"dashboard_id": dashboard_id, "version": 2}
    assert notebook.metadata["title"] == 'Sales <b>"weekly"</b>'
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert len(notebook.cells) == 1
    cell = notebook.cells[0]
    assert cell.cell_type == "code"
    # The notebook pins the version it was published from: later saves reach viewers only
    # when the dashboard is published again.
    assert cell.source == (
        f'from analytics_ext.dashboards.view import show\nshow("{dashboard_id}", version=2)'
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(published_dir.stat().st_mode) == 0o755
    assert [entry.name for entry in published_dir.iterdir()] == [path.name]  # no temp file left

    found = await team.alice.get(f"/api/dashboards/{dashboard_id}")
    assert found["published_version"] == 2
    assert found["published_at"] == published["published_at"]
    assert found["viewer_url"] == published["viewer_url"]
    listed = await team.alice.get("/api/dashboards")
    assert listed["items"][0]["viewer_url"] == published["viewer_url"]

    # Publishing again rewrites it with the current version and title.
    await team.alice.patch(f"/api/dashboards/{dashboard_id}", {"title": "Sales"})
    again = await team.alice.post(f"/api/dashboards/{dashboard_id}/publish")
    assert again["version"] == 3
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["analytics_ext"]["version"] == 3
    assert notebook.metadata["title"] == "Sales"


async def test_unpublish_removes_the_notebook(make_team, published_dir):
    team = await make_team()
    created = await create_board(team.alice, team)
    dashboard_id = created["id"]
    await team.alice.post(f"/api/dashboards/{dashboard_id}/publish")
    path = published_dir / f"{dashboard_id}.ipynb"
    assert path.exists()
    await team.alice.delete(f"/api/dashboards/{dashboard_id}/publish")
    assert not path.exists()
    found = await team.alice.get(f"/api/dashboards/{dashboard_id}")
    assert found["viewer_url"] is None
    assert found["published_version"] is None
    assert found["published_at"] is None
    await team.alice.delete(f"/api/dashboards/{dashboard_id}/publish")  # again: nothing to do


async def test_deleting_a_dashboard_removes_its_notebook(make_team, published_dir):
    team = await make_team()
    created = await create_board(team.alice, team)
    await team.alice.post(f"/api/dashboards/{created['id']}/publish")
    await team.alice.delete(f"/api/dashboards/{created['id']}")
    assert not (published_dir / f"{created['id']}.ipynb").exists()


async def test_publishing_needs_edit(make_team, published_dir):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}/publish"
    await team.bob.post(path, expect=404)  # cannot see it
    await team.bob.delete(path, expect=404)
    team.grant("dashboard", created["id"], team.bob_id, "view")
    await team.bob.post(path, expect=403)
    await team.bob.delete(path, expect=403)
    assert not published_dir.exists()
    team.grant("dashboard", created["id"], team.bob_id, "edit")
    assert (await team.bob.post(path))["version"] == 1
    await team.bob.delete(path, expect=204)


@pytest.mark.parametrize(
    "dashboard_id",
    ["../../../etc/passwd", "..%2F..%2Fx", "a" * 21, "a" * 23, "/abs/olute/path/aaaaaaaa", ""],
)
async def test_no_id_names_a_file_outside_the_folder(make_team, published_dir, dashboard_id):
    """Route regexes already refuse these ids; the service refuses them too, before any path
    is built, so no other caller can write or remove a file elsewhere."""
    team = await make_team()
    publish = team.services.dashboard_publish
    with pytest.raises(NotFound):
        publish.publish(team.alice_id, dashboard_id, HERE)
    with pytest.raises(NotFound):
        publish.unpublish(team.alice_id, dashboard_id, HERE)
    with pytest.raises(NotFound):
        notebook_path(published_dir, dashboard_id)
    await team.alice.post(f"/api/dashboards/{dashboard_id}/publish", expect=404)
    assert not published_dir.exists()


def test_the_notebook_is_valid_nbformat_4():
    notebook = build_notebook("A" * 22, 7, "<script>x</script>")
    nbformat.validate(notebook)
    text = nbformat.writes(notebook)
    assert nbformat.reads(text, as_version=4) == notebook
    assert notebook.cells[0].source.splitlines() == [
        "from analytics_ext.dashboards.view import show",
        'show("AAAAAAAAAAAAAAAAAAAAAA", version=7)',
    ]


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path: Path):
    path = tmp_path / "x.ipynb"
    write_atomically(path, "old")

    with pytest.raises(TypeError):
        write_atomically(path, b"not text")  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [entry.name for entry in tmp_path.iterdir()] == ["x.ipynb"]


async def test_prune_removes_notebooks_of_dashboards_gone(make_team, published_dir):
    team = await make_team()
    kept = await create_board(team.alice, team, title="kept")
    await team.alice.post(f"/api/dashboards/{kept['id']}/publish")
    orphan = published_dir / f"{'Z' * 22}.ipynb"
    orphan.write_text("{}")
    other = published_dir / "notes.ipynb"
    other.write_text("{}")
    publish = team.services.dashboard_publish
    assert publish.prune() == []  # younger than the grace period: maybe a publish in flight
    old = time.time() - 3600
    for path in published_dir.iterdir():
        os.utime(path, (old, old))
    assert publish.prune() == ["Z" * 22]
    assert sorted(entry.name for entry in published_dir.iterdir()) == sorted(
        [f"{kept['id']}.ipynb", "notes.ipynb"]
    )
