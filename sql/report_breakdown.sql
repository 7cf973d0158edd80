-- Report input: the lead-time breakdown per team and period for $teams (a list; NULL for every
-- team), with the sample size of each segment (a segment is NULL when an end is missing or it
-- is negative, docs/metrics.md section 2). Periods follow team_metrics: the period of the
-- delivering deployment.
SELECT
    team,
    grain,
    date_trunc(grain, timezone('UTC', delivered_at))::DATE AS period_start,
    quantile_cont(coding_hours, 0.5) AS coding_p50_hours,
    count(coding_hours)::BIGINT AS coding_samples,
    quantile_cont(pickup_hours, 0.5) AS pickup_p50_hours,
    count(pickup_hours)::BIGINT AS pickup_samples,
    quantile_cont(review_hours, 0.5) AS review_p50_hours,
    count(review_hours)::BIGINT AS review_samples,
    quantile_cont(deploy_hours, 0.5) AS deploy_p50_hours,
    count(deploy_hours)::BIGINT AS deploy_samples
FROM changes, (SELECT unnest(['week', 'month']) AS grain)
WHERE $teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], team)
GROUP BY ALL
ORDER BY team, grain, period_start
