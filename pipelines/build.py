"""Building the warehouse: landing → canonical tables → derived metric tables.

Each `build_*` function reads what it needs from the warehouse, calls the pure `metrics`
functions, and replaces its tables in one transaction, so a reader never sees half a table and a
repeated build leaves the tables byte-identical. The Dagster assets call these one by one;
`build_all` runs them in order for scripts and tests.
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from metrics.compute import (
    Settings,
    compute_changes,
    compute_outcomes,
    compute_slo_periods,
    compute_team_metrics,
)
from metrics.delivery import Delivery
from metrics.ownership import OWNERSHIP_SCHEMA
from metrics.schema import KEYS, SCHEMAS, utc
from pipelines.config import DoraConfig, team_of_service
from pipelines.landing import read_entity
from pipelines.warehouse import connect

CANONICAL = ("commits", "pull_requests", "deployments", "incidents", "sli_measurements",
             "quarantine")


def settings_of(config: DoraConfig) -> Settings:
    """The metric settings of a config."""
    return Settings(
        production_environments=list(config.production_environments),
        incident_attribution_window_hours=config.incident_attribution_window_hours,
        min_sample=config.min_sample,
    )


def write_table(conn: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame,
                order_by: tuple[str, ...] = ()) -> int:
    """Replace table `name` with `frame` (sorted by `order_by` for a stable byte layout)."""
    if order_by:
        frame = frame.sort(list(order_by), nulls_last=True)
    conn.register("_incoming", frame.to_arrow())
    try:
        conn.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')  # noqa: S608
    finally:
        conn.unregister("_incoming")
    return frame.height


def read_table(conn: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A whole warehouse table as polars."""
    frame = conn.sql(f'SELECT * FROM "{name}"').pl()  # noqa: S608 - our own table names
    if name in SCHEMAS:  # nested timestamps (reviews) need the full schema to be relabelled
        return frame.cast(SCHEMAS[name])
    return utc(frame)


def latest_by_key(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Upsert semantics: the last record per key wins (latest batch, then latest row)."""
    keys = list(KEYS[entity])
    return (
        frame.with_row_index("_row")
        .sort(["_batch", "_row"])
        .unique(subset=keys, keep="last", maintain_order=True)
        .drop("_batch", "_row")
    )


def config_tables(config: DoraConfig) -> dict[str, pl.DataFrame]:
    """`teams`, `services` and `slos` from the config file."""
    teams = pl.DataFrame(team_of_service(config), schema=OWNERSHIP_SCHEMA)
    services = pl.DataFrame(
        [{"service": s.name, "repo": s.repo, "image": s.image, "paths": s.paths}
         for s in config.services],
        schema={"service": pl.String, "repo": pl.String, "image": pl.String,
                "paths": pl.List(pl.String)},
    )
    slos = pl.DataFrame(
        [{"slo": s.name, "service": s.service, "objective": s.objective} for s in config.slos],
        schema={"slo": pl.String, "service": pl.String, "objective": pl.Float64},
    )
    return {"teams": teams, "services": services, "slos": slos}


def build_canonical(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """Rewrite the canonical and config tables from the landing; returns row counts."""
    counts: dict[str, int] = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        for entity in CANONICAL:
            frame = latest_by_key(read_entity(config.landing_path, entity), entity)
            counts[entity] = write_table(conn, entity, frame, KEYS[entity])
        for name, frame in config_tables(config).items():
            counts[name] = write_table(conn, name, frame, (frame.columns[0], frame.columns[1]))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts


def _tables(conn: duckdb.DuckDBPyConnection, *names: str) -> list[pl.DataFrame]:
    return [read_table(conn, n) for n in names]


def _replace(conn: duckdb.DuckDBPyConnection, tables: dict[str, tuple[pl.DataFrame, tuple]]
             ) -> dict[str, int]:
    counts = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        for name, (frame, order) in tables.items():
            counts[name] = write_table(conn, name, frame, order)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts


def _services(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(conn, "services").select("service", "repo", "paths")


def _ownership(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(conn, "teams").cast(OWNERSHIP_SCHEMA)


def build_changes(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`changes`, `commit_deliveries` and `implicit_rollbacks`."""
    commits, prs, deployments = _tables(conn, "commits", "pull_requests", "deployments")
    delivery = compute_changes(commits, prs, deployments, _services(conn), _ownership(conn),
                               settings_of(config))
    return _replace(conn, {
        "changes": (delivery.changes, ("service", "delivered_at", "change_id")),
        "commit_deliveries": (delivery.commit_deliveries, ("service", "sha")),
        "implicit_rollbacks": (delivery.implicit_rollbacks, ("deployment_id",)),
    })


def build_outcomes(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`deployment_outcomes` and `incident_attributions`."""
    deployments, incidents, changes, deliveries, implicit = _tables(
        conn, "deployments", "incidents", "changes", "commit_deliveries", "implicit_rollbacks")
    delivery = Delivery(changes, deliveries, implicit, {})
    outcomes, attributions = compute_outcomes(deployments, incidents, delivery,
                                              _ownership(conn), settings_of(config))
    return _replace(conn, {
        "deployment_outcomes": (outcomes, ("service", "finished_at", "id")),
        "incident_attributions": (attributions, ("incident_id",)),
    })


def build_slo_periods(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`slo_periods` for both grains."""
    sli, slos = _tables(conn, "sli_measurements", "slos")
    periods = compute_slo_periods(sli, slos, _ownership(conn))
    return _replace(conn, {"slo_periods": (periods, ("slo", "grain", "period_start", "team"))})


def build_team_metrics(conn: duckdb.DuckDBPyConnection, config: DoraConfig,
                       org: bool = False) -> dict[str, int]:
    """`team_metrics` (or `org_metrics`) for the grains week and month."""
    outcomes, changes, incidents, slo_periods = _tables(
        conn, "deployment_outcomes", "changes", "incidents", "slo_periods")
    metrics = compute_team_metrics(outcomes, changes, incidents, slo_periods, _ownership(conn),
                                   settings_of(config), org=org)
    name = "org_metrics" if org else "team_metrics"
    order = ("grain", "period_start") if org else ("team", "grain", "period_start")
    return _replace(conn, {name: (metrics, order)})


def build_all(config: DoraConfig) -> dict[str, Any]:
    """Every table, in dependency order, without Dagster (for scripts and tests)."""
    return {**build_warehouse(config), **compute_metrics(config)}


def build_warehouse(config: DoraConfig) -> dict[str, int]:
    """Only the canonical tables (landing → warehouse)."""
    conn = connect(config.warehouse_path)
    try:
        return build_canonical(conn, config)
    finally:
        conn.close()


def compute_metrics(config: DoraConfig) -> dict[str, int]:
    """Every derived table from the canonical tables already in the warehouse."""
    conn = connect(config.warehouse_path)
    counts: dict[str, int] = {}
    try:
        counts.update(build_changes(conn, config))
        counts.update(build_outcomes(conn, config))
        counts.update(build_slo_periods(conn, config))
        counts.update(build_team_metrics(conn, config))
        counts.update(build_team_metrics(conn, config, org=True))
    finally:
        conn.close()
    return counts


