-- A short per-team summary over the last $weeks weeks of data (alphabetical, never ranked).
-- Figures come from the records of the window, not from averaging weekly figures.
WITH bounds AS (
    SELECT max(period_start) + INTERVAL 7 DAY AS window_end,
           max(period_start) - INTERVAL (7 * ($weeks - 1)) DAY AS window_start
    FROM team_metrics WHERE grain = 'week'
),
dep AS (
    SELECT team, count(*) AS deployments, count(*) FILTER (failed) AS failed,
           quantile_cont(recovery_hours, 0.5) FILTER (failed AND recovery_hours >= 0) AS fdrt
    FROM deployment_outcomes, bounds
    WHERE finished_at >= window_start AND finished_at < window_end
    GROUP BY team
),
chg AS (
    SELECT team, count(*) AS changes,
           quantile_cont(lead_time_hours, 0.5) FILTER (lead_time_hours >= 0) AS lead_time
    FROM changes, bounds
    WHERE delivered_at >= window_start AND delivered_at < window_end
    GROUP BY team
),
teams AS (SELECT DISTINCT team FROM team_metrics)
SELECT
    teams.team,
    round(coalesce(dep.deployments, 0) / $weeks, 1) AS deployments_per_week,
    round(chg.lead_time, 1) AS lead_time_p50_hours,
    round(dep.failed / nullif(dep.deployments, 0), 3) AS change_failure_rate,
    round(dep.fdrt, 1) AS fdrt_p50_hours,
    coalesce(chg.changes, 0) AS changes
FROM teams
LEFT JOIN dep USING (team)
LEFT JOIN chg USING (team)
ORDER BY teams.team
