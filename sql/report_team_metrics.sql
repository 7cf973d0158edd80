-- Report input: the metrics of $teams (a list; NULL for every team), both grains, oldest period
-- first.
SELECT *
FROM team_metrics
WHERE $teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], team)
ORDER BY team, grain, period_start
