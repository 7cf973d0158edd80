-- Report input: the incidents of $teams (a list; NULL for every team). An incident belongs to the team that owned its service
-- at `opened_at` (UTC date; `valid_from` inclusive, `valid_until` exclusive; the alphabetically
-- first team where rows overlap), else to `unassigned` -- the rule of metrics/ownership.py.
WITH owned AS (
    SELECT
        i.id,
        coalesce(min(t.team), 'unassigned') AS team
    FROM incidents AS i
    LEFT JOIN teams AS t
        ON t.service = i.service
        AND (t.valid_from IS NULL OR timezone('UTC', i.opened_at)::DATE >= t.valid_from)
        AND (t.valid_until IS NULL OR timezone('UTC', i.opened_at)::DATE < t.valid_until)
    GROUP BY i.id
)
SELECT
    owned.team,
    i.id,
    i.service,
    i.title,
    i.severity,
    i.cause,
    timezone('UTC', i.opened_at) AS opened_at_utc,
    timezone('UTC', i.resolved_at) AS resolved_at_utc,
    epoch_us(i.resolved_at - i.opened_at) / 3600e6 AS restore_hours,
    a.deployment_id AS attributed_to,
    a.rule AS attribution_rule
FROM incidents AS i
JOIN owned USING (id)
LEFT JOIN incident_attributions AS a ON a.incident_id = i.id
WHERE $teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], owned.team)
ORDER BY owned.team, i.opened_at, i.id
