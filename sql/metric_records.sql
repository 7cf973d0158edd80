-- The records behind every cell of team_metrics (docs/metrics.md "Every number has its records").
-- Inputs, each with a `team` column: deployment_outcomes, changes, incidents, slo_periods.
-- $grains lists the grains, each 'week' (Monday 00:00 UTC) or 'month' (calendar month, UTC).
-- One row per record set and record: team_metrics.sql aggregates exactly these rows, so a number
-- and its records cannot disagree. Metrics that share their records share a set (the registry's
-- `record_set`: change_failure_rate shows the records of failed_deployments, ...); the
-- metric_records view gives each metric its set. `counted` (internal, not in the view) marks
-- the records the set's rate counts: failed deployments, SLOs met; true elsewhere.
-- `deployment_outcomes` keeps the service and revision of each deployment.
WITH
grains AS (SELECT unnest($grains) AS grain),
dep AS (
    SELECT team, grain, date_trunc(grain, timezone('UTC', finished_at))::DATE AS period_start,
           id, failed, failure_detail, rework, rework_detail, restored_at,
           fdrt_hours, strftime(timezone('UTC', finished_at), '%Y-%m-%d') AS day
    FROM deployment_outcomes CROSS JOIN grains
),
chg_once AS (
    SELECT team, delivered_at,
           coalesce(repo || '@' || sha, change_id) AS record_id, lead_time_hours,
           CASE change_type WHEN 'pull_request' THEN 'PR ' || change_id ELSE 'commit ' || sha
           END || coalesce(' "' || title || '"', '') || coalesce(' by ' || author, '')
           || ', delivered to ' || service || ' by ' || deployment_id
           || CASE WHEN lead_time_hours < 0
                   THEN '; negative lead time, left out of the quantiles' ELSE '' END AS detail
    FROM changes
),
chg AS (
    SELECT team, grain, date_trunc(grain, timezone('UTC', delivered_at))::DATE AS period_start,
           record_id, lead_time_hours, detail
    FROM chg_once CROSS JOIN grains
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
    SELECT team, grain, period_start, slo,
           met, CASE WHEN met THEN 'met' ELSE 'missed' END
               || ': attainment ' || coalesce(printf('%.4f', attainment), 'n/a')
               || ' against objective ' || printf('%.4f', objective) AS detail
    FROM slo_periods
    WHERE grain IN (SELECT grain FROM grains)
),
records AS (
    -- Every counted deployment; the failed ones say why (deployments, failed_deployments and
    -- change_failure_rate share this set).
    SELECT team, grain, period_start, 'deployments' AS record_set, 'deployment' AS record_kind,
           id AS record_id, NULL::DOUBLE AS value_hours,
           CASE WHEN failed THEN failure_detail END AS detail, failed AS counted
    FROM dep
    UNION ALL
    -- deploy_days counts the distinct dates in `detail`.
    SELECT team, grain, period_start, 'deploy_days', 'deployment', id, NULL, day, true FROM dep
    UNION ALL
    -- Every delivered change with its lead time (changes and lead_time_* share this set; the
    -- quantiles leave out negative lead times).
    SELECT team, grain, period_start, 'changes', 'change', record_id, lead_time_hours, detail, true
    FROM chg
    UNION ALL
    SELECT team, grain, period_start, 'unrecovered_failures', 'deployment', id, NULL,
           failure_detail || '; not recovered yet', true
    FROM dep WHERE failed AND restored_at IS NULL
    UNION ALL
    SELECT team, grain, period_start, 'fdrt_p50_hours', 'deployment', id, fdrt_hours,
           failure_detail || '; restored ' || strftime(timezone('UTC', restored_at),
                                                       '%Y-%m-%d %H:%M UTC'), true
    FROM dep WHERE failed AND fdrt_hours >= 0
    UNION ALL
    SELECT team, grain, period_start, 'rework_deployments', 'deployment', id, NULL, rework_detail, true
    FROM dep WHERE rework
    UNION ALL
    SELECT team, grain, date_trunc(grain, timezone('UTC', opened_at))::DATE, 'incidents_opened',
           'incident', id, time_to_restore_hours, detail, true
    FROM inc CROSS JOIN grains
    UNION ALL
    SELECT team, grain, date_trunc(grain, timezone('UTC', resolved_at))::DATE, 'incidents_resolved',
           'incident', id, time_to_restore_hours, detail, true
    FROM inc CROSS JOIN grains WHERE resolved_at IS NOT NULL
    UNION ALL
    SELECT team, grain, period_start, 'slos_total', 'slo', slo, NULL, detail, met FROM slo
    UNION ALL
    SELECT team, grain, period_start, 'slos_met', 'slo', slo, NULL, detail, true FROM slo WHERE met
)
-- No ORDER BY: the warehouse write sorts (pipelines/build.py), and sorting twice costs.
SELECT team, grain, period_start, record_set, record_kind, record_id, value_hours,
       detail, counted
FROM records
