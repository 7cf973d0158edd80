-- Report input: SLO attainment and error budget per team, SLO and period, for $teams (a list;
-- NULL for every team).
SELECT team, slo, service, grain, period_start, good, total, objective, attainment, met,
       error_budget_remaining
FROM slo_periods
WHERE $teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], team)
ORDER BY team, slo, grain, period_start
