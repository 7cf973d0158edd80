-- Report input: the organisation's metrics (computed from all records), both grains.
SELECT *
FROM org_metrics
ORDER BY grain, period_start
