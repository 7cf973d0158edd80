"""The DORA metrics from canonical tables: tables in, tables out (no Dagster, no network).

Each function serves one derived table of docs/metrics.md. Set-based aggregation runs as SQL from
`sql/` on an in-memory DuckDB connection over the polars frames; graph walks and interval
statistics run in Python.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import duckdb
import polars as pl

from metrics import stats
from metrics.delivery import Delivery, deliver
from metrics.outcomes import attribute_incidents, counted_deployments, deployment_outcomes
from metrics.ownership import assign_team
from metrics.registry import METRICS, Quantile, Rate
from metrics.schema import duckdb_arrow, utc

GRAINS = ("week", "month")
ORG = "all teams"


@dataclass(frozen=True)
class Settings:
    """The config values the definitions depend on."""

    production_environments: list[str] = field(default_factory=lambda: ["production", "prod"])
    incident_attribution_window_hours: float = 168.0
    min_sample: int = 5


def sql_text(name: str) -> str:
    """The text of `sql/<name>.sql` (the package `metrics.sql` once installed)."""
    return _sql_folder().joinpath(f"{name}.sql").read_text(encoding="utf-8")


@functools.cache
def _sql_folder() -> Traversable:
    """Where the SQL is: the package `metrics.sql` (installed, or mapped by an editable
    install), else the checkout's top-level `sql/` beside this package. The second is what a
    command run inside a checkout finds when the product was installed without `-e`: Python
    then imports this checkout's `metrics`, which has no `sql` inside."""
    try:
        return resources.files("metrics.sql")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "sql"


