"""Reproduce every number of `team_metrics` / `org_metrics` from the `metric_records` view.

`REPRODUCE` says, per metric, how a reader recomputes the cell from its records alone (the rule
docs/sql.md gives) and which `team_metrics` column that must equal. `mismatches` lists every
cell where it does not; an empty list is the proof that a number and its records agree.
"""

from __future__ import annotations

import duckdb

# metric → (aggregate over its records, the team_metrics expression it must equal,
#           the value of a period without records: 0 for a count, NULL otherwise)
REPRODUCE: dict[str, tuple[str, str, str]] = {
    "deployments": ("count(*)", "deployments", "0"),
    "deploy_days": ("count(DISTINCT detail)", "deploy_days", "0"),
    "changes": ("count(*)", "changes", "0"),
    # lead times: the changes' records, negative lead times left out
    "lead_time_p50_hours": ("quantile_cont(value_hours, 0.5) FILTER (value_hours >= 0)",
                            "lead_time_p50_hours", "NULL"),
    "lead_time_p90_hours": ("quantile_cont(value_hours, 0.9) FILTER (value_hours >= 0)",
                            "lead_time_p90_hours", "NULL"),
    "failed_deployments": ("count(detail)", "failed_deployments", "0"),
    "change_failure_rate": ("count(detail) / count(*)", "change_failure_rate", "NULL"),
    "unrecovered_failures": ("count(*)", "unrecovered_failures", "0"),
    "fdrt_p50_hours": ("quantile_cont(value_hours, 0.5)", "fdrt_p50_hours", "NULL"),
    "incidents_opened": ("count(*)", "incidents_opened", "0"),
    "incidents_resolved": ("count(*)", "incidents_resolved", "0"),
    "time_to_restore_p50_hours": ("quantile_cont(value_hours, 0.5)",
                                  "time_to_restore_p50_hours", "NULL"),
    "rework_deployments": ("count(*)", "rework_deployments", "0"),
    # rework_rate's records are the rework deployments: its numerator (denominator: deployments)
    "rework_rate": ("count(*)", "rework_deployments", "0"),
    # SLOs count once each (an SLO that changed team within a period has two records in the
    # organisation's period, one per team)
    "slos_total": ("count(DISTINCT record_id)", "slos_total", "0"),
    "slos_met": ("count(DISTINCT record_id)", "slos_met", "0"),
    "slo_met_ratio": ("count(DISTINCT record_id) FILTER (detail LIKE 'met:%') "
                      "/ count(DISTINCT record_id)", "slo_met_ratio", "NULL"),
}
SAMPLES = {  # quantiles: their records with a (non-negative) value are their sample
    "lead_time_p50_hours": "lead_time_samples", "lead_time_p90_hours": "lead_time_samples",
    "fdrt_p50_hours": "fdrt_samples", "time_to_restore_p50_hours": "incidents_resolved",
}

_CELLS = {"team_metrics": "SELECT * FROM team_metrics",
          "org_metrics": "SELECT 'all teams' AS team, * FROM org_metrics"}


def mismatches(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every (table, metric, team, grain, period_start, expected, reproduced) that disagrees,
    and every record of a (team, grain, period) that has no row in its metrics table."""
    bad: list[tuple] = []
    for table, cells in _CELLS.items():
        for metric, (agg, expected, empty) in REPRODUCE.items():
            checks = [(agg, expected, empty)]
            if metric in SAMPLES:
                checks.append(("count(*) FILTER (value_hours >= 0)", SAMPLES[metric], "0"))
            for aggregate, column, none in checks:
                bad += conn.execute(f"""
                    WITH r AS (
                        SELECT team, grain, period_start, {aggregate} AS got
                        FROM metric_records WHERE metric = $metric GROUP BY ALL
                    ), t AS ({cells})
                    SELECT '{table}', $metric, t.team, t.grain, t.period_start,
                           t.{column} AS expected, coalesce(r.got, {none}) AS got
                    FROM t LEFT JOIN r USING (team, grain, period_start)
                    WHERE NOT ((expected IS NULL AND got IS NULL)
                               OR abs(expected - got) <= 1e-9)
                """, {"metric": metric}).fetchall()  # noqa: S608 - the constants above
        bad += conn.execute(f"""
            SELECT '{table}', r.metric, r.team, r.grain, r.period_start, NULL, count(*)
            FROM metric_records AS r ANTI JOIN ({cells}) AS t USING (team, grain, period_start)
            WHERE (r.team = 'all teams') = ('{table}' = 'org_metrics')
            GROUP BY ALL
        """).fetchall()  # noqa: S608
    return bad
