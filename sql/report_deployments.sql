-- Report input: the counted deployments of $teams (a list; NULL for every team) for the
-- timeline, with what happened to each.
SELECT
    o.team,
    o.id,
    o.service,
    o.revision,
    timezone('UTC', o.finished_at) AS finished_at_utc,
    o.baseline,
    o.failed,
    o.failure_reasons,
    o.rework,
    o.rework_reasons,
    o.rolls_back,
    o.fixes,
    o.incident_ids,
    timezone('UTC', o.restored_at) AS restored_at_utc,
    o.fdrt_hours,
    -- a semi-join on the few hotfixes (ids are the deployments' key), not a join of every row
    coalesce(o.id IN (SELECT id FROM deployments WHERE list_contains(labels, 'hotfix')), false)
        AS hotfix
FROM deployment_outcomes AS o
WHERE $teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], o.team)
ORDER BY o.team, o.finished_at, o.id
