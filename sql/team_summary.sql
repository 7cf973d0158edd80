-- The CLI summary: per team over the last $weeks weeks of team_metrics (alphabetical, never
-- ranked). Counts are the sums of the weekly rows; a rate is the summed numerator over the
-- summed denominator; a median is taken over the window's records in metric_records (a median
-- of weekly medians would not be one). Nothing here recomputes a metric from the raw tables.
WITH bounds AS (
    SELECT max(period_start) - INTERVAL (7 * ($weeks - 1)) DAY AS window_start
    FROM team_metrics WHERE grain = 'week'
),
counts AS (
    SELECT team, sum(deployments) AS deployments,
           sum(failed_deployments) AS failed_deployments, sum(changes) AS changes
    FROM team_metrics, bounds
    WHERE grain = 'week' AND period_start >= window_start
    GROUP BY team
),
medians AS (
    SELECT team,
           quantile_cont(value_hours, 0.5)
               FILTER (metric = 'lead_time_p50_hours' AND value_hours >= 0)
               AS lead_time_p50_hours,
           quantile_cont(value_hours, 0.5) FILTER (metric = 'fdrt_p50_hours') AS fdrt_p50_hours
    FROM metric_records, bounds
    WHERE grain = 'week' AND period_start >= window_start AND team <> 'all teams'
    GROUP BY team
),
teams AS (SELECT DISTINCT team FROM team_metrics)
SELECT
    teams.team,
    round(coalesce(counts.deployments, 0) / $weeks, 1) AS deployments,
    round(medians.lead_time_p50_hours, 1) AS lead_time_p50_hours,
    round(counts.failed_deployments / nullif(counts.deployments, 0), 3) AS change_failure_rate,
    round(medians.fdrt_p50_hours, 1) AS fdrt_p50_hours,
    coalesce(counts.changes, 0) AS changes
FROM teams
LEFT JOIN counts USING (team)
LEFT JOIN medians USING (team)
ORDER BY teams.team
