-- Lead time per team and period for an alternative attribution of changes (the people view,
-- the code-owner view). Input: changes, with a `team` column. $grain is 'week' or 'month'.
-- Same rules as team_metrics: the period of the delivering deployment, linear quantiles over
-- the period's individual values, a row for every period from the team's first record to the
-- latest period of the view.
WITH
chg AS (
    SELECT
        team,
        date_trunc($grain, timezone('UTC', delivered_at))::DATE AS period_start,
        count(*)::BIGINT AS changes,
        count(*) FILTER (lead_time_hours >= 0)::BIGINT AS lead_time_samples,
        count(*) FILTER (lead_time_hours < 0)::BIGINT AS negative_lead_times,
        quantile_cont(lead_time_hours, 0.5) FILTER (lead_time_hours >= 0) AS lead_time_p50_hours,
        quantile_cont(lead_time_hours, 0.9) FILTER (lead_time_hours >= 0) AS lead_time_p90_hours,
        list(lead_time_hours ORDER BY lead_time_hours) FILTER (lead_time_hours >= 0)
            AS lead_time_values,
        count(coding_hours)::BIGINT AS coding_samples,
        quantile_cont(coding_hours, 0.5) AS coding_p50_hours,
        count(pickup_hours)::BIGINT AS pickup_samples,
        quantile_cont(pickup_hours, 0.5) AS pickup_p50_hours,
        count(review_hours)::BIGINT AS review_samples,
        quantile_cont(review_hours, 0.5) AS review_p50_hours,
        count(deploy_hours)::BIGINT AS deploy_samples,
        quantile_cont(deploy_hours, 0.5) AS deploy_p50_hours
    FROM changes
    GROUP BY ALL
),
spans AS (
    SELECT team, min(period_start) AS first_period,
           (SELECT max(period_start) FROM chg) AS last_period
    FROM chg GROUP BY team
),
periods AS (
    SELECT team, unnest(generate_series(first_period, last_period,
                 CASE WHEN $grain = 'week' THEN INTERVAL 7 DAY ELSE INTERVAL 1 MONTH END))::DATE
                 AS period_start
    FROM spans
)
SELECT
    p.team,
    $grain AS grain,
    p.period_start,
    coalesce(chg.changes, 0) AS changes,
    coalesce(chg.lead_time_samples, 0) AS lead_time_samples,
    chg.lead_time_p50_hours,
    chg.lead_time_p90_hours,
    coalesce(chg.negative_lead_times, 0) AS negative_lead_times,
    coalesce(chg.coding_samples, 0) AS coding_samples,
    chg.coding_p50_hours,
    coalesce(chg.pickup_samples, 0) AS pickup_samples,
    chg.pickup_p50_hours,
    coalesce(chg.review_samples, 0) AS review_samples,
    chg.review_p50_hours,
    coalesce(chg.deploy_samples, 0) AS deploy_samples,
    chg.deploy_p50_hours,
    coalesce(chg.lead_time_values, []::DOUBLE[]) AS lead_time_values
FROM periods AS p
LEFT JOIN chg USING (team, period_start)
ORDER BY p.team, p.period_start
