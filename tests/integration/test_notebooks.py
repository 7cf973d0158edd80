"""Every notebook runs top to bottom against the demo warehouse (read-only).

The three notebooks run at the same time (one kernel each) to keep the suite quick; a failing
cell fails its notebook's test with the cell's traceback.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["team_deep_dive.ipynb", "org_trends.ipynb", "data_quality.ipynb"]

pytestmark = pytest.mark.slow


async def _execute(path: Path) -> tuple[nbformat.NotebookNode, BaseException | None]:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        await client.async_execute()
    except CellExecutionError as exc:
        return notebook, exc
    return notebook, None


@pytest.fixture(scope="module")
def executed(demo_run) -> dict[str, tuple[nbformat.NotebookNode, BaseException | None]]:
    previous = os.environ.get("DORA_WAREHOUSE")
    os.environ["DORA_WAREHOUSE"] = str(demo_run.config.warehouse_path)
    os.environ.pop("DORA_TEAM", None)

    async def run_all():
        return await asyncio.gather(*(_execute(NOTEBOOKS / n) for n in NAMES))

    try:
        results = asyncio.run(run_all())
    finally:
        if previous is None:
            os.environ.pop("DORA_WAREHOUSE", None)
        else:
            os.environ["DORA_WAREHOUSE"] = previous
    return dict(zip(NAMES, results, strict=True))


def _text(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text or HTML."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts.append(data.get("text/plain", ""))
            parts.append(data.get("text/html", ""))
    return "\n".join(parts)


def _figures(notebook: nbformat.NotebookNode) -> int:
    return sum("application/vnd.plotly.v1+json" in o.get("data", {})
               for c in notebook.cells for o in c.get("outputs", []))


def test_the_notebooks_exist_and_carry_no_outputs() -> None:
    for name in NAMES:
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(not c.outputs for c in code), name
        source = "\n".join(c.source for c in code)
        assert "read_only=True" in source and "DORA_WAREHOUSE" in source
        assert "cdn.plot.ly" not in source and "notebook_connected" not in source


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(executed, name: str) -> None:
    notebook, error = executed[name]
    assert error is None, f"{name} failed:\n{error}"
    assert all(c.get("execution_count") for c in notebook.cells if c.cell_type == "code")


def test_team_deep_dive_shows_every_metric_and_its_drivers(executed, demo_run) -> None:
    notebook, _ = executed["team_deep_dive.ipynb"]
    text = _text(notebook)
    assert f"warehouse: {demo_run.config.warehouse_path}" in text
    assert "this notebook: checkout" in text  # first team alphabetically, not by any metric
    for label in ("deployment frequency", "lead time", "change failure rate", "recovery time",
                  "time to restore", "rework rate", "SLOs met"):
        assert label in text
    assert "coding" in text and "pickup" in text and "incident" in text
    # The drill-down cell: the latest week's change failure rate and the deployments behind it.
    assert "· change failure rate (change_failure_rate) = " in text
    assert re.search(r"\n  deployment \S+", text) and " records:" in text
    assert _figures(notebook) == 9  # seven metrics, the timeline, the SLOs


def test_org_trends_never_names_teams_in_the_spread(executed) -> None:
    notebook, _ = executed["org_trends.ipynb"]
    text = _text(notebook)
    assert "lead time improving" in text  # the demo organisation gets faster overall
    spreads = [o["data"]["application/vnd.plotly.v1+json"]
               for c in notebook.cells for o in c.get("outputs", [])
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(spreads) == 7
    for fig in spreads:
        blob = str(fig["data"])
        assert "payments" not in blob and "checkout" not in blob


def test_data_quality_walks_through_quarantine_and_coverage(executed) -> None:
    notebook, _ = executed["data_quality.ipynb"]
    text = _text(notebook)
    assert "sli_measurements" in text and "share_quarantined" in text
    assert "share_changes_from_prs" in text and "share_incidents_attributed" in text
    assert "merged pull requests not delivered (yet)" in text
