"""Metrics: the derived tables of docs/metrics.md, computed by the pure `metrics` package."""


import dagster as dg

from metrics.compute import sql_text
from pipelines.build import (
    build_changes,
    build_outcomes,
    build_slo_periods,
    build_team_metrics,
)
from pipelines.defs.resources import DoraResource
from pipelines.markdown import markdown_table

PREVIEW_COLUMNS = ["team", "period_start", "deployments", "changes", "lead_time_p50_hours",
                   "change_failure_rate", "fdrt_p50_hours", "time_to_restore_p50_hours",
                   "rework_rate", "slo_met_ratio"]


def _results(counts: dict[str, int]):
    for name, rows in counts.items():
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": rows})


@dg.multi_asset(
    group_name="metrics",
    specs=[
        dg.AssetSpec("changes", deps=["commits", "pull_requests", "deployments", "services",
                                      "teams"], kinds={"duckdb"},
                     description="One row per delivered change: start, delivery, lead time "
                                 "and its breakdown."),
        dg.AssetSpec("commit_deliveries", deps=["commits", "deployments", "services"],
                     kinds={"duckdb"}, description="Which deployment first delivered each "
                     "commit, per service (baseline marked)."),
        dg.AssetSpec("implicit_rollbacks", deps=["commits", "deployments"], kinds={"duckdb"},
                     description="Deployments whose revision is a strict ancestor of the "
                                 "previous deployment's."),
    ],
    pool="duckdb",
)
def changes(dora: DoraResource):
    """Delivers every change by walking each service's commit graph once (time mode where a
    repo has no parents)."""
    config = dora.load()
    with dora.warehouse() as conn:
        yield from _results(build_changes(conn, config))


@dg.multi_asset(
    group_name="metrics",
    specs=[
        dg.AssetSpec("deployment_outcomes", deps=["deployments", "incidents", "changes",
                                                  "commit_deliveries", "implicit_rollbacks",
                                                  "teams"],
                     kinds={"duckdb"}, description="One row per counted deployment: failed "
                     "and why, rework and why, restored_at."),
        dg.AssetSpec("incident_attributions", deps=["incidents", "deployments",
                                                    "commit_deliveries", "teams"],
                     kinds={"duckdb"},
                     description="Which deployment each incident is attributed to, by which "
                                 "rule."),
    ],
    pool="duckdb",
)
def deployment_outcomes(dora: DoraResource):
    """Marks failed deployments (incident, rollback, fix), rework, and when service was
    restored."""
    config = dora.load()
    with dora.warehouse() as conn:
        yield from _results(build_outcomes(conn, config))


@dg.asset(group_name="metrics", deps=["sli_measurements", "slos", "teams"], kinds={"duckdb"},
          pool="duckdb")
def slo_periods(dora: DoraResource) -> dg.MaterializeResult:
    """SLO attainment, met or missed, and error budget per SLO and period."""
    config = dora.load()
    with dora.warehouse() as conn:
        counts = build_slo_periods(conn, config)
    return dg.MaterializeResult(metadata={"dagster/row_count": counts["slo_periods"]})


_METRIC_INPUTS = ["deployment_outcomes", "changes", "incidents", "slo_periods", "teams"]


@dg.multi_asset(
    name="team_metrics",
    group_name="metrics",
    specs=[
        dg.AssetSpec("team_metrics", deps=_METRIC_INPUTS, kinds={"duckdb"},
                     description="Every DORA metric per team, week and month, with sample "
                                 "sizes and 95% intervals."),
        dg.AssetSpec("team_metric_records", deps=_METRIC_INPUTS, kinds={"duckdb"},
                     description="The records behind every team_metrics number (the "
                                 "`metric_records` view reads them, docs/sql.md)."),
        dg.AssetSpec("org_metrics", deps=_METRIC_INPUTS, kinds={"duckdb"},
                     description="The same metrics over all teams, computed from the same "
                                 "records (never averaged)."),
    ],
    pool="duckdb",
)
def team_metrics(dora: DoraResource):
    """Every DORA metric per team, week and month, the records behind each number, and the
    organisation's metrics from those same records (computed once for both)."""
    config = dora.load()
    with dora.warehouse() as conn:
        counts = build_team_metrics(conn, config)
        preview = conn.sql(sql_text("latest_month")).pl().select(PREVIEW_COLUMNS)
    yield dg.MaterializeResult(asset_key="team_metrics", metadata={
        "dagster/row_count": counts["team_metrics"],
        "latest_month": dg.MetadataValue.md(markdown_table(preview.rows(), PREVIEW_COLUMNS)),
    })
    yield dg.MaterializeResult(asset_key="team_metric_records",
                               metadata={"dagster/row_count": counts["team_metric_records"]})
    yield dg.MaterializeResult(asset_key="org_metrics",
                               metadata={"dagster/row_count": counts["org_metrics"]})
