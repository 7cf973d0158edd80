"""The package lists of pyproject.toml match the tree, and the installed copy has what it reads.

`.ci/run` also builds the wheel, installs it into a fresh venv and runs the demo from a folder
outside the checkout; these tests catch the cheap mistakes earlier.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _tree_packages() -> set[str]:
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for top in ("pipelines", "metrics") for p in (ROOT / top).rglob("__init__.py")}
    return found | {"metrics.sql"}  # the top-level sql/ folder, mapped by package-dir


def test_every_package_of_the_tree_is_listed_and_nothing_else() -> None:
    assert set(PYPROJECT["tool"]["setuptools"]["packages"]) == _tree_packages()


def test_sql_ships_as_metrics_sql() -> None:
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"metrics.sql": "sql"}
    shipped = {p.name for p in resources.files("metrics.sql").iterdir()
               if p.name.endswith(".sql")}
    assert shipped == {p.name for p in (ROOT / "sql").glob("*.sql")}
    assert "team_metrics.sql" in shipped


def test_the_packaged_dg_project_says_what_pyproject_says() -> None:
    packaged = tomllib.loads(resources.files("pipelines").joinpath("dg.toml").read_text("utf-8"))
    tool = PYPROJECT["tool"]
    assert packaged["directory_type"] == tool["dg"]["directory_type"] == "project"
    for key in ("root_module", "defs_module"):
        assert packaged["project"][key] == tool["dg"]["project"][key]
    assert packaged["project"]["code_location_name"] == tool["dagster"]["code_location_name"]


def test_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
