-- Report input: keys that two sources both give, per entity and source pair (the later-listed
-- source in the config wins; docs/config.md "What a rerun means"), with how many they disagree on.
SELECT entity, winning_source, losing_source, shared_keys, differing_keys
FROM source_conflicts
ORDER BY entity, winning_source, losing_source
