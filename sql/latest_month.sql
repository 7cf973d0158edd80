-- Each team's latest month of team_metrics (alphabetical), for previews in the Dagster UI.
SELECT *
FROM team_metrics
WHERE grain = 'month'
QUALIFY row_number() OVER (PARTITION BY team ORDER BY period_start DESC) = 1
ORDER BY team
