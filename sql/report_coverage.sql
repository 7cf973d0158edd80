-- Report input: how much of each team's picture rests on linked, attributable data.
-- One row per team with numerators and denominators (shares are computed by the caller):
--   deployments with a known revision, changes linked to a pull request, incidents (of cause
--   change or unknown) attributed to a deployment, and quarantined records that name one of the
--   team's services, repos or SLOs (bad records often cannot be tied to a team at all).
-- `incident_sources`: per incident source, how the team's incidents were attributed (by
--   deployment id, by commit, by time window, not attributed) and how many incidents that source
--   skipped organisation-wide because their service is not mapped (quarantine rows of field
--   `service` whose reason starts `unmapped service`).
WITH
owned AS (
    SELECT i.id, i.cause, coalesce(min(t.team), 'unassigned') AS team
    FROM incidents AS i
    LEFT JOIN teams AS t
        ON t.service = i.service
        AND (t.valid_from IS NULL OR timezone('UTC', i.opened_at)::DATE >= t.valid_from)
        AND (t.valid_until IS NULL OR timezone('UTC', i.opened_at)::DATE < t.valid_until)
    GROUP BY i.id, i.cause
),
inc AS (
    SELECT o.team,
           count(*)::BIGINT AS incidents,
           count(*) FILTER (o.cause IN ('change', 'unknown'))::BIGINT AS attributable_incidents,
           count(a.deployment_id)::BIGINT AS attributed_incidents
    FROM owned AS o
    LEFT JOIN incident_attributions AS a ON a.incident_id = o.id
    GROUP BY o.team
),
dep AS (
    SELECT team, count(*)::BIGINT AS deployments,
           count(revision)::BIGINT AS deployments_with_revision
    FROM deployment_outcomes
    GROUP BY team
),
chg AS (
    SELECT team, count(*)::BIGINT AS changes,
           count(*) FILTER (change_type = 'pull_request')::BIGINT AS changes_from_prs
    FROM changes
    GROUP BY team
),
parsed AS (
    SELECT
        CASE WHEN json_valid(raw) THEN raw ->> '$.service' END AS service,
        CASE WHEN json_valid(raw) THEN raw ->> '$.repo' END AS repo,
        CASE WHEN json_valid(raw) THEN raw ->> '$.slo' END AS slo
    FROM quarantine
),
named AS (
    SELECT p.*, coalesce(p.service, s.service) AS any_service
    FROM parsed AS p
    LEFT JOIN slos AS s ON s.slo = p.slo
),
bad AS (
    SELECT t.team, count(DISTINCT n.rowid_)::BIGINT AS quarantined
    FROM (SELECT *, row_number() OVER () AS rowid_ FROM named) AS n
    JOIN services AS v ON v.service = n.any_service OR (n.any_service IS NULL AND v.repo = n.repo)
    JOIN teams AS t ON t.service = v.service
    GROUP BY t.team
),
names AS (
    SELECT team FROM teams UNION SELECT team FROM team_metrics
),
attr AS (
    SELECT o.team, coalesce(i.source, '(unknown)') AS source,
           count(*)::BIGINT AS incidents,
           count(*) FILTER (a.rule = 'deployment_id' AND a.deployment_id IS NOT NULL)::BIGINT
               AS by_deployment_id,
           count(*) FILTER (a.rule = 'commit_sha' AND a.deployment_id IS NOT NULL)::BIGINT
               AS by_commit,
           count(*) FILTER (a.rule = 'time' AND a.deployment_id IS NOT NULL)::BIGINT
               AS by_time_window,
           count(*) FILTER (a.deployment_id IS NULL)::BIGINT AS not_attributed
    FROM owned AS o
    JOIN incidents AS i ON i.id = o.id
    LEFT JOIN incident_attributions AS a ON a.incident_id = o.id
    GROUP BY ALL
),
skipped AS (
    SELECT source, count(*)::BIGINT AS skipped_unmapped
    FROM quarantine
    WHERE entity = 'incidents' AND field = 'service' AND starts_with(reason, 'unmapped service')
    GROUP BY source
),
per_source AS (
    SELECT team, list(struct_pack(
        source := source,
        incidents := coalesce(incidents, 0),
        by_deployment_id := coalesce(by_deployment_id, 0),
        by_commit := coalesce(by_commit, 0),
        by_time_window := coalesce(by_time_window, 0),
        not_attributed := coalesce(not_attributed, 0),
        skipped_unmapped := coalesce(skipped_unmapped, 0)) ORDER BY source) AS incident_sources
    FROM (SELECT team, source FROM attr
          UNION SELECT n.team, k.source FROM names AS n CROSS JOIN skipped AS k)
    LEFT JOIN attr USING (team, source)
    LEFT JOIN skipped USING (source)
    GROUP BY team
)
SELECT
    names.team,
    coalesce(dep.deployments, 0) AS deployments,
    coalesce(dep.deployments_with_revision, 0) AS deployments_with_revision,
    coalesce(chg.changes, 0) AS changes,
    coalesce(chg.changes_from_prs, 0) AS changes_from_prs,
    coalesce(inc.incidents, 0) AS incidents,
    coalesce(inc.attributable_incidents, 0) AS attributable_incidents,
    coalesce(inc.attributed_incidents, 0) AS attributed_incidents,
    coalesce(bad.quarantined, 0) AS quarantined,
    per_source.incident_sources
FROM names
LEFT JOIN dep USING (team)
LEFT JOIN chg USING (team)
LEFT JOIN inc USING (team)
LEFT JOIN bad USING (team)
LEFT JOIN per_source USING (team)
