-- Report input: every team the reports cover: the config's teams and every team with records
-- (including `unassigned`). The caller sorts them alphabetically; nothing here orders by a metric.
SELECT DISTINCT team FROM (
    SELECT team FROM teams
    UNION ALL
    SELECT team FROM team_metrics
)
