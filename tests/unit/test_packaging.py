"""The package lists of pyproject.toml match the tree, and the installed copy has what it reads.

`.ci/run` also builds the wheel, installs it into a fresh venv and runs the demo from a folder
outside the checkout; these tests catch the cheap mistakes earlier.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
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
    # The same code location name everywhere, or dg warns once per component on every load.
    for key in ("root_module", "defs_module", "code_location_name"):
        assert packaged["project"][key] == tool["dg"]["project"][key]
    assert packaged["project"]["code_location_name"] == tool["dagster"]["code_location_name"]


def test_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_the_sql_is_found_in_a_checkout_installed_without_e(tmp_path: Path) -> None:
    """Run inside a checkout after `pip install .`, Python imports the checkout's `metrics`,
    which has no `sql` package inside (the wheel maps `sql/` to it): the SQL is then read from
    the checkout's `sql/` folder. Replayed with a copy of the two folders and no site hooks (so
    no editable-install mapping either)."""
    for folder in ("metrics", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    site = [p for p in sys.path if p.endswith("site-packages")]
    code = (f"import sys; sys.path[:0] = [{str(tmp_path)!r}]; sys.path += {site!r}; "
            "import metrics, importlib.util; from metrics.compute import sql_text; "
            "print(metrics.__file__); print(importlib.util.find_spec('metrics.sql')); "
            "print(sql_text('team_metrics') == open(sys.argv[1], encoding='utf-8').read())")
    out = subprocess.run([sys.executable, "-S", "-c", code, str(ROOT / "sql/team_metrics.sql")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [str(tmp_path / "metrics" / "__init__.py"), "None", "True"]
