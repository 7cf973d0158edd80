-- One row per team and period (METRICS.md sections 1-7 and "Empty periods").
-- Inputs, each with a `team` column: deployment_outcomes, changes, incidents, slo_periods.
-- $grain is 'week' (Monday 00:00 UTC) or 'month' (calendar month, UTC).
-- Quantiles are linear (quantile_cont) over the period's individual values; the sorted values
-- are kept in *_values lists so the caller can add distribution-free intervals.
WITH
dep AS (
    SELECT
        team,
        date_trunc($grain, timezone('UTC', finished_at))::DATE AS period_start,
        count(*)::BIGINT AS deployments,
        count(DISTINCT timezone('UTC', finished_at)::DATE)::BIGINT AS deploy_days,
        count(*) FILTER (failed)::BIGINT AS failed_deployments,
        count(*) FILTER (failed AND restored_at IS NULL)::BIGINT AS unrecovered_failures,
        count(*) FILTER (failed AND recovery_hours >= 0)::BIGINT AS fdrt_samples,
        quantile_cont(recovery_hours, 0.5) FILTER (failed AND recovery_hours >= 0)
            AS fdrt_p50_hours,
        list(recovery_hours ORDER BY recovery_hours) FILTER (failed AND recovery_hours >= 0)
            AS fdrt_values,
        count(*) FILTER (rework)::BIGINT AS rework_deployments
    FROM deployment_outcomes
    GROUP BY ALL
),
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
        quantile_cont(coding_hours, 0.5) AS coding_p50_hours,
        quantile_cont(pickup_hours, 0.5) AS pickup_p50_hours,
        quantile_cont(review_hours, 0.5) AS review_p50_hours,
        quantile_cont(deploy_hours, 0.5) AS deploy_p50_hours
    FROM changes
    GROUP BY ALL
),
opened AS (
    SELECT team, date_trunc($grain, timezone('UTC', opened_at))::DATE AS period_start,
           count(*)::BIGINT AS incidents_opened
    FROM incidents
    GROUP BY ALL
),
resolved AS (
    SELECT
        team,
        date_trunc($grain, timezone('UTC', resolved_at))::DATE AS period_start,
        count(*)::BIGINT AS incidents_resolved,
        quantile_cont(restore_hours, 0.5) AS time_to_restore_p50_hours,
        list(restore_hours ORDER BY restore_hours) AS time_to_restore_values
    FROM (
        SELECT team, resolved_at,
               epoch_us(resolved_at - opened_at) / 3600e6 AS restore_hours
        FROM incidents WHERE resolved_at IS NOT NULL
    )
    GROUP BY ALL
),
slo AS (
    SELECT team, period_start,
           count(DISTINCT slo)::BIGINT AS slos_total,
           count(DISTINCT slo) FILTER (met)::BIGINT AS slos_met
    FROM slo_periods
    WHERE grain = $grain
    GROUP BY ALL
),
keys AS (
    SELECT team, period_start FROM dep UNION SELECT team, period_start FROM chg
    UNION SELECT team, period_start FROM opened UNION SELECT team, period_start FROM resolved
    UNION SELECT team, period_start FROM slo
),
spans AS (
    SELECT team, min(period_start) AS first_period,
           (SELECT max(period_start) FROM keys) AS last_period
    FROM keys GROUP BY team
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
    coalesce(dep.deployments, 0) AS deployments,
    coalesce(dep.deploy_days, 0) AS deploy_days,
    coalesce(chg.changes, 0) AS changes,
    coalesce(chg.lead_time_samples, 0) AS lead_time_samples,
    chg.lead_time_p50_hours,
    chg.lead_time_p90_hours,
    coalesce(chg.negative_lead_times, 0) AS negative_lead_times,
    chg.coding_p50_hours,
    chg.pickup_p50_hours,
    chg.review_p50_hours,
    chg.deploy_p50_hours,
    coalesce(dep.failed_deployments, 0) AS failed_deployments,
    dep.failed_deployments::DOUBLE / nullif(dep.deployments, 0) AS change_failure_rate,
    coalesce(dep.unrecovered_failures, 0) AS unrecovered_failures,
    coalesce(dep.fdrt_samples, 0) AS fdrt_samples,
    dep.fdrt_p50_hours,
    coalesce(opened.incidents_opened, 0) AS incidents_opened,
    coalesce(resolved.incidents_resolved, 0) AS incidents_resolved,
    resolved.time_to_restore_p50_hours,
    coalesce(dep.rework_deployments, 0) AS rework_deployments,
    dep.rework_deployments::DOUBLE / nullif(dep.deployments, 0) AS rework_rate,
    coalesce(slo.slos_total, 0) AS slos_total,
    coalesce(slo.slos_met, 0) AS slos_met,
    slo.slos_met::DOUBLE / nullif(slo.slos_total, 0) AS slo_met_ratio,
    chg.lead_time_values,
    dep.fdrt_values,
    resolved.time_to_restore_values
FROM periods AS p
LEFT JOIN dep USING (team, period_start)
LEFT JOIN chg USING (team, period_start)
LEFT JOIN opened USING (team, period_start)
LEFT JOIN resolved USING (team, period_start)
LEFT JOIN slo USING (team, period_start)
ORDER BY p.team, p.period_start
