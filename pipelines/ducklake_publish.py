"""Publish warehouse tables to a DuckLake, and read them back: the shared-warehouse option.

Runs in its own environment with DuckDB 1.5.5 (deploy/ducklake/requirements.txt): the DuckLake and
PostgreSQL extensions exist on PyPI only for that version, while the pipeline runs DuckDB 2.0. It
imports nothing from the project; `pipelines.shared_warehouse` hands it Parquet files.

    python publish.py publish --parquet DIR --catalog 'postgres:dbname=lake host=db user=dora' \
        --data-path s3://bucket/lake/          # one snapshot: every table of DIR replaced at once
    python publish.py query --catalog ... --data-path ... --sql 'SELECT count(*) FROM commits'

`--catalog` is DuckLake's metadata store: `postgres:<libpq connection string>` (several writers
and readers on any machines), or a DuckDB file path (one machine). `--data-path` is where the
table data (Parquet) goes: a folder, or s3:// / gs:// with DuckDB's httpfs extension. Output is
JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import duckdb
import duckdb_extensions

SETTINGS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def open_lake(catalog: str, data_path: str | None, read_only: bool = False
              ) -> duckdb.DuckDBPyConnection:
    """A connection with the DuckLake attached as `lake` (extensions from the PyPI packages)."""
    conn = duckdb.connect(config=dict(SETTINGS))
    for extension in ["ducklake", *(["postgres"] if catalog.startswith("postgres:") else [])]:
        duckdb_extensions.import_extension(extension, con=conn)
        conn.execute(f"LOAD {extension}")
    options = [f"DATA_PATH {_quote(data_path)}"] if data_path else []
    if read_only:
        options.append("READ_ONLY")
    suffix = f" ({', '.join(options)})" if options else ""
    conn.execute(f"ATTACH {_quote('ducklake:' + catalog)} AS lake{suffix}")
    return conn


def publish(conn: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, Any]:
    """Replace every table that has a `<table>.parquet` in `folder`, then every view that has a
    `<view>.view.sql` (its `CREATE VIEW`), in one transaction (one snapshot: readers see all the
    new tables and views or none of them)."""
    files = sorted(folder.glob("*.parquet"))
    views = sorted(folder.glob("*.view.sql"))
    for file in [*files, *views]:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", file.name.split(".")[0]):
            raise ValueError(f"{file.name}: not a table or view name")
    conn.execute("BEGIN TRANSACTION")
    try:
        for file in files:  # names checked above
            conn.execute(f'CREATE OR REPLACE TABLE lake."{file.stem}" AS '  # noqa: S608
                         f"SELECT * FROM read_parquet({_quote(str(file))})")
        conn.execute("USE lake")  # a view's tables are the lake's
        for file in views:  # the warehouse's own definitions (pipelines.shared_warehouse)
            text = file.read_text(encoding="utf-8")
            conn.execute(re.sub(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW", "CREATE OR REPLACE VIEW",
                                text, count=1, flags=re.IGNORECASE))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    counts = {f.stem: conn.execute(f'SELECT count(*) FROM lake."{f.stem}"').fetchone()[0]  # noqa: S608
              for f in files}
    snapshot = conn.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
    return {"snapshot": snapshot, "counts": counts}


def query(conn: duckdb.DuckDBPyConnection, sql: str) -> list[list[Any]]:
    """Rows of `sql` (run with `lake` as the default database), as JSON-friendly lists."""
    conn.execute("USE lake")
    return [[v if isinstance(v, int | float | str | bool | None) else str(v) for v in row]
            for row in conn.execute(sql).fetchall()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["publish", "query"])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--data-path")
    parser.add_argument("--parquet", type=Path, help="publish: the folder of <table>.parquet")
    parser.add_argument("--sql", help="query: the SQL to run")
    args = parser.parse_args(argv)
    if args.command == "publish":
        if args.parquet is None:
            parser.error("publish needs --parquet")
        result: Any = publish(open_lake(args.catalog, args.data_path), args.parquet)
    else:
        if args.sql is None:
            parser.error("query needs --sql")
        result = query(open_lake(args.catalog, args.data_path, read_only=True), args.sql)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
