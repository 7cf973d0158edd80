-- Report input: one team's SLO attainment and error budget per SLO and period.
SELECT slo, service, grain, period_start, good, total, objective, attainment, met,
       error_budget_remaining
FROM slo_periods
WHERE team = $team
ORDER BY slo, grain, period_start
