"""A warehouse several users and processes share: the published DuckDB snapshot, copied into a
DuckLake (catalog in PostgreSQL, data as Parquet in a folder or bucket). See docs/deployment.md.

The pipeline keeps building its DuckDB file (one writer); this publishes the published snapshot's
tables as one DuckLake snapshot, which any number of readers on any machines query (and can time
travel) with DuckDB 1.5.5's `ducklake` extension. DuckLake's PyPI extension packages need DuckDB
1.5.5 while the pipeline runs DuckDB 2.0, so the DuckLake side is pipelines/ducklake_publish.py
in an environment of its own (`.venv-ducklake`, deploy/ducklake/requirements.txt):

    python -m pipelines.shared_warehouse --config dora.yaml \\
        --catalog 'postgres:dbname=lake host=db.internal user=dora' --data-path /shared/lake/
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from pipelines.warehouse import connect

# The publisher is a file of this package run by the other environment's interpreter: it
# imports nothing from the project, so it works from a wheel as from a checkout.
PUBLISHER = resources.files("pipelines") / "ducklake_publish.py"
# The DuckLake environment: `DORA_DUCKLAKE_PYTHON`, else `.venv-ducklake` in the working folder.
DUCKLAKE_PYTHON = Path(os.environ.get("DORA_DUCKLAKE_PYTHON", ".venv-ducklake/bin/python"))


def export_parquet(warehouse: Path, folder: Path) -> list[Path]:
    """Every table of the published warehouse as `<folder>/<table>.parquet`, and every view
    (`metric_records`) as `<folder>/<view>.view.sql`, its definition."""
    folder.mkdir(parents=True, exist_ok=True)
    conn = connect(warehouse, read_only=True)
    try:
        names = [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]
        files = []
        for name in names:
            target = folder / f"{name}.parquet"
            conn.execute(f"COPY \"{name}\" TO '{target}' (FORMAT parquet)")  # noqa: S608
            files.append(target)
        views = conn.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal "
                             "AND schema_name = 'main' ORDER BY view_name").fetchall()
        for name, text in views:
            target = folder / f"{name}.view.sql"
            target.write_text(text, encoding="utf-8")
            files.append(target)
        return files
    finally:
        conn.close()


def run_publisher(command: str, catalog: str, data_path: str | None,
                  python: Path = DUCKLAKE_PYTHON, **options: str) -> Any:
    """Run pipelines/ducklake_publish.py `command` in the DuckLake environment; its JSON answer."""
    if not Path(python).exists():
        raise FileNotFoundError(
            f"{python}: no DuckLake environment; create it with `python3 -m venv .venv-ducklake "
            "&& .venv-ducklake/bin/pip install -r deploy/ducklake/requirements.txt`")
    args = [command, "--catalog", catalog]
    if data_path:
        args += ["--data-path", data_path]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", value]
    with resources.as_file(PUBLISHER) as script:
        done = subprocess.run([str(python), str(script), *args], capture_output=True, text=True,
                              check=False)
    if done.returncode != 0:
        raise RuntimeError(f"DuckLake {command} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def publish_to_ducklake(warehouse: Path, catalog: str, data_path: str | None,
                        python: Path = DUCKLAKE_PYTHON) -> dict[str, Any]:
    """Publish every table of the warehouse as one DuckLake snapshot; returns its id and counts."""
    with tempfile.TemporaryDirectory(prefix="dora-ducklake-") as scratch:
        export_parquet(warehouse, Path(scratch))
        return run_publisher("publish", catalog, data_path, python, parquet=scratch)


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.shared_warehouse`: publish a config's warehouse to a DuckLake."""
    from pipelines.config import load_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("dora.yaml"))
    parser.add_argument("--catalog", required=True,
                        help="postgres:<connection string>, or a DuckDB file for one machine")
    parser.add_argument("--data-path", required=True, help="a folder or bucket for the data")
    parser.add_argument("--python", type=Path, default=DUCKLAKE_PYTHON,
                        help="the DuckLake environment's python (default .venv-ducklake)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    result = publish_to_ducklake(config.warehouse_path, args.catalog, args.data_path, args.python)
    print(f"snapshot {result['snapshot']}: " + ", ".join(
        f"{table} {rows}" for table, rows in sorted(result["counts"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
