-- Report input: the records behind the charted cells of team_metrics, for $teams (a list; NULL
-- for every team) and the record $sets a page can open. Read from `team_metric_records` (the
-- table under the metric_records view, docs/sql.md) by record set: metrics that share their
-- records (lead times and changes; deployments and change failure rate) read them once, and the
-- organisation's copy the view adds is not read at all.
SELECT team, grain, period_start, record_set, record_kind, record_id, value_hours, detail
FROM team_metric_records
WHERE ($teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], team))
    AND list_contains($sets::VARCHAR[], record_set)
-- not sorted here: pipelines/reports/records.py sorts the rows into page order (team, record
-- set, grain, period, then as a table lists them) in polars, in about half DuckDB's time
