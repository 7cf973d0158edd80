"""Reading what the reports show from the warehouse, read-only, through `sql/report_*.sql`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import polars as pl

from metrics.compute import sql_text
from pipelines.config import DoraConfig
from pipelines.warehouse import connect

UNASSIGNED = "unassigned"


@contextmanager
def warehouse(config: DoraConfig) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the config's warehouse, in UTC, closed afterwards."""
    conn = connect(config.warehouse_path, read_only=True)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn
    finally:
        conn.close()


def query(conn: duckdb.DuckDBPyConnection, name: str, **params: object) -> pl.DataFrame:
    """Run `sql/<name>.sql` with named parameters; a polars frame."""
    return conn.sql(sql_text(name), params=params or None).pl()


def sort_teams(teams: list[str]) -> list[str]:
    """Teams in alphabetical order (case-insensitive, then exact), `unassigned` excluded.

    This is the only order the reports ever put teams in.
    """
    return sorted({t for t in teams if t != UNASSIGNED}, key=lambda t: (t.casefold(), t))


@dataclass
class Overview:
    """What every page needs: the team list, all team metrics, org metrics, coverage."""

    teams: list[str]  # alphabetical, without `unassigned`
    has_unassigned: bool
    team_metrics: pl.DataFrame
    org_metrics: pl.DataFrame
    coverage: pl.DataFrame
    conflicts: pl.DataFrame  # keys two sources both give (`source_conflicts`)
    quarantined: int
    loaded: int
    first_period: dt.date | None
    last_period: dt.date | None

    def metrics_of(self, team: str, grain: str) -> pl.DataFrame:
        return self.team_metrics.filter((pl.col("team") == team) & (pl.col("grain") == grain))

    def coverage_of(self, team: str) -> dict:
        rows = self.coverage.filter(pl.col("team") == team).to_dicts()
        return rows[0] if rows else {}


def load_overview(conn: duckdb.DuckDBPyConnection) -> Overview:
    """Every team's metrics and the organisation's, for the index and the team pages."""
    names = query(conn, "report_teams")["team"].to_list()
    metrics = query(conn, "report_team_metrics", team=None)
    org = query(conn, "report_org_metrics")
    coverage = query(conn, "report_coverage")
    conflicts = query(conn, "report_source_conflicts")
    totals = query(conn, "report_quarantine").row(0, named=True)
    weekly = metrics.filter(pl.col("grain") == "week")["period_start"]
    return Overview(
        teams=sort_teams(names),
        has_unassigned=UNASSIGNED in names,
        team_metrics=metrics,
        org_metrics=org,
        coverage=coverage,
        conflicts=conflicts,
        quarantined=int(totals["quarantined"] or 0),
        loaded=int(totals["loaded"] or 0),
        first_period=weekly.min() if weekly.len() else None,
        last_period=weekly.max() if weekly.len() else None,
    )


@dataclass
class TeamData:
    """One team's records for its page."""

    team: str
    weekly: pl.DataFrame
    monthly: pl.DataFrame
    breakdown: pl.DataFrame
    deployments: pl.DataFrame
    incidents: pl.DataFrame
    slos: pl.DataFrame
    coverage: dict


def load_team(conn: duckdb.DuckDBPyConnection, overview: Overview, team: str) -> TeamData:
    """Everything one team page shows."""
    return TeamData(
        team=team,
        weekly=overview.metrics_of(team, "week"),
        monthly=overview.metrics_of(team, "month"),
        breakdown=query(conn, "report_breakdown", team=team),
        deployments=query(conn, "report_deployments", team=team),
        incidents=query(conn, "report_incidents", team=team),
        slos=query(conn, "report_slos", team=team),
        coverage=overview.coverage_of(team),
    )