@contextmanager
def private_duckdb(frames: dict[str, pl.DataFrame]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory DuckDB (UTC) with `frames` registered under their keys."""
    conn = duckdb.connect(config={"autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False})
    try:
        conn.execute("SET TimeZone = 'UTC'")
        for table, frame in frames.items():
            conn.register(table, duckdb_arrow(frame))
        yield conn
    finally:
        conn.close()


def run_sql(name: str, frames: dict[str, pl.DataFrame], params: dict | None = None
            ) -> pl.DataFrame:
    """Run `sql/<name>.sql` over `frames` (registered under their keys) in a private DuckDB."""
    with private_duckdb(frames) as conn:
        return utc(conn.sql(sql_text(name), params=params or {}).pl())


def compute_changes(commits: pl.DataFrame, pull_requests: pl.DataFrame,
                    deployments: pl.DataFrame, services: pl.DataFrame,
                    ownership: pl.DataFrame, settings: Settings) -> Delivery:
    """Delivered changes (with `team` at delivery), per-commit deliveries, implicit rollbacks."""
    counted = counted_deployments(deployments, settings.production_environments)
    delivery = deliver(commits, pull_requests, counted, services)
    delivery.changes = assign_team(delivery.changes, ownership, at="delivered_at")
    return delivery


def compute_outcomes(deployments: pl.DataFrame, incidents: pl.DataFrame,
                     delivery: Delivery, ownership: pl.DataFrame,
                     settings: Settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`deployment_outcomes` (with `team`) and `incident_attributions`."""
    counted = counted_deployments(deployments, settings.production_environments)
    attributions = attribute_incidents(incidents, counted, delivery.commit_deliveries,
                                       settings.incident_attribution_window_hours)
    outcomes = deployment_outcomes(counted, attributions, incidents, delivery.implicit_rollbacks)
    outcomes = assign_team(outcomes, ownership, at="finished_at")
    return outcomes, attributions


def compute_slo_periods(sli: pl.DataFrame, slos: pl.DataFrame,
                        ownership: pl.DataFrame) -> pl.DataFrame:
    """`slo_periods` for both grains; `slos` has (slo, service, objective)."""
    with_service = sli.join(slos.select("slo", "service"), on="slo", how="inner")
    sli_t = assign_team(with_service, ownership, at="window_start")
    parts = [run_sql("slo_periods", {"sli": sli_t, "slos": slos}, {"grain": g}) for g in GRAINS]
    return pl.concat(parts)


# The columns of the stored record table `team_metric_records` (docs/sql.md); the
# `metric_records` view shows `metric` in place of `record_set`.
RECORD_COLUMNS = ("team", "grain", "period_start", "record_set", "record_kind", "record_id",
                  "value_hours", "detail")


def compute_metric_records(outcomes: pl.DataFrame, changes: pl.DataFrame,
                           incidents: pl.DataFrame, slo_periods: pl.DataFrame,
                           ownership: pl.DataFrame) -> pl.DataFrame:
    """The records behind every `team_metrics` cell, both grains.

    The organisation's records are these with the team `all teams` (the `metric_records`
    view, and `org_metrics`).
    """
    tables = records_and_metrics(outcomes, changes, incidents, slo_periods, ownership,
                                 Settings())
    assert tables.records is not None
    return tables.records


@dataclass
class MetricTables:
    """`team_metrics`, `org_metrics` and the records both aggregate (None when stored by
    `records_and_metrics(into=...)`)."""

    records: pl.DataFrame | None
    team_metrics: pl.DataFrame
    org_metrics: pl.DataFrame


def records_and_metrics(outcomes: pl.DataFrame, changes: pl.DataFrame,
                        incidents: pl.DataFrame, slo_periods: pl.DataFrame,
                        ownership: pl.DataFrame, settings: Settings,
                        into: tuple[duckdb.DuckDBPyConnection, str] | None = None
                        ) -> MetricTables:
    """The records (`sql/metric_records.sql`), and `team_metrics` and `org_metrics`
    aggregated from exactly those rows (`sql/team_metrics.sql`), both grains.

    All come from the same rows, so every number and its records agree by construction; the
    lead-time breakdown medians (no records of their own) come from `changes`. The organisation
    relabels every record `all teams` and aggregates the records themselves, so its medians are
    medians of all values, never a mean of team figures. The records are computed once and
    stay in DuckDB between the steps (they are the largest frame here).

    With `into=(conn, table)` the work runs on the caller's DuckDB connection and the records
    are stored there as `table` (RECORD_COLUMNS, sorted) rather than returned: a million rows
    need not travel through Python and back. The inputs are registered on that connection for
    the call only (they shadow its tables of the same names meanwhile).
    """
    incidents_t = assign_team(incidents, ownership, at="opened_at")
    frames = {"deployment_outcomes": outcomes, "changes": changes,
              "incidents": incidents_t, "slo_periods": slo_periods}
    with _duckdb_for(frames, into) as conn:
        # Both grains in one pass: each record's text is built once for the two.
        conn.execute("CREATE TEMP TABLE all_records AS " + sql_text("metric_records"),
                     {"grains": list(GRAINS)})
        # The organisation's records are the teams' (the view relabels them): not kept.
        # Sorted here, in parallel, in the order the warehouse stores them (a stable layout).
        kept = f"SELECT {', '.join(RECORD_COLUMNS)} FROM all_records ORDER BY ALL NULLS LAST"  # noqa: S608
        records = None
        if into is not None:
            conn.execute(f'CREATE OR REPLACE TABLE "{into[1]}" AS {kept}')  # noqa: S608
        else:
            records = utc(conn.sql(kept).pl())
        teams = _aggregate(conn, "team")
        # The organisation: every record and change relabelled, the breakdown medians too.
        conn.register("changes", duckdb_arrow(changes.with_columns(pl.lit(ORG).alias("team"))))
        org = _aggregate(conn, f"'{ORG}'")
    return MetricTables(records, add_intervals(teams, settings.min_sample),
                        add_intervals(org, settings.min_sample).drop("team"))


def _aggregate(conn: duckdb.DuckDBPyConnection, team: str) -> pl.DataFrame:
    """`sql/team_metrics.sql` over `all_records` with `team` as each record's team (the
    column, or the organisation's label), both grains."""
    conn.execute(f"CREATE OR REPLACE TEMP VIEW records AS SELECT * REPLACE ({team} AS team) "  # noqa: S608
                 "FROM all_records WHERE grain = getvariable('grain')")
    parts = []
    for g in GRAINS:
        conn.execute("SET VARIABLE grain = $grain", {"grain": g})
        parts.append(utc(conn.sql(sql_text("team_metrics"), params={"grain": g}).pl()))
    return pl.concat(parts)


@contextmanager
def _duckdb_for(frames: dict[str, pl.DataFrame],
                into: tuple[duckdb.DuckDBPyConnection, str] | None
                ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private DuckDB with `frames`, or the caller's connection with `frames` registered
    and this call's temporary objects removed afterwards."""
    if into is None:
        with private_duckdb(frames) as conn:
            yield conn
        return
    conn = into[0]
    # The SQL assumes a UTC session, as the private connection has.
    # fetchall: a result left open (fetchone) makes the next `register` fail.
    zone = conn.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    conn.execute("SET TimeZone = 'UTC'")
    for table, frame in frames.items():
        conn.register(table, duckdb_arrow(frame))
    try:
        yield conn
    finally:
        conn.execute("SET TimeZone = $zone", {"zone": zone})
        conn.execute("DROP VIEW IF EXISTS temp.records")
        conn.execute("DROP TABLE IF EXISTS temp.all_records")
        for table in frames:
            conn.unregister(table)


def records_view_sql(table: str = "team_metric_records") -> str:
    """The `metric_records` view: each metric's record set from `table`, for every team and,
    relabelled `all teams`, for the organisation (the rows `org_metrics` aggregates)."""
    sets = ", ".join(f"('{m.column}', '{m.record_set}')" for m in METRICS)
    columns = "grain, period_start, record_set, record_kind, record_id, value_hours, detail"
    # Registry names and our own table name only: no user text reaches this SQL.
    return (
        "CREATE OR REPLACE VIEW metric_records AS\n"  # noqa: S608
        f"WITH sets(metric, record_set) AS (VALUES {sets}),\n"
        f"all_rows AS (SELECT team, {columns} FROM {table}\n"
        f"             UNION ALL SELECT '{ORG}' AS team, {columns} FROM {table})\n"
        "SELECT r.team, r.grain, r.period_start, s.metric, r.record_kind, r.record_id,\n"
        "       r.value_hours, r.detail\n"
        "FROM all_rows AS r JOIN sets AS s USING (record_set)"
    )


def compute_team_metrics(outcomes: pl.DataFrame, changes: pl.DataFrame,
                         incidents: pl.DataFrame, slo_periods: pl.DataFrame,
                         ownership: pl.DataFrame, settings: Settings,
                         org: bool = False) -> pl.DataFrame:
    """`team_metrics` (or, with `org=True`, `org_metrics`) for both grains, with intervals."""
    tables = records_and_metrics(outcomes, changes, incidents, slo_periods, ownership, settings)
    return tables.org_metrics if org else tables.team_metrics


def median_ci_exprs(name: str) -> list[pl.Expr]:
    """Order-statistic interval bounds picked from the sorted `<name>_values` list."""
    values = pl.col(f"{name}_values")
    n = values.list.len()
    ranks = n.map_elements(lambda k: (stats.order_statistic_ranks(k) or (0, 0))[0],
                           return_dtype=pl.Int64)
    valid = ranks > 0
    return [
        pl.when(valid).then(values.list.get(ranks - 1, null_on_oob=True))
        .alias(f"{name}_p50_ci_low_hours"),
        pl.when(valid).then(values.list.get(n - ranks, null_on_oob=True))
        .alias(f"{name}_p50_ci_high_hours"),
    ]


def add_intervals(metrics: pl.DataFrame, min_sample: int) -> pl.DataFrame:
    """Add 95% intervals and low-sample flags ("Honest numbers"); drop the value lists.

    Which metric gets which is the registry's `interval` (metrics/registry.py): medians the
    distribution-free order-statistic interval, rates the Wilson interval;
    `<metric>_low_sample` is true when the sample is under `min_sample`.
    """
    out = metrics.with_columns(
        [e for m in METRICS if m.interval == "order_statistic" for e in median_ci_exprs(m.stem)]
    )
    for m in METRICS:
        if m.interval == "wilson" and isinstance(m.how, Rate):
            low, high = stats.wilson_intervals(out.get_column(m.how.numerator).to_numpy(),
                                               out.get_column(m.how.denominator).to_numpy())
            low_col, high_col = m.interval_columns or ("", "")
            out = out.with_columns(
                pl.Series(low_col, low).fill_nan(None), pl.Series(high_col, high).fill_nan(None),
                (pl.col(m.how.denominator) < min_sample).alias(f"{m.low_sample_column}"))
    flags = {m.low_sample_column: m.samples for m in METRICS
             if isinstance(m.how, Quantile) and m.low_sample_column}
    out = out.with_columns([(pl.col(n) < min_sample).alias(flag) for flag, n in flags.items()])
    return out.drop([c for c in out.columns if c.endswith("_values")])
