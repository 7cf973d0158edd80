-- Per SLO and period: attainment = sum(good) / sum(total), met, error budget remaining.
-- Inputs: sli (slo, window_start, good, total, team), slos (slo, service, objective).
-- $grain is 'week' or 'month'; a record belongs to the period of its window_start (UTC).
SELECT
    s.slo,
    o.service,
    s.team,
    $grain AS grain,
    date_trunc($grain, timezone('UTC', s.window_start))::DATE AS period_start,
    sum(s.good)::BIGINT AS good,
    sum(s.total)::BIGINT AS total,
    any_value(o.objective) AS objective,
    CASE WHEN sum(s.total) > 0 THEN sum(s.good)::DOUBLE / sum(s.total) END AS attainment,
    coalesce(sum(s.good)::DOUBLE / nullif(sum(s.total), 0) >= any_value(o.objective), false)
        AS met,
    CASE WHEN sum(s.total) > 0
        THEN 1 - (1 - sum(s.good)::DOUBLE / sum(s.total)) / (1 - any_value(o.objective))
    END AS error_budget_remaining
FROM sli AS s
JOIN slos AS o USING (slo)
GROUP BY ALL
ORDER BY s.slo, period_start
