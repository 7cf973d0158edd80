"""docs/sql.md, the stable SQL interface: every table and column it documents is what the
warehouse has, and every example query runs (against the demo and the known answers)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
from reportkit import small_org

DOC = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
TABLE_HEADING = re.compile(r"^### `(\w+)`\s*$", re.M)
QUERY = re.compile(r"^### (\d+)\. (.+?)\n(.*?)```sql\n(.*?)```", re.M | re.S)


def documented_tables() -> dict[str, list[tuple[str, str]]]:
    """{table: [(column, type), ...]} from the markdown tables under each `### `name`` heading."""
    text = DOC.read_text("utf-8")
    heads = list(TABLE_HEADING.finditer(text))
    tables = {}
    for head, nxt in zip(heads, [*heads[1:], None], strict=True):
        section = text[head.end(): nxt.start() if nxt else len(text)]
        rows = re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.M)
        tables[head.group(1)] = rows
    return tables


def documented_queries() -> list[tuple[int, str, str, str]]:
    """(number, title, text before the query, sql) for every example."""
    text = DOC.read_text("utf-8").split("## Example queries", 1)[1]
    return [(int(n), title, intro, sql) for n, title, intro, sql in QUERY.findall(text)]


def _normal_type(name: str) -> str:
    return name.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(path), read_only=True,
                          config={"autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False})
    conn.execute("SET TimeZone = 'UTC'")
    return conn


@pytest.fixture(scope="module")
def demo(demo_run):
    conn = _connect(demo_run.config.warehouse_path)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory):
    conn = _connect(small_org(tmp_path_factory).warehouse_path)
    yield conn
    conn.close()


def test_the_document_has_a_dozen_queries() -> None:
    queries = documented_queries()
    assert len(queries) >= 12
    assert [n for n, *_ in queries] == list(range(1, len(queries) + 1))
    for _, title, _, sql in queries:  # examples never rank or sort teams by a metric
        assert "rank(" not in sql.lower() and "row_number(" not in sql.lower(), title


@pytest.mark.slow
def test_every_table_and_column_is_documented_with_its_type(demo) -> None:
    actual = {
        table: [(c, _normal_type(t)) for c, t in demo.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = $t ORDER BY ordinal_position", params={"t": table}).fetchall()]
        for (table,) in demo.sql(
            "SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()
    }
    documented = documented_tables()
    assert sorted(documented) == sorted(actual)
    for table, columns in actual.items():
        assert documented[table] == columns, table


@pytest.mark.slow
@pytest.mark.parametrize("number", range(1, len(documented_queries()) + 1))
def test_every_documented_query_runs_on_the_demo(demo, number: int) -> None:
    _, title, intro, sql = documented_queries()[number - 1]
    rows = demo.sql(sql).fetchall()
    if "Returns no rows when" not in intro:
        assert rows, f"query {number} ({title}) returned nothing on the demo"


def _query(title_start: str) -> str:
    return next(sql for _, title, _, sql in documented_queries()
                if title.startswith(title_start))


def test_median_lead_time_per_month_known_answers(known) -> None:
    # The worked example of tests/known_answers.py: January's lead times 27, 2, 6, 2, 1 h;
    # February's 0.5 h
    rows = known.sql(_query("Median lead time per month")).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (dt.date(2026, 1, 1), 2.0, 5), (dt.date(2026, 2, 1), 0.5, 1)]
    again = known.sql(_query("The same median")).fetchall()
    assert [(r[0], r[1]) for r in again] == [(dt.date(2026, 1, 1), 2.0),
                                             (dt.date(2026, 2, 1), 0.5)]


def test_failed_deployments_and_their_restoration_known_answers(known) -> None:
    rows = known.sql(_query("Deployments that failed")).fetchall()
    assert [(r[0], r[5], r[6]) for r in rows] == [
        ("D3", "incidents resolved", 4.0),
        ("D4", "rolled back by D5", 20.0),
        ("D6", "rolled back by D7", 2.0),
        ("D7", "fixed by D8", 19.0),
        ("D8", "not restored", None),
    ]


def test_change_failure_rate_and_unowned_records_known_answers(known) -> None:
    rows = known.sql(_query("Change failure rate per month")).fetchall()
    assert rows[0][:4] == (dt.date(2026, 1, 1), 8, 5, 0.625)
    assert (rows[0][4], rows[0][5]) == (0.306, 0.863)  # Wilson, worked in test_definitions
    unowned = known.sql(_query("Records of services that no team owns")).fetchall()
    assert unowned == [("incident", "mystery", 1)]
