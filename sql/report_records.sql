-- Report input: the records behind the charted cells of team_metrics (the metric_records view,
-- docs/sql.md), for $teams (a list; NULL for every team) and the $metrics a page can open.
SELECT team, grain, period_start, metric, record_kind, record_id, value_hours, detail
FROM metric_records
WHERE ($teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], team))
    AND list_contains($metrics::VARCHAR[], metric)
ORDER BY team, metric, grain, period_start, detail IS NULL, value_hours DESC NULLS LAST,
    record_id
