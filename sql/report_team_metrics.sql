-- Report input: every team's metrics, both grains, oldest period first.
-- $team: one team, or NULL for every team.
SELECT *
FROM team_metrics
WHERE $team::VARCHAR IS NULL OR team = $team::VARCHAR
ORDER BY team, grain, period_start
