"""Every example notebook runs top to bottom against freshly generated demo data, through a real
server: a live server (subprocess) whose ``demo`` datasource is that data, and a kernel whose
environment holds the server's URL and an API key made through the API (the notebooks just call
``connect()``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.demo_server import DemoServer, start_demo_server

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "analytics-ext-test"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with start_demo_server(tmp_path_factory.mktemp("notebooks")) as server:
        yield server


@pytest.fixture(scope="module")
def demo_dir(demo: DemoServer) -> Path:
    return demo.demo_dir


@pytest.fixture
def kernel_env(
    demo: DemoServer, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernelspec that runs this interpreter, and the environment the kernel inherits.

    A ``python3`` spec found on JUPYTER_PATH could belong to another Python without our
    dependencies, so the test installs its own spec pointing at ``sys.executable``.
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "analytics_ext test", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    jupyter_path = [str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH", "")]
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, jupyter_path)))
    python_path = [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, python_path)))
    monkeypatch.setenv("ANALYTICS_DEMO_DIR", str(demo_dir))
    monkeypatch.delenv("ANALYTICS_EXT_TOKEN", raising=False)
    for name, value in demo.client_env().items():
        monkeypatch.setenv(name, value)


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no example notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {cell.id} has stored outputs"
            assert cell.execution_count is None, f"{path.name}: cell {cell.id} was executed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_without_errors(
    path: Path, demo: DemoServer, demo_dir: Path, kernel_env: None, tmp_path: Path
):
    notebook = nbformat.read(path, as_version=4)
    workdir = tmp_path / "run"  # what a notebook writes (exports) lands here, not in the repo
    workdir.mkdir()
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=180,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    # It used the generated data instead of writing its own copy somewhere else.
    assert sorted(p.name for p in demo_dir.iterdir()) == ["retail.duckdb", "retail.sqlite"]
    if path.stem == "01_demo_data_tour":
        charts = [output for output in outputs if WIDGET_VIEW in output.get("data", {})]
        assert len(charts) == 2, "expected the bqplot line and bar charts"
        printed = "".join(output.get("text", "") for output in outputs)
        assert str(demo_dir / "retail.duckdb") in printed
    check = NOTEBOOK_CHECKS.get(path.stem)
    if check is not None:
        check(demo, outputs, workdir)


def _api(demo: DemoServer, path: str, **params: object) -> dict:
    response = httpx.get(
        f"{demo.url}{path}", params=params, headers=demo.server.auth_header, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def _check_getting_started(demo: DemoServer, outputs: list, workdir: Path) -> None:
    printed = "".join(output.get("text", "") for output in outputs)
    assert f"connected to {demo.url}" in printed
    name = "Monthly revenue by country (getting started)"
    saved = [q for q in _api(demo, "api/query", q=name)["items"] if q["name"] == name]
    assert len(saved) == 1, "the notebook updates its saved query instead of adding another"
    assert "country: " in printed  # the refused value is named by the server's message


def _check_exploring(demo: DemoServer, outputs: list, workdir: Path) -> None:
    printed = "".join(output.get("text", "") for output in outputs)
    widgets = [output for output in outputs if WIDGET_VIEW in output.get("data", {})]
    assert len(widgets) == 5, "browser, editor, broken editor, grid, reopened editor"
    # The browser's preview: at most preview_rows on the server, one page in the browser.
    assert "previewing order_lines: 1,000 rows on the server, 25 in this page" in printed
    assert "failed - The query failed: Catalog Error: Table with name no_such_table" in printed
    assert printed.count("succeeded: ") == 2


def _check_chart(demo: DemoServer, outputs: list, workdir: Path) -> None:
    printed = "".join(output.get("text", "") for output in outputs)
    widgets = [output for output in outputs if WIDGET_VIEW in output.get("data", {})]
    assert len(widgets) == 3, "the builder, the reopened chart, the chart of local data"
    assert "drawn: " in printed
    charts = [c for c in _api(demo, "api/chart")["items"] if c["name"] == "US revenue by month"]
    assert len(charts) == 1, "re-running keeps one saved copy"
    chart = _api(demo, f"api/chart/{charts[0]['id']}")
    assert chart["spec"]["encodings"]["color"]["field"] == "category"
    assert chart["customization"]["title"] == "Revenue by category, United States"
    assert f"saved chart {chart['id']}; favorite: True" in printed
    assert any("image/png" in output.get("data", {}) for output in outputs)
    assert any("image/svg+xml" in output.get("data", {}) for output in outputs)
    svg = (workdir / "us_revenue_by_category.svg").read_text()
    assert svg.startswith("<svg")
    assert "Revenue by category, United States" in svg


NOTEBOOK_CHECKS = {
    "04_building_a_chart": _check_chart,
    "02_getting_started": _check_getting_started,
    "03_exploring_a_datasource": _check_exploring,
}
