-- One row per team and period (docs/metrics.md sections 1-7 and "Empty periods").
-- Inputs: `records` (sql/metric_records.sql: one row per record set and record, with `team`,
-- `period_start` and the internal `counted` flag) and `changes` (for the lead-time breakdown,
-- which has no records of its own). $grain is 'week' or 'month'.
-- Every count and quantile below is computed from the rows of its metric's record set (the
-- registry's `record_set`, metrics/registry.py), the rows the metric_records view shows; rates
-- are numerator / denominator of two counts (the registry declares which). SLOs are counted
-- distinct: in `org_metrics` an SLO that changed team within a period is one SLO (met when any
-- of its parts met). Quantiles are linear (quantile_cont) over the period's
-- individual values; the sorted values are kept in *_values lists for the caller's intervals.
WITH
agg AS (
    SELECT
        team,
        period_start,
        count(*) FILTER (record_set = 'deployments')::BIGINT AS deployments,
        count(*) FILTER (record_set = 'changes')::BIGINT AS changes,
        count(*) FILTER (record_set = 'changes' AND value_hours >= 0)::BIGINT
            AS lead_time_samples,
        count(*) FILTER (record_set = 'changes' AND value_hours < 0)::BIGINT
            AS negative_lead_times,
        quantile_cont(value_hours, 0.5) FILTER (record_set = 'changes' AND value_hours >= 0)
            AS lead_time_p50_hours,
        quantile_cont(value_hours, 0.9) FILTER (record_set = 'changes' AND value_hours >= 0)
            AS lead_time_p90_hours,
        list(value_hours ORDER BY value_hours) FILTER (record_set = 'changes' AND value_hours >= 0)
            AS lead_time_values,
        count(*) FILTER (record_set = 'deployments' AND counted)::BIGINT
            AS failed_deployments,
        count(*) FILTER (record_set = 'unrecovered_failures')::BIGINT AS unrecovered_failures,
        count(*) FILTER (record_set = 'fdrt_p50_hours')::BIGINT AS fdrt_samples,
        quantile_cont(value_hours, 0.5) FILTER (record_set = 'fdrt_p50_hours')
            AS fdrt_p50_hours,
        list(value_hours ORDER BY value_hours) FILTER (record_set = 'fdrt_p50_hours')
            AS fdrt_values,
        count(*) FILTER (record_set = 'incidents_opened')::BIGINT AS incidents_opened,
        count(*) FILTER (record_set = 'incidents_resolved')::BIGINT AS incidents_resolved,
        quantile_cont(value_hours, 0.5) FILTER (record_set = 'incidents_resolved')
            AS time_to_restore_p50_hours,
        list(value_hours ORDER BY value_hours) FILTER (record_set = 'incidents_resolved')
            AS time_to_restore_values,
        count(*) FILTER (record_set = 'rework_deployments')::BIGINT AS rework_deployments
    FROM records
    GROUP BY ALL
),
-- Distinct counts apart, over their own few rows: a DISTINCT aggregate slows a whole GROUP BY.
days AS (
    SELECT team, period_start,
           count(DISTINCT detail) FILTER (record_set = 'deploy_days')::BIGINT AS deploy_days
    FROM records WHERE record_set = 'deploy_days'
    GROUP BY ALL
),
slo AS (
    SELECT team, period_start,
           count(DISTINCT record_id) FILTER (record_set = 'slos_total')::BIGINT AS slos_total,
           count(DISTINCT record_id) FILTER (record_set = 'slos_met')::BIGINT AS slos_met
    FROM records WHERE record_set IN ('slos_total', 'slos_met')
    GROUP BY ALL
),
breakdown AS (
    SELECT
        team,
        date_trunc($grain, timezone('UTC', delivered_at))::DATE AS period_start,
        quantile_cont(coding_hours, 0.5) AS coding_p50_hours,
        quantile_cont(pickup_hours, 0.5) AS pickup_p50_hours,
        quantile_cont(review_hours, 0.5) AS review_p50_hours,
        quantile_cont(deploy_hours, 0.5) AS deploy_p50_hours
    FROM changes
    GROUP BY ALL
),
spans AS (
    SELECT team, min(period_start) AS first_period,
           (SELECT max(period_start) FROM agg) AS last_period
    FROM agg GROUP BY team
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
    coalesce(a.deployments, 0) AS deployments,
    coalesce(d.deploy_days, 0) AS deploy_days,
    coalesce(a.changes, 0) AS changes,
    coalesce(a.lead_time_samples, 0) AS lead_time_samples,
    a.lead_time_p50_hours,
    a.lead_time_p90_hours,
    coalesce(a.negative_lead_times, 0) AS negative_lead_times,
    b.coding_p50_hours,
    b.pickup_p50_hours,
    b.review_p50_hours,
    b.deploy_p50_hours,
    coalesce(a.failed_deployments, 0) AS failed_deployments,
    a.failed_deployments::DOUBLE / nullif(a.deployments, 0) AS change_failure_rate,
    coalesce(a.unrecovered_failures, 0) AS unrecovered_failures,
    coalesce(a.fdrt_samples, 0) AS fdrt_samples,
    a.fdrt_p50_hours,
    coalesce(a.incidents_opened, 0) AS incidents_opened,
    coalesce(a.incidents_resolved, 0) AS incidents_resolved,
    a.time_to_restore_p50_hours,
    coalesce(a.rework_deployments, 0) AS rework_deployments,
    a.rework_deployments::DOUBLE / nullif(a.deployments, 0) AS rework_rate,
    coalesce(s.slos_total, 0) AS slos_total,
    coalesce(s.slos_met, 0) AS slos_met,
    s.slos_met::DOUBLE / nullif(s.slos_total, 0) AS slo_met_ratio,
    a.lead_time_values,
    a.fdrt_values,
    a.time_to_restore_values
FROM periods AS p
LEFT JOIN agg AS a USING (team, period_start)
LEFT JOIN days AS d USING (team, period_start)
LEFT JOIN slo AS s USING (team, period_start)
LEFT JOIN breakdown AS b USING (team, period_start)
ORDER BY p.team, p.period_start
