-- Report input: one team's counted deployments for the timeline, with what happened to each.
SELECT
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
    coalesce(list_contains(d.labels, 'hotfix'), false) AS hotfix
FROM deployment_outcomes AS o
LEFT JOIN deployments AS d USING (id)
WHERE o.team = $team
ORDER BY o.finished_at, o.id
