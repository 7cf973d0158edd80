-- Report input: quarantined records against everything loaded, for the whole organisation.
SELECT
    (SELECT count(*) FROM quarantine)::BIGINT AS quarantined,
    ((SELECT count(*) FROM commits) + (SELECT count(*) FROM pull_requests)
     + (SELECT count(*) FROM deployments) + (SELECT count(*) FROM incidents)
     + (SELECT count(*) FROM sli_measurements))::BIGINT AS loaded
