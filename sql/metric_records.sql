-- The records behind every cell of team_metrics (docs/metrics.md "Every number has its records").
-- Inputs, each with a `team` column: deployment_outcomes, changes, incidents, slo_periods.
-- $grain is 'week' (Monday 00:00 UTC) or 'month' (calendar month, UTC).
-- One row per (metric, record): team_metrics.sql aggregates exactly these rows, so a number and
-- its records cannot disagree. `counted` (internal, not in the metric_records view) marks the
-- records a count or a rate's numerator counts; it is the `detail IS NOT NULL` of
-- failed_deployments and change_failure_rate, the "met" of slo_met_ratio, and true elsewhere.
WITH
dep AS (
    SELECT team, date_trunc($grain, timezone('UTC', finished_at))::DATE AS period_start,
           id, service, revision, failed, failure_detail, rework, rework_detail, restored_at,
           fdrt_hours, strftime(timezone('UTC', finished_at), '%Y-%m-%d') AS day
    FROM deployment_outcomes
),
chg AS (
    SELECT team, date_trunc($grain, timezone('UTC', delivered_at))::DATE AS period_start,
           coalesce(repo || '@' || sha, change_id) AS record_id, lead_time_hours,
           CASE change_type WHEN 'pull_request' THEN 'PR ' || change_id ELSE 'commit ' || sha
           END || coalesce(' "' || title || '"', '') || coalesce(' by ' || author, '')
           || ', delivered to ' || service || ' by ' || deployment_id
           || CASE WHEN lead_time_hours < 0
                   THEN '; negative lead time, left out of the quantiles' ELSE '' END AS detail
    FROM changes
),
inc AS (
    SELECT team, id, opened_at, resolved_at,
           epoch_us(resolved_at - opened_at) / 3600e6 AS time_to_restore_hours,
           concat_ws(', ', 'service ' || service, 'cause ' || coalesce(cause, 'unknown'),
                     'severity ' || severity, CASE WHEN resolved_at IS NULL THEN 'unresolved' END)
               || coalesce(': ' || title, '') AS detail
    FROM incidents
),
slo AS (
    SELECT team, period_start, slo,
           met, CASE WHEN met THEN 'met' ELSE 'missed' END
               || ': attainment ' || coalesce(printf('%.4f', attainment), 'n/a')
               || ' against objective ' || printf('%.4f', objective) AS detail
    FROM slo_periods
    WHERE grain = $grain
),
records AS (
    SELECT team, period_start, 'deployments' AS metric, 'deployment' AS record_kind,
           id AS record_id, NULL::DOUBLE AS value_hours,
           'service ' || service || coalesce(', revision ' || revision, '') AS detail,
           true AS counted
    FROM dep
    UNION ALL
    -- deploy_days counts the distinct dates in `detail`.
    SELECT team, period_start, 'deploy_days', 'deployment', id, NULL, day, true FROM dep
    UNION ALL
    SELECT team, period_start, 'changes', 'change', record_id, lead_time_hours, detail, true
    FROM chg
    UNION ALL
    SELECT team, period_start, m.metric, 'change', record_id, lead_time_hours, detail, true
    FROM chg, (VALUES ('lead_time_p50_hours'), ('lead_time_p90_hours')) AS m(metric)
    WHERE lead_time_hours >= 0
    UNION ALL
    SELECT team, period_start, m.metric, 'deployment', id, NULL,
           CASE WHEN failed THEN failure_detail END, failed
    FROM dep, (VALUES ('failed_deployments'), ('change_failure_rate')) AS m(metric)
    UNION ALL
    SELECT team, period_start, 'unrecovered_failures', 'deployment', id, NULL,
           failure_detail || '; not recovered yet', true
    FROM dep WHERE failed AND restored_at IS NULL
    UNION ALL
    SELECT team, period_start, 'fdrt_p50_hours', 'deployment', id, fdrt_hours,
           failure_detail || '; restored ' || strftime(timezone('UTC', restored_at),
                                                       '%Y-%m-%d %H:%M UTC'), true
    FROM dep WHERE failed AND fdrt_hours >= 0
    UNION ALL
    SELECT team, period_start, m.metric, 'deployment', id, NULL, rework_detail, true
    FROM dep, (VALUES ('rework_deployments'), ('rework_rate')) AS m(metric)
    WHERE rework
    UNION ALL
    SELECT team, date_trunc($grain, timezone('UTC', opened_at))::DATE, 'incidents_opened',
           'incident', id, time_to_restore_hours, detail, true
    FROM inc
    UNION ALL
    SELECT team, date_trunc($grain, timezone('UTC', resolved_at))::DATE, m.metric, 'incident',
           id, time_to_restore_hours, detail, true
    FROM inc, (VALUES ('incidents_resolved'), ('time_to_restore_p50_hours')) AS m(metric)
    WHERE resolved_at IS NOT NULL
    UNION ALL
    SELECT team, period_start, m.metric, 'slo', slo, NULL, detail,
           m.metric = 'slos_total' OR met
    FROM slo, (VALUES ('slos_total'), ('slo_met_ratio')) AS m(metric)
    UNION ALL
    SELECT team, period_start, 'slos_met', 'slo', slo, NULL, detail, true FROM slo WHERE met
)
SELECT team, $grain AS grain, period_start, metric, record_kind, record_id, value_hours, detail,
       counted
FROM records
ORDER BY team, period_start, metric, value_hours NULLS LAST, record_id
